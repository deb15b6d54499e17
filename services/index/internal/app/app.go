// Package app wires the index service: configuration, the search engine and Kafka clients, the
// consumer loop, the admin server, and the three commands (serve, setup, reindex).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/index/internal/indices"
	"github.com/newsflow/newsflow/services/index/internal/schema"
	"github.com/newsflow/newsflow/services/index/internal/sink"
	"github.com/newsflow/newsflow/services/index/internal/stories"
)

const usageHead = `index: the last newsflow stage, where an article becomes searchable.

It consumes enriched articles from Kafka (--topic, default articles.enriched) in a consumer group,
writes each as a document (_id = article id, external version = ingested_at in microseconds, so
an older copy never replaces a newer one) into the monthly index <prefix>-YYYY.MM of its
published_at (the yearly index <prefix>-YYYY before --monthly-from), read through the alias
<prefix>, and commits a partition's offsets only after the search engine (Elasticsearch 8 or
OpenSearch 2) acknowledged every document up to them. Connection errors, 429 and 5xx are retried
with capped exponential backoff, never dropped; documents the engine rejects for good, documents
whose index it refuses to create (--create-attempts), publication dates outside
--published-floor .. now+--published-max-future and undecodable messages go to --dlq-topic with
the reason, while the rest of the batch is indexed.

Usage:
  index [serve] [flags]    consume and index (default); runs setup first
  index setup [flags]      install the index template and alias, idempotently
                           (--print writes the template JSON to stdout and contacts nothing)
  index reindex [flags]    roll this build's template version out: copy older indices into
                           new ones, swap the alias atomically (--delete-old removes the old)
  index replay-status [flags]  a replay into a new index version (serve --staged
                           --index-version N): its groups' lag, documents per version, the alias
  index swap [flags]       wait until the replay caught up (--caught-up GROUP@TOPIC,...), then
                           point the alias at --to-version N atomically (docs/REPLAY.md)
  index --help

Flags (each defaults to the environment variable named with it):
`

