// Package sink writes batches of enriched-article messages to the search engine and reports a
// batch done only when every message in it is durable: its document acknowledged by the engine,
// or the message written to the dead-letter topic. That is the guarantee Jaeger's ingester lacked
// (jaeger #8476): pkg/kafkax.Consumer commits a batch's offsets only after Handle returns nil.
//
// Retryable failures (connection errors, 429, 5xx, for the whole request or single items) are
// retried with capped exponential backoff and jitter, only for the items that failed, until they
// succeed or shutdown's drain deadline passes; they are never dropped.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/services/index/internal/bulk"
	"github.com/newsflow/newsflow/services/index/internal/document"
	"github.com/newsflow/newsflow/services/index/internal/schema"
)

// Stage is the stage name on dead-letter records.
const Stage = "index"

// Engine is the part of the search engine the sink needs; internal/indices implements it, tests
// hand in fakes.
type Engine interface {
	// Bulk posts a _bulk body and returns the HTTP status and answer; err is a transport failure
	// (connection refused, reset, timeout).
	Bulk(ctx context.Context, body []byte) (status int, answer []byte, err error)
	// EnsureIndex creates index if it does not exist yet (the template gives it its mapping).
	EnsureIndex(ctx context.Context, index string) error
}

// DeadLetters is where messages that can never be indexed go (a kafka.Writer on articles.dlq).
type DeadLetters interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config tunes the sink.
type Config struct {
	Names   schema.Names
	Version int // schema version whose indices are written
	// FlushBytes caps one _bulk body; a batch larger than that is sent as several requests.
	FlushBytes int
	// Workers is how many _bulk requests of one batch run at once.
	Workers int
	// Backoff between attempts at the items that failed retryably.
	Backoff retry.Backoff
	// Topic labels the received metric.
	Topic string
}

// Sink indexes batches. It is safe for one Handle at a time (the consumer loop is sequential);
// Handle itself runs up to Workers requests in parallel.
type Sink struct {
	cfg     Config
	engine  Engine
	dlq     DeadLetters
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu    sync.Mutex
	known map[string]bool // indices known to exist
}

// New returns a sink. m may be nil (no metrics).
func New(cfg Config, engine Engine, dlq DeadLetters, log *slog.Logger, m *Metrics) *Sink {
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = 5 << 20
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Version <= 0 {
		cfg.Version = schema.Version
	}
	return &Sink{cfg: cfg, engine: engine, dlq: dlq, log: log, metrics: m, now: time.Now, known: map[string]bool{}}
}

// pending is one document on its way to the engine.
type pending struct {
	op       bulk.Op
	msg      kafka.Message
	ingested time.Time
}

// Handle indexes msgs and returns nil only when every one is acknowledged or dead-lettered. It
// returns an error only when ctx ends first; then nothing may be committed.
func (s *Sink) Handle(ctx context.Context, msgs []kafka.Message) error {
	start := time.Now()
	items, dead := s.prepare(msgs)

	var err error
	dead, err = s.index(ctx, items, dead)
	if err != nil {
		return err
	}
	if err := s.deadLetter(ctx, dead); err != nil {
		return err
	}
	if s.metrics != nil {
		s.metrics.Latency.WithLabelValues("batch").Observe(time.Since(start).Seconds())
	}
	return nil
}

// prepare decodes and maps msgs. Undecodable ones become dead letters. When one batch holds the
// same article twice only the later message is written: retrying items one by one could
// otherwise let the older version overwrite the newer.
func (s *Sink) prepare(msgs []kafka.Message) ([]*pending, []kafka.Message) {
	now := s.now()
	var items []*pending
	var dead []kafka.Message
	byID := map[string]int{}
	for _, m := range msgs {
		if s.metrics != nil {
			s.metrics.Received.WithLabelValues(s.cfg.Topic).Inc()
		}
		e, err := document.Decode(m.Value)
		if err != nil {
			s.log.Warn("undecodable message; dead-lettering", "partition", m.Partition, "offset", m.Offset, "error", err)
			s.countFailure("invalid")
			dead = append(dead, kafkax.DeadLetter(m, Stage, err.Error()))
			s.countDead("invalid")
			continue
		}
		doc := document.From(e, now)
		src, err := json.Marshal(doc)
		if err != nil { // only for values JSON cannot hold; the message can never be indexed
			dead = append(dead, kafkax.DeadLetter(m, Stage, "encoding document: "+err.Error()))
			s.countDead("invalid")
			continue
		}
		p := &pending{op: bulk.Op{Index: doc.Index(s.cfg.Names, s.cfg.Version), ID: doc.ID, Source: src}, msg: m, ingested: e.IngestedAt}
		if i, ok := byID[doc.ID]; ok {
			items[i] = p
			continue
		}
		byID[doc.ID] = len(items)
		items = append(items, p)
	}
	return items, dead
}

