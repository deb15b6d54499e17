// Command demo is the streaming and reporting half of `make demo` (deploy/local/demo.sh starts
// the stack and the services first): it streams the seed article and a corpus of real articles
// through ingest's HTTP API, shows a live progress line per stage read from the services' own
// metrics, waits until every accepted article is searchable, and prints a summary — articles/s
// per stage, end-to-end latency, the top entities of each type, the top stories, and a full-text search filtered
// by an entity and a date range.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/articleio"
	cfgpkg "github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/search"
)

type config struct {
	ingestURL, token         string
	admin                    map[string]string // service -> admin base URL
	search                   search.Config     // the services' own --search-* flags and NEWSFLOW_SEARCH_* settings
	alias                    string
	seed                     string
	seedPublished            string
	data                     []string
	batch                    int
	limit                    int
	timeout                  time.Duration
	prometheusURL, kibanaURL string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	c := config{admin: map[string]string{}}
	// Flags and NEWSFLOW_* variables the way the services read them (pkg/config), so the
	// settings deploy/local writes to .local/search.env reach the demo too.
	s := cfgpkg.New("demo")
	fs := s.FS
	s.String(&c.ingestURL, "ingest-url", "NEWSFLOW_INGEST_URL", "http://127.0.0.1:8080", "ingest HTTP API")
	// NEWSFLOW_INGEST_TOKEN may list several tokens (a rotation); any one of them is accepted.
	firstToken, _, _ := strings.Cut(os.Getenv("NEWSFLOW_INGEST_TOKEN"), ",")
	fs.StringVar(&c.token, "token", strings.TrimSpace(firstToken), "ingest bearer token, if one is configured (env NEWSFLOW_INGEST_TOKEN, its first token)")
	ingestAdmin := fs.String("ingest-admin", "http://127.0.0.1:9101", "ingest admin URL")
	enrichAdmin := fs.String("enrich-admin", "http://127.0.0.1:9102", "enrich admin URL")
	indexAdmin := fs.String("index-admin", "http://127.0.0.1:9103", "index admin URL")
	// The same NEWSFLOW_SEARCH_* settings as the services (deploy/local writes them to
	// .local/search.env): credentials and the CA of an Elasticsearch 8 with security on.
	c.search.RegisterFlags(s)
	s.String(&c.alias, "alias", "NEWSFLOW_INDEX_PREFIX", "articles", "read alias of the article indices")
	fs.StringVar(&c.seed, "seed", "", "the seed article (plain text), posted first as text/plain")
	fs.StringVar(&c.seedPublished, "seed-published-at", "2019-08-21T08:00:00Z", "publication time of the seed article")
	fs.IntVar(&c.batch, "batch", 500, "articles per NDJSON request")
	fs.IntVar(&c.limit, "limit", 0, "stop after this many corpus articles (0: all)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Minute, "give up waiting for the pipeline after this long")
	fs.StringVar(&c.prometheusURL, "prometheus-url", "http://127.0.0.1:9090", "Prometheus URL to print")
	if err := s.Parse(args); err != nil {
		return err
	}
	c.data = fs.Args()
	c.admin["ingest"], c.admin["enrich"], c.admin["index"] = *ingestAdmin, *enrichAdmin, *indexAdmin
	if err := c.search.Validate(); err != nil {
		return err
	}
	sc, err := search.New(c.search)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	before, err := scrapeAll(ctx, c)
	if err != nil {
		return fmt.Errorf("the services do not answer on their admin ports (are they running?): %w", err)
	}
	startCount, _ := pipeline.Count(ctx, sc, c.alias)
	start := time.Now()
	accepted := map[string]bool{}
	rejected := 0
	// A corpus may hold the same article more than once (the same id: same URL, or same source,
	// title and body). Within a request ingest writes the later copy only; across requests both
	// are written and the index keeps one document. So the demo waits for distinct ids, not for
	// the index stage's count to reach ingest's, and says how many duplicates it sent.
	dupInRequest, dupAcross := 0, 0

	if c.seed != "" {
		body, err := os.ReadFile(c.seed)
		if err != nil {
			return err
		}
		q := url.Values{"source": {"newsline"}, "published_at": {c.seedPublished}}
		r, err := pipeline.Post(ctx, c.ingestURL, c.token, "text/plain; charset=utf-8", body, q)
		if err != nil || r.Status != 202 {
			return fmt.Errorf("posting the seed article: status %d %s %v", r.Status, r.Error, err)
		}
		for _, it := range r.Items {
			accepted[it.ID] = true
		}
		fmt.Fprintf(out, "seed article %s accepted as %s\n", filepath.Base(c.seed), r.Items[0].ID)
	}

	// Stream the corpus in NDJSON batches while a progress line reports every stage.
	progressDone := make(chan struct{})
	streamDone := make(chan struct{})
	searchable := make(chan struct{}) // closed when the wait for every accepted id has ended
	var busy map[string]time.Duration // how long each stage was busy, from the progress line
	go func() {
		defer close(progressDone)
		busy = progress(ctx, c, out, before, start, streamDone, searchable)
	}()
	batch := make([]article.Article, 0, c.batch)
	sent := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		for attempt := 0; ; attempt++ {
			r, err := pipeline.Post(ctx, c.ingestURL, c.token, "application/x-ndjson", pipeline.NDJSON(batch), nil)
			if err == nil && r.Status == 202 {
				for _, it := range r.Items { // the copies ingest wrote of articles sent before
					if it.Status == "accepted" && accepted[it.ID] {
						dupAcross++
					}
				}
				for _, it := range r.Items {
					if it.ID != "" && it.Status != "rejected" {
						accepted[it.ID] = true
					}
				}
				rejected += r.Rejected
				dupInRequest += r.Duplicates
				break
			}
			if err == nil && r.Status != 503 && r.Status != 429 {
				return fmt.Errorf("ingest answered %d: %s", r.Status, r.Error)
			}
			if attempt >= 20 || ctx.Err() != nil {
				return fmt.Errorf("ingest unavailable: %v (status %d)", err, r.Status)
			}
			time.Sleep(time.Second) // ingest asked us to come back (503 Retry-After)
		}
		batch = batch[:0]
		return nil
	}
	for _, path := range c.data {
		err := eachFile(path, func(name string) error {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = articleio.Read(f, name, func(r articleio.Record) error {
				if c.limit > 0 && sent >= c.limit {
					return errLimit
				}
				if r.Err != nil {
					rejected++
					return nil
				}
				sent++
				batch = append(batch, r.Article)
				if len(batch) == c.batch {
					return flush()
				}
				return nil
			})
			return err
		})
		if err != nil && !errors.Is(err, errLimit) {
			close(streamDone)
			<-progressDone
			return err
		}
	}
	if err := flush(); err != nil {
		close(streamDone)
		<-progressDone
		return err
	}
	streamSeconds := time.Since(start).Seconds()
	close(streamDone)

	// Wait until every accepted article is searchable.
	want := len(accepted)
	var indexed int
	for {
		n, err := countIDs(ctx, sc, c.alias, accepted)
		if err == nil {
			indexed = n
		}
		if indexed >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	close(searchable)
	<-progressDone
	after, err := scrapeAll(ctx, c)
	if err != nil {
		return err
	}
	endCount, _ := pipeline.Count(ctx, sc, c.alias)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "== summary ==\n")
	fmt.Fprintf(out, "articles sent %d, accepted %d distinct, rejected %d; searchable %d of %d accepted (index holds %d, was %d)\n",
		sent+boolInt(c.seed != ""), want, rejected, indexed, want, endCount, startCount)
	if dupInRequest+dupAcross > 0 {
		fmt.Fprintf(out, "duplicates sent %d (the same article id again: %d within a request, %d in a later request); each is one document, the later copy\n",
			dupInRequest+dupAcross, dupInRequest, dupAcross)
	}
	if indexed < want {
		fmt.Fprintf(out, "WARNING: %d accepted articles are not searchable yet (timeout %v)\n", want-indexed, c.timeout)
	}
	fmt.Fprintf(out, "%-8s %12s %12s\n", "stage", "articles", "articles/s")
	for _, s := range []string{"ingest", "enrich", "index"} {
		n := after[s].Sum("newsflow_"+s+"_produced_total") - before[s].Sum("newsflow_"+s+"_produced_total")
		secs := busy[s].Seconds() // from the start until the stage produced its last article
		if s == "ingest" {
			secs = streamSeconds
		}
		fmt.Fprintf(out, "%-8s %12.0f %12.1f\n", s, n, n/max(secs, 0.001))
	}
	d := pipeline.Delta(before["index"], after["index"], "newsflow_index_end_to_end_latency_seconds")
	fmt.Fprintf(out, "end-to-end latency (ingested → searchable-acknowledged): p50 %s, p99 %s\n",
		secs(pipeline.QuantileOf(d, 0.5)), secs(pipeline.QuantileOf(d, 0.99)))

	fmt.Fprintln(out, "\n== top entities ==")
	for _, f := range []struct{ label, field string }{{"people", "entities.person"}, {"organisations", "entities.org"}, {"places", "entities.loc"}, {"misc/nationalities", "entities.misc"}} {
		bs, err := pipeline.TopTerms(ctx, sc, c.alias, f.field, 8)
		if err != nil {
			return fmt.Errorf("top %s: %w", f.label, err)
		}
		var parts []string
		for _, b := range bs {
			parts = append(parts, fmt.Sprintf("%s (%d)", b.Key, b.Count))
		}
		fmt.Fprintf(out, "%-19s %s\n", f.label+":", strings.Join(parts, ", "))
	}
	if err := showStories(ctx, out, sc, c.alias); err != nil {
		return err
	}
	if err := showSearch(ctx, out, sc, c.alias); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nsearch node: %s/%s/_search   Prometheus: %s   (make down stops everything)\n", strings.Join(c.search.URLs, ","), c.alias, c.prometheusURL)
	if indexed < want {
		return fmt.Errorf("%d accepted articles not searchable", want-indexed)
	}
	return nil
}

