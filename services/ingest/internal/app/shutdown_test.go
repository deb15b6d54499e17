package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/newsflow/newsflow/pkg/admin"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/pkg/testenv"
)

// TestServeAPIShutdown: on cancel the service turns not ready, stops accepting connections, and
// still answers the request in flight (the API run as serve runs it, an actor of service.Serve).
func TestServeAPIShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // an acknowledged Kafka write taking its time
		w.WriteHeader(http.StatusAccepted)
	})
	log := slog.New(slog.DiscardHandler)
	rt := &service.Runtime{Log: log, Admin: admin.New("127.0.0.1:0", prometheus.NewRegistry(), log)}
	ready := rt.Admin
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- rt.Serve(ctx, 10*time.Second, service.Actor{Name: "http", Run: func(ctx context.Context) error {
			return serveAPI(ctx, ln, h, &http.Server{}, 10*time.Second, log)
		}})
	}()

	status := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/", "text/plain", nil)
		if err != nil {
			status <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-entered
	cancel()
	testenv.Eventually(t, 5*time.Second, "not ready and not accepting", func() (bool, string) {
		if ready.Ready() {
			return false, "still ready"
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return false, "still accepting connections"
		}
		return true, ""
	})
	close(release)
	if got := <-status; got != http.StatusAccepted {
		t.Fatalf("in-flight request got %d, want 202", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