// Run is the index command: `index [serve|setup|reindex] [flags]`.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var cfg Config
	set := config.New("index")
	set.FS.SetOutput(stderr)
	cfg.registerFlags(set)
	var printOnly, deleteOld bool
	var rc replayConfig
	switch cmd {
	case "serve":
	case "replay-status", "swap":
		rc.registerFlags(set, cmd == "swap")
	case "setup":
		set.FS.BoolVar(&printOnly, "print", false, "print the index template JSON and exit")
	case "reindex":
		set.FS.BoolVar(&deleteOld, "delete-old", false, "delete each old index once the alias points at its copy")
	case "help":
		args = []string{"--help"}
	default:
		fmt.Fprint(stderr, usageHead)
		return service.UsageError{Err: fmt.Errorf("unknown command %q: want serve, setup, reindex, replay-status or swap", cmd)}
	}
	set.FS.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		set.FS.PrintDefaults()
	}
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	if set.FS.NArg() > 0 {
		return service.UsageError{Err: fmt.Errorf("unexpected arguments %q", set.FS.Args())}
	}
	if err := cfg.Validate(); err != nil {
		return service.UsageError{Err: err}
	}
	if cmd == "replay-status" || cmd == "swap" {
		if err := rc.validate(cmd == "swap"); err != nil {
			return service.UsageError{Err: err}
		}
	}
	names := schema.Names{Prefix: cfg.IndexPrefix, MonthlyFrom: cfg.MonthlyFrom}
	settings := schema.Settings{Shards: cfg.Shards, Replicas: cfg.Replicas, RefreshInterval: cfg.RefreshInterval, TextAnalyzer: cfg.TextAnalyzer}
	if printOnly {
		_, err := fmt.Fprintf(stdout, "%s\n", names.TemplateJSON(schema.Version, settings))
		return err
	}

	rt, err := service.NewRuntime("index", cfg.Common, stderr)
	if err != nil {
		return service.UsageError{Err: err}
	}
	rt.Log = rt.Log.With("command", cmd)
	log := rt.Log
	log.Info("starting", config.Attrs(cfg)...)
	if cmd == "serve" {
		// Deferred before the admin server's stop, so it runs last and exports the drain's spans.
		stopTracing, err := rt.StartTracing(ctx, "index")
		if err != nil {
			return service.UsageError{Err: err}
		}
		defer stopTracing()
		// Before any wait: a startup or liveness probe must find index alive (and /readyz
		// saying what it waits for) however long the search engine or Kafka take to come up.
		stopAdmin, err := rt.StartAdmin()
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	for _, w := range cfg.Search.Warnings() {
		log.Warn(w)
	}

	client, err := search.New(cfg.Search)
	if err != nil {
		return err
	}
	mgr := &indices.Manager{Client: client, Names: names, Settings: settings, Log: log, IndexVersion: cfg.IndexVersion, Staged: cfg.Staged}
	startup := retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second}
	if cmd != "serve" {
		startup.Attempts = 5
	}
	// A certificate the node's CA did not sign, a refused password or plain HTTP against an
	// HTTPS node is a configuration mistake: stop at once, naming it, instead of retrying.
	if err := rt.WaitFor(ctx, service.Wait{What: "search engine", Backoff: startup}, func(ctx context.Context) error {
		eng, err := client.Check(ctx)
		if err == nil {
			log.Info("search engine", "distribution", eng.Distribution, "version", eng.Version, "cluster", eng.ClusterName)
		}
		var ce *search.ConnError
		if errors.As(err, &ce) && ce.Fatal {
			return retry.Permanent(err)
		}
		return err
	}); err != nil {
		return err
	}

	switch cmd {
	case "setup":
		res, err := mgr.Setup(ctx, schema.Version, time.Now())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "template %s version %d installed (skipped: %v), pattern %s, alias %s\n",
			names.TemplateName(), res.Installed, res.Skipped, names.Pattern(), names.Alias())
		return err
	case "reindex":
		moves, err := mgr.Reindex(ctx, schema.Version, deleteOld, time.Now())
		for _, m := range moves {
			fmt.Fprintf(stdout, "%s -> %s: %d documents\n", m.From, m.To, m.Copied)
		}
		if err == nil && len(moves) == 0 {
			fmt.Fprintf(stdout, "every index behind %s already has schema version %d\n", names.Alias(), schema.Version)
		}
		return err
	case "replay-status":
		return replayStatus(ctx, stdout, cfg, rc, mgr)
	case "swap":
		return swap(ctx, stdout, log, cfg, rc, mgr)
	}
	if err := checkWriterVersion(ctx, cfg, mgr); err != nil {
		return err
	}
	return serve(ctx, cfg, rt, log, mgr)
}