var errLimit = errors.New("limit reached")

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func secs(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fs", v)
}

// eachFile calls fn for path, or for every article file under it when it is a directory.
func eachFile(path string, fn func(string) error) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fn(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".txt", ".json", ".jsonl", ".ndjson":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func scrapeAll(ctx context.Context, c config) (map[string]pipeline.Metrics, error) {
	out := map[string]pipeline.Metrics{}
	for s, u := range c.admin {
		m, err := pipeline.Scrape(ctx, u+"/metrics")
		if err != nil {
			return nil, err
		}
		out[s] = m
	}
	return out, nil
}

// progress prints one line a second until the stream is done and the index stage has caught up,
// or searchable is closed (every accepted id is searchable: with duplicates in the corpus the
// index stage may write fewer documents than ingest wrote records, and never catch up).
// It returns, per stage, the time from start to the last tick at which the stage's count grew.
func progress(ctx context.Context, c config, out io.Writer, before map[string]pipeline.Metrics, start time.Time, streamDone, searchable chan struct{}) map[string]time.Duration {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	streaming := true
	idle := 0
	last := -1.0
	busy := map[string]time.Duration{}
	prev := map[string]float64{}
	lastPrint := time.Time{}
	final := false
	for {
		select {
		case <-ctx.Done():
			return busy
		case <-searchable:
			final, searchable = true, nil // one last line, then return
		case <-streamDone:
			streaming = false
			streamDone = nil
		case <-t.C:
		}
		m, err := scrapeAll(ctx, c)
		if err != nil {
			continue
		}
		n := func(s string) float64 {
			return m[s].Sum("newsflow_"+s+"_produced_total") - before[s].Sum("newsflow_"+s+"_produced_total")
		}
		lag := func(s string) float64 { return m[s].Sum("newsflow_" + s + "_consumer_lag_messages") }
		for _, s := range []string{"ingest", "enrich", "index"} {
			if v := n(s); v > prev[s] {
				prev[s], busy[s] = v, time.Since(start)
			}
		}
		el := time.Since(start).Seconds()
		if !final && time.Since(lastPrint) < time.Second && (streaming || n("index") < n("ingest")) {
			continue
		}
		lastPrint = time.Now()
		fmt.Fprintf(out, "\r%5.0fs  ingested %6.0f (%5.0f/s) | enriched %6.0f (%5.0f/s, lag %5.0f) | indexed %6.0f (%5.0f/s, lag %5.0f)   ",
			el, n("ingest"), n("ingest")/el, n("enrich"), n("enrich")/el, lag("enrich"), n("index"), n("index")/el, lag("index"))
		if final {
			fmt.Fprintln(out)
			return busy
		}
		if !streaming && n("index") >= n("ingest") {
			if n("index") == last {
				idle++
			}
			if idle >= 2 {
				fmt.Fprintln(out)
				return busy
			}
		}
		last = n("index")
	}
}

// countIDs counts how many of ids are in the index (ids query in chunks).
func countIDs(ctx context.Context, sc *search.Client, alias string, ids map[string]bool) (int, error) {
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	_, _ = pipeline.Count(ctx, sc, alias) // refresh
	total := 0
	for i := 0; i < len(all); i += 5000 {
		j := min(i+5000, len(all))
		q := map[string]any{"size": 0, "track_total_hits": true, "query": map[string]any{"ids": map[string]any{"values": all[i:j]}}}
		n, _, err := pipeline.Search(ctx, sc, alias, q)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// showSearch runs a full-text search filtered by an entity and a date range: the most frequent
// organisation, articles that mention dates in its busiest month.
// showStories prints how many articles the index stage marked as near-duplicates and the
// largest stories (story_id groups of two or more), each under its first article's title.
func showStories(ctx context.Context, out io.Writer, sc *search.Client, alias string) error {
	var dups struct {
		Count int `json:"count"`
	}
	q := map[string]any{"query": map[string]any{"exists": map[string]any{"field": "duplicate_of"}}}
	if err := sc.Do(ctx, "POST", "/"+alias+"/_count", q, &dups); err != nil {
		return fmt.Errorf("counting near-duplicates: %w", err)
	}
	bs, err := pipeline.TopTerms(ctx, sc, alias, "story_id", 5)
	if err != nil {
		return fmt.Errorf("top stories: %w", err)
	}
	fmt.Fprintf(out, "\n== top stories (articles sharing a story_id; %d near-duplicates carry duplicate_of) ==\n", dups.Count)
	for _, b := range bs {
		if b.Count < 2 {
			break
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source struct {
						Title string `json:"title"`
					} `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		tq := map[string]any{"size": 1, "_source": []string{"title"}, "query": map[string]any{"term": map[string]any{"id": b.Key}}}
		if err := sc.Do(ctx, "POST", "/"+alias+"/_search", tq, &res); err != nil {
			return fmt.Errorf("reading story %s: %w", b.Key, err)
		}
		title := b.Key
		if len(res.Hits.Hits) > 0 {
			title = res.Hits.Hits[0].Source.Title
		}
		fmt.Fprintf(out, "%4d articles  %s\n", b.Count, title)
	}
	return nil
}

func showSearch(ctx context.Context, out io.Writer, sc *search.Client, alias string) error {
	orgs, err := pipeline.TopTerms(ctx, sc, alias, "entities.org", 1)
	if err != nil || len(orgs) == 0 {
		return err
	}
	org := orgs[0].Key
	q := map[string]any{
		"size": 5, "track_total_hits": true,
		"_source": []string{"title", "published_at", "source"},
		"query": map[string]any{"bool": map[string]any{
			"must":   []any{map[string]any{"match": map[string]any{"body": "prices"}}},
			"filter": []any{map[string]any{"term": map[string]any{"entities.org": org}}, map[string]any{"range": map[string]any{"date_mentions": map[string]any{"gte": "1987-01-01", "lte": "1987-12-31", "relation": "intersects"}}}},
		}},
		"sort": []any{"_score"},
	}
	total, hits, err := pipeline.Search(ctx, sc, alias, q)
	if err != nil {
		return fmt.Errorf("demo search: %w", err)
	}
	fmt.Fprintf(out, "\n== search: \"prices\", organisation %q, mentions a date in 1987 → %d articles ==\n", org, total)
	for _, h := range hits {
		fmt.Fprintf(out, "  %s  %v  %v\n", h.ID[:8], h.Source["published_at"], h.Source["title"])
	}
	// The seed article, by the day its "yesterday" resolves to: date mentions that lie within
	// that day (a mention of "the 21st century" intersects it too, but is not about it).
	q2 := map[string]any{"size": 3, "_source": []string{"title", "published_at"},
		"query": map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"range": map[string]any{"date_mentions": map[string]any{"gte": "2019-08-20", "lte": "2019-08-20", "relation": "within"}}},
		}}}}
	total, hits, err = pipeline.Search(ctx, sc, alias, q2)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== search: articles mentioning 2019-08-20 (the seed's \"yesterday\") → %d ==\n", total)
	for _, h := range hits {
		fmt.Fprintf(out, "  %s  %v  %v\n", h.ID[:8], h.Source["published_at"], h.Source["title"])
	}
	// Places: the articles with a place within 100 km of Damascus (the seed's Syria, placed at
	// its capital, and Damascus itself), and where the first one's places are.
	q3 := map[string]any{"size": 3, "track_total_hits": true, "_source": []string{"title", "places"},
		"query": map[string]any{"geo_distance": map[string]any{"distance": "100km",
			"places.location": map[string]any{"lat": 33.5138, "lon": 36.2765}}}}
	total, hits, err = pipeline.Search(ctx, sc, alias, q3)
	if err != nil {
		return fmt.Errorf("demo geo search: %w", err)
	}
	fmt.Fprintf(out, "== search: a place within 100 km of Damascus (geo_distance on places.location) → %d ==\n", total)
	for i, h := range hits {
		fmt.Fprintf(out, "  %s  %v\n", h.ID[:8], h.Source["title"])
		if i > 0 {
			continue
		}
		places, _ := h.Source["places"].([]any)
		var parts []string
		for _, p := range places[:min(len(places), 10)] {
			m, _ := p.(map[string]any)
			loc, _ := m["location"].(map[string]any)
			parts = append(parts, fmt.Sprintf("%v (%v) %v,%v", m["name"], m["country"], loc["lat"], loc["lon"]))
		}
		if len(parts) > 0 {
			fmt.Fprintf(out, "    places: %s\n", strings.Join(parts, "; "))
		}
	}
	return nil
}
