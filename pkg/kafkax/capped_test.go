package kafkax

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestReaderOptionsFor: what kafka-go may queue, in records of the largest size, stays within
// the budget, where the former fixed QueueCapacity of 1,000 allowed a gigabyte.
func TestReaderOptionsFor(t *testing.T) {
	for _, budget := range []int64{1 << 20, 8 << 20, 32 << 20, 256 << 20, 4 << 30} {
		o := ReaderOptionsFor(budget)
		queued := int64(o.QueueCapacity) * MaxMessageBytes
		if o.QueueCapacity < 4 || o.QueueCapacity > 1000 {
			t.Errorf("budget %d: QueueCapacity %d, want within [4, 1000]", budget, o.QueueCapacity)
		}
		if budget >= 8*MaxMessageBytes && queued > budget/2 {
			t.Errorf("budget %d: the queue may hold %d bytes, more than half the budget", budget, queued)
		}
		if o.MaxBytes < 2*MaxMessageBytes || o.MaxBytes > 16<<20 {
			t.Errorf("budget %d: MaxBytes %d, want within [%d, %d]", budget, o.MaxBytes, 2*MaxMessageBytes, 16<<20)
		}
	}
	if o := ReaderOptionsFor(DefaultInflightBytes); o.QueueCapacity != 16 {
		t.Errorf("default budget: QueueCapacity %d, want 16", o.QueueCapacity)
	}
}

// TestDeadLetterOfOversizedRecordFits: a dead letter of a record too large for Kafka is cut so
// that kafka-go's writer (BatchBytes = MaxMessageBytes) takes it, says so in a header, and keeps
// where the record came from. The writer points at a closed port: kafka-go checks sizes before
// it connects, so a refusal here is the MessageTooLargeError that would block a partition.
func TestDeadLetterOfOversizedRecordFits(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, Partitions: 1, ReplicationFactor: 1, WriteTimeout: 300 * time.Millisecond}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w := cfg.NewWriter("dlq")
	w.MaxAttempts = 1
	defer w.Close()
	tooLarge := func(m kafka.Message) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var mt kafka.MessageTooLargeError
		return errors.As(w.WriteMessages(ctx, m), &mt)
	}

	orig := kafka.Message{Topic: "articles.enriched", Partition: 4, Offset: 123456,
		Key: []byte("article-id"), Value: bytes.Repeat([]byte("x"), 3<<20)}
	if !tooLarge(orig) {
		t.Fatal("the writer took a 3 MiB record; the test would prove nothing")
	}
	dl := DeadLetter(orig, "enrich", "enriched article is 3145728 bytes")
	if tooLarge(dl) {
		t.Fatalf("the dead letter (%d bytes of value) is still too large for the writer", len(dl.Value))
	}
	if got := Header(dl, HeaderTruncated); got != strconv.Itoa(3<<20) {
		t.Errorf("%s = %q, want the original size %d", HeaderTruncated, got, 3<<20)
	}
	if Header(dl, HeaderTopic) != "articles.enriched" || Header(dl, HeaderPartition) != "4" || Header(dl, HeaderOffset) != "123456" {
		t.Errorf("origin headers: topic %q partition %q offset %q", Header(dl, HeaderTopic), Header(dl, HeaderPartition), Header(dl, HeaderOffset))
	}
	if !bytes.HasPrefix(orig.Value, dl.Value) || len(dl.Value) < MaxMessageBytes-4096 {
		t.Errorf("value: %d bytes, want a prefix of the original of nearly %d bytes", len(dl.Value), MaxMessageBytes)
	}
	if string(dl.Key) != "article-id" || Header(dl, HeaderStage) != "enrich" {
		t.Errorf("key %q stage %q", dl.Key, Header(dl, HeaderStage))
	}

	small := DeadLetter(kafka.Message{Topic: "t", Key: []byte("k"), Value: []byte(`{"a":1}`)}, "index", "bad")
	if string(small.Value) != `{"a":1}` || Header(small, HeaderTruncated) != "" {
		t.Errorf("a small record's dead letter changed: value %q, truncated %q", small.Value, Header(small, HeaderTruncated))
	}
}
