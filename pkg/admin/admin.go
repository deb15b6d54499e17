// Package admin serves a service's operational endpoints on its admin port: /metrics for
// Prometheus, /healthz (the process is alive) and /readyz (it can do its work now: its
// dependencies answer and it is not shutting down). Kubernetes probes and deploy/local use them.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable; a non-nil error makes /readyz answer 503.
type Check func(ctx context.Context) error

// Server is the admin HTTP server.
type Server struct {
	addr   string
	log    *slog.Logger
	mux    *http.ServeMux
	ready  atomic.Bool
	mu     sync.Mutex
	checks map[string]Check
	notes  map[string]string
	// waiting says what start-up is waiting for, shown by /readyz until SetReady(true).
	waiting string
	bound   string // the address listened on, once listening (addr may end in :0)
}

// New builds an admin server on addr exposing reg (which should hold the Go and process
// collectors too, see metrics.NewRegistry). It starts not ready; call SetReady(true) once the
// service has finished starting.
func New(addr string, reg *prometheus.Registry, log *slog.Logger) *Server {
	s := &Server{addr: addr, log: log, mux: http.NewServeMux(), checks: map[string]Check{}, notes: map[string]string{}}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

// EnablePprof serves profiles under /debug/pprof/, for finding where a stage spends its time
// under load. It is a separate call (service.Common's --pprof) because a profile shows memory
// and stack contents and a CPU profile costs CPU: production turns it off even though the admin
// port is reachable only from inside the cluster.
func (s *Server) EnablePprof() {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Handle adds a handler to the admin mux (e.g. a debug endpoint).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck registers a readiness check under name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Note adds an informational line to /readyz ("name: text" under "notes") that does not affect
// readiness: how the service runs when an operator should know it at a glance, e.g. ingest's
// "auth: anonymous (--insecure-allow-anonymous)". An empty text removes the note.
func (s *Server) Note(name, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if text == "" {
		delete(s.notes, name)
		return
	}
	s.notes[name] = text
}

// SetReady marks the service ready (after start-up) or not (when shutdown begins, so load
// balancers stop sending work before the service stops taking it).
func (s *Server) SetReady(v bool) {
	if v {
		s.Waiting("")
	}
	s.ready.Store(v)
}

// Ready reports what SetReady last set (the service's own verdict, before the checks).
func (s *Server) Ready() bool { return s.ready.Load() }

// Waiting records what start-up is waiting for ("search engine (attempt 4): dial tcp …: connection
// refused"), so that /readyz tells an operator why a pod is not ready yet instead of only "starting".
// SetReady(true) clears it.
func (s *Server) Waiting(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting = text
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks,omitempty"`
		Notes  []string          `json:"notes,omitempty"`
	}
	res := result{Ready: s.ready.Load(), Checks: map[string]string{}}
	s.mu.Lock()
	if !res.Ready {
		res.Checks["service"] = "starting or shutting down"
		if s.waiting != "" {
			res.Checks["service"] = "starting: waiting for " + s.waiting
		}
	}
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	for n, text := range s.notes {
		res.Notes = append(res.Notes, n+": "+text)
	}
	s.mu.Unlock()
	sort.Strings(res.Notes)
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			res.Ready = false
			res.Checks[n] = err.Error()
		} else {
			res.Checks[n] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !res.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(res)
}

// Start listens at once and serves in the background until stop is called; stop returns what
// serving ended with. A service starts its admin server this way before it waits for anything,
// so that liveness and startup probes find the process alive however long Kafka or the search
// engine take to come up (readiness stays false, and says what it waits for), and stops it last,
// after its drain, so /metrics shows the drain and /readyz answers "not ready" until the end.
func (s *Server) Start() (stop func() error, err error) {
	ln, err := s.listen()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

func (s *Server) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("admin server: listening on %s: %w", s.addr, err)
	}
	s.mu.Lock()
	s.bound = ln.Addr().String()
	s.mu.Unlock()
	return ln, nil
}

// Addr is the address the server listens on once Start has begun listening, else "".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}

func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	return Serve(ctx, &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}, ln, s.log.With("server", "admin"), 5*time.Second, nil)
}

// Serve runs srv on ln until ctx is done, then shuts it down in the order that loses nothing:
// beforeShutdown first (typically "not ready", so load balancers stop sending), then stop
// accepting, then let in-flight requests finish for up to drain. Request contexts are not
// cancelled by the shutdown. The admin server and the services' public HTTP APIs share it.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, drain time.Duration, beforeShutdown func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if beforeShutdown != nil {
		beforeShutdown()
	}
	log.Info("stopping HTTP server", "addr", ln.Addr().String(), "drain", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	if err != nil {
		return fmt.Errorf("in-flight requests on %s still running after %v: %w", ln.Addr(), drain, err)
	}
	return nil
}
