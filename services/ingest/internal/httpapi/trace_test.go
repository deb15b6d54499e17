package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// ctxPub records the span context Publish was called with.
type ctxPub struct{ sc trace.SpanContext }

func (p *ctxPub) Publish(ctx context.Context, _ []publish.Record) error {
	p.sc = trace.SpanContextFromContext(ctx)
	return nil
}

// TestRequestContinuesTraceparent: a request carrying traceparent gets a server span in the
// client's trace, and the publisher is called within it (its publish span and the records'
// headers follow from there).
func TestRequestContinuesTraceparent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	reg := metrics.NewRegistry()
	pub := &ctxPub{}
	h := &Handler{Pub: pub, Limits: testLimits, RetryAfter: time.Second, Log: slog.New(slog.DiscardHandler),
		Metrics: intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t"), Requests: NewRequestsMetric(reg), Tracer: tp.Tracer("test")}
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp, _ := post(t, srv.URL+"/v1/articles", "application/json", []byte(good), "traceparent", "00-"+traceID+"-"+parentID+"-01")
	if resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the request's", len(spans))
	}
	s := spans[0]
	if s.SpanContext.TraceID().String() != traceID || s.Parent.SpanID().String() != parentID || s.SpanKind != trace.SpanKindServer {
		t.Errorf("request span in trace %s with parent %s (kind %v), want trace %s parent %s", s.SpanContext.TraceID(), s.Parent.SpanID(), s.SpanKind, traceID, parentID)
	}
	if pub.sc.SpanID() != s.SpanContext.SpanID() {
		t.Errorf("Publish ran in span %s, want the request's %s", pub.sc.SpanID(), s.SpanContext.SpanID())
	}
}
