// Package kafkax is newsflow's thin layer over segmentio/kafka-go: the shared connection
// settings, explicit topic creation, a producer configured for durability (acks=all, small
// batches, a deadline on every write), consumer-group readers that never auto-commit, dead-letter
// records, and consumer-lag measurement. Stage logic lives in the services.
package kafkax

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/compress/snappy"

	"github.com/newsflow/newsflow/pkg/config"
)

// Topic names (docs/ARCHITECTURE.md, Topics); every service takes them as flags so that tests can
// use their own.
const (
	TopicRaw      = "articles.raw"
	TopicEnriched = "articles.enriched"
	TopicDLQ      = "articles.dlq"
)

// Config is the Kafka part of every service's configuration.
type Config struct {
	Brokers           []string
	Partitions        int
	ReplicationFactor int
	WriteTimeout      time.Duration
	TLS               TLSConfig
	SASL              SASLConfig

	sec *security // built by Validate, shared by copies
}

// RegisterFlags binds the Kafka settings to flags and NEWSFLOW_KAFKA_* variables with defaults
// that work against deploy/local.
func (c *Config) RegisterFlags(s *config.Set) {
	s.Strings(&c.Brokers, "kafka-brokers", "NEWSFLOW_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka bootstrap brokers")
	s.Int(&c.Partitions, "kafka-partitions", "NEWSFLOW_KAFKA_PARTITIONS", 6, "partitions of topics created at start-up")
	s.Int(&c.ReplicationFactor, "kafka-replication-factor", "NEWSFLOW_KAFKA_REPLICATION_FACTOR", 1, "replication factor of topics created at start-up (3 in production)")
	s.Duration(&c.WriteTimeout, "kafka-write-timeout", "NEWSFLOW_KAFKA_WRITE_TIMEOUT", DefaultWriteTimeout, "deadline for one acknowledged write")
	c.registerSecurityFlags(s)
}

// Validate reports every setting that cannot work, at once. It also reads the TLS files and
// builds the SASL mechanism once for every connection of this Config (and its copies), so call
// it before the first connection.
func (c *Config) Validate() error {
	var p config.Problems
	p.Check(len(c.Brokers) == 0, "kafka-brokers: at least one broker is needed")
	p.Check(c.Partitions < 1, "kafka-partitions: %d, want >= 1", c.Partitions)
	p.Check(c.ReplicationFactor < 1, "kafka-replication-factor: %d, want >= 1", c.ReplicationFactor)
	p.Check(c.WriteTimeout <= 0, "kafka-write-timeout: %v, want > 0", c.WriteTimeout)
	for _, b := range c.Brokers {
		_, _, err := net.SplitHostPort(b)
		p.Check(err != nil, "kafka-brokers: %q is not host:port", b)
	}
	p.Add(c.validateSecurity())
	return p.Err()
}

// Client returns a kafka-go admin client for the brokers, with the configured TLS and SASL.
func (c *Config) Client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: c.secure().transport}
}

// EnsureTopics creates the topics that do not exist yet with the configured partitions and
// replication factor. Existing topics are left as they are.
func (c *Config) EnsureTopics(ctx context.Context, topics ...string) error {
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: c.Partitions, ReplicationFactor: c.ReplicationFactor})
	}
	cl := c.Client()
	res, err := cl.CreateTopics(ctx, req)
	if err != nil {
		if err := c.classify(err); IsAuthError(err) {
			return err
		}
		if aerr := c.diagnose(ctx, cl); aerr != nil {
			return aerr
		}
		return fmt.Errorf("creating topics %v on %v: %w", topics, c.Brokers, err)
	}
	for t, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t, c.classify(err))
		}
	}
	return c.waitForTopics(ctx, cl, topics)
}

