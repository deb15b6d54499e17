package kafkax

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// Lag returns, per partition of topic, how many messages group has not committed yet: the
// partition's end offset minus the group's committed offset (the whole partition when the group
// has committed nothing). kafka-go's Reader reports no lag when it has a GroupID, so this asks the
// brokers directly: every consuming stage reports its lag as
// newsflow_<service>_consumer_lag_messages (docs/ARCHITECTURE.md, Metrics), which the dashboard
// and the lag alerts read.
func (c *Config) Lag(ctx context.Context, group, topic string) (map[int]int64, error) {
	cl := c.Client()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, c.classify(err))
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	if committed.Error != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, committed.Error)
	}
	reqs := make([]kafka.OffsetRequest, 0, len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	first, last := map[int]int64{}, map[int]int64{}
	for _, po := range ends.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, po.Partition, po.Error)
		}
		first[po.Partition], last[po.Partition] = po.FirstOffset, po.LastOffset
	}
	lag := make(map[int]int64, len(parts))
	for _, p := range parts {
		lag[p] = last[p] - first[p]
	}
	for _, cp := range committed.Topics[topic] {
		if cp.Error != nil || cp.CommittedOffset < 0 {
			continue
		}
		if l := last[cp.Partition] - cp.CommittedOffset; l >= 0 {
			lag[cp.Partition] = l
		}
	}
	return lag, nil
}

// MonitorLag refreshes gauge (labels topic, partition) with group's lag on topic every interval
// until ctx is done. Failures are logged and retried at the next tick; a stage never stops
// because lag could not be measured.
func (c *Config) MonitorLag(ctx context.Context, log *slog.Logger, group, topic string, gauge *prometheus.GaugeVec, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, interval)
		lag, err := c.Lag(qctx, group, topic)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("measuring consumer lag", "topic", topic, "error", err)
			}
		} else {
			for p, l := range lag {
				gauge.WithLabelValues(topic, strconv.Itoa(p)).Set(float64(l))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