// serve runs the consumer, the lag monitor and the admin server until ctx ends, then drains.
func serve(ctx context.Context, cfg Config, rt *service.Runtime, log *slog.Logger, mgr *indices.Manager) error {
	startup := retry.Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second}
	if err := rt.WaitFor(ctx, service.Wait{What: "index template", Backoff: startup}, func(ctx context.Context) error {
		_, err := mgr.Setup(ctx, schema.Version, time.Now())
		return err
	}); err != nil {
		return err
	}
	cfg.Kafka.LogWarnings(log)
	if err := rt.WaitForTopics(ctx, cfg.Kafka, 0, cfg.Topic, cfg.DLQTopic); err != nil {
		return err
	}

	m := sink.NewMetrics(rt.Registry)
	// kafkax's writer, with a transport of its own that is closed once the writer has flushed.
	dlq, dlqTransport := cfg.Kafka.NewServiceWriter(cfg.DLQTopic, "newsflow-index")
	defer func() {
		if err := dlq.Close(); err != nil {
			log.Warn("closing the dead-letter writer", "error", err)
		}
		dlqTransport.CloseIdleConnections()
	}()
	// Prefetch sized against --max-inflight-bytes, and batches capped at it, so memory stays bounded.
	reader := cfg.Kafka.NewReaderFor(cfg.Group, cfg.Topic, cfg.MaxInflightBytes)
	defer func() {
		if err := reader.Close(); err != nil {
			log.Warn("closing the Kafka reader", "error", err)
		}
	}()
	backoff := retry.Backoff{Initial: cfg.RetryInitial, Max: cfg.RetryMax}
	// Near-duplicates and stories are decided against the articles this writer's version holds:
	// the read alias for the live writer; for a staged replay its own version's indices (which
	// the replay fills in the order of articles.raw, as the live writer did), since the old
	// version may lack the signatures (internal/stories).
	var st sink.Stories
	if cfg.StoryWindow > 0 {
		target := mgr.Names.Alias()
		if cfg.Staged {
			target = mgr.Names.Prefix + "-*-v" + strconv.Itoa(cfg.IndexVersion)
		}
		st = stories.New(stories.Config{Alias: target, Window: cfg.StoryWindow}, mgr)
	}
	sk := sink.New(sink.Config{
		Names: mgr.Names, Version: cfg.IndexVersion, FlushBytes: int(cfg.FlushBytes), Workers: cfg.Workers,
		Backoff: backoff, DLQWriteTimeout: cfg.Kafka.PublishTimeout(), Topic: cfg.Topic, Window: cfg.Window(), CreateAttempts: cfg.CreateAttempts,
		RefusalMemory: refusalMemory(cfg.RefusalMemory), Stories: st, Tracer: rt.Tracer(),
	}, mgr, dlq, log, m)
	consumer := &kafkax.Consumer{
		Reader:        reader,
		Handler:       sk.Handle,
		Log:           log,
		MaxBatch:      cfg.BatchSize,
		Depth:         cfg.Depth,
		MaxBatchBytes: cfg.MaxInflightBytes,
		OnHeld:        func(n int64) { m.InflightBytes.Set(float64(n)) },
		Linger:        cfg.FlushInterval,
		Backoff:       backoff,
		DrainTimeout:  cfg.ShutdownTimeout,
		OnRetry:       func(error) { m.Failed.WithLabelValues("batch").Inc() },
		// Redelivered, not lost, but a commit failing batch after batch must show.
		OnCommitError: func(error) { m.Failed.WithLabelValues("commit").Inc() },
		// A partition leader out of reach (a broker died, not yet fenced): waited out, counted.
		OnFetchError: func(error) { m.Failed.WithLabelValues("fetch").Inc() },
	}

	rt.Admin.AddCheck("kafka", cfg.Kafka.Ping)
	rt.Admin.AddCheck("search", mgr.Client.Ping)
	// The engine answers pings but refuses _bulk with 401/403: not ready until that is fixed.
	rt.Admin.AddCheck("search_credentials", sk.CredentialsCheck)
	log.Info("indexing", "topic", cfg.Topic, "group", cfg.Group, "alias", mgr.Names.Alias(), "index_version", cfg.IndexVersion, "staged", cfg.Staged)
	err := rt.Serve(ctx, cfg.ShutdownTimeout,
		// The consumer finishes and commits the batches in hand when its context ends, bounded
		// by --shutdown-timeout (its DrainTimeout).
		service.Actor{Name: "consumer", Run: consumer.Run},
		service.Actor{Name: "lag", Run: func(ctx context.Context) error {
			cfg.Kafka.MonitorLag(ctx, log, cfg.Group, cfg.Topic, m.ConsumerLag, cfg.LagInterval)
			return nil
		}},
	)
	log.Info("stopped")
	return err
}

// refusalMemory maps the flag (0: ask every batch) to sink.Config (0: the default).
func refusalMemory(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
