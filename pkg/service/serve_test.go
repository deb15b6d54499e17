package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func testRuntime(t *testing.T) (*Runtime, func() int) {
	t.Helper()
	rt, err := NewRuntime("test", Common{AdminAddr: "127.0.0.1:0", LogFormat: "text", LogLevel: "error"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := rt.Admin.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	readyz := func() int {
		res, err := http.Get("http://" + rt.Admin.Addr() + "/readyz")
		if err != nil {
			t.Errorf("/readyz: %v", err)
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	return rt, readyz
}

// TestServeStopsInPhases: on SIGTERM (ctx ends) the service is marked not ready before any actor
// is told to stop, and Serve returns only after every actor has finished its drain.
func TestServeStopsInPhases(t *testing.T) {
	rt, readyz := testRuntime(t)
	ctx, sigterm := context.WithCancel(context.Background())
	started := make(chan struct{})
	var readyWhenStopped int
	drained := false
	consumer := Actor{Name: "consumer", Run: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		readyWhenStopped = readyz()       // phase 1 must be over by now
		time.Sleep(50 * time.Millisecond) // finishing the batch in hand
		drained = true
		return nil
	}}
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, time.Second, consumer) }()
	<-started
	eventually(t, func() bool { return readyz() == http.StatusOK }, "ready while running")
	sigterm()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if readyWhenStopped != http.StatusServiceUnavailable {
		t.Errorf("/readyz when the consumer was told to stop: %d, want 503 (not ready first)", readyWhenStopped)
	}
	if !drained {
		t.Error("Serve returned before the consumer finished its drain")
	}
}

// TestServeStopsAllOnFirstFailure: one actor failing stops the others and is the error returned.
func TestServeStopsAllOnFirstFailure(t *testing.T) {
	rt, _ := testRuntime(t)
	otherStopped := false
	err := rt.Serve(context.Background(), time.Second,
		Actor{Name: "http", Run: func(ctx context.Context) error { <-ctx.Done(); otherStopped = true; return nil }},
		Actor{Name: "consumer", Run: func(context.Context) error { return errors.New("fetching: broker gone") }},
	)
	if err == nil || err.Error() != "consumer: fetching: broker gone" {
		t.Fatalf("Serve: %v, want the consumer's error", err)
	}
	if !otherStopped {
		t.Error("the other actor was not stopped")
	}
}

// TestServeNamesAStuckDrain: an actor that does not return after the stop is named and Serve
// returns, so the process exits instead of hanging until Kubernetes kills it.
func TestServeNamesAStuckDrain(t *testing.T) {
	defer func(m time.Duration) { drainMargin = m }(drainMargin)
	drainMargin = 100 * time.Millisecond
	rt, _ := testRuntime(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release := make(chan struct{})
	defer close(release)
	start := time.Now()
	err := rt.Serve(ctx, 10*time.Millisecond,
		Actor{Name: "stuck", Run: func(context.Context) error { <-release; return nil }},
		Actor{Name: "fine", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }},
	)
	if err == nil || !strings.Contains(err.Error(), "stuck still running") || strings.Contains(err.Error(), "fine") {
		t.Fatalf("Serve: %v, want it to name the stuck actor only", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s after 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeStopsWhenAnActorEndsOnItsOwn: an actor that returns nil before the service was told
// to stop (a consumer loop that quietly ended) stops the service with an error naming it,
// instead of leaving it ready without the actor.
func TestServeStopsWhenAnActorEndsOnItsOwn(t *testing.T) {
	rt, _ := testRuntime(t)
	err := rt.Serve(context.Background(), time.Second,
		Actor{Name: "lag", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }},
		Actor{Name: "consumer", Run: func(context.Context) error { return nil }},
	)
	if err == nil || err.Error() != "consumer: stopped before the service was told to stop" {
		t.Fatalf("Serve: %v, want the consumer named", err)
	}
}
