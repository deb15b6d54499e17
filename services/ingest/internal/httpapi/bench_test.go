package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/corpus"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/ingest/internal/intake"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

// discardWriter is a Kafka writer that acknowledges everything at once, so that a benchmark
// measures ingest's own work up to the records and none of the broker's.
type discardWriter struct{ n int }

func (w *discardWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.n += len(msgs)
	return nil
}

// BenchmarkPostNDJSON measures ingest's CPU per article on the path `make bench` drives, without
// Kafka: an NDJSON request of 1,000 Reuters articles (as deploy/bench sends them) through the
// handler, decoding, normalisation, the record size check and publish.Publisher encoding the
// records for a writer that discards them. cpu-µs/article is the process's user+system time
// (normalisation runs on every core, so ns/op alone hides part of the cost).
func BenchmarkPostNDJSON(b *testing.B) {
	dir, ok := testenv.FindDataDir()
	if !ok {
		b.Skip("../shared/data not found beside the repository")
	}
	var arts []article.Article
	if err := corpus.ReadReutersDir(filepath.Join(dir, "reuters21578"), 1000, func(a article.Article) error {
		arts = append(arts, a)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	for i := range arts {
		_ = enc.Encode(&arts[i])
	}
	reg := metrics.NewRegistry()
	stage := metrics.NewStage(reg, "ingest")
	w := &discardWriter{}
	h := &Handler{Pub: &publish.Publisher{W: w, Topic: "t", M: publish.NewMetrics(reg, stage)},
		Limits: testLimits, RetryAfter: time.Second, Log: slog.New(slog.DiscardHandler),
		Metrics: intake.NewMetrics(reg, stage, "t"), Requests: NewRequestsMetric(reg)}
	routes := h.Routes()
	data := body.Bytes()
	cpu0 := cpuSeconds()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/articles", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/x-ndjson")
		rec := httptest.NewRecorder()
		routes.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
	cpu := cpuSeconds() - cpu0
	if w.n != b.N*len(arts) {
		b.Fatalf("%d records written, want %d", w.n, b.N*len(arts))
	}
	b.ReportMetric(cpu*1e6/float64(b.N*len(arts)), "cpu-µs/article")
	b.ReportMetric(float64(b.N*len(arts))/b.Elapsed().Seconds(), "articles/s")
	b.SetBytes(int64(len(data)))
}

// cpuSeconds is the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
