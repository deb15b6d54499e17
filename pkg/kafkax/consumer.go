package kafkax

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/retry"
)

// BatchHandler processes messages fetched in order from one consumer group. It returns nil only
// when the outcome of every message is durable: what it produced was acknowledged, or the message
// was dead-lettered. Only then are the offsets committed. A non-nil error commits nothing and the
// same batch is handed over again after a backoff, so handlers must be idempotent (newsflow's are:
// ids are deterministic, and the index writes by _id). Return retry.Permanent to stop the consumer.
type BatchHandler func(ctx context.Context, msgs []kafka.Message) error

// Fetcher is the part of *kafka.Reader the consumer loop uses; tests hand in fakes.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Consumer runs the fetch → handle → commit loop every consuming stage shares.
//
// With Depth 1 (the default) batches are processed one after another and committed whole. With
// Depth n, up to n batches are in the handler at once: the next batch is fetched and handed over
// while earlier ones are still being written, so the downstream system (the search engine, the
// next topic) is not left idle while one batch is fetched, prepared or committed. Commits stay in
// fetch order whatever the order in which handlers finish: a batch is committed only after it and
// every batch fetched before it succeeded. The reader hands out each partition's messages in
// offset order, so a commit never goes beyond the contiguous offsets whose results are durable
// (the same guarantee as Depth 1). A late commit after a rebalance can move a partition's
// committed offset back (kafka-go's commits are last-write-wins): that is redelivery, never loss.
type Consumer struct {
	Reader  Fetcher
	Handler BatchHandler
	Log     *slog.Logger
	// MaxBatch caps messages per batch (default 500); Linger is how long to wait for more
	// messages after the first one before handling a partial batch (default 20 ms).
	MaxBatch int
	Linger   time.Duration
	// Depth is how many batches may be handled at once (default 1). Above 1 the Handler is
	// called concurrently with different batches and must be safe for that; batches may then
	// finish out of order, so a handler writing the same key from two batches must not depend
	// on which lands last (the index writes with external versions, so the newer one wins).
	Depth int
	// MaxBatchBytes bounds memory: everything fetched and not yet committed (keys and values)
	// stays within it, plus at most one message per batch. Each of the Depth batches stops
	// gathering once it reaches MaxBatchBytes/Depth, so this is the stage's in-flight byte budget (with the reader's prefetch sized to it,
	// Config.NewReaderFor). The first message of a batch is always taken, so one record larger
	// than the cap still flows. 0: no cap.
	MaxBatchBytes int64
	// OnHeld, if set, is told the bytes held fetched and uncommitted whenever they change (for
	// a gauge such as newsflow_index_inflight_bytes).
	OnHeld func(bytes int64)
	// Backoff between attempts at a failing batch (defaults: 100 ms growing to 10 s).
	Backoff retry.Backoff
	// DrainTimeout bounds how long the batches in hand may take to finish after shutdown begins
	// (default 30 s); past it they are abandoned uncommitted and will be redelivered.
	DrainTimeout time.Duration
	// OnRetry, if set, is told about each failed attempt (for metrics).
	OnRetry func(err error)
	// OnCommitError, if set, is told about a commit that still failed after its retries (for
	// metrics: failed_total{reason="commit"}). The batch is not lost, it is redelivered, but a
	// commit failing batch after batch means the group re-processes everything and must show.
	OnCommitError func(err error)
	// OnFetchError, if set, is told about each error FetchMessage reported (for metrics:
	// failed_total{reason="fetch"}). kafka-go reports a partition leader it cannot reach, or a
	// group it cannot rejoin, and goes on trying, so the consumer waits (Backoff) and fetches
	// again instead of stopping the stage; only a closed reader (io.EOF) and a refusal of the
	// stage's credentials or rights (fatalFetch) end Run.
	OnFetchError func(err error)

	heldMu sync.Mutex
	held   int64
}

// flight is one batch handed to the handler and not yet committed.
type flight struct {
	batch []kafka.Message
	bytes int64
	done  chan struct{} // closed when the handler returned; err is set before
	err   error
}

