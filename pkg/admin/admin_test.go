package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_test_things_total", Help: "h"})
	reg.MustRegister(c)
	c.Add(3)
	s := New("127.0.0.1:0", reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s.mux)
	defer srv.Close()
	get := func(path string) (int, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "newsflow_test_things_total 3") {
		t.Fatalf("/metrics %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz before SetReady: %d %q", code, body)
	}
	s.SetReady(true)
	broken := errors.New("kafka unreachable")
	var fail bool
	s.AddCheck("kafka", func(context.Context) error {
		if fail {
			return broken
		}
		return nil
	})
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"kafka":"ok"`) {
		t.Fatalf("/readyz ready: %d %q", code, body)
	}
	fail = true
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "kafka unreachable") {
		t.Fatalf("/readyz with a failing check: %d %q", code, body)
	}
}

// TestPprofOnlyWhenEnabled: profiles are served only after EnablePprof, so that production
// (--pprof=false) exposes no /debug/pprof/ at all.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		s := New("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if enabled {
			s.EnablePprof()
		}
		srv := httptest.NewServer(s.mux)
		for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1"} {
			res, err := http.Get(srv.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case enabled && (res.StatusCode != 200 || !strings.Contains(string(b), "goroutine")):
				t.Errorf("pprof enabled: GET %s = %d %.80q, want 200 with a goroutine profile", p, res.StatusCode, b)
			case !enabled && res.StatusCode != http.StatusNotFound:
				t.Errorf("pprof disabled: GET %s = %d, want 404", p, res.StatusCode)
			}
		}
		srv.Close()
	}
}

// TestStartAnswersWhileWaiting: Start listens at once, so /healthz answers while the service is
// still waiting for a dependency, and /readyz says what it waits for until SetReady(true).
// (Issue 19 item 7: a startup probe on /healthz killed index while it waited for the engine.)
func TestStartAnswersWhileWaiting(t *testing.T) {
	s := New("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	stop, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	s.Waiting("search engine (attempt 3): connection refused")
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz while waiting: %d, want 200 (alive)", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "starting: waiting for search engine (attempt 3): connection refused") {
		t.Fatalf("/readyz while waiting: %d %q, want 503 naming the wait", code, body)
	}
	s.SetReady(true)
	if code, body := get("/readyz"); code != 200 || strings.Contains(body, "waiting") {
		t.Fatalf("/readyz once ready: %d %q", code, body)
	}
	s.SetReady(false) // shutting down: the old wait must not reappear
	if code, body := get("/readyz"); code != 503 || strings.Contains(body, "waiting") {
		t.Fatalf("/readyz shutting down: %d %q", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("/healthz still answers after stop")
	}
}
