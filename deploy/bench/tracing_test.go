package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/tracing"
)

// TestOTLPSinkTakesExports: the tracing step's sink answers the services' OTLP/HTTP exporter as
// a receiver does (a span exported at shutdown arrives, and the exporter reports no error), so
// the traced runs measure exporting, not failing exports.
func TestOTLPSinkTakesExports(t *testing.T) {
	s, err := startOTLPSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	// What a service started with OTEL_EXPORTER_OTLP_ENDPOINT=<sink> does.
	c := tracing.FromEnv(func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return s.url
		}
		return ""
	})
	tr, err := tracing.StartWith(context.Background(), "bench-test", c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer.Start(context.Background(), "work")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("export to the sink failed: %v", err)
	}
	if s.requests.Load() == 0 || s.bytes.Load() == 0 {
		t.Fatalf("the sink got %d requests, %d bytes", s.requests.Load(), s.bytes.Load())
	}
}
