package client

// Topic administration beyond create and delete: configs and DeleteRecords.

import (
	"context"
	"fmt"
	"sort"

	"github.com/spate-io/spate/wire"
)

// ConfigEntry is one config of a topic: its effective value, and whether
// it is set on the topic (an override) rather than the broker's default.
type ConfigEntry = wire.ConfigEntry

// TopicConfigs is one topic's configs, sorted by key.
type TopicConfigs struct {
	Name    string
	Configs []ConfigEntry
	Err     error // e.g. wire.ErrUnknownTopicOrPartition; Configs is then empty
}

// DescribeConfigs returns the configs of the named topics (every topic when
// none is named), in the order named.
func (a *Admin) DescribeConfigs(ctx context.Context, names ...string) ([]TopicConfigs, error) {
	var resp wire.DescribeConfigsResponse
	if err := a.cl.requestAny(ctx, &wire.DescribeConfigsRequest{Topics: names}, &resp); err != nil {
		return nil, fmt.Errorf("client: describe configs: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("client: describe configs: %w", err)
	}
	out := make([]TopicConfigs, 0, len(resp.Topics))
	for _, t := range resp.Topics {
		tc := TopicConfigs{Name: t.Name}
		if err := withMessage(t.ErrorCode, t.Message); err != nil {
			tc.Err = fmt.Errorf("client: topic %q: %w", t.Name, err)
		}
		tc.Configs = append(tc.Configs, t.Configs...)
		out = append(out, tc)
	}
	return out, nil
}

// AlterConfigs changes a topic's configs: each key of changes gets its
// value, or with "" loses its override (the broker default applies again);
// keys not named keep their values. The broker checks every change as at
// creation and applies all of them or none; errors.Is(err,
// wire.ErrInvalidConfig) reports a refused key, named in the message.
func (a *Admin) AlterConfigs(ctx context.Context, topic string, changes map[string]string) error {
	t := wire.AlterConfigsTopic{Name: topic}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Configs = append(t.Configs, wire.Config{Key: k, Value: changes[k]})
	}
	var resp wire.AlterConfigsResponse
	req := &wire.AlterConfigsRequest{Topics: []wire.AlterConfigsTopic{t}}
	if err := a.controllerRequest(ctx, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
		return fmt.Errorf("client: alter configs: %w", err)
	}
	return topicResultsErr("alter configs of", resp.Topics)
}

// DeletedRecords is the outcome of DeleteRecords for one partition.
type DeletedRecords struct {
	LogStartOffset int64 // after the call; -1 when Err is set
	Err            error // e.g. wire.ErrOffsetOutOfRange for an offset above the high watermark
}

// DeleteRecords moves the log start offset of each partition of topic in
// before up to its offset (Kafka's DeleteRecords); -1 stands for the high
// watermark. Records below the new start are no longer readable, and the
// broker persists the start before it answers. It returns each partition's
// outcome; the error is for the call as a whole (no broker reachable).
func (a *Admin) DeleteRecords(ctx context.Context, topic string, before map[int32]int64) (map[int32]DeletedRecords, error) {
	tps := make([]TopicPartition, 0, len(before))
	for p := range before {
		tps = append(tps, TopicPartition{topic, p})
	}
	byLeader, failed := a.byLeader(ctx, tps)
	out := make(map[int32]DeletedRecords, len(before))
	for tp, err := range failed {
		out[tp.Partition] = DeletedRecords{LogStartOffset: -1, Err: err}
	}
	for leader, list := range byLeader {
		t := wire.DeleteRecordsTopic{Name: topic}
		for _, tp := range list {
			t.Partitions = append(t.Partitions, wire.DeleteRecordsPartition{Partition: tp.Partition, Offset: before[tp.Partition]})
		}
		req := &wire.DeleteRecordsRequest{Topics: []wire.DeleteRecordsTopic{t}, TimeoutMs: int32(a.cfg.reqTO.Milliseconds())}
		var resp wire.DeleteRecordsResponse
		if err := a.brokerRequest(ctx, leader, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
			return nil, fmt.Errorf("client: delete records on broker %d: %w", leader, err)
		}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				err := withMessage(p.ErrorCode, p.Message)
				if err != nil {
					err = partitionErr(topic, p.Partition, err)
				}
				out[p.Partition] = DeletedRecords{LogStartOffset: p.LowWatermark, Err: err}
			}
		}
	}
	return out, nil
}
