// Package sink writes batches of enriched-article messages to the search engine and reports a
// batch done only when every message in it is durable: its document acknowledged by the engine,
// or the message written to the dead-letter topic. That is the guarantee Jaeger's ingester lacked
// (jaeger #8476): pkg/kafkax.Consumer commits a batch's offsets only after Handle returns nil.
//
// Retryable failures (connection errors, 429, 5xx, for the whole request or single items) are
// retried with capped exponential backoff and jitter, only for the items that failed, until they
// succeed or shutdown's drain deadline passes; they are never dropped.
//
// Nothing one record can cause stalls the batch: every outcome is a verdict per item. A
// publication date outside the configured window, a document the engine rejects, and a
// document whose index the engine refuses to create (after CreateAttempts attempts; a shard
// limit, say) are dead-lettered with the reason while the rest of the batch is indexed and
// committed. A 409 external-version conflict means the engine holds the same or a newer version
// already: the item is done ("superseded").
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/newsflow/newsflow/pkg/kafkax"
	"github.com/newsflow/newsflow/pkg/retry"
	"github.com/newsflow/newsflow/pkg/search"
	"github.com/newsflow/newsflow/pkg/tracing"
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
	// An engine's error answer comes back as a *search.HTTPError (status and body), which the
	// sink classifies with bulk.ClassifyIndexCreation.
	EnsureIndex(ctx context.Context, index string) error
}

// Stories decides the near-duplicate and story fields of a batch's documents in place; an error
// is a failed lookup, retried with Backoff (stories.Assigner implements it).
type Stories interface {
	Assign(ctx context.Context, docs []*document.Document) error
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
	// Workers is how many _bulk requests run at once, across every batch in hand: with the
	// consumer's Depth above 1 the next batch is prepared while these are in flight and takes
	// the first free worker, so the engine is not left waiting for a fetch or a prepare.
	Workers int
	// Backoff between attempts at the items that failed retryably.
	Backoff retry.Backoff
	// DLQWriteTimeout bounds one attempt at writing dead letters (kafkax.Config.PublishTimeout;
	// 0: no bound of its own).
	DLQWriteTimeout time.Duration
	// Topic labels the received metric.
	Topic string
	// Window bounds the publication times written, and so the indices the stage can create;
	// zero fields take schema.DefaultFloor and schema.DefaultFuture.
	Window schema.Window
	// CreateAttempts is how many attempts an index creation the engine refuses with a 4xx gets
	// within one batch before the documents meant for that index are dead-lettered (default 3).
	CreateAttempts int
	// Stories decides duplicate_of and story_id of each batch before it is written
	// (internal/stories); nil leaves every document an original of its own story, and writes
	// no similarity fields (minhash, near_bands, story_bands): nothing reads them then, and
	// their 58 band keys a document took the engine about half its indexing throughput
	// (make bench: plain _bulk of the same documents, 3,971 docs/s with them).
	Stories Stories
	// RefusalMemory is how long an index whose creation was refused CreateAttempts times is
	// not asked for again: its documents in later batches are dead-lettered at once with the
	// same reason, instead of costing every batch CreateAttempts doomed requests and backoffs
	// (default 1m; negative: ask every batch).
	RefusalMemory time.Duration
	// Tracer records one "index bulk" span per _bulk request, linked to the trace context of
	// the records it carries (up to maxBulkLinks: one request carries many articles' traces), and per record an
	// "index document" span in the article's own trace, from the request to its answer. nil:
	// tracing off; the records' headers are not read.
	Tracer trace.Tracer
}

// refusal is an index creation the engine refused, remembered until until.
type refusal struct {
	until   time.Time
	verdict verdict
}

