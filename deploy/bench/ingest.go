package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
)

// ingest measures ingest's HTTP NDJSON API writing to Kafka with acks=all, against kcat
// producing the same records: -repeat times kcat then ingest, each on a topic of its own and
// ingest a new process each time, so that every run is the same measurement.
func (b *bench) ingest(ctx context.Context, corpusArts []article.Article) error {
	// A run of a few thousand articles takes well under a second on either side, where start-up
	// costs dominate; the corpus is repeated (each copy a new URL, so a new id) up to
	// -ingest-articles records.
	arts := repeat(corpusArts, b.o.ingestArticles)
	var lines bytes.Buffer
	for i := range arts {
		v, _ := json.Marshal(&arts[i])
		lines.WriteString(arts[i].ID)
		lines.WriteByte('\t')
		lines.Write(v)
		lines.WriteByte('\n')
	}
	reqs := bodies(arts, ingestBatch)
	for run := range b.o.runs {
		if err := b.ingestOnce(ctx, run, len(arts), lines.Bytes(), reqs); err != nil {
			return err
		}
	}
	return nil
}

// ingestOnce is one run of the ingest step over n articles: kcat producing lines (id TAB JSON),
// then ingest accepting reqs.
func (b *bench) ingestOnce(ctx context.Context, run, n int, lines []byte, reqs [][]byte) error {
	// Baseline: kcat producing the same records (key = id, value = the article JSON), acks=all.
	topicK := name("ingest-kcat")
	if err := b.kc.EnsureTopics(ctx, topicK); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "kcat", "-P", "-b", b.o.brokers, "-t", topicK, "-K", "\t", "-X", "acks=all", "-z", "snappy", "-X", "linger.ms=5")
	cmd.Stdin = bytes.NewReader(lines)
	m := b.meter()
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kcat -P: %v: %s", err, out)
	}
	kcatRate := float64(n) / time.Since(start).Seconds()
	kcatCPU := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	baseCPU := b.recordCPU(run, "ingest, kcat", m.stop(map[string]float64{"kcat": kcatCPU}), n)

	s, url, err := b.startIngest(ctx, name("ingest"))
	if err != nil {
		return err
	}
	defer s.stop()
	m = b.meter(s)
	start = time.Now()
	if err := postAll(ctx, url, reqs, ingestClients); err != nil {
		return err
	}
	rate := float64(n) / time.Since(start).Seconds()
	b.usage(s.usage("ingest"))
	b.cpuCeiling(run, "ingest", b.recordCPU(run, "ingest, newsflow", m.stop(nil), n), baseCPU)
	b.add(run, Result{Name: "ingest: HTTP NDJSON → Kafka (acks=all)", Unit: "articles/s", Value: rate, Baseline: "kcat -P, same records, acks=all", BaseVal: kcatRate, Goal: "ratio >= 0.8"})
	return nil
}

// The load generator for ingest: requests of ingestBatch articles, ingestClients at a time.
var ingestBatch, ingestClients = 1000, 8

// bodies encodes arts as NDJSON request bodies of `batch` articles each, before any clock
// starts: kcat gets its input ready-made too.
func bodies(arts []article.Article, batch int) [][]byte {
	var out [][]byte
	for i := 0; i < len(arts); i += batch {
		out = append(out, pipeline.NDJSON(arts[i:min(i+batch, len(arts))]))
	}
	return out
}

// postAll posts the bodies with `workers` concurrent requests; every one must be accepted (202).
func postAll(ctx context.Context, url string, bodies [][]byte, workers int) error {
	return each(ctx, bodies, workers, func(ctx context.Context, body []byte) error {
		res, err := pipeline.Post(ctx, url, "", "application/x-ndjson", body, nil)
		if err != nil || res.Status != 202 {
			return fmt.Errorf("POST: status %d %s %v", res.Status, res.Error, err)
		}
		return nil
	})
}

// each sends every body with at most workers requests in flight and returns the first error
// (which stops the rest): the load generator of postAll and of the _bulk baseline.
func each(ctx context.Context, bodies [][]byte, workers int, send func(context.Context, []byte) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, body := range bodies {
		g.Go(func() error { return send(gctx, body) })
	}
	return g.Wait()
}

// withQuery appends a query parameter to u.
func withQuery(u, kv string) string {
	if strings.Contains(u, "?") {
		return u + "&" + kv
	}
	return u + "?" + kv
}

// repeat returns n articles: the corpus, then copies of it with new URLs (so new ids).
func repeat(corpusArts []article.Article, n int) []article.Article {
	var arts []article.Article
	for copyN := 0; len(arts) < n; copyN++ {
		for _, a := range corpusArts {
			if len(arts) == n {
				break
			}
			if copyN > 0 {
				a.URL = withQuery(a.URL, fmt.Sprintf("copy=%d", copyN))
				a.ID = article.ID(&a)
			}
			arts = append(arts, a)
		}
	}
	return arts
}
