// Package app wires ingest together: it reads the configuration, builds the Kafka writer, the
// HTTP API, the feed poller and the admin server, and runs them until SIGTERM. Everything it
// wires is tested on its own; this package is the one place that knows how they fit.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/admin"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/ingest/internal/feeds"
	"github.com/newsflow/newsflow/services/ingest/internal/httpapi"
	"github.com/newsflow/newsflow/services/ingest/internal/publish"
)

const usage = `ingest is the door through which news enters newsflow: it validates and normalises articles
and writes them to the Kafka topic articles.raw (acks=all), keyed by a deterministic article id.

Usage:
  ingest [serve] [flags]        run the HTTP API, the feed poller and the admin server (the default)
  ingest import [flags] PATH... read .txt, .json, .jsonl/.ndjson files and directories (recursively)
  ingest help [serve|import]    this text, or a command's flags

Every flag can also be set by the NEWSFLOW_* variable shown beside it; flags win.

serve:
  POST /v1/articles   one JSON article, a JSON array, NDJSON (application/x-ndjson), or text/plain
                      (first line the title, the rest the body; source, url, published_at, language,
                      author as query parameters). 202 only after Kafka acknowledged every accepted
                      article; 400 with per-item reasons, 401, 413, 415, 429 (at capacity) and
                      503 (Kafka unavailable) with Retry-After.
  GET  /openapi.yaml  the API description.
  admin server:       /metrics, /healthz, /readyz.

import:
  Prints a summary (read, accepted, duplicates, rejected with file:line and reason) and exits
  with status 1 if anything was rejected, 2 on a usage error.
`

// Run is ingest's main: it dispatches to serve or import.
// gcPercent is the collector's GOGC unless the environment sets one.
const gcPercent = 200

func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "import":
		return runImport(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		if len(args) > 0 {
			switch args[0] {
			case "serve":
				s, _ := serveFlags()
				printFlags(stdout, "serve", s)
			case "import":
				s, _ := importFlags()
				printFlags(stdout, "import", s)
			}
		}
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return service.UsageError{Err: fmt.Errorf("unknown command %q", cmd)}
	}
}

func printFlags(w io.Writer, name string, s *config.Set) {
	fmt.Fprintf(w, "\nFlags of %s:\n", name)
	s.FS.SetOutput(w)
	s.FS.PrintDefaults()
}

func serveFlags() (*config.Set, *ServeConfig) {
	var cfg ServeConfig
	s := config.New("ingest serve")
	cfg.registerFlags(s)
	return s, &cfg
}

func importFlags() (*config.Set, *ImportConfig) {
	var cfg ImportConfig
	s := config.New("ingest import")
	cfg.registerFlags(s)
	return s, &cfg
}

// parse parses args, turning --help into a printed usage and bad flags into UsageError.
func parse(s *config.Set, name string, args []string, out io.Writer) error {
	s.FS.SetOutput(out)
	s.FS.Usage = func() {
		fmt.Fprint(out, usage)
		printFlags(out, name, s)
		if name == "serve" { // `ingest --help` explains everything
			is, _ := importFlags()
			printFlags(out, "import", is)
		}
	}
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	return nil
}

