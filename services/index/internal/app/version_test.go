package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestOlderVersionNeverWins is the rebalance race of issue 13 through `index serve`: a newer copy
// of an article is indexed, then an older copy (earlier ingested_at) arrives, as from a batch
// still in flight at a consumer that lost the partition. The newer copy stays, the older counts
// as superseded, and nothing is dead-lettered.
func TestOlderVersionNeverWins(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng testenv.Engine) {
		e := newEnv(t, eng)
		args := e.args()
		admin := args[indexOf(args, "--admin-addr")+1]
		start(t, args)
		a := articles(1, "ver")[0]
		newer, older := a, a
		newer.Title, newer.IngestedAt = "newer copy", a.IngestedAt.Add(time.Second)
		older.Title = "older copy"
		e.produce(t, messages(t, []article.Enriched{newer}))
		testenv.Eventually(t, 60*time.Second, "the newer copy indexed", func() (bool, string) {
			c := e.count(t)
			return c == 1, fmt.Sprintf("count %d", c)
		})
		e.produce(t, messages(t, []article.Enriched{older}))
		testenv.Eventually(t, 60*time.Second, "the older copy consumed and committed", func() (bool, string) {
			l := e.lag(t)
			return l == 0, fmt.Sprintf("lag %d", l)
		})
		if c := e.count(t); c != 1 { // count refreshes, so the search below sees every write
			t.Fatalf("%d documents, want 1", c)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var res struct {
			Hits struct {
				Hits []struct {
					Version int64 `json:"_version"`
					Source  struct {
						Title string `json:"title"`
					} `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := e.sc.Do(ctx, http.MethodPost, "/"+e.pref+"/_search", `{"version":true,"query":{"term":{"id":"`+a.ID+`"}}}`, &res); err != nil {
			t.Fatal(err)
		}
		if h := res.Hits.Hits; len(h) != 1 || h[0].Source.Title != "newer copy" || h[0].Version != newer.IngestedAt.UnixMicro() {
			t.Fatalf("hits %+v, want the newer copy alone, at version %d", h, newer.IngestedAt.UnixMicro())
		}
		if s := metricValue(t, scrape(t, admin), "newsflow_index_superseded_total"); s != 1 {
			t.Errorf("superseded %v, want 1", s)
		}
		if d := e.dlqCount(t); d != 0 {
			t.Fatalf("%d dead letters, want 0", d)
		}
	})
}
