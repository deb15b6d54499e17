package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/retry"
)

// TestWaitForShowsTheWaitOnReadyz: while a dependency is still starting, WaitFor retries it and
// /readyz names what is awaited and the latest error; /healthz answers all along, which is what
// the Kubernetes startup and liveness probes look at (issue 19 item 7).
func TestWaitForShowsTheWaitOnReadyz(t *testing.T) {
	rt, err := NewRuntime("test", Common{AdminAddr: "127.0.0.1:0", LogFormat: "text", LogLevel: "error"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := rt.Admin.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + rt.Admin.Addr() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	type probe struct {
		health int
		ready  int
		body   string
	}
	probes := make(chan probe, 1)
	attempts := 0
	err = rt.WaitFor(context.Background(), Wait{What: "search engine", Backoff: retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond}},
		func(context.Context) error {
			attempts++
			switch attempts {
			case 1:
				return errors.New("connection refused")
			case 2: // the first failure is on /readyz now
				h, _ := get("/healthz")
				r, body := get("/readyz")
				probes <- probe{h, r, body}
				return errors.New("still starting")
			}
			return nil
		})
	if err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	p := <-probes
	if p.health != 200 {
		t.Errorf("/healthz while waiting: %d, want 200", p.health)
	}
	if p.ready != 503 || !strings.Contains(p.body, "starting: waiting for search engine (attempt 1): connection refused") {
		t.Errorf("/readyz while waiting: %d %s", p.ready, p.body)
	}
	if _, body := get("/readyz"); strings.Contains(body, "waiting") {
		t.Errorf("/readyz still names the wait after it ended: %s", body)
	}
}

// TestWaitForStopsOnPermanentAndTimeout: a configuration mistake (retry.Permanent) ends the wait
// at once, and Timeout bounds it, each error naming what was awaited.
func TestWaitForStopsOnPermanentAndTimeout(t *testing.T) {
	rt := &Runtime{Log: discardLog()}
	calls := 0
	err := rt.WaitFor(context.Background(), Wait{What: "kafka topics"}, func(context.Context) error {
		calls++
		return retry.Permanent(errors.New("SASL authentication failed"))
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "kafka topics: SASL authentication failed") {
		t.Errorf("permanent: %d calls, err %v", calls, err)
	}
	start := time.Now()
	err = rt.WaitFor(context.Background(), Wait{What: "kafka topic t", Timeout: 50 * time.Millisecond,
		Backoff: retry.Backoff{Initial: 5 * time.Millisecond, Max: 5 * time.Millisecond}}, func(context.Context) error {
		return errors.New("connection refused")
	})
	if err == nil || !strings.Contains(err.Error(), "kafka topic t: connection refused") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: err %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 50 ms wait took %v", d)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