// newWriter is ingest's acks=all producer: kafkax's writer, whose attempts end within the write
// timeout, with a transport of its own that serve closes on shutdown (kafkax.NewServiceWriter).
func newWriter(k kafkax.Config, topic string) (*kafka.Writer, *kafka.Transport) {
	return k.NewServiceWriter(topic, "newsflow-ingest")
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	s, cfg := serveFlags()
	if err := parse(s, "serve", args, stderr); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return service.UsageError{Err: fmt.Errorf("invalid configuration: %w", err)}
	}
	rt, err := service.NewRuntime("ingest", cfg.Common, stderr)
	if err != nil {
		return service.UsageError{Err: err}
	}
	log := rt.Log
	log.Info("starting", config.Attrs(cfg)...)
	// Deferred before the admin server's stop, so it runs last: the spans of the drain are
	// exported too.
	stopTracing, err := rt.StartTracing(ctx, "ingest")
	if err != nil {
		return service.UsageError{Err: err}
	}
	defer stopTracing()
	// The byte budget bounds what requests hold alive; without a soft limit Go's collector
	// lets the heap grow to twice that before collecting, and a burst of shed requests leaves
	// garbage on top. GOMEMLIMIT, when set (a pod's limit), wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := 2*cfg.HTTP.MaxBufferedBytes + 64<<20
		debug.SetMemoryLimit(limit)
		log.Info("Go soft memory limit set from --max-buffered-bytes", "bytes", limit)
	}
	// With the heap bounded by that limit, the collector may wait for the heap to triple rather
	// than double: ingest allocates every article's text three times over (decoded, normalised,
	// encoded), and collecting half as often took a tenth off its CPU per article (1,000-article
	// requests: 16.3 to 14.0-14.8 µs, peak RSS 95 to 135 MB; GOGC=400 gained no more for 190 MB).
	// GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	cfg.Kafka.LogWarnings(log)
	// Say how the API authenticates at once, before waiting for Kafka; /readyz repeats it.
	auth := cfg.auth
	switch {
	case auth != nil:
		rt.Admin.Note("auth", fmt.Sprintf("bearer token (%d accepted)", auth.Tokens()))
	case cfg.Anonymous():
		log.Warn("the HTTP API takes articles from anyone who can reach it: no token is configured and "+
			"--insecure-allow-anonymous is set; use --token or --token-file anywhere but a development machine", "addr", cfg.Addr)
		rt.Admin.Note("auth", "anonymous (--insecure-allow-anonymous)")
	default:
		rt.Admin.Note("auth", "anonymous, loopback only")
	}

	// Before the wait for Kafka: probes find ingest alive, and /readyz says what it waits for.
	// Stopped last (deferred first), after the API has drained and the writer has closed.
	stopAdmin, err := rt.StartAdmin()
	if err != nil {
		return err
	}
	defer stopAdmin()
	if err := rt.WaitForTopics(ctx, cfg.Kafka, cfg.StartupTimeout, cfg.Topic); err != nil {
		return err // names the topic and the last error
	}
	w, tr := newWriter(cfg.Kafka, cfg.Topic)
	defer func() {
		if err := w.Close(); err != nil {
			log.Error("closing Kafka writer", "error", err)
		}
		tr.CloseIdleConnections()
		log.Info("Kafka writer closed")
	}()

	m := newMetrics(rt.Registry, cfg.Topic)
	pub := &publish.Publisher{W: w, Topic: cfg.Topic, Timeout: cfg.Kafka.PublishTimeout(), M: m.Publish, Tracer: rt.Tracer()}
	api := &httpapi.Handler{Tracer: rt.Tracer(),
		Pub: pub, Auth: auth, RetryAfter: cfg.RetryAfter, Log: log, Metrics: m.Intake,
		Requests: m.Requests,
		Limits:   httpapi.Limits{MaxRequestBytes: cfg.Limits.MaxRequestBytes, MaxItems: cfg.Limits.MaxItems, Article: cfg.Limits.article()},
		Admission: httpapi.NewAdmission(httpapi.AdmissionConfig{MaxInFlight: cfg.HTTP.MaxInFlight, MaxBufferedBytes: cfg.HTTP.MaxBufferedBytes},
			m.Admission),
		WriteTimeout: cfg.HTTP.WriteTimeout,
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("HTTP API: listening on %s: %w", cfg.Addr, err)
	}
	rt.Admin.AddCheck("kafka", cfg.Kafka.Ping)

	actors := []service.Actor{{Name: "http", Run: func(ctx context.Context) error {
		return serveAPI(ctx, ln, api.Routes(), cfg.HTTP.server(cfg.Kafka.PublishTimeout()), cfg.ShutdownTimeout, log.With("server", "api"))
	}}}
	if len(cfg.Feeds) > 0 {
		pollFeeds, err := newPoller(cfg, pub, m, rt, log)
		if err != nil {
			ln.Close()
			return err
		}
		actors = append(actors, service.Actor{Name: "feeds", Run: pollFeeds})
	}
	log.Info("ready", "api", ln.Addr().String(), "admin", cfg.AdminAddr, "topic", cfg.Topic, "feeds", len(cfg.Feeds))
	// On SIGTERM: not ready, then the API stops accepting and finishes its in-flight requests
	// (their acknowledged Kafka writes) and the feeds stop, then the writer closes (deferred
	// above), then the admin server.
	return rt.Serve(ctx, cfg.ShutdownTimeout, actors...)
}