// waitForTopics waits until the broker reports a leader for every partition of topics, so that
// the first write after EnsureTopics does not race the topic's creation.
func (c *Config) waitForTopics(ctx context.Context, cl *kafka.Client, topics []string) error {
	for {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err := c.classify(err); IsAuthError(err) {
			return err
		}
		ready := err == nil
		if ready {
			for _, t := range md.Topics {
				if t.Error != nil || len(t.Partitions) == 0 {
					ready = false
				}
				for _, p := range t.Partitions {
					if p.Error != nil || p.Leader.Host == "" {
						ready = false
					}
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topics %v: %w (last metadata error: %v)", topics, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ping checks that a broker answers a metadata request; it backs the services' /readyz.
func (c *Config) Ping(ctx context.Context) error {
	cl := c.Client()
	_, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		if err := c.classify(err); IsAuthError(err) {
			return err
		}
		return fmt.Errorf("kafka %v: %w", c.Brokers, err)
	}
	return nil
}

// kafka-go's snappy codec defaults to s2's "better" encoder, which cost ingest 12% of its CPU
// under load for a few percent of size. Its codecs are process-wide, so this sets the faster
// encoder (the one librdkafka-based clients use) for every writer of the process; readers
// decode either.
func init() { compress.SnappyCodec.Compression = snappy.FasterCompression }

// NewReader returns a consumer-group reader for topic. It never commits on its own
// (CommitInterval 0 and FetchMessage/CommitMessages only): a stage commits an offset only after
// what it produced from the message is durable. A new group starts at the earliest offset, so
// nothing written before the first consumer started is skipped. Its prefetch is sized for
// DefaultInflightBytes; stages use NewReaderFor with their own budget (and cap their batches at
// it: Consumer.MaxBatchBytes).
func (c *Config) NewReader(group, topic string) *kafka.Reader {
	return c.NewReaderFor(group, topic, DefaultInflightBytes)
}

// readerAttempts is how many times a reader tries to reach a partition's leader before it reports
// the error to FetchMessage (and goes on trying). kafka-go's default, 3, reports after about
// 0.3 s; but when a broker of a cluster dies, the controllers fence it and move its leaderships
// only after broker.session.timeout.ms (9 s by default), and until then the metadata names the
// dead broker as leader. With ReadBackoffMax 1 s, 30 attempts wait about 28 s, so a lost broker
// costs a pause without an error (TestBrokerLoss, `make test-cluster`); a longer outage is
// counted and waited out by Consumer (OnFetchError).
const readerAttempts = 30

// NewReaderWith is NewReader with the prefetch limits opt (see ReaderOptionsFor).
func (c *Config) NewReaderWith(group, topic string, opt ReaderOptions) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:                c.Brokers,
		Dialer:                 c.dialer(),
		GroupID:                group,
		Topic:                  topic,
		MinBytes:               1,
		MaxBytes:               opt.MaxBytes,
		MaxWait:                250 * time.Millisecond,
		QueueCapacity:          opt.QueueCapacity,
		CommitInterval:         0,
		StartOffset:            kafka.FirstOffset,
		HeartbeatInterval:      time.Second,
		SessionTimeout:         10 * time.Second,
		RebalanceTimeout:       10 * time.Second,
		JoinGroupBackoff:       time.Second,
		ReadBackoffMin:         50 * time.Millisecond,
		ReadBackoffMax:         time.Second,
		MaxAttempts:            readerAttempts,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
	})
}

// Header names on dead-letter records: which stage gave up, why, and where the record came from.
// HeaderTruncated is set only when the payload had to be cut; it holds the original value's size.
const (
	HeaderStage     = "newsflow-stage"
	HeaderError     = "newsflow-error"
	HeaderTopic     = "newsflow-original-topic"
	HeaderPartition = "newsflow-original-partition"
	HeaderOffset    = "newsflow-original-offset"
	HeaderTruncated = "newsflow-truncated-from-bytes"
)

// W3C trace-context headers (pkg/tracing writes and reads them through HeaderCarrier). A dead
// letter keeps them, so that the trace of an article shows where it ended.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Trace-context headers longer than these are not trace context a stage reads, keeps or copies
// (HeaderCarrier.Get, DeadLetter): a record's headers come from whoever wrote to the topic, and
// a megabyte of "tracestate" must neither cost a parse per record nor push a dead letter past
// the record limit. A version-00 traceparent is 55 bytes; W3C asks vendors to pass on at least
// 512 bytes of tracestate, and lets them drop a longer one.
const (
	MaxTraceparentBytes = 128
	MaxTracestateBytes  = 512
)

// traceHeader reports whether h is a trace-context header of a size a stage passes on.
func traceHeader(h kafka.Header) bool {
	switch h.Key {
	case HeaderTraceparent:
		return len(h.Value) <= MaxTraceparentBytes
	case HeaderTracestate:
		return len(h.Value) <= MaxTracestateBytes
	}
	return false
}

// DeadLetter builds the record that carries msg to articles.dlq: the original key and value, and
// headers naming the stage, the reason and the original topic/partition/offset. A dead letter
// must always be writable, or the record it stands for would block its partition for good: when
// the original would make the dead letter larger than MaxMessageBytes (an enriched article that
// grew, a record from another producer), the value is cut to fit and HeaderTruncated gives its
// original size. Where it came from is always kept, so the whole record can be read again there.
func DeadLetter(msg kafka.Message, stage, reason string) kafka.Message {
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	key := msg.Key
	if len(key) > 1000 {
		key = key[:1000]
	}
	// Room for the two trace-context headers and HeaderTruncated: appending them must not
	// reallocate the headers of every dead letter.
	headers := append(make([]kafka.Header, 0, 8), []kafka.Header{
		{Key: HeaderStage, Value: []byte(stage)},
		{Key: HeaderError, Value: []byte(reason)},
		{Key: HeaderTopic, Value: []byte(msg.Topic)},
		{Key: HeaderPartition, Value: []byte(strconv.Itoa(msg.Partition))},
		{Key: HeaderOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
	}...)
	// The first traceparent and tracestate only, and only of a size that is trace context.
	var tp, ts bool
	for _, h := range msg.Headers {
		if !traceHeader(h) || (h.Key == HeaderTraceparent && tp) || (h.Key == HeaderTracestate && ts) {
			continue
		}
		tp, ts = tp || h.Key == HeaderTraceparent, ts || h.Key == HeaderTracestate
		headers = append(headers, h)
	}
	value := msg.Value
	room := max(0, MaxMessageBytes-RecordOverheadBytes-len(key)-headersSize(headers)-len(HeaderTruncated)-20)
	if len(value) > room {
		headers = append(headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(value)))})
		value = value[:room]
	}
	return kafka.Message{Key: key, Value: value, Headers: headers}
}

func headersSize(hs []kafka.Header) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value) + 10 // varint lengths
	}
	return n
}

// Header returns the value of header key on msg, or "".
func Header(msg kafka.Message, key string) string {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
