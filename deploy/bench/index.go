package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
)

// enriched returns the articles enriched by `enrich extract` (all cores), as JSON lines.
func (b *bench) enriched(ctx context.Context, arts []article.Article) ([][]byte, error) {
	in := filepath.Join(b.tmp, "index-in.jsonl")
	if err := os.WriteFile(in, pipeline.NDJSON(arts), 0o644); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(b.o.bin, "enrich"), "extract", in).Output()
	if err != nil {
		return nil, fmt.Errorf("enrich extract: %w", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, sc.Err()
}

// produce writes lines to topic keyed by their article id, as enrich would, before the index
// stage under measurement starts.
func (b *bench) produce(ctx context.Context, topic string, lines [][]byte) error {
	if err := b.kc.EnsureTopics(ctx, topic); err != nil {
		return err
	}
	w := b.kc.NewWriter(topic)
	defer w.Close()
	msgs := make([]kafka.Message, 0, len(lines))
	for _, l := range lines {
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(l, &a)
		msgs = append(msgs, kafka.Message{Key: []byte(a.ID), Value: l})
	}
	for i := 0; i < len(msgs); i += 1000 {
		if err := w.WriteMessages(ctx, msgs[i:min(i+1000, len(msgs))]...); err != nil {
			return err
		}
	}
	return nil
}

// waitCount polls the document count of index every 100 ms until it reaches n: the moment
// the last document is searchable ends a throughput measurement.
func (b *bench) waitCount(ctx context.Context, index string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := pipeline.Count(ctx, b.sc, index)
		if err == nil && c >= n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, _ := pipeline.Count(ctx, b.sc, index)
	return fmt.Errorf("%s holds %d of %d documents after %v", index, c, n, timeout)
}

// steadyRate polls the document count of index every 50 ms until it reaches n and returns the
// rate from the moment a tenth of the documents was searchable to the moment all were. Both the
// stage and the baseline are measured so: what they pay once on a new run (the stage's first
// fetch and its index creation, the baseline's first request, the node warming up) is left out
// of both, so the ratio is that of their steady rates — what sizes a deployment.
func (b *bench) steadyRate(ctx context.Context, index string, n int, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	from, fromCount := time.Time{}, 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := pipeline.Count(ctx, b.sc, index)
		now := time.Now()
		if err == nil && from.IsZero() && c >= n/10 {
			from, fromCount = now, c
		}
		if err == nil && c >= n {
			if secs := now.Sub(from).Seconds(); secs > 0 && c > fromCount {
				return float64(c-fromCount) / secs, nil
			}
			return 0, fmt.Errorf("%s: all %d documents searchable at the first look; use more documents for a rate", index, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, _ := pipeline.Count(ctx, b.sc, index)
	return 0, fmt.Errorf("%s holds %d of %d documents after %v", index, c, n, timeout)
}

// steadyRateOf runs send (which writes the n documents) beside steadyRate and returns the rate,
// or send's error.
func (b *bench) steadyRateOf(ctx context.Context, index string, n int, timeout time.Duration, send func(context.Context) error) (float64, error) {
	cctx, stopCounting := context.WithCancel(ctx)
	defer stopCounting()
	sent := make(chan error, 1)
	go func() {
		err := send(ctx)
		if err != nil {
			stopCounting() // the count would never be reached
		}
		sent <- err
	}()
	rate, err := b.steadyRate(cctx, index, n, timeout)
	if serr := <-sent; serr != nil {
		return 0, serr
	}
	return rate, err
}

// index measures the index stage (Kafka → search node) on a topic filled beforehand, against a
// minimal client bulk-posting the same documents into the same layout: -repeat times the index
// stage (a new consumer group and index prefix each time) then the baseline, and after each pair
// both runs' indices are deleted, so that every pair meets the node in the same state.
func (b *bench) index(ctx context.Context, corpusArts []article.Article) error {
	// Joining a new consumer group takes a second or two; enough documents that it does not
	// dominate the figure.
	arts := repeat(corpusArts, b.o.indexArticles)
	lines, err := b.enriched(ctx, arts)
	if err != nil {
		return err
	}
	topic := name("index")
	if err := b.produce(ctx, topic, lines); err != nil {
		return err
	}
	var docs []baselineDoc
	var mapping map[string]any
	// One unmeasured run first: on a node just started (a fresh clone's make bench) the first
	// run met a cold JVM, and the stage, which went first in every run, paid for it alone (run
	// ratios 0.59, 0.75, 0.78 on a fresh clone, against 0.86-0.93 on a warm node). The warm-up
	// runs the stage and the baseline both, and its figures are dropped; after it the two
	// alternate which goes first (indexOnce).
	if err := b.unrecorded(func() error {
		prefix := topic + "-warmup"
		err := b.indexOnce(ctx, 0, topic, prefix, lines, &docs, &mapping, false)
		b.deleteIndexRun(prefix)
		return err
	}); err != nil {
		return err
	}
	for run := range b.o.runs {
		prefix := fmt.Sprintf("%s-r%d", topic, run+1)
		err := b.indexOnce(ctx, run, topic, prefix, lines, &docs, &mapping, true)
		b.deleteIndexRun(prefix)
		if err != nil {
			return err
		}
	}
	return nil
}

// baselineDoc is one document as the index stage stored it, with the part of its index name
// after the prefix (e.g. "-1987.03"), so that each run's baseline writes it into its own indices.
type baselineDoc struct {
	storedDoc
	suffix string
}

// baselinePrefix names the baseline's indices of the run with index prefix prefix. It does not
// start with prefix, so that nothing the stage sets up for prefix-* (its template, its alias)
// can take in the baseline's indices when the baseline goes first.
func baselinePrefix(prefix string) string { return "baseline-" + prefix }

// deleteIndexRun deletes a run's indices (the stage's, the baseline's and the story lookup
// run's) and the stages' index templates, so that every run meets the node in the same state.
func (b *bench) deleteIndexRun(prefix string) {
	for _, p := range []string{prefix, baselinePrefix(prefix), storiesPrefix(prefix)} {
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+p+"-*", nil, nil)
		_ = b.sc.Do(context.Background(), http.MethodDelete, "/_index_template/"+p, nil, nil)
	}
}

// storiesPrefix is the index prefix of the story lookup run (indexStoriesRun).
func storiesPrefix(prefix string) string { return "stories-" + prefix }

// indexOnce is one run of the index step: the index stage consuming topic (all of lines) with
// group and index prefix prefix, and the baseline, then (stories) the stage with the story
// lookup on. The stage goes first in even runs (and in the warm-up, which dumps what it stored
// into docs and mapping for every baseline to post), the baseline first in odd ones: whoever
// goes second meets a node the first has just warmed, and alternating spreads that over both.
func (b *bench) indexOnce(ctx context.Context, run int, topic, prefix string, lines [][]byte, docs *[]baselineDoc, mapping *map[string]any, stories bool) error {
	var rate, stageCPU, baseRate, baseCPU float64
	stage := func() error {
		var err error
		rate, stageCPU, err = b.indexStageRun(ctx, run, topic, prefix, len(lines))
		return err
	}
	baseline := func() error {
		var err error
		baseRate, baseCPU, err = b.indexBaselineRun(ctx, run, baselinePrefix(prefix), *docs, *mapping)
		return err
	}
	first, second := stage, baseline
	if run%2 == 1 && *docs != nil {
		first, second = baseline, stage
	}
	if err := first(); err != nil {
		return err
	}
	if *docs == nil {
		if err := b.dumpForBaseline(ctx, prefix, lines, docs, mapping); err != nil {
			return err
		}
	}
	if err := second(); err != nil {
		return err
	}
	b.indexRates = append(b.indexRates, rate)
	b.indexCPU = append(b.indexCPU, stageCPU)
	b.cpuCeiling(run, "index", stageCPU, baseCPU)
	b.add(run, Result{Name: "index: Kafka → search node", Unit: "docs/s", Value: rate, Baseline: "plain _bulk, same documents, order and monthly indices (minimal client)", BaseVal: baseRate, Goal: "ratio >= 0.85"})

	if !stories {
		return nil
	}
	return b.indexStoriesRun(ctx, run, topic, prefix, len(lines), rate)
}

// indexStageRun runs the index stage over the n documents of topic into prefix and returns its
// steady rate and CPU per document (every process metered).
func (b *bench) indexStageRun(ctx context.Context, run int, topic, prefix string, n int) (rate, cpu float64, err error) {
	s, err := b.start(ctx, "index", "--topic", topic, "--group", prefix, "--index-prefix", prefix, "--dlq-topic", topic+".dlq")
	if err != nil {
		return 0, 0, err
	}
	m := b.meter(s)
	rate, err = b.steadyRate(ctx, prefix, n, 5*time.Minute)
	w := m.stop(nil)
	b.usage(s.usage("index"))
	s.stop()
	if err != nil {
		return 0, 0, err
	}
	return rate, b.recordCPU(run, "index, newsflow", w, n), nil
}

// dumpForBaseline reads what the stage stored under prefix into docs (in the topic's order) and
// mapping, for the baselines.
func (b *bench) dumpForBaseline(ctx context.Context, prefix string, lines [][]byte, docs *[]baselineDoc, mapping *map[string]any) error {
	stored, m, err := b.dump(ctx, prefix)
	if err != nil {
		return err
	}
	order := make(map[string]int, len(lines))
	for i, l := range lines {
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(l, &a)
		order[a.ID] = i
	}
	sort.SliceStable(stored, func(i, j int) bool { return order[stored[i].id] < order[stored[j].id] })
	for _, d := range stored {
		*docs = append(*docs, baselineDoc{storedDoc: d, suffix: strings.TrimPrefix(d.index, prefix)})
	}
	*mapping = m
	return nil
}

// indexBaselineRun is the baseline: the same documents (as stored), in the same order as on the
// topic, into the same layout (one index per publication month, the same mapping) on the same
// node, bulk-posted by a minimal client in requests of ~5 MB, two at a time. The layout matters:
// a request that touches nine monthly indices costs the node nine translog syncs where one index
// costs one. It returns the steady rate and CPU per document.
func (b *bench) indexBaselineRun(ctx context.Context, run int, base string, docs []baselineDoc, mapping map[string]any) (rate, cpu float64, err error) {
	// The meter starts before the baseline creates its indices: the stage's window holds the
	// creation of its own (by the index template) too, which costs the node CPU.
	m := b.meter()
	created := map[string]bool{}
	bdocs := make([]storedDoc, len(docs))
	for i, d := range docs {
		bdocs[i] = d.storedDoc
		bdocs[i].index = base + d.suffix // e.g. …-baseline-1987.03
		if !created[bdocs[i].index] {
			if err := b.sc.Do(ctx, http.MethodPut, "/"+bdocs[i].index, mapping, nil); err != nil {
				return 0, 0, fmt.Errorf("creating baseline index: %w", err)
			}
			created[bdocs[i].index] = true
		}
	}
	rate, err = b.steadyRateOf(ctx, base+"-*", len(bdocs), 5*time.Minute, func(ctx context.Context) error {
		return bulkPlain(ctx, b.o.searchURL, bdocs, 5<<20, 2)
	})
	if err != nil {
		return 0, 0, err
	}
	return rate, b.recordCPU(run, "index, plain _bulk", m.stop(nil), len(bdocs)), nil
}

// indexStoriesRun measures what the near-duplicate and story lookup costs: the same stage on
// the same topic, with its own group and index prefix, with the lookup on (--story-window 72h;
// off by default), against rate, the stage's without it.
func (b *bench) indexStoriesRun(ctx context.Context, run int, topic, prefix string, n int, rate float64) error {
	// The corpus is repeated with new URLs, so from the second copy on every article has a
	// near-duplicate: the lookup's worst case. (Its own prefix must not start with prefix:
	// templates of overlapping patterns and equal priority are refused.)
	on := storiesPrefix(prefix)
	s, err := b.start(ctx, "index", "--topic", topic, "--group", on, "--index-prefix", on, "--dlq-topic", topic+".dlq", "--story-window", "72h")
	if err != nil {
		return err
	}
	onRate, err := b.steadyRate(ctx, on, n, 5*time.Minute)
	s.stop()
	if err != nil {
		return err
	}
	b.add(run, Result{Name: "index: with the story lookup (--story-window 72h) against without", Unit: "docs/s", Value: onRate,
		Baseline: "index stage, lookup off (the default)", BaseVal: rate})
	b.add(run, Result{Name: "index: story lookup, added time per document", Unit: "µs", Value: 1e6 * (1/onRate - 1/rate)})
	return nil
}

// storedDoc is one document as the index stage stored it.
type storedDoc struct {
	index, id string
	source    []byte
}

// dump returns every document of index (an alias) with its id and concrete index, and a
// create-index body with its mapping and refresh interval (the baseline's indices refresh as
// often as the stage's: a refresh costs the engine the same for both).
func (b *bench) dump(ctx context.Context, index string) ([]storedDoc, map[string]any, error) {
	var mres map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	if err := b.sc.Do(ctx, http.MethodGet, "/"+index+"/_mapping", nil, &mres); err != nil {
		return nil, nil, err
	}
	var sres map[string]struct {
		Settings struct {
			Index struct {
				RefreshInterval string `json:"refresh_interval"`
			} `json:"index"`
		} `json:"settings"`
	}
	if err := b.sc.Do(ctx, http.MethodGet, "/"+index+"/_settings", nil, &sres); err != nil {
		return nil, nil, err
	}
	refresh := "1s" // the engine's default, when the stage's indices do not set one
	for _, s := range sres {
		if s.Settings.Index.RefreshInterval != "" {
			refresh = s.Settings.Index.RefreshInterval
		}
		break
	}
	var mapping map[string]any
	for _, m := range mres {
		mapping = map[string]any{"settings": map[string]any{"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": refresh}, "mappings": m.Mappings}
		break
	}
	var docs []storedDoc
	var res struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Index  string          `json:"_index"`
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := b.sc.Do(ctx, http.MethodPost, "/"+index+"/_search?scroll=1m", map[string]any{"size": 2000, "sort": []string{"_doc"}}, &res); err != nil {
		return nil, nil, err
	}
	for len(res.Hits.Hits) > 0 {
		for _, h := range res.Hits.Hits {
			docs = append(docs, storedDoc{index: h.Index, id: h.ID, source: h.Source})
		}
		id := res.ScrollID
		res.Hits.Hits = nil
		if err := b.sc.Do(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": id}, &res); err != nil {
			return nil, nil, err
		}
	}
	return docs, mapping, nil
}

// bulkPlain is the baseline: net/http posting _bulk bodies, checking only the errors flag.
func bulkPlain(ctx context.Context, url string, docs []storedDoc, maxBytes, workers int) error {
	var bodies [][]byte
	var cur bytes.Buffer
	for _, d := range docs {
		fmt.Fprintf(&cur, `{"index":{"_index":%q,"_id":%q}}`+"\n", d.index, d.id)
		cur.Write(d.source)
		cur.WriteByte('\n')
		if cur.Len() >= maxBytes {
			bodies = append(bodies, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		bodies = append(bodies, cur.Bytes())
	}
	return each(ctx, bodies, workers, func(ctx context.Context, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/_bulk", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var r struct {
			Errors bool `json:"errors"`
		}
		_ = json.NewDecoder(res.Body).Decode(&r)
		if res.StatusCode != 200 || r.Errors {
			return fmt.Errorf("baseline _bulk: status %d errors %v", res.StatusCode, r.Errors)
		}
		return nil
	})
}
