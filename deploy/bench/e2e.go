package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsflow/newsflow/deploy/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/article"
)

// e2e measures the whole pipeline, -repeat times, each run on a new set of services, topics and
// indices: first closed-loop throughput (how fast a backlog goes from ingest's HTTP API to
// searchable), then open-loop latency at a fraction of that rate, then the CPU and memory the
// services used over both.
func (b *bench) e2e(ctx context.Context, arts []article.Article) error {
	for run := range b.o.runs {
		if err := b.e2eOnce(ctx, run, arts); err != nil {
			return err
		}
	}
	note := fmt.Sprintf("open loop at the run's measured max × -latency-fraction (%.2f), for %d s a run; polling every 100 ms adds up to ~150 ms; index defaults (refresh_interval 250 ms, flush-interval 100 ms)", b.o.latencyFraction, b.o.latencySeconds)
	b.col.notes[latencyP50], b.col.notes[latencyP99] = note, note
	return nil
}

// latencyLegs name where the p99 of the latency goes, from the documents' own times: ingest's
// 202 to enriched_at (Kafka, enrich's queue and its work), enriched_at to indexed_at (enrich's
// produce, Kafka, the index stage's fetch and batch), indexed_at to found (the bulk request,
// the refresh and the polling). Each is its own p99, so they need not add up to the total's.
var latencyLegs = [...]string{
	"end to end latency p99, leg: 202 → enriched",
	"end to end latency p99, leg: enriched → indexed",
	"end to end latency p99, leg: indexed → searchable",
}

const latencyLegNote = "from each document's enriched_at and indexed_at (same machine, same clock); each leg is its own p99, so the legs need not add up to the total's"

// The names of the latency figures (they share a note).
const (
	latencyP50 = "end to end latency p50 (ingest 202 → searchable)"
	latencyP99 = "end to end latency p99 (ingest 202 → searchable)"
)

// e2eOnce is one run of the e2e step.
func (b *bench) e2eOnce(ctx context.Context, run int, arts []article.Article) error {
	p, err := b.startPipeline(ctx)
	if err != nil {
		return err
	}
	defer p.stop(b)
	rate, err := b.e2eThroughput(ctx, run, p, arts)
	if err != nil {
		return err
	}
	if err := b.e2eLatency(ctx, run, p, arts, rate); err != nil {
		return err
	}
	p.recordUsage(b, "e2e total")
	return nil
}

// pipelineRun is ingest, enrich and index wired through topics of their own, writing to indices
// of their own, so that nothing left by another step or run is counted.
type pipelineRun struct {
	ing, enr, idx *svc
	url           string // ingest's HTTP API
	prefix        string // index prefix of the indices, and the alias that reads them
}

// startPipeline starts the three services on new topics (raw, enriched, one DLQ) and a new index
// prefix. If one fails to start, those already started are stopped.
func (b *bench) startPipeline(ctx context.Context) (*pipelineRun, error) {
	base := name("e2e")
	raw, enriched, dlq, prefix := base+".raw", base+".enriched", base+".dlq", base
	ing, url, err := b.startIngest(ctx, raw)
	if err != nil {
		return nil, err
	}
	enr, err := b.start(ctx, "enrich", "--topic", raw, "--output-topic", enriched, "--dlq-topic", dlq, "--group", base+"-enrich")
	if err != nil {
		ing.stop()
		return nil, err
	}
	idx, err := b.start(ctx, "index", "--topic", enriched, "--dlq-topic", dlq, "--group", base+"-index", "--index-prefix", prefix)
	if err != nil {
		enr.stop()
		ing.stop()
		return nil, err
	}
	return &pipelineRun{ing: ing, enr: enr, idx: idx, url: url, prefix: prefix}, nil
}

// stop deletes the run's indices and index template, then stops index, enrich and ingest, in
// that order.
func (p *pipelineRun) stop(b *bench) {
	_ = b.sc.Do(context.Background(), http.MethodDelete, "/"+p.prefix+"-*", nil, nil)
	_ = b.sc.Do(context.Background(), http.MethodDelete, "/_index_template/"+p.prefix, nil, nil)
	p.idx.stop()
	p.enr.stop()
	p.ing.stop()
}