// index sends items until each is acknowledged or rejected; rejected ones are added to dead.
func (s *Sink) index(ctx context.Context, items []*pending, dead []kafka.Message) ([]kafka.Message, error) {
	maxBytes := s.cfg.FlushBytes
	for attempt := 1; len(items) > 0; attempt++ {
		var retryItems []*pending
		var reason string
		tooLarge := false
		if err := s.ensureIndices(ctx, items); err != nil {
			retryItems, reason = items, "ensure_index"
			s.log.Warn("creating index failed; retrying", "error", err)
			if s.metrics != nil {
				s.metrics.Retries.WithLabelValues(reason).Add(float64(len(items)))
			}
		} else {
			res := s.send(ctx, items, maxBytes)
			for i, p := range items {
				r := res[i]
				switch r.Class {
				case bulk.OK:
					s.acked(p)
				case bulk.Reject:
					s.log.Warn("document rejected by the engine; dead-lettering", "index", p.op.Index,
						"partition", p.msg.Partition, "offset", p.msg.Offset, "status", r.Status, "error", r.Reason)
					s.countFailure("rejected")
					dead = append(dead, kafkax.DeadLetter(p.msg, Stage, fmt.Sprintf("search engine rejected the document (%d): %s", r.Status, r.Reason)))
					s.countDead("rejected")
				default:
					retryItems = append(retryItems, p)
					reason = r.Type
					s.countFailure(r.Type)
					if s.metrics != nil {
						s.metrics.Retries.WithLabelValues(r.Type).Inc()
					}
					tooLarge = tooLarge || r.Type == "too_large"
					if r.ErrType == "index_not_found_exception" { // deleted under us: create it again
						s.mu.Lock()
						delete(s.known, p.op.Index)
						s.mu.Unlock()
					}
				}
			}
		}
		if tooLarge { // a request was refused as too large: send smaller ones
			maxBytes = max(maxBytes/2, 1)
		}
		items = retryItems
		if len(items) == 0 {
			break
		}
		wait := s.cfg.Backoff.Delay(attempt)
		s.log.Warn("retrying documents", "documents", len(items), "attempt", attempt, "reason", reason, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return dead, fmt.Errorf("%d documents still unacknowledged: %w", len(items), ctx.Err())
		case <-t.C:
		}
	}
	return dead, nil
}

// verdict is one item's outcome of one attempt; Type is the bounded retry reason for metrics.
type verdict struct {
	Class   bulk.Class
	Status  int
	Type    string
	ErrType string // the engine's error type, e.g. index_not_found_exception
	Reason  string
}

// minChunkBytes is the smallest _bulk body send splits a batch into for parallelism.
const minChunkBytes = 256 << 10

// send writes items in chunks of at most maxBytes, Workers at a time, and returns one verdict per
// item in order. A batch smaller than Workers × maxBytes is split into Workers chunks (of at least
// minChunkBytes) so that the engine works on it in parallel: sent whole, a 2,000-document batch
// was one request at a time, and the index stage ran at half the speed of a plain _bulk client.
func (s *Sink) send(ctx context.Context, items []*pending, maxBytes int) []verdict {
	ops := make([]bulk.Op, len(items))
	total := 0
	for i, p := range items {
		ops[i] = p.op
		total += p.op.Size()
	}
	// 1/8 slack: documents do not divide evenly, and an exact share left a third request of one
	// or two documents per batch, which waited for a free worker.
	if per := (total+s.cfg.Workers-1)/s.cfg.Workers + total/(8*s.cfg.Workers); per < maxBytes {
		maxBytes = max(per, minChunkBytes)
	}
	out := make([]verdict, len(items))
	var g errgroup.Group
	g.SetLimit(s.cfg.Workers)
	off := 0
	for _, chunk := range bulk.Chunks(ops, maxBytes) {
		dst := out[off : off+len(chunk)]
		off += len(chunk)
		g.Go(func() error {
			s.sendChunk(ctx, chunk, dst)
			return nil
		})
	}
	_ = g.Wait() // sendChunk reports through dst
	return out
}

func (s *Sink) sendChunk(ctx context.Context, ops []bulk.Op, dst []verdict) {
	body := bulk.Body(ops)
	start := time.Now()
	status, answer, err := s.engine.Bulk(ctx, body)
	outcome := "ok"
	fill := func(v verdict) {
		for i := range dst {
			dst[i] = v
		}
	}
	switch {
	case err != nil:
		outcome = "error"
		s.log.Warn("bulk request failed", "documents", len(ops), "error", err)
		fill(verdict{Class: bulk.Retry, Type: "connection", Reason: err.Error()})
	case status == 413 && len(ops) == 1:
		outcome = "error"
		fill(verdict{Class: bulk.Reject, Status: status, Reason: "document larger than the engine accepts (413)"})
	case status == 413:
		outcome = "error"
		fill(verdict{Class: bulk.Retry, Status: status, Type: "too_large"})
	case bulk.ClassifyRequest(status) != bulk.OK:
		outcome = "error"
		s.log.Warn("bulk request answered with an error", "documents", len(ops), "status", status, "answer", truncate(string(answer), 300))
		fill(verdict{Class: bulk.Retry, Status: status, Type: requestReason(status)})
	default:
		results, perr := bulk.Parse(answer, len(ops))
		if perr != nil {
			outcome = "error"
			s.log.Warn("unreadable bulk answer", "documents", len(ops), "error", perr)
			fill(verdict{Class: bulk.Retry, Status: status, Type: "bad_answer"})
			break
		}
		for i, r := range results {
			dst[i] = verdict{Class: r.Class, Status: r.Status, Reason: r.Reason, Type: itemReason(r), ErrType: r.Type}
			if r.Class != bulk.OK {
				outcome = "item_errors"
			}
		}
	}
	if s.metrics != nil {
		s.metrics.BulkDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
		s.metrics.BulkBytes.Observe(float64(len(body)))
		s.metrics.BulkDocuments.Observe(float64(len(ops)))
	}
}

