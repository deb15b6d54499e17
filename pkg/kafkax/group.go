package kafkax

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupOptions are the timings of a consumer group used for its membership alone (NewGroup).
type GroupOptions struct {
	// SessionTimeout is how long the coordinator waits without a heartbeat before it declares a
	// member dead and gives its partitions to the others (brokers accept 6 s to 5 min by default:
	// group.min/max.session.timeout.ms). 0: 10 s, as NewReader's.
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member to rejoin after a
	// rebalance began; a member that takes longer to stop its work is dropped from the group.
	// 0: SessionTimeout.
	RebalanceTimeout time.Duration
}

// NewGroup returns a kafka-go consumer group on topic that connects with the configured TLS and
// SASL, like the readers do. It is for callers that use the group's membership and partition
// assignment rather than its messages (ingest's feed lease): they call Next and
// Generation.Start and never fetch or commit. Its errors are best passed through Classify, so
// that a refused password or a missing ACL is an AuthError.
func (c *Config) NewGroup(id, topic string, opt GroupOptions) (*kafka.ConsumerGroup, error) {
	session := opt.SessionTimeout
	if session <= 0 {
		session = 10 * time.Second
	}
	rebalance := opt.RebalanceTimeout
	if rebalance <= 0 {
		rebalance = session
	}
	// A member cut off from the coordinator must notice before the coordinator gives its
	// partitions away: it misses a heartbeat after at most HeartbeatInterval + Timeout, which
	// these keep well under the session timeout (1 s + 3 s of 10 s by default).
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                id,
		Brokers:           c.Brokers,
		Dialer:            c.dialer(),
		Topics:            []string{topic},
		HeartbeatInterval: max(session/10, 100*time.Millisecond),
		SessionTimeout:    session,
		RebalanceTimeout:  rebalance,
		JoinGroupBackoff:  time.Second,
		Timeout:           min(3*time.Second, session*3/10),
		// A partition added to the topic changes which feed belongs where: rebalance.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer group %s on %s: %w", id, topic, err)
	}
	return cg, nil
}

// Classify returns err as an AuthError when it is a TLS, SASL or authorization failure that
// retrying cannot fix (what StopOnAuthError then stops at), and unchanged otherwise.
func (c *Config) Classify(err error) error { return c.classify(err) }

// PartitionCount returns how many partitions topic has.
func (c *Config) PartitionCount(ctx context.Context, topic string) (int, error) {
	md, err := c.Client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("reading the partitions of %s: %w", topic, c.classify(err))
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("reading the partitions of %s: %w", topic, c.classify(t.Error))
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("reading the partitions of %s: none", topic)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("reading the partitions of %s: not in the metadata", topic)
}
