// Package publish writes accepted articles to articles.raw and reports what it did to Prometheus.
// It is the only place where ingest talks to Kafka, so that the rule "one request, one
// WriteMessages call, success only when every record was acknowledged" lives in one place.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/newsflow/newsflow/pkg/article"
	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/metrics"
	"github.com/newsflow/newsflow/pkg/tracing"
)

// Writer is the part of *kafka.Writer that Publisher uses; unit tests hand in fakes.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// MaxRecordBytes bounds one encoded article value (kafkax.MaxRecordValueBytes): a record of this
// size plus its key and framing fits in kafkax.MaxMessageBytes, the largest batch the writer sends
// and the broker takes. intake checks every article against it (a per-item 400), so that Messages'
// own check never fires for input; it is the one size that decides whether Kafka can take an
// article.
const MaxRecordBytes = kafkax.MaxRecordValueBytes

// ErrRecordTooLarge means an encoded article exceeds MaxRecordBytes.
var ErrRecordTooLarge = errors.New("record too large")

// Record is an accepted article with the value of its Kafka record. The value is encoded once,
// when intake measures it against MaxRecordBytes, and Publish writes those same bytes: encoding
// every article twice cost a fifth of ingest's CPU time.
type Record struct {
	Article article.Article
	Value   []byte
}

// NewRecord encodes a's record value: its JSON without HTML escaping, so that '<', '>' and '&'
// stay one byte each (encoding/json's default turns each into six, which let a body of 900 KiB of
// markup-like text become a 5 MB record), and without a trailing newline (article.AppendJSON, the
// bytes of article.Marshal). It does not check the size: intake does, and Publish again.
func NewRecord(a article.Article) (Record, error) {
	v, err := article.AppendJSON(make([]byte, 0, len(a.Body)+len(a.Title)+len(a.URL)+256), &a)
	if err != nil {
		return Record{}, fmt.Errorf("encoding article %s: %w", a.ID, err)
	}
	return Record{Article: a, Value: v}, nil
}

// NewRecords is NewRecord for each of arts, for the callers (tests, tools) that hold articles
// rather than intake's batch.
func NewRecords(arts []article.Article) ([]Record, error) {
	recs := make([]Record, len(arts))
	for i := range arts {
		var err error
		if recs[i], err = NewRecord(arts[i]); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// Publisher writes articles as records keyed by article id (one id, one partition, so that the
// versions of one article stay in order).
//
// Why a retried request cannot create duplicates downstream: every article's id is
// deterministic (article.ID: canonical URL, or source+title+body), the record key is that id, and
// the index stage writes documents by _id. If a write fails or times out after some records
// reached the broker, the caller reports failure for the whole batch; when the client retries,
// the same ids are written again and the index overwrites the same documents. Kafka may carry a
// record twice; the search index never holds it twice.
//
// "Nothing partial" holds when the broker cannot be reached or does not answer: no record of a
// request answered 503 reaches the topic (the outage tests check both through a proxy; the
// writer's attempts end before the publisher's deadline, see kafkax.Config.PublishTimeout). Two cases can
// still leave records of a refused request on the topic, both made harmless by the ids above: a
// batch spread over several partitions whose leaders fail differently, and a produce request the
// broker wrote but whose acknowledgement was lost. Kafka transactions would close both, but
// kafka-go has no transactional producer.
type Publisher struct {
	W       Writer
	Topic   string
	Timeout time.Duration // deadline of one WriteMessages call
	// M is where Publish counts; nil counts into a set on a private registry that nothing
	// exposes (privateMetrics), so a Publisher built without metrics (a test, a tool) works and
	// the counting code needs no nil checks. ingest's own are built in app's metrics.go.
	M *Metrics
	// Tracer records one "ingest publish" span per Publish, a child of the request's or poll's
	// span (an incoming traceparent), and writes its context into every record's headers so that
	// enrich and index continue the trace. nil: tracing off, nothing is added to the records.
	Tracer trace.Tracer
}

// privateMetrics is the set of every Publisher whose M is nil, registered on a registry of its
// own the first time one publishes.
var privateMetrics = sync.OnceValue(func() *Metrics {
	reg := prometheus.NewRegistry()
	return NewMetrics(reg, metrics.NewStage(reg, "ingest"))
})

// metrics is M, or privateMetrics when M is nil.
func (p *Publisher) metrics() *Metrics {
	if p.M == nil {
		return privateMetrics()
	}
	return p.M
}

// Metrics counts what was produced and how long producing took.
type Metrics struct {
	Stage         *metrics.Stage
	ProducedBytes prometheus.Counter
	Produce       *prometheus.HistogramVec // labels: outcome
}

// NewMetrics registers the producer metrics (and the shared stage metrics) on reg.
func NewMetrics(reg prometheus.Registerer, stage *metrics.Stage) *Metrics {
	m := &Metrics{
		Stage: stage,
		ProducedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_ingest_produced_bytes_total",
			Help: "Bytes of record values acknowledged by Kafka."}),
		Produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "newsflow_ingest_produce_seconds",
			Help:    "Duration of one acknowledged (acks=all) write of a batch to Kafka, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"outcome"}),
	}
	reg.MustRegister(m.ProducedBytes, m.Produce)
	return m
}

// Messages turns records into Kafka messages keyed by article id, checking each against
// MaxRecordBytes.
func Messages(recs []Record) ([]kafka.Message, error) {
	msgs := make([]kafka.Message, len(recs))
	for i := range recs {
		if n := len(recs[i].Value); n > MaxRecordBytes {
			return nil, fmt.Errorf("article %s: %d bytes: %w (limit %d)", recs[i].Article.ID, n, ErrRecordTooLarge, MaxRecordBytes)
		}
		msgs[i] = kafka.Message{Key: []byte(recs[i].Article.ID), Value: recs[i].Value}
	}
	return msgs, nil
}

// Publish writes recs in one WriteMessages call bounded by Timeout and returns nil only when
// Kafka acknowledged every record with acks=all.
func (p *Publisher) Publish(ctx context.Context, recs []Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	msgs, merr := Messages(recs)
	if merr != nil {
		return merr
	}
	if p.Tracer != nil {
		var span trace.Span
		ctx, span = p.Tracer.Start(ctx, "ingest publish", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.destination.name", p.Topic),
				attribute.Int("messaging.batch.message_count", len(msgs))))
		defer func() {
			if err != nil {
				tracing.Fail(span, err, "writing to Kafka failed")
			}
			span.End()
		}()
		// One context for the whole batch: its headers are built once and shared by every
		// record (Messages gives them none of their own, and the writer only reads them).
		hs := tracing.RecordHeaders(ctx)
		for i := range msgs {
			msgs[i].Headers = hs
		}
	}
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	start := time.Now()
	err = p.W.WriteMessages(ctx, msgs...)
	m := p.metrics()
	outcome := "ok"
	if err != nil {
		outcome = "error"
		m.Stage.Failed.WithLabelValues("kafka_write").Inc()
	} else {
		m.Stage.Produced.WithLabelValues(p.Topic).Add(float64(len(msgs)))
		n := 0
		for _, msg := range msgs {
			n += len(msg.Value)
		}
		m.ProducedBytes.Add(float64(n))
	}
	m.Produce.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("writing %d records to %s: %w", len(msgs), p.Topic, err)
	}
	return nil
}