// recordUsage adds the CPU seconds and peak memory of the three services so far to the report.
func (p *pipelineRun) recordUsage(b *bench, phase string) {
	for _, s := range []*svc{p.ing, p.enr, p.idx} {
		b.usage(s.usage(phase))
	}
}

// e2eThroughput measures the pipeline's maximum rate, closed loop: every article posted as fast
// as ingest accepts it (requests of 500, four at a time), timed from a tenth of them searchable
// until the last one is (steadyRate, as the index step is).
// The figure's baseline is the index stage alone in the same run (the run-th of the index step)
// when that step ran: the pipeline cannot beat its slowest stage. It returns the rate, which sets
// the latency run's.
func (b *bench) e2eThroughput(ctx context.Context, run int, p *pipelineRun, arts []article.Article) (float64, error) {
	reqs := bodies(arts, 500)
	m := b.meter(p.ing, p.enr, p.idx)
	rate, err := b.steadyRateOf(ctx, p.prefix, len(arts), 10*time.Minute, func(ctx context.Context) error {
		return postAll(ctx, p.url, reqs, 4)
	})
	if err != nil {
		return 0, err
	}
	w := m.stop(nil)
	p.recordUsage(b, "e2e throughput")
	e2eCPU := b.recordCPU(run, "end to end", w, len(arts))
	if run < len(b.indexCPU) {
		b.cpuCeiling(run, "end to end against index alone", e2eCPU, b.indexCPU[run])
	}
	r := Result{Name: "end to end: HTTP → ingest → enrich → index → searchable", Unit: "articles/s", Value: rate}
	if run < len(b.indexRates) { // the index step ran
		r.Baseline, r.BaseVal = "index stage alone (above), same run", b.indexRates[run]
	}
	b.add(run, r)
	return rate, nil
}

// e2eLatency measures p50 and p99 latency, open loop, at -latency-fraction of maxRate (half by
// default): articles are sent at a fixed rate whether or not earlier ones are done, and each
// one's latency is the time from ingest's 202 to a search finding it by id. A closed loop would
// slow its sending when the pipeline falls behind and so hide the queueing it measures.
func (b *bench) e2eLatency(ctx context.Context, run int, p *pipelineRun, arts []article.Article, maxRate float64) error {
	target := maxRate * b.o.latencyFraction
	perTick := max(1, int(target/10)) // ten requests a second
	fresh := freshArticles(arts, perTick*10*b.o.latencySeconds)
	runFor := time.Duration(b.o.latencySeconds) * time.Second
	acks, sent := sendOpenLoop(ctx, p.url, fresh, perTick, runFor)
	lat, legs, notSearchable := b.awaitSearchable(ctx, p.prefix, acks, time.Now().Add(runFor+3*time.Minute))
	if len(lat) == 0 {
		return errors.New("latency run: no article became searchable")
	}
	sort.Float64s(lat)
	note := fmt.Sprintf("run %d at %.0f articles/s: %d sent, %d measured, %d not searchable within 3 min",
		run+1, target, sent.Load(), len(lat), notSearchable)
	b.add(run, Result{Name: latencyP50, Unit: "s", Value: percentile(lat, 0.5), Note: note})
	b.add(run, Result{Name: latencyP99, Unit: "s", Value: percentile(lat, 0.99), Note: note, Goal: "<= 1.5 s"})
	for i, name := range latencyLegs {
		sort.Float64s(legs[i])
		if len(legs[i]) > 0 {
			b.add(run, Result{Name: name, Unit: "s", Value: percentile(legs[i], 0.99), Note: latencyLegNote})
		}
	}
	return nil
}

// freshArticles returns n articles from arts (repeated as needed), each with a new URL and so a
// new id: none of them is in the index yet, so a search that finds one finds this run's copy.
func freshArticles(arts []article.Article, n int) []article.Article {
	var fresh []article.Article
	for i, a := range repeat(arts, n) {
		a.URL = withQuery(a.URL, fmt.Sprintf("latency-run=%d", i)) // new ids: not yet in the index
		a.ID = article.ID(&a)
		fresh = append(fresh, a)
	}
	return fresh
}

