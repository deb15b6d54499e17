package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/articleio"
	"github.com/newsflow/newsflow/pkg/config"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/service"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
)

// serveConfig is the whole configuration of `enrich serve`.
type serveConfig struct {
	Service  service.Common
	Kafka    kafkax.Config
	Topic    string
	Output   string
	DLQ      string
	Group    string
	Workers  int
	MaxBatch int
	// MaxInflightBytes bounds the raw records held fetched and uncommitted (issue 13 item 5).
	MaxInflightBytes int64
}

func (c *serveConfig) register(s *config.Set) {
	c.Service.RegisterFlags(s, "127.0.0.1:9102")
	c.Kafka.RegisterFlags(s)
	s.String(&c.Topic, "topic", "NEWSFLOW_ENRICH_TOPIC", kafkax.TopicRaw, "topic of raw articles to consume")
	s.String(&c.Output, "output-topic", "NEWSFLOW_ENRICH_OUTPUT_TOPIC", kafkax.TopicEnriched, "topic enriched articles are produced to")
	s.String(&c.DLQ, "dlq-topic", "NEWSFLOW_ENRICH_DLQ_TOPIC", kafkax.TopicDLQ, "dead-letter topic for records that can never be enriched")
	s.String(&c.Group, "group", "NEWSFLOW_ENRICH_GROUP", "newsflow-enrich", "Kafka consumer group")
	s.Int(&c.Workers, "workers", "NEWSFLOW_ENRICH_WORKERS", runtime.GOMAXPROCS(0), "articles enriched in parallel")
	s.Int(&c.MaxBatch, "max-batch", "NEWSFLOW_ENRICH_MAX_BATCH", 256, "messages per batch (produced and committed together)")
	s.Int64(&c.MaxInflightBytes, "max-inflight-bytes", "NEWSFLOW_ENRICH_MAX_INFLIGHT_BYTES", kafkax.DefaultInflightBytes,
		"fetching pauses once this many message bytes are fetched and not yet committed (bounds memory; the batch ends there)")
}

func (c *serveConfig) validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	switch {
	case c.Topic == "" || c.Output == "" || c.DLQ == "" || c.Group == "":
		return errors.New("topic, output-topic, dlq-topic and group must not be empty")
	case c.Topic == c.Output:
		return fmt.Errorf("topic and output-topic are both %q: that would loop", c.Topic)
	case c.Workers < 1:
		return fmt.Errorf("workers %d: want >= 1", c.Workers)
	case c.MaxBatch < 1:
		return fmt.Errorf("max-batch %d: want >= 1", c.MaxBatch)
	case c.MaxInflightBytes < kafkax.MaxMessageBytes:
		return fmt.Errorf("max-inflight-bytes %d: want >= %d (one record)", c.MaxInflightBytes, kafkax.MaxMessageBytes)
	}
	return nil
}

// serve is `enrich serve`.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg serveConfig
	s := config.New("enrich serve")
	s.FS.SetOutput(stderr)
	cfg.register(s)
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return service.UsageError{Err: err}
	}
	if err := cfg.validate(); err != nil {
		return service.UsageError{Err: err}
	}
	rt, err := service.NewRuntime("enrich", cfg.Service, stderr)
	if err != nil {
		return service.UsageError{Err: err}
	}
	log := rt.Log
	log.Info("starting", config.Attrs(cfg)...)
	cfg.Kafka.LogWarnings(log)
	start := time.Now()
	en, err := newEnricher()
	if err != nil {
		return err
	}
	log.Info("enrichment model loaded", "seconds", time.Since(start).Seconds(), "version", Version)

	m := newEnrichMetrics(rt.Registry)
	rt.Admin.AddCheck("kafka", cfg.Kafka.Ping)
	g, gctx := service.NewGroup(ctx, log)
	g.Go("admin server", rt.Admin.Run)
	g.Go("consumer", func(ctx context.Context) error {
		setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := cfg.Kafka.EnsureTopics(setupCtx, cfg.Topic, cfg.Output, cfg.DLQ); err != nil {
			return err
		}
		out, dlq := cfg.Kafka.NewWriter(cfg.Output), cfg.Kafka.NewWriter(cfg.DLQ)
		reader := cfg.Kafka.NewCappedReader(cfg.Group, cfg.Topic, cfg.MaxInflightBytes, m.InflightBytes)
		defer func() {
			for name, c := range map[string]io.Closer{"reader": reader, "writer": out, "dlq writer": dlq} {
				if err := c.Close(); err != nil {
					log.Warn("closing", "what", name, "error", err)
				}
			}
		}()
		h := &handler{en: en, out: out, dlq: dlq, workers: cfg.Workers, timeout: cfg.Kafka.WriteTimeout, m: m, outTopic: cfg.Output, log: log}
		c := &kafkax.Consumer{Reader: reader, Handler: h.handle, Log: log, MaxBatch: cfg.MaxBatch, DrainTimeout: cfg.Service.ShutdownTimeout,
			OnRetry: func(err error) { m.Failed.WithLabelValues(failReason(err)).Inc() }}
		rt.Admin.SetReady(true)
		log.Info("consuming", "topic", cfg.Topic, "group", cfg.Group, "output", cfg.Output)
		defer rt.Admin.SetReady(false)
		return c.Run(ctx)
	})
	g.Go("lag monitor", func(ctx context.Context) error {
		cfg.Kafka.MonitorLag(ctx, log, cfg.Group, cfg.Topic, m.ConsumerLag, 5*time.Second)
		return nil
	})
	<-gctx.Done()
	log.Info("shutting down")
	return g.Wait()
}

