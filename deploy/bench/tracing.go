package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/newsflow/newsflow/pkg/article"
)

// tracingFigure is the name of the tracing step's figure.
const tracingFigure = "end to end with tracing on (every article's spans exported over OTLP/HTTP)"

// tracing measures what tracing costs the pipeline: its closed-loop throughput (as the e2e step
// measures it) with every service exporting every span over OTLP/HTTP, against the same pipeline
// with tracing off, in the same run, -repeat times, off and on interleaved. The ratio is on over
// off. The spans go to -otlp-endpoint when set (a Jaeger, a collector), else to a sink in the
// bench that reads and drops them, so that the figure is the services' cost (spans, headers,
// export), not a trace store's.
func (b *bench) tracing(ctx context.Context, arts []article.Article) error {
	endpoint, sink := b.o.otlpEndpoint, (*otlpSink)(nil)
	if endpoint == "" {
		var err error
		if sink, err = startOTLPSink(); err != nil {
			return err
		}
		defer sink.close()
		endpoint = sink.url
	}
	on := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_TRACES_SAMPLER=always_on"}
	// Off whatever the bench's own environment says: an empty endpoint turns tracing off.
	off := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="}
	reqs := bodies(arts, 500)
	for run := range b.o.runs {
		untraced, err := b.tracedThroughput(ctx, "tracing off", arts, reqs, off)
		if err != nil {
			return fmt.Errorf("tracing off: %w", err)
		}
		traced, err := b.tracedThroughput(ctx, "tracing on", arts, reqs, on)
		if err != nil {
			return fmt.Errorf("tracing on: %w", err)
		}
		b.add(run, Result{Name: tracingFigure, Unit: "articles/s", Value: traced, Baseline: "the same pipeline, tracing off, same run", BaseVal: untraced})
	}
	note := "every article sampled (OTEL_TRACES_SAMPLER=always_on): 4 spans of its own (ingest request and publish, enrich process, index document) and its share of one index bulk span; exported to " + endpoint
	if sink != nil {
		note = fmt.Sprintf("%s, a sink in the bench that read %d export requests (%.1f MB) over all runs", note, sink.requests.Load(), float64(sink.bytes.Load())/(1<<20))
	}
	b.col.notes[tracingFigure] = note
	return nil
}

// tracedThroughput starts a new pipeline with env added to every service and returns its
// closed-loop throughput over arts; phase names its CPU and memory in the report.
func (b *bench) tracedThroughput(ctx context.Context, phase string, arts []article.Article, reqs [][]byte, env []string) (float64, error) {
	b.env = env
	defer func() { b.env = nil }()
	p, err := b.startPipeline(ctx)
	if err != nil {
		return 0, err
	}
	defer p.stop(b)
	rate, err := b.steadyRateOf(ctx, p.prefix, len(arts), 10*time.Minute, func(ctx context.Context) error {
		return postAll(ctx, p.url, reqs, 4)
	})
	if err != nil {
		return 0, err
	}
	p.recordUsage(b, phase)
	return rate, nil
}

// otlpSink accepts OTLP/HTTP trace exports and drops them, counting requests and bytes.
type otlpSink struct {
	url             string
	srv             *http.Server
	requests, bytes atomic.Int64
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP sink: %w", err)
	}
	s := &otlpSink{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		// An empty ExportTraceServiceResponse is an empty protobuf message.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *otlpSink) close() { _ = s.srv.Close() }
