package sink_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/testenv"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
)

// TestRefusedCredentialsAreRetriedCountedAndNotReady: whole _bulk requests answered 401, then
// 403, are retried until the engine accepts them (nothing dead-lettered), counted by reason,
// logged once for the streak, and the readiness check fails while they last.
func TestRefusedCredentialsAreRetriedCountedAndNotReady(t *testing.T) {
	f, d := newFake(), &fakeDLQ{}
	var logs testenv.SyncBuffer
	m := sink.NewMetrics(prometheus.NewRegistry())
	s := sink.New(sink.Config{Names: schema.Names{Prefix: "articles"}, Version: 1, FlushBytes: 5 << 20, Workers: 1,
		Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, Topic: "in"},
		f, d, slog.New(slog.NewTextHandler(&logs, nil)), m)
	var notReady []string
	f.whole = func(n int, ids []string) (int, error) {
		if n > 1 { // the check sees the streak of the requests before this one
			if err := s.CredentialsCheck(context.Background()); err != nil {
				notReady = append(notReady, err.Error())
			}
		}
		switch {
		case n <= 3:
			return 401, nil
		case n <= 5:
			return 403, nil
		}
		return 0, nil
	}
	if err := s.CredentialsCheck(context.Background()); err != nil {
		t.Fatalf("ready before any request: %v", err)
	}
	if err := s.Handle(context.Background(), batch(2)); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 6 || len(d.msgs) != 0 {
		t.Fatalf("%d requests, %d dead letters; want 6 and none", len(f.requests), len(d.msgs))
	}
	if len(notReady) != 5 || !strings.Contains(notReady[0], "401") || !strings.Contains(notReady[4], "403") {
		t.Fatalf("readiness during the streak: %q", notReady)
	}
	if err := s.CredentialsCheck(context.Background()); err != nil {
		t.Fatalf("still not ready after the engine accepted a request: %v", err)
	}
	if u, fb := testutil.ToFloat64(m.Failed.WithLabelValues("unauthorized")), testutil.ToFloat64(m.Failed.WithLabelValues("forbidden")); u != 6 || fb != 4 {
		t.Errorf("failed_total unauthorized %v forbidden %v, want 6 and 4 (2 documents × attempts)", u, fb)
	}
	if n := strings.Count(logs.String(), "refuses the credentials"); n != 1 {
		t.Errorf("credentials problem logged %d times for one streak, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "accepts the credentials again") {
		t.Errorf("end of the streak not logged:\n%s", logs.String())
	}
}
