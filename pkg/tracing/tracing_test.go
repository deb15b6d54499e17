package tracing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"
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
			Config{Endpoint: "http://a:4318/v1/traces", Protocol: "http/protobuf", Disabled: true, Exporter: "none"}, false},
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
	// What the exporter would not parse, or would send nowhere near the operator's receiver.
	for _, c := range []Config{
		{Endpoint: "jaeger:4318", Protocol: "http/protobuf"},
		{Endpoint: "127.0.0.1:4317", Protocol: "grpc"},
		{Endpoint: "http://", Protocol: "http/protobuf"},
		{Endpoint: "http://jaeger:4318", Protocol: "http/protobuf", Exporter: "zipkin"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
		if _, err := StartWith(context.Background(), "test", c, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("StartWith(%+v) started", c)
		}
	}
	for _, c := range []Config{{Endpoint: "https://otel.example:4318/v1/traces", Protocol: "http/protobuf", Exporter: "otlp"}, {Protocol: "grpc"}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	if len(batchOptions(func(string) string { return "" })) != 1 || batchOptions(func(k string) string { return map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "10"}[k] }) != nil {
		t.Error("the span queue size: ours without OTEL_BSP_MAX_QUEUE_SIZE, the variable's with it")
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

// TestRecordHeadersDropALongTracestate: a client's tracestate within W3C's 512 bytes travels
// with every record; a longer one (32 members of W3C's largest, 16 kB) is left off the records
// while the trace goes on.
func TestRecordHeadersDropALongTracestate(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	for _, c := range []struct {
		members int
		kept    bool
	}{{1, true}, {32, false}} {
		var b strings.Builder
		for i := range c.members {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "v%d=%s", i, strings.Repeat("x", 250))
		}
		in := http.Header{}
		in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		in.Set("tracestate", b.String())
		ctx, span := tp.Tracer("t").Start(Extract(context.Background(), propagation.HeaderCarrier(in)), "publish")
		hs := RecordHeaders(ctx)
		span.End()
		msg := kafka.Message{Headers: hs}
		if got := kafkax.Header(msg, HeaderTracestate); (got != "") != c.kept || kafkax.Header(msg, HeaderTraceparent) == "" {
			t.Errorf("tracestate of %d members (%d bytes): record headers %d bytes of tracestate, traceparent %q", c.members, b.Len(), len(got), kafkax.Header(msg, HeaderTraceparent))
		}
	}
}
