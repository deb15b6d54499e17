// Package stage is enrich's work on a batch of raw-article messages, apart from its wiring: each
// record is decoded, enriched and encoded (several at once), a record that can never be enriched
// becomes a dead letter with its reason, and the batch is done only when every enriched record
// and every dead letter is acknowledged by Kafka (acks=all). pkg/kafkax.Consumer commits the
// batch's offsets only after Handle returns nil.
//
// A write that fails is retried here, with capped exponential backoff, for the records Kafka did
// not acknowledge, until it succeeds or the consumer's context ends. So a broker that is away for
// a while costs retries of the produce alone: the batch is enriched once, its dead letters are
// written once, and its records are counted once. (When the consumer retried the whole batch, a
// failed produce re-enriched it, wrote its dead letters again and counted it twice.)
package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/articleio"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/tracing"
	"github.com/newsflow/newsflow/services/enrich/internal/enrich"
)

// Name is the stage name on dead-letter records.
const Name = "enrich"

// Writer is where the stage writes: a kafka.Writer on the output topic, another on the
// dead-letter topic; tests hand in fakes. WriteMessages returns nil only when Kafka acknowledged
// every message; a kafka.WriteErrors says which ones it did not.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config tunes the stage.
type Config struct {
	// Workers is how many records of a batch are enriched at once (default 1).
	Workers int
	// Output labels the produced metric: the topic the output writer writes to.
	Output string
	// WriteTimeout is the deadline of one write attempt (kafkax.Config.PublishTimeout: kafka-go
	// has given up on an attempt before the next one starts). 0: no deadline of its own.
	WriteTimeout time.Duration
	// Backoff is the wait between write attempts. With Attempts 0, as enrich runs, a write is
	// retried until the context ends.
	Backoff retry.Backoff
	// Tracer records one "enrich process" span per article, continuing the trace context of its
	// record (ingest's publish span), and writes the span's context into the enriched record's
	// headers for index. nil: tracing off; the record's headers are copied as they came.
	Tracer trace.Tracer
}

// Stage enriches batches. Handle is safe for concurrent use (the consumer hands over up to its
// Depth batches at once, so one is enriched while the one before it is produced); each Handle
// enriches up to Workers records at once.
type Stage struct {
	cfg      Config
	en       *enrich.Enricher
	out, dlq Writer
	log      *slog.Logger
	m        *Metrics
}

// New returns a stage that enriches with en and writes to out and dlq.
func New(cfg Config, en *enrich.Enricher, out, dlq Writer, log *slog.Logger, m *Metrics) *Stage {
	cfg.Workers = max(cfg.Workers, 1)
	if m == nil { // never nil inside the stage: a caller that does not read them gets a private set
		m = NewMetrics(prometheus.NewRegistry())
	}
	return &Stage{cfg: cfg, en: en, out: out, dlq: dlq, log: log, m: m}
}

// Handle enriches batch and returns nil only when every enriched record and every dead letter of
// it was acknowledged by Kafka. It returns an error only when ctx ends first (or Backoff's
// attempts run out); then nothing may be committed, and the batch will be handled again.
func (s *Stage) Handle(ctx context.Context, batch []kafka.Message) error {
	if len(batch) == 0 {
		return nil
	}
	start := time.Now()
	produced, dead, reasons := s.enrichAll(batch)
	s.m.Received.WithLabelValues(batch[0].Topic).Add(float64(len(batch)))

	if err := s.write(ctx, stepDLQ, s.dlq, dead); err != nil {
		return fmt.Errorf("writing %d dead letters: %w", len(dead), err)
	}
	for _, r := range reasons {
		s.m.DeadLettered.WithLabelValues(r).Inc()
	}
	if err := s.write(ctx, stepProduce, s.out, produced); err != nil {
		return fmt.Errorf("producing %d enriched articles: %w", len(produced), err)
	}
	s.m.Produced.WithLabelValues(s.cfg.Output).Add(float64(len(produced)))
	s.m.Latency.WithLabelValues("batch").Observe(time.Since(start).Seconds())
	return nil
}

