package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/stage"
)

// serve is `enrich serve`.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg serveConfig
	s := config.New("enrich serve")
	s.FS.SetOutput(stderr)
	cfg.registerFlags(s)
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	if err := cfg.Validate(); err != nil {
		return service.UsageError{Err: err}
	}
	rt, err := service.NewRuntime("enrich", cfg.Common, stderr)
	if err != nil {
		return service.UsageError{Err: err}
	}
	log := rt.Log
	log.Info("starting", config.Attrs(cfg)...)
	cfg.Kafka.LogWarnings(log)
	// Before loading the model and any wait: probes find enrich alive, /readyz says what it
	// waits for; stopped last, after the drain.
	// Deferred before the admin server's stop, so it runs last and exports the drain's spans.
	stopTracing, err := rt.StartTracing(ctx, "enrich")
	if err != nil {
		return service.UsageError{Err: err}
	}
	defer stopTracing()
	stopAdmin, err := rt.StartAdmin()
	if err != nil {
		return err
	}
	defer stopAdmin()
	rt.Admin.Waiting("the enrichment model to load")
	start := time.Now()
	en, err := newEnricher()
	if err != nil {
		return err
	}
	if cfg.EnrichmentVersion != "" {
		// A copy: the loaded model is shared by the process (newEnricher).
		own := *en
		own.Version = cfg.EnrichmentVersion
		en = &own
	}
	log.Info("enrichment model loaded", "seconds", time.Since(start).Seconds(), "version", en.Version)

	m := stage.NewMetrics(rt.Registry)
	// Kafka may still be starting: wait (not ready, alive) rather than exit and crash-loop; a
	// TLS or SASL failure is a configuration mistake and stops at once.
	if err := rt.WaitForTopics(ctx, cfg.Kafka, 0, cfg.Topic, cfg.Output, cfg.DLQ); err != nil {
		return err
	}
	if at, ok := cfg.startTime(); ok {
		// Before the reader joins the group: the broker takes these commits only while the
		// group has no members.
		started, offsets, err := cfg.Kafka.StartGroupAt(ctx, cfg.Group, cfg.Topic, at)
		if err != nil {
			return fmt.Errorf("starting group %s at %s: %w", cfg.Group, cfg.StartAt, err)
		}
		if started {
			log.Info("new group starts at a time", "group", cfg.Group, "topic", cfg.Topic, "start_at", cfg.StartAt, "offsets", fmt.Sprint(offsets))
		} else {
			log.Info("group has commits: resuming, --start-at applies only to a new group", "group", cfg.Group, "start_at", cfg.StartAt)
		}
	}

	// Writers with transports of their own, closed after the consumer has drained (deferred
	// here, so they run after Serve returns) and before the admin server stops.
	out, outTransport := cfg.Kafka.NewServiceWriter(cfg.Output, "newsflow-enrich")
	dlq, dlqTransport := cfg.Kafka.NewServiceWriter(cfg.DLQ, "newsflow-enrich")
	// Prefetch sized against --max-inflight-bytes, and batches capped at it, so memory stays bounded.
	reader := cfg.Kafka.NewReaderFor(cfg.Group, cfg.Topic, cfg.MaxInflightBytes)
	defer func() {
		for _, c := range []struct {
			name string
			c    io.Closer
		}{{"reader", reader}, {"writer", out}, {"dlq writer", dlq}} {
			if err := c.c.Close(); err != nil {
				log.Warn("closing", "what", c.name, "error", err)
			}
		}
		outTransport.CloseIdleConnections()
		dlqTransport.CloseIdleConnections()
	}()
	// The stage retries its writes itself (and counts each failed attempt), so the consumer
	// hands a batch over again only after the context ended.
	st := stage.New(stage.Config{Workers: cfg.Workers, Output: cfg.Output, WriteTimeout: cfg.Kafka.PublishTimeout(), Tracer: rt.Tracer()}, en, out, dlq, log, m)
	consumer := &kafkax.Consumer{
		Reader:        reader,
		Handler:       st.Handle,
		Log:           log,
		MaxBatch:      cfg.MaxBatch,
		Depth:         cfg.Depth,
		MaxBatchBytes: cfg.MaxInflightBytes,
		OnHeld:        func(n int64) { m.InflightBytes.Set(float64(n)) },
		DrainTimeout:  cfg.ShutdownTimeout,
		// Redelivered, not lost, but a commit failing batch after batch must show.
		OnCommitError: func(error) { m.Failed.WithLabelValues("commit").Inc() },
		// A partition leader out of reach (a broker died, not yet fenced): waited out, counted.
		OnFetchError: func(error) { m.Failed.WithLabelValues("fetch").Inc() },
	}

	rt.Admin.AddCheck("kafka", cfg.Kafka.Ping)
	log.Info("consuming", "topic", cfg.Topic, "group", cfg.Group, "output", cfg.Output)
	err = rt.Serve(ctx, cfg.ShutdownTimeout,
		// The consumer finishes and commits the batches in hand when its context ends, bounded
		// by --shutdown-timeout (its DrainTimeout).
		service.Actor{Name: "consumer", Run: consumer.Run},
		service.Actor{Name: "lag", Run: func(ctx context.Context) error {
			cfg.Kafka.MonitorLag(ctx, log, cfg.Group, cfg.Topic, m.ConsumerLag, 5*time.Second)
			return nil
		}},
	)
	log.Info("stopped")
	return err
}
