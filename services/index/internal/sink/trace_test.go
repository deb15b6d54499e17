package sink_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
)

// traced gives each message of msgs a traceparent of a trace of its own (enrich's span) and
// returns the span contexts.
func traced(msgs []kafka.Message) []trace.SpanContext {
	var scs []trace.SpanContext
	for i := range msgs {
		tid, _ := trace.TraceIDFromHex(fmt.Sprintf("%032x", i+1))
		sid, _ := trace.SpanIDFromHex(fmt.Sprintf("%016x", i+100))
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
		msgs[i].Headers = []kafka.Header{{Key: kafkax.HeaderTraceparent, Value: []byte("00-" + tid.String() + "-" + sid.String() + "-01")}}
		scs = append(scs, sc)
	}
	return scs
}

func tracedSink(f *fakeEngine, d *fakeDLQ, tr trace.Tracer, reg prometheus.Registerer) *sink.Sink {
	return sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, FlushBytes: 5 << 20, Workers: 3,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, Topic: "in", Tracer: tr},
		f, d, slog.New(slog.NewTextHandler(io.Discard, nil)), sink.NewMetrics(reg))
}

// TestBulkSpanLinksItsRecords: one "index bulk" span per _bulk request, linked to the trace
// context of each record it carries; per record an "index document" span in that record's
// trace (child of enrich's span) with its verdict; the end-to-end histogram has an exemplar
// naming one of the traces; a rejected record's dead letter keeps its trace context.
func TestBulkSpanLinksItsRecords(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	f, d := newFake(), &fakeDLQ{}
	f.item = func(id string, _ int) verdict {
		if id == "d03" {
			return verdict{400, "mapper_parsing_exception"}
		}
		return verdict{status: 201}
	}
	reg := prometheus.NewRegistry()
	s := tracedSink(f, d, tp.Tracer("test"), reg)
	msgs := batch(4)
	scs := traced(msgs)
	if err := s.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 1 {
		t.Fatalf("%d requests, want 1", len(f.requests))
	}

	var bulk sdktrace.ReadOnlySpan
	docs := map[trace.TraceID]sdktrace.ReadOnlySpan{}
	for _, sp := range exp.GetSpans().Snapshots() {
		switch sp.Name() {
		case "index bulk":
			if bulk != nil {
				t.Fatal("two bulk spans for one request")
			}
			bulk = sp
		case "index document":
			docs[sp.SpanContext().TraceID()] = sp
		default:
			t.Errorf("unexpected span %q", sp.Name())
		}
	}
	if bulk == nil {
		t.Fatal("no index bulk span")
	}
	linked := map[trace.SpanID]bool{}
	for _, l := range bulk.Links() {
		linked[l.SpanContext.SpanID()] = true
	}
	for i, sc := range scs {
		if !linked[sc.SpanID()] {
			t.Errorf("bulk span not linked to record %d's context %v", i, sc)
		}
		doc := docs[sc.TraceID()]
		if doc == nil || doc.Parent().SpanID() != sc.SpanID() {
			t.Errorf("record %d: no index document span under enrich's span %s", i, sc.SpanID())
			continue
		}
		if len(doc.Links()) != 1 || doc.Links()[0].SpanContext.SpanID() != bulk.SpanContext().SpanID() {
			t.Errorf("record %d's document span is not linked to the bulk span", i)
		}
		want := "ok"
		if i == 3 {
			want = "reject"
		}
		if got := attrOf(doc, "newsflow.verdict"); got != want {
			t.Errorf("record %d verdict %q, want %q", i, got, want)
		}
	}
	if len(bulk.Links()) != 4 || bulk.Parent().IsValid() {
		t.Errorf("bulk span: %d links, parent %v; want 4 links and a root", len(bulk.Links()), bulk.Parent())
	}

	if len(d.msgs) != 1 || kafkax.Header(d.msgs[0], kafkax.HeaderTraceparent) != string(msgs[3].Headers[0].Value) {
		t.Errorf("dead letters %d, the rejected record's traceparent kept: %v", len(d.msgs), d.msgs)
	}

	exemplar := ""
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "newsflow_index_end_to_end_latency_seconds" {
			continue
		}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			if e := b.GetExemplar(); e != nil {
				for _, l := range e.GetLabel() {
					if l.GetName() == "trace_id" {
						exemplar = l.GetValue()
					}
				}
			}
		}
	}
	found := false
	for _, sc := range scs[:3] {
		found = found || exemplar == sc.TraceID().String()
	}
	if !found {
		t.Errorf("end-to-end histogram exemplar trace_id %q, want one of the indexed records' traces", exemplar)
	}
}

func attrOf(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// TestUntracedSinkIgnoresTraceHeaders: with tracing off a batch whose records carry traceparent
// costs the sink no more allocations per record than one without: the headers are not even
// read. (Not exactly equal: the request goroutines make the count vary by one or two.)
func TestUntracedSinkIgnoresTraceHeaders(t *testing.T) {
	f := newFake()
	s := tracedSink(f, &fakeDLQ{}, nil, prometheus.NewRegistry())
	const n = 50
	plain := batch(n)
	withHeaders := batch(n)
	traced(withHeaders)
	ctx := context.Background()
	if raceEnabled {
		t.Skip("allocation counts are not comparable under the race detector")
	}
	if err := s.Handle(ctx, plain); err != nil { // creates the index once
		t.Fatal(err)
	}
	a := testing.AllocsPerRun(20, func() { _ = s.Handle(ctx, plain) })
	b := testing.AllocsPerRun(20, func() { _ = s.Handle(ctx, withHeaders) })
	if b-a >= n/2 {
		t.Errorf("Handle allocates %v times for %d records without traceparent and %v with, tracing off: a per-record cost", a, n, b)
	}
}
