package publish

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPublishWithoutMetrics: a Publisher built without M publishes, and counts what it produced
// and what failed into the private set instead of dereferencing nil.
func TestPublishWithoutMetrics(t *testing.T) {
	m := privateMetrics()
	produced := func() float64 { return testutil.ToFloat64(m.Stage.Produced.WithLabelValues("no-metrics")) }
	failed := func() float64 { return testutil.ToFloat64(m.Stage.Failed.WithLabelValues("kafka_write")) }
	p0, f0, b0 := produced(), failed(), testutil.ToFloat64(m.ProducedBytes)

	w := &fakeWriter{}
	p := &Publisher{W: w, Topic: "no-metrics", Timeout: time.Second}
	if err := p.Publish(context.Background(), arts(3)); err != nil {
		t.Fatal(err)
	}
	if got := produced() - p0; got != 3 {
		t.Errorf("produced_total{topic=no-metrics} grew by %v, want 3", got)
	}
	want := 0
	for _, msg := range w.calls[0] {
		want += len(msg.Value)
	}
	if got := testutil.ToFloat64(m.ProducedBytes) - b0; got != float64(want) {
		t.Errorf("produced_bytes_total grew by %v, want %d", got, want)
	}

	p = &Publisher{W: &fakeWriter{block: true}, Topic: "no-metrics", Timeout: 10 * time.Millisecond}
	if err := p.Publish(context.Background(), arts(1)); err == nil {
		t.Fatal("a write that timed out succeeded")
	}
	if got := failed() - f0; got != 1 {
		t.Errorf("failed_total{reason=kafka_write} grew by %v, want 1", got)
	}
}
