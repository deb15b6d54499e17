// Package service is the run-loop every newsflow command shares: flags and NEWSFLOW_* variables
// for logging and the admin port, a logger, a metrics registry, the admin server, and a group of
// actors (consumer, HTTP server, …) that stop together on SIGTERM or on the first failure.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/admin"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/logging"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/tracing"
)

// Common is the configuration every long-running service has.
type Common struct {
	AdminAddr       string
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	// Pprof serves /debug/pprof/ on the admin port: on by default for local profiling, off in
	// production (deploy/k8s/overlays/production sets NEWSFLOW_ADMIN_PPROF=false).
	Pprof bool
}

// RegisterFlags binds the common settings; adminAddr is the service's default admin address
// (ingest 127.0.0.1:9101, enrich 127.0.0.1:9102, index 127.0.0.1:9103; Compose and Kubernetes
// set NEWSFLOW_ADMIN_ADDR to listen on all interfaces).
func (c *Common) RegisterFlags(s *config.Set, adminAddr string) {
	s.String(&c.AdminAddr, "admin-addr", "NEWSFLOW_ADMIN_ADDR", adminAddr, "address of /metrics, /healthz and /readyz")
	s.String(&c.LogFormat, "log-format", "NEWSFLOW_LOG_FORMAT", "auto", "log format: json, text, or auto (text on a terminal)")
	s.String(&c.LogLevel, "log-level", "NEWSFLOW_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", "NEWSFLOW_SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight work may take to finish after SIGTERM")
	s.Bool(&c.Pprof, "pprof", "NEWSFLOW_ADMIN_PPROF", true, "serve /debug/pprof/ profiles on the admin port (turn off in production)")
}

// Runtime is what a started service works with.
type Runtime struct {
	Log      *slog.Logger
	Registry *prometheus.Registry
	Admin    *admin.Server
	// Tracing is set by StartTracing; its Tracer is nil while tracing is off (no OTEL_* endpoint).
	Tracing *tracing.Tracing
}

// NewRuntime builds the logger (writing to stderr), the registry and the admin server.
func NewRuntime(name string, c Common, stderr io.Writer) (*Runtime, error) {
	log, err := logging.New(stderr, name, c.LogFormat, c.LogLevel)
	if err != nil {
		return nil, err
	}
	reg := metrics.NewRegistry()
	adm := admin.New(c.AdminAddr, reg, log)
	if c.Pprof {
		adm.EnablePprof()
	}
	return &Runtime{Log: log, Registry: reg, Admin: adm}, nil
}

// StartAdmin starts the admin server before anything else (admin.Server.Start: probes find the
// process alive while it waits for its dependencies) and returns the stop to defer first, so it
// runs last, after the drain and the writers' closes; stop logs what serving ended with.
func (rt *Runtime) StartAdmin() (stop func(), err error) {
	stopServer, err := rt.Admin.Start()
	if err != nil {
		return nil, err
	}
	return func() {
		if err := stopServer(); err != nil {
			rt.Log.Warn("admin server", "error", err)
		}
	}, nil
}

// StartTracing sets up trace export from the OTEL_* environment (pkg/tracing; off without an
// endpoint) and returns the stop to defer before StartAdmin's, so that it runs after everything
// that records spans has stopped: it flushes the spans still buffered, for at most
// tracingFlushTimeout, and logs what that ended with.
func (rt *Runtime) StartTracing(ctx context.Context, name string) (stop func(), err error) {
	t, err := tracing.Start(ctx, name, rt.Log)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	rt.Tracing = t
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingFlushTimeout)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			rt.Log.Warn("flushing traces", "error", err)
		}
	}, nil
}

// tracingFlushTimeout bounds the export of the last spans at exit: a receiver that is away must
// not hold up a shutdown Kubernetes will end with SIGKILL anyway.
const tracingFlushTimeout = 5 * time.Second

// Tracer is the tracer stages record spans with, nil while tracing is off.
func (rt *Runtime) Tracer() trace.Tracer {
	if rt.Tracing == nil {
		return nil
	}
	return rt.Tracing.Tracer
}

// Wait is one start-up wait: a dependency (Kafka, the search engine, an index template) that may
// still be starting, tried until it answers.
type Wait struct {
	What    string        // what is awaited, for the log and /readyz ("kafka topics")
	Backoff retry.Backoff // how often (Backoff.Attempts bounds the tries; 0: until ctx ends)
	// Timeout bounds the whole wait (0: until ctx ends or the attempts run out).
	Timeout time.Duration
	// AttemptTimeout bounds one try (default 30 s), so a dependency that accepts a connection
	// and never answers is retried rather than waited on for ever.
	AttemptTimeout time.Duration
}

// WaitFor retries op until it succeeds, the wait's bounds run out or ctx ends, logging each
// failure and showing the latest on /readyz ("starting: waiting for kafka topics (attempt 3): …"):
// a dependency that is still starting delays the service instead of killing it, and the admin
// server (started first, see admin.Server.Start) keeps /healthz answering meanwhile. An op that
// wraps its error in retry.Permanent (a refused password, an unknown CA) stops the wait at once.
func (rt *Runtime) WaitFor(ctx context.Context, w Wait, op func(ctx context.Context) error) error {
	if w.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.Timeout)
		defer cancel()
	}
	attemptTimeout := w.AttemptTimeout
	if attemptTimeout <= 0 {
		attemptTimeout = 30 * time.Second
	}
	err := retry.Do(ctx, w.Backoff, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		return op(actx)
	}, func(attempt int, err error, wait time.Duration) {
		rt.Log.Warn("waiting for "+w.What, "attempt", attempt, "wait", wait.String(), "error", err)
		if rt.Admin != nil {
			rt.Admin.Waiting(fmt.Sprintf("%s (attempt %d): %v", w.What, attempt, err))
		}
	})
	if rt.Admin != nil {
		rt.Admin.Waiting("")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.What, err)
	}
	return nil
}

