package feeds

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// spanPub records the span context each Publish ran in.
type spanPub struct{ scs []trace.SpanContext }

func (p *spanPub) Publish(ctx context.Context, _ []publish.Record) error {
	p.scs = append(p.scs, trace.SpanContextFromContext(ctx))
	return nil
}

// TestPollStartsATrace: each poll of a feed is a trace of its own, a root span even when the
// poller's context holds one, and the publish of its new items runs within it.
func TestPollStartsATrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	fs := newFeedServer(t, false)
	fs.set("b", "a")
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := &spanPub{}
	p := newPoller(t, store, pub)
	p.Tracer = tp.Tracer("test")
	ctx, outer := tp.Tracer("test").Start(context.Background(), "outer")
	defer outer.End()
	if n, err := p.Poll(ctx, Feed{URL: fs.URL + "/feed", Source: "test"}); err != nil || n != 2 {
		t.Fatalf("poll: %d, %v", n, err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "ingest feed poll" || spans[0].Parent.IsValid() {
		t.Fatalf("spans %v, want one root ingest feed poll", spans)
	}
	if len(pub.scs) != 1 || pub.scs[0].SpanID() != spans[0].SpanContext.SpanID() {
		t.Errorf("publish ran in %v, want the poll's span %s", pub.scs, spans[0].SpanContext.SpanID())
	}
}
