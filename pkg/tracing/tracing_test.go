package tracing

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/kafkax"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Config
		on   bool
	}{
		{"nothing set: off", nil, Config{Protocol: "http/protobuf"}, false},
		{"base endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"},
			Config{Endpoint: "http://jaeger:4318/v1/traces", Protocol: "http/protobuf"}, true},
		{"base endpoint, grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			Config{Endpoint: "http://jaeger:4317", Protocol: "grpc"}, true},
		{"traces endpoint and protocol win", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
			Config{Endpoint: "http://b:4317", Protocol: "grpc"}, true},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"},
			Config{Endpoint: "http://a:4318/v1/traces", Protocol: "http/protobuf", Disabled: true}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"},
			Config{Endpoint: "http://a:4318/v1/traces", Protocol: "http/protobuf", Disabled: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromEnv(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Errorf("FromEnv = %+v, want %+v", got, tc.want)
			}
			if got.Enabled() != tc.on {
				t.Errorf("Enabled = %v, want %v", got.Enabled(), tc.on)
			}
		})
	}
	if err := (Config{Endpoint: "x", Protocol: "http/json"}).Validate(); err == nil {
		t.Error("http/json accepted; the Go exporter cannot send it")
	}
}

// TestOffIsNil: with no endpoint there is no tracer at all (the stages check for nil) and
// Shutdown is a no-op.
func TestOffIsNil(t *testing.T) {
	tr, err := StartWith(context.Background(), "test", Config{Protocol: "http/protobuf"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || tr.Tracer != nil {
		t.Fatal("tracing on without an endpoint")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownFlushes: spans buffered by the batcher reach the OTLP/HTTP receiver named by
// OTEL_EXPORTER_OTLP_ENDPOINT when the service shuts down, not later or never.
func TestShutdownFlushes(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	tr, err := StartWith(context.Background(), "test", FromEnv(os.Getenv), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("tracing off with an endpoint")
	}
	_, span := tr.Tracer.Start(context.Background(), "work")
	span.End()
	if posts.Load() != 0 {
		t.Fatal("exported before the batch timeout or shutdown; the test would prove nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("Shutdown returned without exporting the buffered span")
	}
}

// TestRecordHeadersRoundTrip: the headers written for a span continue that span's trace when a
// later stage extracts them from the record.
func TestRecordHeadersRoundTrip(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	if RecordHeaders(context.Background()) != nil {
		t.Fatal("headers for a context without a span")
	}
	ctx, span := tp.Tracer("t").Start(context.Background(), "publish")
	hs := RecordHeaders(ctx)
	span.End()
	msg := kafka.Message{Headers: hs}
	if kafkax.Header(msg, HeaderTraceparent) == "" {
		t.Fatalf("no traceparent in %q", hs)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), kafkax.HeaderCarrier{Headers: &msg.Headers}))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() || !got.IsSampled() {
		t.Errorf("extracted %v, want the remote context of %v", got, span.SpanContext())
	}
}
