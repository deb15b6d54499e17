package kafkax

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/segmentio/kafka-go"
)

// DefaultInflightBytes is the byte budget of a consuming stage when it sets none: what it may
// hold fetched and not yet committed.
const DefaultInflightBytes = 32 << 20

// ReaderOptions are the kafka-go prefetch limits of a reader, derived from a stage's byte budget
// by ReaderOptionsFor.
type ReaderOptions struct {
	// MaxBytes caps one fetch response per partition.
	MaxBytes int
	// QueueCapacity is how many messages kafka-go queues ahead of FetchMessage.
	QueueCapacity int
}

// ReaderOptionsFor sizes kafka-go's prefetch against budget, the bytes a stage may hold fetched
// and uncommitted. kafka-go's queue counts messages, not bytes: its old size of 1,000 held up to
// 1,000 records of up to MaxMessageBytes each, a gigabyte behind a 32 MiB cap. So the queue gets
// half the budget counted in records of the largest size (at least 4, at most 1,000, so small
// records still stream). kafka-go reads fetch responses as a stream, one record batch at a time,
// and fetches every assigned partition at once (that number cannot be limited); each partition's
// goroutine holds one record batch (a writer batch is at most MaxMessageBytes) and one message,
// so a reader holds about QueueCapacity + 2 × partitions records beyond the stage's own cap.
// MaxBytes only bounds what the broker sends per request (a quarter of the budget, at least one
// record batch, at most kafka-go's former 16 MiB).
func ReaderOptionsFor(budget int64) ReaderOptions {
	if budget <= 0 {
		budget = DefaultInflightBytes
	}
	q := int(budget / 2 / MaxMessageBytes)
	q = min(max(q, 4), 1000)
	mb := min(max(budget/4, 2*MaxMessageBytes), 16<<20)
	return ReaderOptions{MaxBytes: int(mb), QueueCapacity: q}
}

// ErrBatchFull is what CappedFetcher answers instead of fetching once the messages held reach its
// limit; Consumer then stops gathering and handles the batch in hand.
var ErrBatchFull = errors.New("in-flight byte limit reached")

// CappedFetcher bounds memory: it stops fetching once the messages fetched and not yet committed
// pass Limit bytes, and counts again from zero after each commit. (Consumer handles one batch at
// a time, so everything fetched belongs to the batch being committed.) The first message of a
// batch is always fetched, so one record larger than Limit still flows.
type CappedFetcher struct {
	Fetcher
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

// Close closes the underlying reader when it can be closed.
func (c *CappedFetcher) Close() error {
	if cl, ok := c.Fetcher.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

func (c *CappedFetcher) set(v int64) {
	if c.Gauge != nil {
		c.Gauge.Set(float64(v))
	}
}

// NewCappedReader returns a consumer-group reader for topic whose memory is bounded by
// maxInflight bytes: its prefetch sized by ReaderOptionsFor, and fetching paused by a
// CappedFetcher once maxInflight bytes are held uncommitted. gauge (may be nil) shows the bytes
// held. Close closes the reader.
func (c *Config) NewCappedReader(group, topic string, maxInflight int64, gauge interface{ Set(float64) }) *CappedFetcher {
	if maxInflight <= 0 {
		maxInflight = DefaultInflightBytes
	}
	return &CappedFetcher{Fetcher: c.NewReaderWith(group, topic, ReaderOptionsFor(maxInflight)), Limit: maxInflight, Gauge: gauge}
}