// Run consumes until ctx is done, then finishes the batches in hand (bounded by DrainTimeout),
// commits them and returns nil. It returns an error only when the handler gave up permanently
// (after the batches fetched before it were finished and committed) or the reader was closed
// (after the batches in hand finished, bounded by DrainTimeout).
func (c *Consumer) Run(ctx context.Context) error {
	maxBatch, linger, drain, depth := c.MaxBatch, c.Linger, c.DrainTimeout, c.Depth
	if maxBatch <= 0 {
		maxBatch = 500
	}
	if linger <= 0 {
		linger = 20 * time.Millisecond
	}
	if drain <= 0 {
		drain = 30 * time.Second
	}
	depth = max(depth, 1)
	batchBytes := c.MaxBatchBytes
	if batchBytes > 0 {
		batchBytes = max(batchBytes/int64(depth), 1)
	}
	// work lives past ctx so that batches already fetched are finished and committed on
	// shutdown; it ends DrainTimeout after ctx, or at once when a batch failed for good.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(drain, cancelWork) })
	defer stop()
	// fetching ends with ctx, or when the committer saw a batch fail for good.
	fetching, stopFetching := context.WithCancel(ctx)
	defer stopFetching()

	// slots bounds the batches fetched and not yet committed; queue carries them, in fetch
	// order, to the committer.
	slots := make(chan struct{}, depth)
	queue := make(chan *flight, depth)
	committed := make(chan error, 1)
	go func() {
		committed <- c.commitInOrder(work, queue, slots, func() { stopFetching(); cancelWork() })
	}()

	var fetchErr error
	for fetchErr == nil && fetching.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-fetching.Done():
			continue
		}
		var batch []kafka.Message
		var n int64
		batch, n, fetchErr = c.gather(fetching, maxBatch, batchBytes, linger)
		if len(batch) == 0 {
			<-slots
			break
		}
		f := &flight{batch: batch, bytes: n, done: make(chan struct{})}
		go func() {
			defer close(f.done)
			f.err = c.handle(work, f.batch)
			if f.err != nil && work.Err() == nil {
				// Failed for good: fetch nothing more. The batches before it may still
				// finish and commit; the committer stops everything when it reaches this one.
				stopFetching()
			}
		}()
		queue <- f // never blocks: at most depth flights exist, each holding a slot
	}
	// The reader was closed (or refused the stage) under a running consumer: the batches in
	// hand get the drain deadline, as on shutdown (their commits will most likely fail:
	// redelivered).
	readerFailed := fetchErr != nil && ctx.Err() == nil && fetching.Err() == nil
	if readerFailed {
		time.AfterFunc(drain, cancelWork)
	}
	close(queue)
	if err := <-committed; err != nil {
		return err
	}
	if readerFailed {
		return fmt.Errorf("fetching: %w", fetchErr)
	}
	return nil
}

// gather fetches one batch: it waits for a first message, then takes more until the batch is
// full (maxBatch messages or maxBytes), linger has passed or ctx ends. It returns the batch, its
// bytes, and the error that ended the wait for a first message (nil when it got one): ctx's, or
// io.EOF from a closed reader. Other fetch errors are reported, waited out and fetched past.
func (c *Consumer) gather(ctx context.Context, maxBatch int, maxBytes int64, linger time.Duration) ([]kafka.Message, int64, error) {
	m, err := c.Reader.FetchMessage(ctx)
	for failures := 1; err != nil; failures++ {
		if ctx.Err() != nil || errors.Is(err, io.EOF) || fatalFetch(err) {
			return nil, 0, err
		}
		wait := c.Backoff.Delay(failures)
		c.fetchFailed(err, "fetching failed; fetching again", "failures", failures, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, 0, ctx.Err()
		case <-t.C:
		}
		m, err = c.Reader.FetchMessage(ctx)
	}
	batch := make([]kafka.Message, 1, min(maxBatch, 64))
	batch[0] = m
	n := messageBytes(m)
	c.addHeld(n)
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for len(batch) < maxBatch && (maxBytes <= 0 || n < maxBytes) {
		m, err := c.Reader.FetchMessage(lctx)
		if err != nil {
			if lctx.Err() == nil { // a reader error: reported once, so report it here
				c.fetchFailed(err, "fetching failed; handling the batch gathered so far", "messages", len(batch))
			}
			break // linger over, shutdown, or a reader error
		}
		b := messageBytes(m)
		batch = append(batch, m)
		n += b
		c.addHeld(b)
	}
	return batch, n, nil
}

