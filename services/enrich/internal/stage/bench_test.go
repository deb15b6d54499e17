package stage

import (
	"context"
	"testing"

	"github.com/segmentio/kafka-go"
)

// BenchmarkHandle is the fixture's batch through the stage on fake writers, its records carrying
// a traceparent as they do when ingest traces: with tracing off (as here) the figures must match
// those of the stage before tracing existed (the benchmark uses nothing newer).
func BenchmarkHandle(b *testing.B) {
	f := newFixture(&testing.T{}, &fakeWriter{}, &fakeWriter{})
	for i := range f.batch {
		f.batch[i].Headers = []kafka.Header{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := f.stage.Handle(ctx, f.batch); err != nil {
			b.Fatal(err)
		}
	}
}