// WaitForTopics is the start-up wait every stage makes for Kafka: it creates topics (or finds
// them there) with kafkax.Config.EnsureTopics, retrying while the brokers start, for at most
// timeout (0: until ctx ends). A TLS or SASL failure stops it at once: a wrong password does
// not become right by waiting.
func (rt *Runtime) WaitForTopics(ctx context.Context, k kafkax.Config, timeout time.Duration, topics ...string) error {
	w := Wait{What: "kafka topics " + strings.Join(topics, ", "), Backoff: retry.Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second},
		Timeout: timeout, AttemptTimeout: 10 * time.Second}
	return rt.WaitFor(ctx, w, func(ctx context.Context) error {
		return kafkax.StopOnAuthError(k.EnsureTopics(ctx, topics...))
	})
}

// Actor is one long-running part of a service: a Kafka consumer, an HTTP server, a feed poller,
// a lag monitor. Run must return when its context ends, after finishing what it holds (a consumer
// the batches in hand and their commits, a server its in-flight requests), bounded by the service's
// --shutdown-timeout.
type Actor struct {
	Name string
	Run  func(ctx context.Context) error
}

// Serve is the one running-and-stopping sequence of every newsflow service. It marks the service
// ready, runs the actors until ctx ends (SIGTERM) or one of them fails, and then stops in phases,
// each finished before the next begins:
//
//  1. not ready: /readyz answers 503, so Kubernetes and load balancers stop sending work;
//  2. stop taking work: every actor's context ends; consumers stop fetching, servers accepting;
//  3. drain: the actors finish and commit what they hold, and Serve waits for all of them, for
//     at most ShutdownTimeout plus a margin (an actor still running then is named in the error,
//     so a stuck drain ends the process instead of stalling it until SIGKILL);
//  4. the caller's deferred closes (Kafka writers, after everything that writes to them), and
//     last the admin server (started first with admin.Server.Start), so /metrics shows the
//     drain and /readyz says not ready to the end.
//
// Start-up waits (Runtime.WaitFor) come before Serve; nothing an actor needs is built inside it.
func (rt *Runtime) Serve(ctx context.Context, shutdownTimeout time.Duration, actors ...Actor) error {
	// The actors' context is cancelled by the phases below, not directly by SIGTERM, so that
	// readiness drops before anyone stops taking work.
	actx, stopActors := context.WithCancel(context.WithoutCancel(ctx))
	defer stopActors()
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(actors))
	running := make(map[int]bool, len(actors))
	for i, a := range actors {
		running[i] = true
		go func() { results <- result{i, a.Run(actx)} }()
	}
	rt.setReady(true)

	stopping := false
	var first error
	record := func(r result) {
		delete(running, r.i)
		name := actors[r.i].Name
		switch {
		case r.err != nil && !errors.Is(r.err, context.Canceled):
			rt.Log.Error("stopped with an error", "actor", name, "error", r.err)
			if first == nil {
				first = fmt.Errorf("%s: %w", name, r.err)
			}
		case !stopping:
			// An actor that ends on its own leaves the service without it while /readyz
			// still says ready: a silent stall. Stop the service instead, saying why.
			rt.Log.Error("stopped before the service was told to stop", "actor", name)
			if first == nil {
				first = fmt.Errorf("%s: stopped before the service was told to stop", name)
			}
		default:
			rt.Log.Info("stopped", "actor", name)
		}
	}
	for first == nil && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case r := <-results:
			record(r)
		}
	}
	if ctx.Err() != nil {
		rt.Log.Info("stopping: signal received")
	}
	stopping = true
	rt.setReady(false) // 1
	stopActors()       // 2
	if shutdownTimeout <= 0 {
		shutdownTimeout = 30 * time.Second
	}
	deadline := time.NewTimer(shutdownTimeout + drainMargin)
	defer deadline.Stop()
	for len(running) > 0 { // 3
		select {
		case r := <-results:
			record(r)
		case <-deadline.C:
			names := make([]string, 0, len(running))
			for i := range running {
				names = append(names, actors[i].Name)
			}
			sort.Strings(names)
			err := fmt.Errorf("%s still running %v after the stop began (shutdown timeout %v)", strings.Join(names, ", "), shutdownTimeout+drainMargin, shutdownTimeout)
			rt.Log.Error("drain did not finish", "error", err)
			return errors.Join(first, err)
		}
	}
	return first
}

func (rt *Runtime) setReady(v bool) {
	if rt.Admin != nil {
		rt.Admin.SetReady(v)
	}
}

// drainMargin is how long past --shutdown-timeout Serve waits for the actors: their drains are
// bounded by the timeout, and a commit or a final flush may follow it.
var drainMargin = 10 * time.Second

// ExitCode maps a command's error to the process exit status: 0 for none or --help, 2 for a
// usage error, 1 otherwise.
func ExitCode(err error) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// UsageError is a mistake in the command line or configuration; it exits with status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Main is what every cmd/<name>/main.go calls: it cancels the context on SIGINT or SIGTERM, runs
// run with the process's arguments and streams, prints the error and exits with ExitCode.
func Main(name string, run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// SIGTERM while still waiting for a dependency at start-up (a rollout that replaced a
		// pod before Kafka came up): a stop, not a failure.
		fmt.Fprintf(os.Stderr, "%s: stopped during start-up (%v)\n", name, err)
		err = nil
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(ExitCode(err))
}
