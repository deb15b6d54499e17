package stage

import (
	"context"
	"testing"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/tracing"
)

const ingestTrace, ingestSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

// TestEnrichContinuesTheRecordsTrace: each article gets one "enrich process" span, a child of
// the span its record's traceparent names; the enriched record carries the enrich span's
// context (one traceparent, replaced, other headers kept); a dead letter keeps the trace.
func TestEnrichContinuesTheRecordsTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	out, dlq := &fakeWriter{}, &fakeWriter{}
	f := newFixture(t, out, dlq)
	f.stage.cfg.Tracer = tp.Tracer("test")
	tpHeader := "00-" + ingestTrace + "-" + ingestSpan + "-01"
	for i := range f.batch {
		f.batch[i].Headers = []kafka.Header{{Key: "x-origin", Value: []byte("test")}, {Key: kafkax.HeaderTraceparent, Value: []byte(tpHeader)}}
	}
	if err := f.stage.Handle(context.Background(), f.batch); err != nil {
		t.Fatal(err)
	}

	spans := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() != "enrich process" || s.SpanContext().TraceID().String() != ingestTrace || s.Parent().SpanID().String() != ingestSpan {
			t.Errorf("span %q in trace %s with parent %s, want enrich process under %s/%s", s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID(), ingestTrace, ingestSpan)
		}
		spans[s.SpanContext().SpanID()] = s
	}
	if len(spans) != len(f.batch) {
		t.Fatalf("%d spans for %d records", len(spans), len(f.batch))
	}
	for _, m := range out.acked {
		n := 0
		for _, h := range m.Headers {
			if h.Key == kafkax.HeaderTraceparent {
				n++
			}
		}
		sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), kafkax.HeaderCarrier{Headers: &m.Headers}))
		s, ok := spans[sc.SpanID()]
		if n != 1 || !ok || sc.TraceID().String() != ingestTrace || kafkax.Header(m, "x-origin") != "test" {
			t.Errorf("enriched %s: %d traceparents, context %v (an enrich span: %v), x-origin %q", m.Key, n, sc, ok, kafkax.Header(m, "x-origin"))
		} else if got := attr(s, "newsflow.article.id"); got != string(m.Key) {
			t.Errorf("span of %s names article %q", m.Key, got)
		}
	}
	for _, m := range dlq.acked {
		if kafkax.Header(m, kafkax.HeaderTraceparent) != tpHeader {
			t.Errorf("dead letter %s lost its trace context: %q", m.Key, kafkax.Header(m, kafkax.HeaderTraceparent))
		}
	}
	// The raw records' headers are untouched: the enriched records got copies.
	for _, m := range f.batch {
		if kafkax.Header(m, kafkax.HeaderTraceparent) != tpHeader {
			t.Fatalf("raw record %s's traceparent changed to %q", m.Key, kafkax.Header(m, kafkax.HeaderTraceparent))
		}
	}
}

// TestEnrichReplacesBadTraceContext: a record whose traceparent is unreadable (with a second
// one, and the tracestate of whatever trace wrote it) gets an enrich span of a trace of its own,
// and the enriched record carries that context alone: one traceparent, no foreign tracestate.
func TestEnrichReplacesBadTraceContext(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	out := &fakeWriter{}
	f := newFixture(t, out, &fakeWriter{})
	f.stage.cfg.Tracer = tp.Tracer("test")
	f.batch = f.batch[:1]
	f.batch[0].Headers = []kafka.Header{{Key: kafkax.HeaderTraceparent, Value: []byte("garbage")},
		{Key: kafkax.HeaderTracestate, Value: []byte("stale=1")},
		{Key: kafkax.HeaderTraceparent, Value: []byte("00-" + ingestTrace + "-" + ingestSpan + "-01")}}
	if err := f.stage.Handle(context.Background(), f.batch); err != nil {
		t.Fatal(err)
	}
	if len(out.acked) != 1 {
		t.Fatalf("%d enriched records, want 1", len(out.acked))
	}
	var tps, tss int
	for _, h := range out.acked[0].Headers {
		switch h.Key {
		case kafkax.HeaderTraceparent:
			tps++
		case kafkax.HeaderTracestate:
			tss++
		}
	}
	spans := exp.GetSpans().Snapshots()
	sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), kafkax.HeaderCarrier{Headers: &out.acked[0].Headers}))
	if tps != 1 || tss != 0 || len(spans) != 1 || sc.SpanID() != spans[0].SpanContext().SpanID() {
		t.Errorf("enriched record: %d traceparents, %d tracestates, context %v; want the enrich span's alone (%d spans)", tps, tss, sc, len(spans))
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// TestUntracedEnrichAllocatesNothingMore: with tracing off, enriching one record allocates
// exactly as much with a traceparent header on it as without (nothing is parsed, copied or
// started), and the enriched record carries the incoming headers as they were.
func TestUntracedEnrichAllocatesNothingMore(t *testing.T) {
	f := newFixture(t, &fakeWriter{}, &fakeWriter{})
	plain := f.batch[0]
	traced := plain
	traced.Headers = []kafka.Header{{Key: kafkax.HeaderTraceparent, Value: []byte("00-" + ingestTrace + "-" + ingestSpan + "-01")}}
	got, err := f.stage.enrichOne(traced)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Headers) != 1 || &got.Headers[0] != &traced.Headers[0] {
		t.Errorf("headers not passed through as they came: %q", got.Headers)
	}
	if raceEnabled {
		t.Skip("allocation counts are not comparable under the race detector")
	}
	a := testing.AllocsPerRun(20, func() { _, _ = f.stage.enrichOne(plain) })
	b := testing.AllocsPerRun(20, func() { _, _ = f.stage.enrichOne(traced) })
	if a != b {
		t.Errorf("enrichOne allocates %v times without a traceparent and %v with one, tracing off", a, b)
	}
}
