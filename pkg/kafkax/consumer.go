package kafkax

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Consumer runs the fetch → handle → commit loop every consuming stage shares. Batches are
// processed one after another and committed whole, so a commit always covers exactly the
// contiguous offsets whose results are durable (the highest contiguous offset per partition).
type Consumer struct {
	Reader  Fetcher
	Handler BatchHandler
	Log     *slog.Logger
	// MaxBatch caps messages per batch (default 500); Linger is how long to wait for more
	// messages after the first one before handling a partial batch (default 20 ms).
	MaxBatch int
	Linger   time.Duration
	// MaxBatchBytes bounds memory: a batch stops gathering once its messages (keys and values)
	// reach it. A batch is everything fetched and not yet committed, so this is the stage's
	// in-flight byte budget (with the reader's prefetch sized to it, Config.NewReaderFor). The
	// first message is always taken, so one record larger than the cap still flows. 0: no cap.
	MaxBatchBytes int64
	// OnHeld, if set, is told the bytes held fetched and uncommitted whenever they change (for
	// a gauge such as newsflow_index_inflight_bytes).
	OnHeld func(bytes int64)
	// Backoff between attempts at a failing batch (defaults: 100 ms growing to 10 s).
	Backoff retry.Backoff
	// DrainTimeout bounds how long the batch in hand may take to finish after shutdown begins
	// (default 30 s); past it the batch is abandoned uncommitted and will be redelivered.
	DrainTimeout time.Duration
	// OnRetry, if set, is told about each failed attempt (for metrics).
	OnRetry func(err error)
	// OnCommitError, if set, is told about a commit that still failed after its retries (for
	// metrics: failed_total{reason="commit"}). The batch is not lost, it is redelivered, but a
	// commit failing batch after batch means the group re-processes everything and must show.
	OnCommitError func(err error)
}

// Run consumes until ctx is done, then finishes the batch in hand (bounded by DrainTimeout),
// commits it and returns nil. It returns an error only when the handler gave up permanently or the
// reader failed for good.
func (c *Consumer) Run(ctx context.Context) error {
	maxBatch, linger, drain := c.MaxBatch, c.Linger, c.DrainTimeout
	if maxBatch <= 0 {
		maxBatch = 500
	}
	if linger <= 0 {
		linger = 20 * time.Millisecond
	}
	if drain <= 0 {
		drain = 30 * time.Second
	}
	// work lives past ctx so that a batch already fetched is finished and committed on shutdown.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(drain, cancelWork) })
	defer stop()

	batch := make([]kafka.Message, 0, maxBatch)
	for {
		batch = batch[:0]
		m, err := c.Reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetching: %w", err)
		}
		batch = append(batch, m)
		held := messageBytes(m)
		c.held(held)
		lctx, cancel := context.WithTimeout(ctx, linger)
		for len(batch) < maxBatch && (c.MaxBatchBytes <= 0 || held < c.MaxBatchBytes) {
			m, err := c.Reader.FetchMessage(lctx)
			if err != nil {
				break // linger over, shutdown, or a reader error the next fetch will report
			}
			batch = append(batch, m)
			held += messageBytes(m)
			c.held(held)
		}
		cancel()

		err = retry.Do(work, c.Backoff, func(wctx context.Context) error { return c.Handler(wctx, batch) },
			func(attempt int, err error, wait time.Duration) {
				c.Log.Warn("batch failed; retrying", "attempt", attempt, "messages", len(batch), "wait", wait, "error", err)
				if c.OnRetry != nil {
					c.OnRetry(err)
				}
			})
		if err != nil {
			if work.Err() != nil {
				c.Log.Warn("shutdown deadline passed with a batch unfinished; it will be redelivered", "messages", len(batch))
				return nil
			}
			return fmt.Errorf("handling batch of %d: %w", len(batch), err)
		}
		c.commit(work, batch)
		c.held(0)
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (c *Consumer) held(n int64) {
	if c.OnHeld != nil {
		c.OnHeld(n)
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
