package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// loadReuters returns the first n Reuters-21578 articles.
func loadReuters(t testing.TB, n int) []article.Article {
	t.Helper()
	var as []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(testenv.DataDir(t), "reuters21578"), n, func(a article.Article) error {
		as = append(as, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return as
}

// TestPipelineEndToEnd sends articles through every door — HTTP (text/plain seed, NDJSON),
// `ingest import` of a file, and an RSS feed — and checks that exactly the accepted articles become
// searchable, with the right entities and dates, and that a poison message lands on the DLQ
// while everything else flows.
func TestPipelineEndToEnd(t *testing.T) {
	for _, eng := range testenv.SearchEngines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			pipelineEndToEnd(t, eng)
		})
	}
}

func pipelineEndToEnd(t *testing.T, eng testenv.Engine) {
	kc := testenv.Kafka(t)
	data := testenv.DataDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// A feed served locally (there is no internet here): three items.
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Local wire</title><link>http://127.0.0.1/</link><description>d</description>`)
		for i, city := range []string{"Paris", "Berlin", "Tokyo"} {
			fmt.Fprintf(w, `<item><title>Talks resume in %[2]s</title><link>http://wire.test/story/%[1]d</link><guid>wire-%[1]d</guid><pubDate>Mon, 02 Mar 1987 10:0%[1]d:00 GMT</pubDate><description>Officials from France and Japan met in %[2]s on Monday, Reuters said. The talks will continue next week.</description></item>`, i, city)
		}
		fmt.Fprint(w, `</channel></rss>`)
	}))
	defer feed.Close()

	r := newRig(t, kc, eng)
	t.Logf("search engine: %s", r.engine(ctx))
	// A feed group of its own: other tests' ingest processes must not share (and rebalance) it.
	ing, ingestURL := r.ingest("--feeds", "wire="+feed.URL, "--feed-interval", "1s", "--feed-group", testenv.Name(t, "feeds"))
	enr, idx := r.enrich("enrich"), r.index("index")
	startAll(ing, enr, idx)
	accepted := map[string]bool{}

	// 1. HTTP text/plain: the seed article.
	seedID, seed := postSeed(ctx, t, ingestURL, data)
	accepted[seedID] = true

	// 2. HTTP NDJSON: 300 Reuters articles.
	reuters := loadReuters(t, 300)
	res, err := pipeline.Post(ctx, ingestURL, "", "application/x-ndjson", pipeline.NDJSON(reuters), nil)
	if err != nil || res.Status != 202 || res.Accepted != 300 {
		t.Fatalf("NDJSON: status %d accepted %d rejected %d %v", res.Status, res.Accepted, res.Rejected, err)
	}
	for _, it := range res.Items {
		accepted[it.ID] = true
	}

	// 3. A file through `ingest import`: 100 CoNLL-2003 documents plus one bad line.
	var docs []article.Article
	fh, err := os.Open(filepath.Join(data, "conll2003", "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_ = corpus.ReadCoNLLDocs(fh, "valid", func(a article.Article) error {
		if len(docs) < 100 {
			docs = append(docs, a)
		}
		return nil
	})
	fh.Close()
	file := filepath.Join(t.TempDir(), "docs.jsonl")
	content := append(pipeline.NDJSON(docs[:50]), []byte("{\"title\": \"no body\"}\n")...)
	content = append(content, pipeline.NDJSON(docs[50:])...)
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := r.importFile(ctx, file)
	if err == nil || !strings.Contains(out, "docs.jsonl:51") {
		t.Fatalf("import with one bad line: want a non-zero exit naming docs.jsonl:51, got %v:\n%s", err, out)
	}
	for _, d := range docs {
		accepted[article.ID(&d)] = true
	}

	// 4. A poison message written straight to the raw topic.
	// EnsureTopics also waits until this process's kafka-go metadata cache knows the topic the
	// ingest process created; a write before that fails with Unknown Topic Or Partition.
	if err := kc.EnsureTopics(ctx, r.raw); err != nil {
		t.Fatal(err)
	}
	w := kc.NewWriter(r.raw)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("poison"), Value: []byte("{this is not json")}); err != nil {
		t.Fatal(err)
	}

	// The feed's three items arrive on their own.
	feedIDs := map[string]bool{}
	for i := 0; i < 3; i++ {
		a := article.Article{URL: fmt.Sprintf("http://wire.test/story/%d", i)}
		feedIDs[article.ID(&a)] = true
		accepted[article.ID(&a)] = true
	}

	// Exactly the accepted articles become searchable: nothing lost, nothing extra.
	alias := r.prefix
	testenv.Eventually(t, 3*time.Minute, "every accepted article to be searchable", func() (bool, string) {
		n, err := pipeline.Count(ctx, r.sc, alias)
		return err == nil && n >= len(accepted), fmt.Sprintf("%d of %d searchable (err %v)", n, len(accepted), err)
	})
	if n, _ := pipeline.Count(ctx, r.sc, alias); n != len(accepted) {
		t.Fatalf("index holds %d documents, want exactly %d", n, len(accepted))
	}
	var ids []string
	for id := range accepted {
		ids = append(ids, id)
	}
	n, _, err := pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"ids": map[string]any{"values": ids}}})
	if err != nil || n != len(accepted) {
		t.Fatalf("%d of the %d accepted ids are in the index (%v)", n, len(accepted), err)
	}

	// The seed article is searchable by who and when.
	_, hits, err := pipeline.Search(ctx, r.sc, alias, map[string]any{"query": map[string]any{"ids": map[string]any{"values": []string{seedID}}}})
	if err != nil || len(hits) != 1 {
		t.Fatalf("seed document: %v %v", hits, err)
	}
	src := hits[0].Source
	body, _ := src["body"].(string)
	_, seedBody, _ := strings.Cut(strings.TrimLeft(string(seed), "\n"), "\n")
	if body != strings.Trim(seedBody, "\r\n") {
		t.Errorf("the seed body changed on its way (%d bytes stored, %d sent)", len(body), len(strings.Trim(seedBody, "\r\n")))
	}
	ents, _ := src["entities"].(map[string]any)
	for field, want := range map[string][]string{"loc": {"Hama", "Khan Shaykhun"}, "org": {"Taliban"}} {
		have := toStrings(ents[field])
		for _, w := range want {
			if !slices.Contains(have, w) {
				t.Errorf("seed entities.%s = %v, missing %q", field, have, w)
			}
		}
	}
	values := toStrings(src["date_values"])
	for _, want := range []string{"2019-08-20", "2019-08-19", "1953-08-21", "2014"} {
		if !slices.Contains(values, want) {
			t.Errorf("seed date_values = %v, missing %s", values, want)
		}
	}
	// …and a date-range query finds it by the day "yesterday" resolved to.
	n, _, err = pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"ids": map[string]any{"values": []string{seedID}}},
		map[string]any{"range": map[string]any{"date_mentions": map[string]any{"gte": "2019-08-20", "lte": "2019-08-20", "relation": "intersects"}}}}}}})
	if err != nil || n != 1 {
		t.Errorf("date-range search for 2019-08-20 found %d (%v)", n, err)
	}
	// …and a geo_distance query around Damascus finds it by its places (issue 17): Damascus,
	// and Syria placed at its capital.
	n, _, err = pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"ids": map[string]any{"values": []string{seedID}}},
		map[string]any{"geo_distance": map[string]any{"distance": "100km", "places.location": map[string]any{"lat": 33.5138, "lon": 36.2765}}}}}}})
	if err != nil || n != 1 {
		t.Errorf("geo_distance search 100 km around Damascus found %d (%v); seed places %v", n, err, src["places"])
	}
	// …and not around Buenos Aires, where none of its places is.
	n, _, err = pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"ids": map[string]any{"values": []string{seedID}}},
		map[string]any{"geo_distance": map[string]any{"distance": "100km", "places.location": map[string]any{"lat": -34.6, "lon": -58.4}}}}}}})
	if err != nil || n != 0 {
		t.Errorf("geo_distance search around Buenos Aires found %d (%v), want 0", n, err)
	}
	// Feed items carry the feed's source name.
	n, _, err = pipeline.Search(ctx, r.sc, alias, map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"term": map[string]any{"source": "wire"}}})
	if err != nil || n != len(feedIDs) {
		t.Errorf("feed documents with source wire: %d, want %d (%v)", n, len(feedIDs), err)
	}

	// The poison message, and nothing else, is on the DLQ, named by the enrich stage.
	testenv.Eventually(t, time.Minute, "the poison message on the DLQ", func() (bool, string) {
		d := readDLQ(t, kc.Brokers, r.dlq)
		return len(d) >= 1, fmt.Sprintf("%d dead letters", len(d))
	})
	dl := readDLQ(t, kc.Brokers, r.dlq)
	if len(dl) != 1 || dl[0].Stage != "enrich" || dl[0].Key != "poison" || !strings.Contains(dl[0].Reason, "JSON") {
		t.Fatalf("dead letters: %+v", dl)
	}

	// Graceful shutdown: SIGTERM ends every service with status 0.
	for _, p := range []*proc{ing, enr, idx} {
		if err := p.stop(syscall.SIGTERM, 40*time.Second); err != nil {
			t.Errorf("%s on SIGTERM: %v", p.Name, err)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &out)
	return out
}
