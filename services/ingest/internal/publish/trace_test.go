package publish

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/tracing"
)

// TestPublishTraces: with a tracer, one "ingest publish" span per Publish, a child of the
// caller's span (an incoming traceparent), and every record carries that span's context, which
// enrich continues.
func TestPublishTraces(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	w := &fakeWriter{}
	p := &Publisher{W: w, Topic: "articles.raw", Timeout: time.Second, Tracer: tp.Tracer("test")}

	parent, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	psid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: parent, SpanID: psid, TraceFlags: trace.FlagsSampled, Remote: true}))
	if err := p.Publish(ctx, arts(3)); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "ingest publish" {
		t.Fatalf("spans %v, want one ingest publish", spans)
	}
	s := spans[0]
	if s.SpanContext.TraceID() != parent || s.Parent.SpanID() != psid || s.SpanKind != trace.SpanKindProducer {
		t.Errorf("span trace %s parent %s kind %v: want trace %s, parent %s, producer", s.SpanContext.TraceID(), s.Parent.SpanID(), s.SpanKind, parent, psid)
	}
	for i, msg := range w.calls[0] {
		got := trace.SpanContextFromContext(tracing.Extract(context.Background(), kafkax.HeaderCarrier{Headers: &msg.Headers}))
		if got.TraceID() != parent || got.SpanID() != s.SpanContext.SpanID() {
			t.Errorf("record %d carries %v, want the publish span %s of trace %s", i, got, s.SpanContext.SpanID(), parent)
		}
	}
}

// TestPublishUntracedAddsNothing: without a tracer the records carry no headers, and the only
// allocations Publish makes per record are those of Messages (the key's copy), which predate
// tracing: tracing off costs nothing per record.
func TestPublishUntracedAddsNothing(t *testing.T) {
	w := &countingWriter{}
	p := &Publisher{W: w, Topic: "t"}
	ctx := context.Background()
	small, large := arts(1), arts(100)
	if err := p.Publish(ctx, small); err != nil {
		t.Fatal(err)
	}
	if w.headers != 0 {
		t.Fatalf("%d headers written with tracing off", w.headers)
	}
	if raceEnabled {
		t.Skip("allocation counts are not comparable under the race detector")
	}
	a1 := testing.AllocsPerRun(50, func() { _ = p.Publish(ctx, small) })
	a100 := testing.AllocsPerRun(50, func() { _ = p.Publish(ctx, large) })
	m1 := testing.AllocsPerRun(50, func() { _, _ = Messages(small) })
	m100 := testing.AllocsPerRun(50, func() { _, _ = Messages(large) })
	if a100-a1 != m100-m1 {
		t.Errorf("Publish allocates %v times for 1 record and %v for 100, Messages %v and %v: a per-record cost of its own with tracing off", a1, a100, m1, m100)
	}
}

type countingWriter struct{ headers int }

func (c *countingWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		c.headers += len(m.Headers)
	}
	return nil
}