// enrichMetrics is the stage set plus what enrichment finds.
type enrichMetrics struct {
	*metrics.Stage
	Entities *prometheus.CounterVec // labels: type
	Dates    *prometheus.CounterVec // labels: granularity
	// Trimmed counts enriched articles cut to fit a record (enrich.Fit), by what was cut.
	Trimmed prometheus.Counter
	// InflightBytes is the size of the raw messages fetched and not yet committed.
	InflightBytes prometheus.Gauge
}

func newEnrichMetrics(reg prometheus.Registerer) *enrichMetrics {
	m := &enrichMetrics{Stage: metrics.NewStage(reg, "enrich"),
		Entities: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_enrich_entities_total",
			Help: "Distinct entities found, by type (PERSON, ORG, LOC, MISC)."}, []string{"type"}),
		Dates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_enrich_dates_total",
			Help: "Date mentions found, by granularity (day, week, month, year, …)."}, []string{"granularity"}),
		Trimmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_enrich_trimmed_total",
			Help: "Enriched articles whose mentions, entities or dates were cut so that the record fits into Kafka."}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "newsflow_enrich_inflight_bytes",
			Help: "Bytes of messages fetched from Kafka and not yet committed."}),
	}
	reg.MustRegister(m.Entities, m.Dates, m.Trimmed, m.InflightBytes)
	// Every reason is exposed at 0 from the start, so the first dead letter is an increase the
	// NewsflowDeadLetters alert sees, not a series that appears at 1.
	for _, r := range deadLetterReasons {
		m.DeadLettered.WithLabelValues(r)
	}
	return m
}

// deadLetterReasons are the reason labels enrich dead-letters with (see the handler).
var deadLetterReasons = []string{"undecodable", "too_large"}

// writer is the part of *kafka.Writer the handler needs.
type writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// handler enriches one batch in parallel and produces it; it returns nil only when every
// enriched record and every dead letter of the batch was acknowledged by Kafka (acks=all).
type handler struct {
	en       *enrich.Enricher
	out, dlq writer
	workers  int
	timeout  time.Duration
	m        *enrichMetrics
	outTopic string
	log      *slog.Logger
}

func (h *handler) handle(ctx context.Context, batch []kafka.Message) error {
	start := time.Now()
	outs := make([]kafka.Message, len(batch))
	var dead []kafka.Message
	var deadMu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < h.workers && w < len(batch); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				msg, err := h.enrichOne(batch[i])
				if err != nil {
					deadMu.Lock()
					dead = append(dead, kafkax.DeadLetter(batch[i], "enrich", err.Error()))
					deadMu.Unlock()
					reason := "undecodable"
					if errors.Is(err, errTooLarge) {
						reason = "too_large"
					}
					h.m.DeadLettered.WithLabelValues(reason).Inc()
					continue
				}
				outs[i] = msg
			}
		}()
	}
	for i := range batch {
		next <- i
	}
	close(next)
	wg.Wait()
	h.m.Received.WithLabelValues(batch[0].Topic).Add(float64(len(batch)))

	produced := outs[:0]
	for _, o := range outs {
		if o.Value != nil {
			produced = append(produced, o)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if len(dead) > 0 {
		if err := h.dlq.WriteMessages(wctx, dead...); err != nil {
			return fmt.Errorf("writing %d dead letters: %w", len(dead), &stepError{"dlq", err})
		}
	}
	if len(produced) > 0 {
		if err := h.out.WriteMessages(wctx, produced...); err != nil {
			return fmt.Errorf("producing %d enriched articles: %w", len(produced), &stepError{"produce", err})
		}
	}
	h.m.Produced.WithLabelValues(h.outTopic).Add(float64(len(produced)))
	h.m.Latency.WithLabelValues("batch").Observe(time.Since(start).Seconds())
	return nil
}

// errTooLarge marks an enriched article too big for one Kafka record even when trimmed.
var errTooLarge = enrich.ErrTooLarge

// stepError names the write of a batch that failed ("produce" or "dlq"), for the failed metric:
// the alerts tell a stuck output topic from a stuck dead-letter topic.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// failReason is the failed-metric reason of a batch attempt that failed with err.
func failReason(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.step
	}
	return "produce"
}

// maxRecordValue is the largest enriched value enrich produces: MaxMessageBytes less room for
// the key, the copied headers and the record framing.
const maxRecordValue = kafkax.MaxMessageBytes - 1024

// enrichOne decodes, enriches and encodes one record; an error means it can never be enriched.
func (h *handler) enrichOne(msg kafka.Message) (kafka.Message, error) {
	start := time.Now()
	a, err := articleio.DecodeJSON(msg.Value)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("decoding article: %w", err)
	}
	if a.Title == "" && a.Body == "" {
		return kafka.Message{}, errors.New("article has neither title nor body")
	}
	if a.ID == "" {
		a.ID = article.ID(&a)
	}
	e := h.en.Enrich(a)
	for _, ent := range e.Entities {
		h.m.Entities.WithLabelValues(ent.Type).Inc()
	}
	for _, d := range e.Dates {
		h.m.Dates.WithLabelValues(d.Granularity).Inc()
	}
	v, note, err := enrich.Fit(e, maxRecordValue-len(a.ID)-headersLen(msg.Headers))
	if err != nil {
		return kafka.Message{}, err
	}
	if note != "" {
		h.m.Trimmed.Inc()
		h.log.Info("enriched article trimmed to fit a Kafka record", "id", a.ID, "partition", msg.Partition, "offset", msg.Offset, "note", note)
	}
	h.m.Latency.WithLabelValues("article").Observe(time.Since(start).Seconds())
	return kafka.Message{Key: []byte(a.ID), Value: v, Headers: msg.Headers}, nil
}

func headersLen(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}
