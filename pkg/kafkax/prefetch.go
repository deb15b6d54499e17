package kafkax

import (
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

// NewReaderFor returns a consumer-group reader for topic whose prefetch is sized against budget,
// the bytes the stage may hold fetched and uncommitted (ReaderOptionsFor); the stage's
// Consumer caps its batches at the same budget (Consumer.MaxBatchBytes).
func (c *Config) NewReaderFor(group, topic string, budget int64) *kafka.Reader {
	if budget <= 0 {
		budget = DefaultInflightBytes
	}
	return c.NewReaderWith(group, topic, ReaderOptionsFor(budget))
}