// requestReason is the bounded metric label for a whole request that failed with status.
func requestReason(status int) string {
	switch {
	case status == 429:
		return "request_429"
	case status >= 500:
		return "request_5xx"
	default:
		return "request_" + strconv.Itoa(status/100) + "xx"
	}
}

// itemReason is the bounded metric label for an item that failed retryably.
func itemReason(r bulk.Result) string {
	switch {
	case r.Class != bulk.Retry:
		return ""
	case r.Status == 429:
		return "item_429"
	case r.Status >= 500:
		return "item_5xx"
	default:
		return "item_cluster"
	}
}

// ensureIndices creates the monthly indices items go to, once per index and process, so a
// cluster with automatic index creation disabled works too.
func (s *Sink) ensureIndices(ctx context.Context, items []*pending) error {
	for _, p := range items {
		s.mu.Lock()
		ok := s.known[p.op.Index]
		s.mu.Unlock()
		if ok {
			continue
		}
		if err := s.engine.EnsureIndex(ctx, p.op.Index); err != nil {
			return fmt.Errorf("ensuring index %s: %w", p.op.Index, err)
		}
		s.mu.Lock()
		s.known[p.op.Index] = true
		s.mu.Unlock()
	}
	return nil
}

func (s *Sink) acked(p *pending) {
	if s.metrics == nil {
		return
	}
	s.metrics.Produced.WithLabelValues(s.cfg.Names.Alias()).Inc()
	if !p.ingested.IsZero() {
		s.metrics.EndToEnd.Observe(s.now().Sub(p.ingested).Seconds())
	}
}

// deadLetter writes dead to the dead-letter topic, retrying until it is acknowledged or ctx ends.
func (s *Sink) deadLetter(ctx context.Context, dead []kafka.Message) error {
	if len(dead) == 0 {
		return nil
	}
	err := retry.Do(ctx, s.cfg.Backoff, func(ctx context.Context) error { return s.dlq.WriteMessages(ctx, dead...) },
		func(attempt int, err error, wait time.Duration) {
			s.log.Warn("writing dead letters failed; retrying", "messages", len(dead), "attempt", attempt, "wait", wait, "error", err)
		})
	if err != nil {
		return fmt.Errorf("writing %d dead letters: %w", len(dead), err)
	}
	return nil
}

func (s *Sink) countFailure(reason string) {
	if s.metrics != nil && reason != "" {
		s.metrics.Failed.WithLabelValues(reason).Inc()
	}
}

func (s *Sink) countDead(reason string) {
	if s.metrics != nil {
		s.metrics.DeadLettered.WithLabelValues(reason).Inc()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ErrBatchFull is what CappedFetcher answers instead of fetching once the messages held reach its
// limit; kafkax.Consumer then stops gathering and handles the batch in hand.
var ErrBatchFull = errors.New("in-flight byte limit reached")

// CappedFetcher bounds memory: it stops fetching once the messages fetched and not yet committed
// pass Limit bytes, and counts again from zero after each commit. (kafkax.Consumer handles one
// batch at a time, so everything fetched belongs to the batch being committed.)
type CappedFetcher struct {
	kafkax.Fetcher
	Limit int64
	Gauge interface{ Set(float64) } // may be nil

	held int64
	mu   sync.Mutex
}

// FetchMessage fetches the next message unless the byte limit is reached.
func (c *CappedFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	c.mu.Lock()
	full := c.Limit > 0 && c.held >= c.Limit
	c.mu.Unlock()
	if full {
		return kafka.Message{}, ErrBatchFull
	}
	m, err := c.Fetcher.FetchMessage(ctx)
	if err != nil {
		return m, err
	}
	c.mu.Lock()
	c.held += int64(len(m.Key) + len(m.Value))
	c.set(c.held)
	c.mu.Unlock()
	return m, nil
}

// CommitMessages commits and releases the bytes held.
func (c *CappedFetcher) CommitMessages(ctx context.Context, msgs ...kafka.Message) error {
	err := c.Fetcher.CommitMessages(ctx, msgs...)
	c.mu.Lock()
	c.held = 0
	c.set(0)
	c.mu.Unlock()
	return err
}

func (c *CappedFetcher) set(v int64) {
	if c.Gauge != nil {
		c.Gauge.Set(float64(v))
	}
}
