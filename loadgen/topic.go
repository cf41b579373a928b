package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

// partitionOffsets are a topic's log start offsets and high watermarks,
// indexed by partition.
type partitionOffsets struct {
	logStart, highWatermark []int64
}

func (o partitionOffsets) sumHighWatermarks() int64 {
	var s int64
	for _, hw := range o.highWatermark {
		s += hw
	}
	return s
}

// describe reads the offsets of topic. It fails with an error wrapping
// wire.ErrUnknownTopicOrPartition when the topic does not exist, and with
// the partition's error when one has no leader.
func describe(ctx context.Context, admin *client.Admin, topic string) (partitionOffsets, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	descs, err := admin.DescribeTopics(ctx, topic)
	if err != nil {
		return partitionOffsets{}, fmt.Errorf("loadgen: topic %q: %w", topic, err)
	}
	if len(descs) != 1 {
		return partitionOffsets{}, fmt.Errorf("loadgen: topic %q: %d descriptions: %w", topic, len(descs), wire.ErrUnknownTopicOrPartition)
	}
	d := descs[0]
	if d.Err != nil {
		return partitionOffsets{}, fmt.Errorf("loadgen: topic %q: %w", topic, d.Err)
	}
	o := partitionOffsets{logStart: make([]int64, len(d.Partitions)), highWatermark: make([]int64, len(d.Partitions))}
	for i, p := range d.Partitions {
		if p.Err != nil {
			return partitionOffsets{}, fmt.Errorf("loadgen: topic %q partition %d: %w", topic, p.Partition, p.Err)
		}
		if int(p.Partition) != i {
			return partitionOffsets{}, fmt.Errorf("loadgen: topic %q: partition %d listed at position %d", topic, p.Partition, i)
		}
		o.logStart[i], o.highWatermark[i] = p.LogStartOffset, p.HighWatermark
	}
	if len(d.Partitions) == 0 {
		return partitionOffsets{}, fmt.Errorf("loadgen: topic %q: no partitions: %w", topic, wire.ErrLeaderNotAvailable)
	}
	return o, nil
}

// adminTimeout bounds each admin call: the client retries an unreachable
// broker until its context ends, and a run whose broker died must end.
const adminTimeout = 30 * time.Second

// topicReadyTimeout bounds the wait for a new topic's leaders.
const topicReadyTimeout = 10 * time.Second

// ensureTopic creates the run's topic unless it exists, waits until every
// partition has a leader, and returns its offsets. Existence is checked
// with ListTopics: a metadata request naming the topic would have a broker
// with auto.create.topics.enable create it with num.partitions instead of
// c.Partitions. A topic that exists is waited for too: in a cluster, one
// created a moment ago may not be hosted by its leader yet.
func ensureTopic(ctx context.Context, admin *client.Admin, c *Config) (partitionOffsets, error) {
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	topics, err := admin.ListTopics(actx)
	if err != nil {
		return partitionOffsets{}, fmt.Errorf("loadgen: list topics: %w", err)
	}
	if !slices.Contains(topics, c.Topic) {
		err = admin.CreateTopic(actx, c.Topic, c.Partitions, c.ReplicationFactor, nil)
		if err != nil && !errors.Is(err, wire.ErrTopicAlreadyExists) {
			return partitionOffsets{}, fmt.Errorf("loadgen: create topic %q: %w", c.Topic, err)
		}
	}
	deadline := time.Now().Add(topicReadyTimeout)
	for {
		o, err := describe(ctx, admin, c.Topic)
		if err == nil || !wire.IsRetriable(err) || time.Now().After(deadline) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return o, fmt.Errorf("loadgen: topic %q: waiting for leaders: %w", c.Topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
