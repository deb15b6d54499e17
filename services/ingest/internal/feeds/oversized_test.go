package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/normalize"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// encodingPub checks records as the real publisher does (publish.Messages, with its record
// limit) and keeps what it would have written.
type encodingPub struct {
	mu   sync.Mutex
	arts []article.Article
}

func (p *encodingPub) Publish(_ context.Context, recs []publish.Record) error {
	if _, err := publish.Messages(recs); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		p.arts = append(p.arts, r.Article)
	}
	return nil
}

// TestPollOversizedItem: a feed with one item whose record Kafka could not take (900 KiB of
// text, within --max-body-bytes, that JSON escaping makes larger than 1 MB) still publishes
// its other items, and the bad one is remembered: the next poll neither publishes nor
// rejects it again.
func TestPollOversizedItem(t *testing.T) {
	huge := strings.Repeat(`"quoted" `, (900<<10)/9) // XML escapes nothing here; JSON doubles each quote
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits++
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>`)
		for _, it := range []struct{ id, text string }{{"c", "Text of c."}, {"big", huge}, {"a", "Text of a."}} {
			fmt.Fprintf(w, `<item><title>Item %s</title><guid>%s</guid><description>%s</description><pubDate>Wed, 21 Aug 2019 08:00:00 GMT</pubDate></item>`, it.id, it.id, it.text)
		}
		fmt.Fprint(w, `</channel></rss>`)
	}))
	defer srv.Close()
	reg := metrics.NewRegistry()
	fm := NewMetrics(reg)
	im := intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t")
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := &encodingPub{}
	p := &Poller{Interval: time.Hour, Client: &http.Client{Timeout: 5 * time.Second}, Store: store, Pub: pub,
		Intake: im, Metrics: fm, Limits: normalize.Limits{MaxTitleBytes: 2048, MaxBodyBytes: 900 << 10},
		Log: slog.New(slog.DiscardHandler)}
	feed := Feed{URL: srv.URL + "/feed", Source: "s"}

	n, err := p.Poll(context.Background(), feed)
	if err != nil || n != 2 {
		t.Fatalf("poll: %d published, %v; want the 2 good items", n, err)
	}
	if len(pub.arts) != 2 || pub.arts[0].Title != "Item a" || pub.arts[1].Title != "Item c" {
		t.Fatalf("published %+v", pub.arts)
	}
	if got := testutil.ToFloat64(im.Rejected.WithLabelValues(intake.ChannelFeed, "too_large")); got != 1 {
		t.Fatalf("rejected{too_large} = %v, want 1", got)
	}
	if st := store.Get(feed.URL); len(st.Seen) != 3 {
		t.Fatalf("state remembers %d items, want all 3 (the oversized one too): %v", len(st.Seen), st.Seen)
	}

	// The feed is unchanged (and has no validators): the next poll fetches it again and finds
	// nothing new, not even the oversized item.
	n, err = p.Poll(context.Background(), feed)
	if err != nil || n != 0 || hits != 2 || len(pub.arts) != 2 {
		t.Fatalf("second poll: %d published, %v (fetches %d)", n, err, hits)
	}
	if got := testutil.ToFloat64(im.Rejected.WithLabelValues(intake.ChannelFeed, "too_large")); got != 1 {
		t.Fatalf("the oversized item was judged again: rejected{too_large} = %v", got)
	}
}
