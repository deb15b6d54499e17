package kafkax

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/newsflow/newsflow/pkg/retry"
)

// DefaultWriteTimeout is --kafka-write-timeout's default, and what a Config without one (a test
// literal) gets.
const DefaultWriteTimeout = 10 * time.Second

// The produce attempts of every writer: kafka-go retries a failed batch in the background,
// writeAttempts times in all, waiting between writeBackoffMin and writeBackoffMax between them.
const (
	writeAttempts   = 3
	writeBackoffMin = 50 * time.Millisecond
	writeBackoffMax = 500 * time.Millisecond
)

// minAttemptTimeout keeps one produce attempt long enough to finish against a healthy broker
// however small --kafka-write-timeout is.
const minAttemptTimeout = 500 * time.Millisecond

// publishMargin is how much longer than the write timeout a caller waits, so that kafka-go
// reports its own verdict on a batch before the caller's deadline cuts it short.
const publishMargin = 2 * time.Second

// writeTimeout is WriteTimeout, or DefaultWriteTimeout when it is not set.
func (c *Config) writeTimeout() time.Duration {
	if c.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return c.WriteTimeout
}

// attemptTimeout is the deadline of one produce attempt: all writeAttempts of them, and the
// backoffs between them, fit in the write timeout.
func (c *Config) attemptTimeout() time.Duration {
	backoff := time.Duration(writeAttempts-1) * writeBackoffMax
	return max(minAttemptTimeout, (c.writeTimeout()-backoff)/writeAttempts)
}

// PublishTimeout is the deadline a caller puts on one WriteMessages of a writer of c: the write
// timeout plus a margin in which kafka-go reports its own verdict first.
//
// kafka-go runs each produce attempt under its own deadline (the writer's WriteTimeout), detached
// from the caller's context: a batch whose caller has given up is still retried in the
// background and may land later. So NewWriter sizes the attempts to end within the write
// timeout, and a caller that waits PublishTimeout knows, when it gets an error, that kafka-go
// has given up on the batch too: ingest can answer 503 without the article landing later, and a
// stage that writes the batch again does not race its own earlier attempt.
func (c *Config) PublishTimeout() time.Duration { return c.writeTimeout() + publishMargin }

// NewWriter returns a producer for topic that waits for acks from all in-sync replicas, keys
// records to partitions by hash (one article id, one partition), compresses with snappy, and
// flushes batches after at most 5 ms rather than kafka-go's 1 s default. It never creates topics.
// WriteMessages on it returns only when every record was acknowledged or failed, and kafka-go's
// attempts at it end within the write timeout (see PublishTimeout, the deadline to write under).
// Batches are split below the broker's default message.max.bytes (MaxMessageBytes): kafka-go
// would otherwise build batches of up to 16 MB that the broker refuses.
//
// The writer uses the Config's shared transport, whose pooled connections live as long as the
// process (CloseIdleConnections closes them). A service's long-lived writers use NewServiceWriter.
func (c *Config) NewWriter(topic string) *kafka.Writer {
	attempt := c.attemptTimeout()
	return &kafka.Writer{
		Addr:                   kafka.TCP(c.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		BatchSize:              1000,
		BatchBytes:             MaxMessageBytes,
		Compression:            compress.Snappy,
		MaxAttempts:            writeAttempts,
		WriteBackoffMin:        writeBackoffMin,
		WriteBackoffMax:        writeBackoffMax,
		WriteTimeout:           attempt,
		ReadTimeout:            attempt,
		AllowAutoTopicCreation: false,
		Transport:              c.secure().transport,
	}
}

// NewServiceWriter is NewWriter with a transport of its own, which it returns so that the
// service closes its connections on shutdown (Close the writer, then CloseIdleConnections the
// transport): the shared transport's pools are never closed. clientID names the service in the
// broker's logs and quotas ("newsflow-ingest"). The transport gives up on a dial within one
// produce attempt and refreshes the topic's metadata every 5 s, so that a writer finds a moved
// partition leader soon after a broker restart.
func (c *Config) NewServiceWriter(topic, clientID string) (*kafka.Writer, *kafka.Transport) {
	w := c.NewWriter(topic)
	tr := c.NewTransport() // with the configured TLS and SASL
	tr.DialTimeout = min(5*time.Second, c.attemptTimeout())
	tr.MetadataTTL = 5 * time.Second
	tr.ClientID = clientID
	w.Transport = tr
	return w, tr
}

// MessageWriter is what WriteAcked writes with: a kafka.Writer, or a test's fake. WriteMessages
// returns nil only when Kafka acknowledged every message; a kafka.WriteErrors says which not.
type MessageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// WriteAcked writes msgs with w until Kafka has acknowledged every one of them or ctx ends (or
// b's attempts run out). After a failed attempt only the messages Kafka did not acknowledge are
// sent again (kafka.WriteErrors says which), so a retry never writes an acknowledged record, a
// dead letter or an enriched article, twice. attempt bounds one write (PublishTimeout: kafka-go
// has given up on it before the next starts; 0: no bound of its own). onFail, if set, is told of
// each failed attempt that ctx did not cut short (for failed_total and a log line), with how
// many messages are left to write. Every stage that writes to Kafka from a batch uses it.
func WriteAcked(ctx context.Context, w MessageWriter, msgs []kafka.Message, b retry.Backoff, attempt time.Duration, onFail func(err error, left int)) error {
	pending := msgs
	return retry.Do(ctx, b, func(ctx context.Context) error {
		if len(pending) == 0 {
			return nil
		}
		wctx := ctx
		if attempt > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, attempt)
			defer cancel()
		}
		err := w.WriteMessages(wctx, pending...)
		if err == nil {
			pending = nil
			return nil
		}
		pending = unacknowledged(pending, err)
		if ctx.Err() == nil && onFail != nil { // a write cut short by shutdown is not Kafka's failure
			onFail(err, len(pending))
		}
		return err
	}, nil)
}

// unacknowledged returns the messages of a failed write that Kafka did not acknowledge: those
// with an error in kafka-go's WriteErrors (one per message), or all of them when the error does
// not say.
func unacknowledged(msgs []kafka.Message, err error) []kafka.Message {
	var we kafka.WriteErrors
	if !errors.As(err, &we) || len(we) != len(msgs) || we.Count() == 0 {
		return msgs
	}
	var left []kafka.Message
	for i, e := range we {
		if e != nil {
			left = append(left, msgs[i])
		}
	}
	return left
}
