package stories_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/dedup"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
	"github.com/newsflow/newsflow/services/index/internal/stories"
)

// dlq is a hand-written sink.DeadLetters that keeps what it is given.
type dlq struct{ msgs []kafka.Message }

func (d *dlq) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.msgs = append(d.msgs, msgs...)
	return nil
}

var body = `Saudi Arabia's oil minister said on Monday that the kingdom would keep its output within the
quota agreed by OPEC in December, and that it expected prices to hold near the 18 dlr benchmark for
the rest of the year. He told reporters in Riyadh that the group's members were keeping to their
quotas, and that stocks held by consumers were falling, which would support prices in the second
quarter. Traders in London said the remarks steadied the market after a week of falling prices, and
that spot crude was trading about 50 cents above last week's lows. The minister said OPEC would meet
again in June to review the agreement, and that he saw no need for an emergency meeting before then.`

func enriched(id string, pub time.Time, title, text string) kafka.Message {
	e := article.Enriched{Article: article.Article{ID: id, Title: title, Body: text, PublishedAt: pub, IngestedAt: pub},
		EnrichedAt: pub, EnrichmentVersion: "test", Entities: []article.Entity{}, Dates: []article.DateMention{},
		Similarity: dedup.Of(title, text)}
	v, err := article.Marshal(e)
	if err != nil {
		panic(err)
	}
	return kafka.Message{Topic: "in", Key: []byte(id), Value: v}
}

// TestDuplicatesAndStoriesOnEngines writes through the sink, with the lookup, into each real
// engine: an article, then in a later batch a one-word correction of it, a follow-up sharing
// half its text and an unrelated article, then a batch holding a second copy together with a
// copy of the unrelated one (the batch's own documents are candidates for each other).
func TestDuplicatesAndStoriesOnEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the search engines of the local stack")
	}
	for _, eng := range testenv.SearchEngines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			c, err := search.New(eng.Config)
			if err != nil {
				t.Fatal(err)
			}
			settings := schema.Settings{Shards: 1, Replicas: 0, RefreshInterval: "1s"}
			if eng.Name == "elasticsearch" {
				settings.TextAnalyzer = "standard"
			}
			n := schema.Names{Prefix: testenv.Name(t, "nfstory")}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			mgr := &indices.Manager{Client: c, Names: n, Settings: settings, Log: log}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_ = c.Do(ctx, http.MethodDelete, "/"+n.Pattern(), nil, nil)
				_ = c.Do(ctx, http.MethodDelete, "/_index_template/"+n.TemplateName(), nil, nil)
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pub := time.Date(1987, 3, 2, 9, 0, 0, 0, time.UTC)
			if _, err := mgr.Setup(ctx, schema.Version, pub); err != nil {
				t.Fatal(err)
			}
			d := &dlq{}
			sk := sink.New(sink.Config{Names: n, Workers: 1, Topic: "in",
				Backoff: retry.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
				Stories: stories.New(stories.Config{Alias: n.Alias()}, mgr)}, mgr, d, log, nil)
			handle := func(msgs ...kafka.Message) {
				t.Helper()
				if err := sk.Handle(ctx, msgs); err != nil {
					t.Fatal(err)
				}
				if len(d.msgs) > 0 {
					t.Fatalf("dead letters: %s", d.msgs[0].Headers)
				}
				// What the next batch searches must be searchable: the refresh the engine
				// does every refresh_interval, done now.
				if err := c.Do(ctx, http.MethodPost, "/"+n.Alias()+"/_refresh", nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			title := "Saudi minister says OPEC keeps to quotas"
			follow := strings.Join(strings.Fields(body)[:123], " ") + ` Later on Monday, Kuwait's oil minister said his
country was also producing within its quota and that OPEC's unity was stronger than at any time since 1983,
adding that the group would defend the benchmark price of 18 dlrs a barrel against any challenge this year.`
			other := "Wheat exports from the European Community fell sharply in February, the Commission said, citing poor harvests and a strong currency that made its grain dearer abroad than American or Australian supplies."
			handle(enriched("orig", pub, title, body))
			handle(
				enriched("corr", pub.Add(3*time.Hour), "CORRECTED - "+title, strings.Replace(body, "50 cents", "40 cents", 1)),
				enriched("follow", pub.Add(26*time.Hour), "Kuwait also within OPEC quota", follow),
				enriched("other", pub.Add(time.Hour), "EC wheat exports fall", other),
			)
			handle(
				enriched("repost", pub.Add(5*24*time.Hour), title, body),
				enriched("other2", pub.Add(2*time.Hour), "EC wheat exports fall", other),
			)
			want := map[string][2]string{ // id -> duplicate_of, story_id
				"orig":   {"", "orig"},
				"corr":   {"orig", "orig"},
				"follow": {"", "orig"},
				"other":  {"", "other"},
				"repost": {"orig", "repost"}, // a copy five days on: the same text, a new story
				"other2": {"other", "other"},
			}
			for id, w := range want {
				var got struct {
					Source struct {
						DuplicateOf string   `json:"duplicate_of"`
						StoryID     string   `json:"story_id"`
						NearBands   []string `json:"near_bands"`
						MinHash     string   `json:"minhash"`
					} `json:"_source"`
				}
				if err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/%s/_doc/%s", n.Index(pub, schema.Version), id), nil, &got); err != nil {
					t.Fatalf("reading %s: %v", id, err)
				}
				if got.Source.DuplicateOf != w[0] || got.Source.StoryID != w[1] {
					t.Errorf("%s: duplicate_of %q story_id %q, want %q and %q", id, got.Source.DuplicateOf, got.Source.StoryID, w[0], w[1])
				}
				if len(got.Source.NearBands) != dedup.NearBands || got.Source.MinHash == "" {
					t.Errorf("%s: %d near bands, minhash %d bytes", id, len(got.Source.NearBands), len(got.Source.MinHash))
				}
			}
		})
	}
}
