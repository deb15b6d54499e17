package sink_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/segmentio/kafka-go"
)

// BenchmarkHandle is one batch of 200 records through the sink on a fake engine, the records
// carrying a traceparent as they do when ingest traces: with tracing off (as here) the figures
// must match those of the sink before tracing existed (compare with a checkout of an older
// commit; the benchmark uses nothing newer).
func BenchmarkHandle(b *testing.B) {
	f, d := newFake(), &fakeDLQ{}
	s, _ := newSink(f, d, 5<<20)
	msgs := batch(200)
	for i := range msgs {
		msgs[i].Headers = []kafka.Header{{Key: "traceparent", Value: fmt.Appendf(nil, "00-%032x-%016x-01", i+1, i+1)}}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Handle(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}