// fetchFailed logs a fetch error the consumer goes on past (msg and attrs say how) and counts it.
func (c *Consumer) fetchFailed(err error, msg string, attrs ...any) {
	c.Log.Warn(msg, append(attrs, "error", err)...)
	if c.OnFetchError != nil {
		c.OnFetchError(err)
	}
}

// fatalFetch tells the fetch errors no wait heals: the broker refuses the stage's credentials or
// their rights to the topic or group. The stage stops with the error (its supervisor shows it)
// rather than retry quietly.
func fatalFetch(err error) bool {
	for _, e := range []kafka.Error{kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed,
		kafka.ClusterAuthorizationFailed, kafka.SASLAuthenticationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// handle runs the handler on batch until it succeeds, fails for good or ctx ends.
func (c *Consumer) handle(ctx context.Context, batch []kafka.Message) error {
	return retry.Do(ctx, c.Backoff, func(wctx context.Context) error { return c.Handler(wctx, batch) },
		func(attempt int, err error, wait time.Duration) {
			c.Log.Warn("batch failed; retrying", "attempt", attempt, "messages", len(batch), "wait", wait, "error", err)
			if c.OnRetry != nil {
				c.OnRetry(err)
			}
		})
}

// commitInOrder takes the flights in fetch order, waits for each and commits it. The first batch
// that did not succeed ends committing: nothing fetched after it is committed either (its
// offsets would cover the failed one's), and abort stops fetching and the other handlers. It
// returns the handler's error when a batch failed for good, nil when shutdown abandoned it.
func (c *Consumer) commitInOrder(work context.Context, queue <-chan *flight, slots <-chan struct{}, abort func()) error {
	var failed error
	abandoned := 0
	for f := range queue {
		<-f.done
		switch {
		case failed != nil: // an earlier batch failed for good: the service stops
		case abandoned > 0 || f.err != nil && work.Err() != nil:
			abandoned++ // past the drain deadline: this and every later batch is redelivered
		case f.err != nil:
			failed = fmt.Errorf("handling batch of %d: %w", len(f.batch), f.err)
			abort()
		default:
			c.commit(work, f.batch)
		}
		c.addHeld(-f.bytes)
		<-slots
	}
	if abandoned > 0 {
		c.Log.Warn("shutdown deadline passed with batches unfinished; they will be redelivered", "batches", abandoned)
	}
	return failed
}

// addHeld changes the bytes held by d and reports the total.
func (c *Consumer) addHeld(d int64) {
	c.heldMu.Lock()
	defer c.heldMu.Unlock()
	c.held += d
	if c.OnHeld != nil {
		c.OnHeld(c.held)
	}
}

func messageBytes(m kafka.Message) int64 { return int64(len(m.Key) + len(m.Value)) }

// commit commits batch, retrying briefly. A commit that still fails (typically because a
// rebalance moved the partition) is logged, not fatal: the new owner redelivers those messages
// and the idempotent stages absorb the repeat.
func (c *Consumer) commit(ctx context.Context, batch []kafka.Message) {
	err := retry.Do(ctx, retry.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Attempts: 5},
		func(cctx context.Context) error { return c.Reader.CommitMessages(cctx, batch...) }, nil)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.Log.Warn("committing offsets failed; the messages will be redelivered", "messages", len(batch), "error", err)
		if c.OnCommitError != nil {
			c.OnCommitError(err)
		}
	}
}
