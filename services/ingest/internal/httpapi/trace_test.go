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

	"github.com/newsflow/newsflow/pkg/config"
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

// TestRequestContinuesTraceparent: an authorized request carrying traceparent gets a server span
// in the client's trace, and the publisher is called within it (its publish span and the
// records' headers follow from there); a request without a valid token gets no span at all.
func TestRequestContinuesTraceparent(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	reg := metrics.NewRegistry()
	pub := &ctxPub{}
	h := &Handler{Pub: pub, Limits: testLimits, RetryAfter: time.Second, Log: slog.New(slog.DiscardHandler),
		Metrics: intake.NewMetrics(reg, metrics.NewStage(reg, "ingest"), "t"), Requests: NewRequestsMetric(reg), Tracer: provider.Tracer("test"),
		Auth: NewAuth(config.SplitSecrets("s3cret"))}
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tp := "00-" + traceID + "-" + parentID + "-01"
	if resp, _ := post(t, srv.URL+"/v1/articles", "application/json", []byte(good), "traceparent", tp, "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong token: status %d", resp.StatusCode)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans for a request without a valid token", n)
	}
	resp, _ := post(t, srv.URL+"/v1/articles", "application/json", []byte(good), "traceparent", tp, "Authorization", "Bearer s3cret")
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
