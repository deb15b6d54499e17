package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestTraceID: a line logged with a context holding a span carries its trace_id and span_id; a
// line logged without one carries neither.
func TestTraceID(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "test", "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	log.With("k", "v").WarnContext(ctx, "with span")
	log.Info("without span")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.Bytes())
	}
	var with, without map[string]any
	if err := json.Unmarshal(lines[0], &with); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &without); err != nil {
		t.Fatal(err)
	}
	if with["trace_id"] != tid.String() || with["span_id"] != sid.String() || with["k"] != "v" || with["service"] != "test" {
		t.Errorf("line with a span: %s", lines[0])
	}
	if _, ok := without["trace_id"]; ok {
		t.Errorf("line without a span has a trace_id: %s", lines[1])
	}
}
