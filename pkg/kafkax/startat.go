package kafkax

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// StartGroupAt makes a new consumer group start reading topic at time at instead of at the
// earliest offset (where NewReader starts a group without commits): it commits, for every
// partition, the offset of the first record whose timestamp is at or after at (the partition's end
// when there is none), as `kafka-consumer-groups --reset-offsets --to-datetime` does. A replay
// from a time uses it (enrich serve --start-at; docs/REPLAY.md).
//
// A group that has committed anything on topic is left alone and started is false: a restarted
// replay resumes where it stopped rather than going back to at. Call it before the group's
// reader joins: the broker takes these commits only from outside the group while it has no members.
func (c *Config) StartGroupAt(ctx context.Context, group, topic string, at time.Time) (started bool, offsets map[int]int64, err error) {
	cl := c.Client()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, nil, fmt.Errorf("metadata of %s: %w", topic, c.classify(err))
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return false, nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return false, nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	committed, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err == nil && committed.Error != nil {
		err = committed.Error
	}
	if err != nil {
		return false, nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	for _, cp := range committed.Topics[topic] {
		if cp.Error == nil && cp.CommittedOffset >= 0 {
			return false, nil, nil
		}
	}
	// Two requests: the broker answers "no record at or after at" with offset -1, which
	// kafka-go's ListOffsets would not tell apart from an end-offset answer in the same request.
	byTime := make([]kafka.OffsetRequest, 0, len(parts))
	ends := make([]kafka.OffsetRequest, 0, len(parts))
	for _, p := range parts {
		byTime = append(byTime, kafka.TimeOffsetOf(p, at))
		ends = append(ends, kafka.LastOffsetOf(p))
	}
	found, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: byTime}})
	if err != nil {
		return false, nil, fmt.Errorf("offsets of %s at %s: %w", topic, at.Format(time.RFC3339), err)
	}
	last, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: ends}})
	if err != nil {
		return false, nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	offsets = make(map[int]int64, len(parts))
	for _, po := range last.Topics[topic] {
		if po.Error != nil {
			return false, nil, fmt.Errorf("end offset of %s/%d: %w", topic, po.Partition, po.Error)
		}
		offsets[po.Partition] = po.LastOffset
	}
	for _, po := range found.Topics[topic] {
		if po.Error != nil {
			return false, nil, fmt.Errorf("offset of %s/%d at %s: %w", topic, po.Partition, at.Format(time.RFC3339), po.Error)
		}
		for off := range po.Offsets {
			if off >= 0 {
				offsets[po.Partition] = off
			}
		}
	}
	commits := make([]kafka.OffsetCommit, 0, len(parts))
	for _, p := range parts {
		commits = append(commits, kafka.OffsetCommit{Partition: p, Offset: offsets[p]})
	}
	res, err := cl.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: commits}})
	if err != nil {
		return false, nil, fmt.Errorf("committing the start offsets of group %s: %w", group, err)
	}
	for _, pr := range res.Topics[topic] {
		if pr.Error != nil {
			return false, nil, fmt.Errorf("committing the start offset of group %s on %s/%d: %w", group, topic, pr.Partition, pr.Error)
		}
	}
	return true, offsets, nil
}