// enrichAll enriches batch, Workers records at a time. It returns the enriched records in batch
// order, and the dead letters of the others with the reason of each.
func (s *Stage) enrichAll(batch []kafka.Message) (produced, dead []kafka.Message, reasons []string) {
	outs := make([]kafka.Message, len(batch))
	var deadMu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < s.cfg.Workers && w < len(batch); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				msg, err := s.enrichOne(batch[i])
				if err != nil {
					reason := reasonUndecodable
					if errors.Is(err, enrich.ErrTooLarge) {
						reason = reasonTooLarge
					}
					deadMu.Lock()
					dead = append(dead, kafkax.DeadLetter(batch[i], Name, err.Error()))
					reasons = append(reasons, reason)
					deadMu.Unlock()
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
	for _, o := range outs {
		if o.Value != nil {
			produced = append(produced, o)
		}
	}
	return produced, dead, reasons
}

// enrichOne decodes, enriches and encodes one record; an error means it can never be enriched.
func (s *Stage) enrichOne(msg kafka.Message) (_ kafka.Message, err error) {
	start := time.Now()
	ctx, headers := context.Background(), msg.Headers // ctx holds the span, for the logs
	if s.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = s.startSpan(msg)
		defer func() { endSpan(span, err) }()
		headers = withTraceContext(ctx, msg.Headers)
	}
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
	if s.cfg.Tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("newsflow.article.id", a.ID))
	}
	e := s.en.Enrich(a)
	for _, ent := range e.Entities {
		s.m.Entities.WithLabelValues(ent.Type).Inc()
	}
	for _, d := range e.Dates {
		s.m.Dates.WithLabelValues(d.Granularity).Inc()
	}
	v, note, err := enrich.Fit(e, kafkax.MaxRecordValueBytes-len(a.ID)-headersLen(headers)) // room for the key and the headers
	if err != nil {
		return kafka.Message{}, err
	}
	if note != "" {
		s.m.Trimmed.Inc()
		s.log.InfoContext(ctx, "enriched article trimmed to fit a Kafka record", "id", a.ID, "partition", msg.Partition, "offset", msg.Offset, "note", note)
	}
	s.m.Latency.WithLabelValues("article").Observe(time.Since(start).Seconds())
	return kafka.Message{Key: []byte(a.ID), Value: v, Headers: headers}, nil
}

// startSpan starts the "enrich process" span of msg as a child of the context its headers
// carry (a new trace when they carry none). It is apart from enrichOne so that the carrier's
// pointer makes only this copy of the headers escape, not enrichOne's message when tracing is off.
func (s *Stage) startSpan(msg kafka.Message) (context.Context, trace.Span) {
	hs := msg.Headers
	parent := tracing.Extract(context.Background(), kafkax.HeaderCarrier{Headers: &hs})
	return s.cfg.Tracer.Start(parent, "enrich process", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.source.name", msg.Topic),
			attribute.Int("messaging.kafka.partition", msg.Partition),
			attribute.Int64("messaging.kafka.offset", msg.Offset)))
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		tracing.Fail(span, err, "dead-lettered")
	}
	span.End()
}

// withTraceContext returns a copy of hs whose trace context is ctx's span alone: the enriched
// record continues from enrich's span, not from ingest's, and keeps no second traceparent and no
// tracestate of another trace (one that was too large to read, say). A copy, because hs is the
// raw record's.
func withTraceContext(ctx context.Context, hs []kafka.Header) []kafka.Header {
	out := kafkax.WithoutTraceContext(hs)
	tracing.Inject(ctx, kafkax.HeaderCarrier{Headers: &out})
	return out
}

func headersLen(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// write writes msgs with w until Kafka acknowledged every one, or ctx ends. Each attempt sends
// only what the attempts before it did not get acknowledged, and counts as failed_total{step}
// when it fails (NewsflowDeadLetterWritesFailing and NewsflowKafkaProduceFailing watch them).
func (s *Stage) write(ctx context.Context, step string, w Writer, msgs []kafka.Message) error {
	return kafkax.WriteAcked(ctx, w, msgs, s.cfg.Backoff, s.cfg.WriteTimeout, func(err error, left int) {
		s.m.Failed.WithLabelValues(step).Inc()
		s.log.Warn("write failed; retrying what was not acknowledged", "step", step, "messages", left, "error", err)
	})
}