// ack is one article ingest accepted, and when its 202 arrived.
type ack struct {
	id string
	at time.Time
}

// sendOpenLoop posts fresh to ingest on a fixed clock, perTick articles every 100 ms for runFor
// (or until fresh runs out), each request in its own goroutine so that a slow answer does not
// delay the next tick. Every id of an accepted request goes to the returned channel, which is
// closed once all requests have answered; sent counts the articles posted. Failed requests are
// not retried: their articles are simply not measured.
func sendOpenLoop(ctx context.Context, url string, fresh []article.Article, perTick int, runFor time.Duration) (<-chan ack, *atomic.Int64) {
	acks := make(chan ack, len(fresh))
	sent := new(atomic.Int64)
	go func() {
		var wg sync.WaitGroup
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(runFor)
		for i := 0; time.Now().Before(end) && i < len(fresh); i += perTick {
			<-tick.C
			batch := fresh[i:min(i+perTick, len(fresh))]
			sent.Add(int64(len(batch)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := pipeline.Post(ctx, url, "", "application/x-ndjson", pipeline.NDJSON(batch), nil)
				now := time.Now()
				if err != nil || res.Status != 202 {
					return
				}
				for _, it := range res.Items {
					acks <- ack{it.ID, now}
				}
			}()
		}
		wg.Wait()
		close(acks)
	}()
	return acks, sent
}

// awaitSearchable runs beside the sender and times each acknowledged article when a search of
// index first finds it, until acks is closed and every article is found, or deadline. It returns
// the latencies in seconds and how many articles were still not searchable. Each round it asks
// only for the 1,000 oldest pending ids (they become searchable first), every 100 ms, so that the
// polling itself does not load the search node the pipeline is writing to.
func (b *bench) awaitSearchable(ctx context.Context, index string, acks <-chan ack, deadline time.Time) ([]float64, [len(latencyLegs)][]float64, int) {
	var lat []float64
	var legs [len(latencyLegs)][]float64
	var pending []ack
	sending := true
	for (sending || len(pending) > 0) && time.Now().Before(deadline) {
	drain:
		for {
			select {
			case a, ok := <-acks:
				if !ok {
					sending = false
					break drain
				}
				pending = append(pending, a)
			default:
				break drain
			}
		}
		if len(pending) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		sort.Slice(pending, func(i, j int) bool { return pending[i].at.Before(pending[j].at) })
		head := pending[:min(1000, len(pending))]
		ids := make([]string, len(head))
		for i, a := range head {
			ids[i] = a.id
		}
		_, hits, err := pipeline.Search(ctx, b.sc, index, map[string]any{"size": len(ids), "_source": []string{"enriched_at", "indexed_at"},
			"query": map[string]any{"ids": map[string]any{"values": ids}}})
		if err == nil {
			now := time.Now()
			seen := map[string]map[string]any{}
			for _, h := range hits {
				seen[h.ID] = h.Source
			}
			rest := pending[:0]
			for _, a := range pending {
				if src, ok := seen[a.id]; ok {
					lat = append(lat, now.Sub(a.at).Seconds())
					enriched, e1 := time.Parse(time.RFC3339Nano, fmt.Sprint(src["enriched_at"]))
					indexed, e2 := time.Parse(time.RFC3339Nano, fmt.Sprint(src["indexed_at"]))
					if e1 == nil && e2 == nil {
						legs[0] = append(legs[0], enriched.Sub(a.at).Seconds())
						legs[1] = append(legs[1], indexed.Sub(enriched).Seconds())
						legs[2] = append(legs[2], now.Sub(indexed).Seconds())
					}
				} else {
					rest = append(rest, a)
				}
			}
			pending = rest
		}
		time.Sleep(100 * time.Millisecond)
	}
	return lat, legs, len(pending)
}

// percentile returns the q quantile (0..1) of sorted: the value at rank q×n, or the largest.
func percentile(sorted []float64, q float64) float64 {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