// Sink indexes batches. Handle is safe for concurrent use (the consumer hands over up to Depth
// batches at once); all of them together run at most Workers _bulk requests at a time.
type Sink struct {
	cfg     Config
	engine  Engine
	dlq     DeadLetters
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time

	mu      sync.Mutex
	known   map[string]bool    // indices known to exist
	refused map[string]refusal // indices the engine refused to create lately

	creds credentials // a streak of whole requests refused with 401/403

	workers chan struct{} // one token per _bulk request in flight, across batches
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
	if cfg.Window.Floor.IsZero() {
		cfg.Window.Floor = schema.DefaultFloor
	}
	if cfg.Window.Future <= 0 {
		cfg.Window.Future = schema.DefaultFuture
	}
	if cfg.CreateAttempts <= 0 {
		cfg.CreateAttempts = 3
	}
	if cfg.RefusalMemory == 0 {
		cfg.RefusalMemory = time.Minute
	}
	if m == nil { // never nil inside the sink: a caller that does not read them gets a private set
		m = NewMetrics(prometheus.NewRegistry())
	}
	return &Sink{cfg: cfg, engine: engine, dlq: dlq, log: log, metrics: m, now: time.Now, known: map[string]bool{}, refused: map[string]refusal{}, workers: make(chan struct{}, cfg.Workers)}
}

// pending is one document on its way to the engine.
type pending struct {
	doc      *document.Document // until encoded into op.Source
	op       bulk.Op
	msg      kafka.Message
	ingested time.Time
	// sc is the record's trace context (enrich's span), nil when tracing is off: a pointer, so
	// that the untraced path carries 8 bytes per record, not a SpanContext's 56.
	sc *trace.SpanContext
}

// Handle indexes msgs and returns nil only when every one is acknowledged or dead-lettered. It
// returns an error only when ctx ends first; then nothing may be committed.
func (s *Sink) Handle(ctx context.Context, msgs []kafka.Message) error {
	start := time.Now()
	items, dead := s.prepare(msgs)
	if err := s.assign(ctx, items); err != nil {
		return err
	}
	items, dead = s.encode(items, dead)

	var err error
	dead, err = s.index(ctx, items, dead)
	if err != nil {
		return err
	}
	if err := s.deadLetter(ctx, dead); err != nil {
		return err
	}
	s.metrics.Latency.WithLabelValues("batch").Observe(time.Since(start).Seconds())
	return nil
}

// prepare decodes and maps msgs. Undecodable ones, and those published outside the window,
// become dead letters. When one batch holds the same article twice only the newer version (the
// later message among equal versions) is written: the engine would refuse the older one as
// superseded anyway, and unversioned writes retried one by one could let the older overwrite
// the newer.
func (s *Sink) prepare(msgs []kafka.Message) ([]*pending, []kafka.Message) {
	now := s.now()
	var items []*pending
	var dead []kafka.Message
	byID := map[string]int{}
	for _, m := range msgs {
		s.metrics.Received.WithLabelValues(s.cfg.Topic).Inc()
		e, err := document.Decode(m.Value)
		if err != nil {
			s.log.Warn("undecodable message; dead-lettering", "partition", m.Partition, "offset", m.Offset, "error", err)
			s.countFailure("invalid")
			dead = append(dead, kafkax.DeadLetter(m, Stage, err.Error()))
			s.countDead("invalid")
			continue
		}
		// Whatever reaches the topic, a date outside the window creates no index: an article
		// each of 1,100 months apart once made the stage create indices until the node's shard
		// limit refused more.
		if err := s.cfg.Window.Check(e.PublishedAt, now); err != nil {
			s.log.Warn("publication date outside the indexed window; dead-lettering", "partition", m.Partition, "offset", m.Offset, "error", err)
			s.countFailure("out_of_range")
			dead = append(dead, kafkax.DeadLetter(m, Stage, "no index for this document: "+err.Error()))
			s.countDead("out_of_range")
			continue
		}
		doc := document.From(e, now)
		if s.cfg.Stories == nil {
			doc.MinHash, doc.NearBands, doc.StoryBands = "", nil, nil
		}
		op := bulk.Op{Index: doc.Index(s.cfg.Names, s.cfg.Version), ID: doc.ID, Version: document.Version(e)}
		p := &pending{doc: &doc, op: op, msg: m, ingested: e.IngestedAt}
		if s.cfg.Tracer != nil {
			if sc := recordContext(m.Headers); sc.IsValid() {
				p.sc = &sc
			}
		}
		if i, ok := byID[doc.ID]; ok {
			if items[i].op.Version <= op.Version {
				items[i] = p
			}
			continue
		}
		byID[doc.ID] = len(items)
		items = append(items, p)
	}
	return items, dead
}

