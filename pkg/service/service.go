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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/pkg/admin"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/logging"
	"github.com/newsflow/newsflow/pkg/metrics"
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
// (ingest 127.0.0.1:9101, enrich :9102, index :9103).
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

// Group runs actors until the first one fails or the parent context ends, then stops them all.
type Group struct {
	g   *errgroup.Group
	ctx context.Context
	log *slog.Logger
}

// NewGroup returns a group and the context its actors must watch.
func NewGroup(ctx context.Context, log *slog.Logger) (*Group, context.Context) {
	g, gctx := errgroup.WithContext(ctx)
	return &Group{g: g, ctx: gctx, log: log}, gctx
}

// Go starts an actor. It must return when the group's context ends.
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.g.Go(func() error {
		err := fn(g.ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			g.log.Error("stopped with an error", "actor", name, "error", err)
			return fmt.Errorf("%s: %w", name, err)
		}
		g.log.Info("stopped", "actor", name)
		return nil
	})
}

// Wait waits for every actor and returns the first error.
func (g *Group) Wait() error { return g.g.Wait() }

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
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(ExitCode(err))
}