// serveAPI serves h on ln until ctx ends, then shuts down in the order that loses nothing
// (admin.Serve): not ready first, then stop accepting, then let in-flight requests finish their
// acknowledged Kafka writes, for up to drain. The Kafka writer is closed only after this returns.
func serveAPI(ctx context.Context, ln net.Listener, h http.Handler, srv *http.Server, drain time.Duration, log *slog.Logger) error {
	srv.Handler, srv.ErrorLog = h, slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	return admin.Serve(ctx, srv, ln, log, drain, func() {
		log.Info("stopping HTTP API: finishing in-flight requests")
	})
}

// server is the API's http.Server with l's timeouts. The handler sets each answer's write
// deadline when it is ready (httpapi.Handler.WriteTimeout); the server's WriteTimeout, which
// net/http counts from the end of the headers, is only the backstop over the whole request:
// reading the body, the acknowledged Kafka write (publish) and writing the answer.
func (l HTTPLimits) server(publish time.Duration) *http.Server {
	return &http.Server{ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.ReadTimeout + publish + l.WriteTimeout, IdleTimeout: l.IdleTimeout}
}

// newPoller returns the feeds actor. With --feed-group it polls only this replica's share of the
// feeds (feeds.Lease): the group's partitions of --topic are the leases, so replicas with the
// same --feeds poll each feed once between them, and a replica that leaves or dies hands its
// feeds to the others. Without it, every feed, as a single process does.
func newPoller(cfg *ServeConfig, pub *publish.Publisher, m *Metrics, rt *service.Runtime, log *slog.Logger) (func(context.Context) error, error) {
	store, err := feeds.OpenStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var list []feeds.Feed
	feedHosts := slices.Clone(cfg.FeedAllowHosts)
	for _, f := range cfg.Feeds {
		spec, _ := parseFeed(f)
		list = append(list, feeds.Feed{URL: spec.URL, Source: spec.Source})
		if u, err := url.Parse(spec.URL); err == nil {
			feedHosts = append(feedHosts, u.Host) // host[:port] as the operator wrote it
		}
	}
	// Both clients refuse internal addresses at dial time. The feeds' own hosts are the
	// operator's choice and are allowed for the feeds (a redirect elsewhere is checked); the
	// pages items link to are the feed author's choice and get only the explicit allow-list.
	dial := min(cfg.FeedTimeout, 10*time.Second)
	feedGuard := &feeds.Guard{AllowHosts: feedHosts, AllowCIDRs: cfg.feedAllowCIDRs, Timeout: dial}
	pageGuard := &feeds.Guard{AllowHosts: cfg.FeedAllowHosts, AllowCIDRs: cfg.feedAllowCIDRs, Timeout: dial}
	p := &feeds.Poller{
		Feeds: list, Interval: cfg.FeedInterval, Store: store, Pub: pub, Intake: m.Intake,
		Client: feedGuard.Client(cfg.FeedTimeout), PageClient: pageGuard.Client(cfg.FeedTimeout), MaxItems: cfg.FeedMaxItems,
		FetchPages: cfg.FeedFetchPages, Limits: cfg.Limits.article(), Log: log.With("actor", "feeds"),
		Metrics: m.Feeds, Tracer: rt.Tracer(),
	}
	if cfg.FeedGroup == "" {
		m.Lease.Owned.Set(float64(len(list)))
		rt.Admin.Note("feeds", fmt.Sprintf("polls all %d feeds (no --feed-group: other replicas poll them too)", len(list)))
		return p.Run, nil
	}
	// When a generation ends, a publish under way is finished before this replica rejoins
	// (Poller.Poll detaches it, bounded by PublishTimeout); the coordinator waits that long for
	// it, so the feeds' new owners start only after their old owner stopped.
	group, err := feeds.NewKafkaGroup(cfg.Kafka, cfg.FeedGroup, cfg.Topic, kafkax.GroupOptions{
		SessionTimeout:   cfg.FeedGroupSessionTimeout,
		RebalanceTimeout: max(cfg.FeedGroupSessionTimeout, cfg.Kafka.PublishTimeout()+2*time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("feed lease: %w", err)
	}
	lease := &feeds.Lease{Group: group, Feeds: list, Poll: p.RunFeeds, Metrics: m.Lease, Log: log.With("actor", "feeds", "group", cfg.FeedGroup),
		Note: func(text string) { rt.Admin.Note("feeds", text+", group "+cfg.FeedGroup) }}
	return lease.Run, nil
}