// assign decides duplicate_of and story_id for the batch (one lookup for all of it), retrying a
// failed lookup with Backoff until ctx ends: writing without it would make every article of the
// batch an original for good.
func (s *Sink) assign(ctx context.Context, items []*pending) error {
	if s.cfg.Stories == nil || len(items) == 0 {
		return nil
	}
	docs := make([]*document.Document, len(items))
	for i, p := range items {
		docs[i] = p.doc
	}
	start := time.Now()
	b := s.cfg.Backoff
	b.Attempts = 0 // until ctx ends, whatever the bulk retries are bounded by
	err := retry.Do(ctx, b, func(ctx context.Context) error { return s.cfg.Stories.Assign(ctx, docs) },
		func(attempt int, err error, wait time.Duration) {
			s.countFailure("stories")
			s.log.Warn("looking up near-duplicates and stories failed; retrying", "documents", len(docs), "attempt", attempt, "wait", wait, "error", err)
		})
	if err != nil {
		return fmt.Errorf("looking up near-duplicates and stories of %d documents: %w", len(docs), err)
	}
	s.metrics.StoriesLookup.Observe(time.Since(start).Seconds())
	s.metrics.StoriesDocuments.Add(float64(len(docs)))
	return nil
}

// encode writes each item's document into its op; one JSON cannot hold becomes a dead letter.
func (s *Sink) encode(items []*pending, dead []kafka.Message) ([]*pending, []kafka.Message) {
	kept := items[:0]
	for _, p := range items {
		// AppendJSON, not json.Marshal: the reflection cost a quarter of the stage's CPU.
		src, err := p.doc.AppendJSON(nil)
		if err != nil { // only for values JSON cannot hold; the message can never be indexed
			dead = append(dead, kafkax.DeadLetter(p.msg, Stage, "encoding document: "+err.Error()))
			s.countDead("invalid")
			continue
		}
		p.op.Source, p.doc = src, nil
		kept = append(kept, p)
	}
	return kept, dead
}

// index sends items until each is acknowledged, superseded or rejected; rejected ones are added
// to dead.
func (s *Sink) index(ctx context.Context, items []*pending, dead []kafka.Message) ([]kafka.Message, error) {
	maxBytes := s.cfg.FlushBytes
	refusals := map[string]int{} // index -> attempts at creating it the engine refused
	for attempt := 1; len(items) > 0; attempt++ {
		var retryItems []*pending
		var reason string
		tooLarge := false
		res := s.attempt(ctx, items, maxBytes, refusals)
		for i, p := range items {
			r := res[i]
			switch r.Class {
			case bulk.OK:
				s.acked(p)
			case bulk.Superseded:
				s.superseded(p)
			case bulk.Reject:
				label, why := "rejected", fmt.Sprintf("search engine rejected the document (%d): %s", r.Status, r.Reason)
				if r.Type == "index_creation" {
					label, why = r.Type, r.Reason
				}
				s.log.WarnContext(p.logContext(ctx), "document rejected by the engine; dead-lettering", "index", p.op.Index,
					"partition", p.msg.Partition, "offset", p.msg.Offset, "status", r.Status, "error", r.Reason)
				s.countFailure(label)
				dead = append(dead, kafkax.DeadLetter(p.msg, Stage, why))
				s.countDead(label)
			default:
				retryItems = append(retryItems, p)
				reason = r.Type
				s.countFailure(r.Type)
				s.metrics.Retries.WithLabelValues(r.Type).Inc()
				tooLarge = tooLarge || r.Type == "too_large"
				if r.ErrType == "index_not_found_exception" { // deleted under us: create it again
					s.mu.Lock()
					delete(s.known, p.op.Index)
					s.mu.Unlock()
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

// attempt is one try at items: it sends the items whose index is known to exist at once and,
// meanwhile, creates the indices of the others, then sends those whose index now exists. It
// returns one verdict per item in order. An item whose index could not be created gets that
// failure as its verdict (see ensureIndices), so it never holds up the others: a batch of
// archive articles needing dozens of new indices does not delay the current news beside it.
func (s *Sink) attempt(ctx context.Context, items []*pending, maxBytes int, refusals map[string]int) []verdict {
	out := make([]verdict, len(items))
	var ready, fresh []int // positions in items: index known to exist, index to be ensured
	s.mu.Lock()
	for i, p := range items {
		if s.known[p.op.Index] {
			ready = append(ready, i)
		} else {
			fresh = append(fresh, i)
		}
	}
	s.mu.Unlock()
	sendAt := func(at []int) {
		if len(at) == 0 {
			return
		}
		batch := make([]*pending, len(at))
		for j, i := range at {
			batch[j] = items[i]
		}
		for j, v := range s.send(ctx, batch, maxBytes) {
			out[at[j]] = v
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sendAt(ready)
	}()
	if len(fresh) > 0 {
		batch := make([]*pending, len(fresh))
		for j, i := range fresh {
			batch[j] = items[i]
		}
		failed := s.ensureIndices(ctx, batch, refusals)
		var created []int
		for _, i := range fresh {
			if v, ok := failed[items[i].op.Index]; ok {
				out[i] = v
			} else {
				created = append(created, i)
			}
		}
		sendAt(created)
	}
	<-done
	return out
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

// send writes items in chunks of at most maxBytes, Workers at a time (across batches), and returns
// one verdict per item in order. A batch smaller than maxBytes per idle worker is split between
// the idle workers (chunks of at least minChunkBytes) so that the engine works on it in
// parallel: sent whole, one batch at a time, the index stage ran at half the speed of a plain
// _bulk client. When other batches keep workers busy (the consumer's Depth), the batch goes in
// as few requests as maxBytes allows: every request costs the engine a translog sync per index
// it touches, so smaller requests than needed only cost throughput.
func (s *Sink) send(ctx context.Context, items []*pending, maxBytes int) []verdict {
	ops := make([]bulk.Op, len(items))
	var scs []trace.SpanContext // parallel to ops when tracing
	if s.cfg.Tracer != nil {
		scs = make([]trace.SpanContext, len(items))
	}
	total := 0
	for i, p := range items {
		ops[i] = p.op
		total += p.op.Size()
		if scs != nil && p.sc != nil {
			scs[i] = *p.sc
		}
	}
	parts := max(s.cfg.Workers-len(s.workers), 1) // workers idle now; a hint, not a reservation
	// 1/8 slack: documents do not divide evenly, and an exact share left a third request of one
	// or two documents per batch, which waited for a free worker.
	if per := (total+parts-1)/parts + total/(8*parts); per < maxBytes {
		maxBytes = max(per, minChunkBytes)
	}
	// Unsent until a request answers: the zero verdict is bulk.OK, and a document no request
	// carried must never count as indexed.
	out := make([]verdict, len(items))
	for i := range out {
		out[i] = verdict{Class: bulk.Retry, Type: "connection", Reason: "not sent"}
	}
	var g errgroup.Group
	g.SetLimit(s.cfg.Workers)
	off := 0
	for _, chunk := range bulk.Chunks(ops, maxBytes) {
		dst := out[off : off+len(chunk)]
		var chunkSCs []trace.SpanContext
		if scs != nil {
			chunkSCs = scs[off : off+len(chunk)]
		}
		off += len(chunk)
		g.Go(func() error {
			select {
			case s.workers <- struct{}{}:
			case <-ctx.Done():
				for i := range dst {
					dst[i] = verdict{Class: bulk.Retry, Type: "connection", Reason: ctx.Err().Error()}
				}
				return nil
			}
			defer func() { <-s.workers }()
			s.sendChunk(ctx, chunk, chunkSCs, dst)
			return nil
		})
	}
	_ = g.Wait() // sendChunk reports through dst
	return out
}

func (s *Sink) sendChunk(ctx context.Context, ops []bulk.Op, scs []trace.SpanContext, dst []verdict) {
	body := bulk.Body(ops)
	start := time.Now()
	var span trace.Span
	if s.cfg.Tracer != nil {
		ctx, span = s.startBulkSpan(ctx, len(ops), len(body), scs)
	}
	status, answer, err := s.engine.Bulk(ctx, body)
	outcome := "ok"
	if span != nil {
		defer func() { s.endBulkSpan(span, start, ops, scs, dst, status, outcome, err) }()
	}
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
	case status == 401 || status == 403:
		// Retried like any whole-request failure, but logged once per streak as what it is.
		outcome = "error"
		s.creds.refused(s.log, status, search.Truncate(string(answer), 300))
		fill(verdict{Class: bulk.Retry, Status: status, Type: requestReason(status)})
	case bulk.ClassifyRequest(status) != bulk.OK:
		outcome = "error"
		s.log.Warn("bulk request answered with an error", "documents", len(ops), "status", status, "answer", search.Truncate(string(answer), 300))
		fill(verdict{Class: bulk.Retry, Status: status, Type: requestReason(status)})
	default:
		s.creds.accepted(s.log)
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
	s.metrics.BulkDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	s.metrics.BulkBytes.Observe(float64(len(body)))
	s.metrics.BulkDocuments.Observe(float64(len(ops)))
}

// requestReason is the bounded metric label for a whole request that failed with status.
func requestReason(status int) string {
	switch {
	case status == 429:
		return "request_429"
	case status >= 500:
		return "request_5xx"
	case status == 401 || status == 403:
		return credentialsReason(status) // unauthorized, forbidden
	case status == 404:
		return "not_found" // a wrong --search-url path, or a proxy in front of the engine
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

// ensureIndices creates the indices items go to, once per index and process, so a cluster with
// automatic index creation disabled works too. It returns the verdict for the items of each
// index it could not create: Retry for what may pass (connection errors, 5xx, 429, credentials,
// cluster blocks; retried as long as it takes, as before), and for a refusal (any other 4xx,
// such as validation_exception "maximum shards open") Retry until the index was refused
// CreateAttempts times in this batch, then Reject with the engine's reason, so that those
// documents are dead-lettered and the rest of the batch commits instead of retrying forever.
// That Reject is remembered for RefusalMemory: later batches are answered at once.
// Indices are created up to createWorkers at a time: a batch of archive articles can need
// dozens, and one at a time they took seconds.
func (s *Sink) ensureIndices(ctx context.Context, items []*pending, refusals map[string]int) map[string]verdict {
	var todo []string
	seen := map[string]bool{}
	failed := map[string]verdict{}
	now := s.now()
	s.mu.Lock()
	for _, p := range items {
		idx := p.op.Index
		if s.known[idx] || seen[idx] {
			continue
		}
		seen[idx] = true
		if r, ok := s.refused[idx]; ok && now.Before(r.until) {
			failed[idx] = r.verdict
			continue
		}
		todo = append(todo, idx)
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		return failed
	}
	errs := make([]error, len(todo))
	var g errgroup.Group
	g.SetLimit(createWorkers)
	for i, idx := range todo {
		g.Go(func() error {
			errs[i] = s.engine.EnsureIndex(ctx, idx)
			return nil
		})
	}
	_ = g.Wait() // the errors are in errs
	for i, idx := range todo {
		err := errs[i]
		status, errType, reason := creationError(err)
		class := bulk.OK
		if err != nil {
			class = bulk.ClassifyIndexCreation(status, errType)
		}
		switch class {
		case bulk.OK:
			s.mu.Lock()
			s.known[idx] = true
			delete(s.refused, idx)
			s.mu.Unlock()
			continue
		case bulk.Reject:
			refusals[idx]++
			// A cluster-wide limit ("… maximum shards open") does not lift between attempts a
			// second apart, and every index of an archive batch meets it: one round of requests
			// decides, and RefusalMemory asks again later. Other refusals get CreateAttempts.
			if clusterLimit(reason) {
				refusals[idx] = max(refusals[idx], s.cfg.CreateAttempts)
			}
			if refusals[idx] >= s.cfg.CreateAttempts {
				s.log.Warn("the engine refused to create an index; dead-lettering its documents", "index", idx,
					"attempts", refusals[idx], "status", status, "error", reason)
				v := verdict{Class: bulk.Reject, Status: status, Type: "index_creation",
					Reason: fmt.Sprintf("search engine refused to create index %s (%d, %d attempts): %s", idx, status, refusals[idx], reason)}
				failed[idx] = v
				if s.cfg.RefusalMemory > 0 {
					s.mu.Lock()
					s.refused[idx] = refusal{until: s.now().Add(s.cfg.RefusalMemory), verdict: v}
					s.mu.Unlock()
				}
				continue
			}
		}
		s.log.Warn("creating index failed; retrying its documents", "index", idx, "status", status, "error", reason)
		failed[idx] = verdict{Class: bulk.Retry, Status: status, Type: "ensure_index", Reason: reason}
	}
	return failed
}

// clusterLimit tells a refusal for the cluster's shard limit (Elasticsearch and OpenSearch:
// "this action would add [2] shards, but this cluster currently has [1000]/[1000] maximum
// shards open") from one about the index itself (an invalid name).
func clusterLimit(reason string) bool { return strings.Contains(reason, "shards open") }

// createWorkers is how many index creations ensureIndices runs at once. The engine's master
// applies them one cluster-state update after another, but batches what is queued together.
const createWorkers = 8

// creationError is what EnsureIndex's error says: the engine's status, error type and reason
// for an error answer, status 0 and the error itself for a transport failure.
func creationError(err error) (status int, errType, reason string) {
	if err == nil {
		return 0, "", ""
	}
	var he *search.HTTPError
	if errors.As(err, &he) {
		errType, reason = bulk.ParseError(he.Body)
		if reason == "" {
			reason = search.Truncate(he.Body, 300)
		}
		return he.Status, errType, reason
	}
	return 0, "", err.Error()
}

// superseded counts a document the engine already held in this version or a newer one.
func (s *Sink) superseded(p *pending) {
	s.metrics.Superseded.Inc()
}

func (s *Sink) acked(p *pending) {
	s.metrics.Produced.WithLabelValues(s.cfg.Names.Alias()).Inc()
	if !p.ingested.IsZero() {
		v := s.now().Sub(p.ingested).Seconds()
		// A sampled trace id on the histogram (an exemplar, exposed in the OpenMetrics format)
		// leads from a latency spike on the dashboard to one article's trace.
		if eo, ok := s.metrics.EndToEnd.(prometheus.ExemplarObserver); ok && p.sc != nil && p.sc.IsSampled() {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": p.sc.TraceID().String()})
		} else {
			s.metrics.EndToEnd.Observe(v)
		}
	}
}

// deadLetter writes dead to the dead-letter topic, retrying until it is acknowledged or ctx ends.
func (s *Sink) deadLetter(ctx context.Context, dead []kafka.Message) error {
	if len(dead) == 0 {
		return nil
	}
	// Only what Kafka did not acknowledge is written again: a dead letter lands in the DLQ once.
	err := kafkax.WriteAcked(ctx, s.dlq, dead, s.cfg.Backoff, s.cfg.DLQWriteTimeout, func(err error, left int) {
		s.log.Warn("writing dead letters failed; retrying what was not acknowledged", "messages", left, "error", err)
		s.countFailure("dlq") // the NewsflowDeadLetterWritesFailing alert watches it
	})
	if err != nil {
		return fmt.Errorf("writing %d dead letters: %w", len(dead), err)
	}
	return nil
}

func (s *Sink) countFailure(reason string) {
	if reason != "" {
		s.metrics.Failed.WithLabelValues(reason).Inc()
	}
}

func (s *Sink) countDead(reason string) {
	s.metrics.DeadLettered.WithLabelValues(reason).Inc()
}

// recordContext is the trace context a record's headers carry (enrich's span), or the zero one.
// Apart from prepare so that only this copy of the headers escapes to the carrier.
func recordContext(hs []kafka.Header) trace.SpanContext {
	return trace.SpanContextFromContext(tracing.Extract(context.Background(), kafkax.HeaderCarrier{Headers: &hs}))
}

// logContext is ctx with the item's trace context, so that a log line about it carries its
// trace_id; ctx itself when it has none.
func (p *pending) logContext(ctx context.Context) context.Context {
	if p.sc == nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, *p.sc)
}

// maxBulkLinks is how many of its records' traces a bulk span links to: the SDK keeps 128
// links a span by default and drops the rest, so a 2,000-record request links its first 128
// (newsflow.bulk.documents says how many it carried). Every record's own trace links back to
// the request through its "index document" span, which is the direction an operator follows.
const maxBulkLinks = 128

// startBulkSpan starts the span of one _bulk request: a root of its own (the request belongs to
// no one article), linked to the trace context of its first records (maxBulkLinks).
func (s *Sink) startBulkSpan(ctx context.Context, docs, bytes int, scs []trace.SpanContext) (context.Context, trace.Span) {
	links := make([]trace.Link, 0, min(len(scs), maxBulkLinks))
	for _, sc := range scs {
		if len(links) == maxBulkLinks {
			break
		}
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return s.cfg.Tracer.Start(ctx, "index bulk", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("newsflow.bulk.documents", docs), attribute.Int("newsflow.bulk.bytes", bytes)))
}

// endBulkSpan ends the bulk span and records, in each record's own trace, an "index document"
// span over the same interval, linked to the bulk span, with the item's verdict: the article's
// trace shows when its document was written and how the engine answered.
func (s *Sink) endBulkSpan(span trace.Span, start time.Time, ops []bulk.Op, scs []trace.SpanContext, dst []verdict, status int, outcome string, err error) {
	end := time.Now()
	span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("newsflow.outcome", outcome))
	if err != nil {
		span.RecordError(err)
	}
	if outcome != "ok" {
		span.SetStatus(codes.Error, outcome)
	}
	span.End(trace.WithTimestamp(end))
	bulkLink := trace.Link{SpanContext: span.SpanContext()}
	for i, sc := range scs {
		if !sc.IsValid() {
			continue
		}
		v := dst[i]
		_, ds := s.cfg.Tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), sc), "index document",
			trace.WithTimestamp(start), trace.WithLinks(bulkLink), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("newsflow.article.id", ops[i].ID), attribute.String("newsflow.index", ops[i].Index),
				attribute.String("newsflow.verdict", v.Class.String()), attribute.Int("newsflow.item.status", v.Status)))
		if v.Class != bulk.OK && v.Class != bulk.Superseded {
			ds.SetStatus(codes.Error, v.Reason)
		}
		ds.End(trace.WithTimestamp(end))
	}
}
