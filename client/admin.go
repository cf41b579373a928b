package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spate-io/spate/wire"
)

// Admin manages topics. It is safe for concurrent use.
type Admin struct {
	cl  *cluster
	cfg *config
}

// NewAdmin returns an admin client. It connects lazily.
func NewAdmin(opts ...Opt) (*Admin, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	cl := newCluster(cfg, false)
	cl.unreachableTO = cfg.unreachableTO
	return &Admin{cl: cl, cfg: cfg}, nil
}

// Close closes the connections.
func (a *Admin) Close() { a.cl.close() }

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int32 // -1: the broker's num.partitions
	ReplicationFactor int16 // -1: the broker's default
	Configs           map[string]string
}

// CreateTopic creates one topic; see CreateTopics.
func (a *Admin) CreateTopic(ctx context.Context, name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	return a.CreateTopics(ctx, TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: replicationFactor, Configs: configs})
}

// CreateTopics creates topics on the controller. It returns the per-topic
// errors joined, each naming its topic (errors.Is(err,
// wire.ErrTopicAlreadyExists) works on the result).
func (a *Admin) CreateTopics(ctx context.Context, specs ...TopicSpec) error {
	req := &wire.CreateTopicsRequest{TimeoutMs: int32(a.cfg.reqTO / time.Millisecond)}
	for _, s := range specs {
		t := wire.CreateTopic{Name: s.Name, Partitions: s.Partitions, ReplicationFactor: s.ReplicationFactor}
		keys := make([]string, 0, len(s.Configs))
		for k := range s.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Configs = append(t.Configs, wire.Config{Key: k, Value: s.Configs[k]})
		}
		req.Topics = append(req.Topics, t)
	}
	var resp wire.CreateTopicsResponse
	if err := a.controllerRequest(ctx, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
		return fmt.Errorf("client: create topics: %w", err)
	}
	err := topicResultsErr("create", resp.Topics)
	a.refreshAfter(ctx, specs)
	return err
}

// refreshAfter refreshes the metadata of created topics, so a producer or
// consumer built on this admin's view (and tests) see them at once; a
// failure here is not the caller's problem, the next use refreshes again.
func (a *Admin) refreshAfter(ctx context.Context, specs []TopicSpec) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	_ = a.cl.refresh(ctx, names, time.Time{})
}

// DeleteTopics deletes topics and their data. It returns the per-topic
// errors joined.
func (a *Admin) DeleteTopics(ctx context.Context, names ...string) error {
	req := &wire.DeleteTopicsRequest{Topics: names, TimeoutMs: int32(a.cfg.reqTO / time.Millisecond)}
	var resp wire.DeleteTopicsResponse
	if err := a.controllerRequest(ctx, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
		return fmt.Errorf("client: delete topics: %w", err)
	}
	return topicResultsErr("delete", resp.Topics)
}

// DeleteTopic deletes one topic.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error { return a.DeleteTopics(ctx, name) }

// controllerRequest sends req to the controller, refreshing metadata and
// retrying when the broker says it is not (or no longer) the controller.
func (a *Admin) controllerRequest(ctx context.Context, req wire.Request, resp wire.Response, code func() wire.ErrorCode) error {
	return a.cl.retry(ctx, func() error {
		c, err := a.cl.controllerConn(ctx)
		if err != nil {
			return err
		}
		if err := c.request(ctx, req, resp, a.cfg.reqTO); err != nil {
			return err
		}
		if err := code().Err(); err != nil {
			if errors.Is(err, wire.ErrNotController) {
				_ = a.cl.refresh(ctx, []string{}, time.Time{}) // learn the new controller; retry handles failure
			}
			return err
		}
		return nil
	})
}

func topicResultsErr(op string, results []wire.TopicResult) error {
	var errs []error
	for _, t := range results {
		if err := withMessage(t.ErrorCode, t.Message); err != nil {
			errs = append(errs, fmt.Errorf("client: %s topic %q: %w", op, t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// ListTopics returns the names of every topic, sorted.
func (a *Admin) ListTopics(ctx context.Context) ([]string, error) {
	var resp wire.MetadataResponse
	if err := a.cl.requestAny(ctx, &wire.MetadataRequest{AllTopics: true}, &resp); err != nil {
		return nil, fmt.Errorf("client: list topics: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("client: list topics: %w", err)
	}
	names := make([]string, 0, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.ErrorCode == wire.None {
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// TopicDescription is a topic's layout and offsets.
type TopicDescription struct {
	Name       string
	Err        error // e.g. wire.ErrUnknownTopicOrPartition; Partitions is then empty
	Partitions []PartitionDescription
}

// PartitionDescription is one partition's replicas and offsets.
// LogEndOffset may exceed HighWatermark by records appended but not yet
// committed (not yet fdatasync'd under flush.policy=always, or not yet on
// every in-sync replica); consumers can read up to HighWatermark only.
type PartitionDescription struct {
	Partition      int32
	Leader         int32 // -1: none
	LeaderEpoch    int32
	Replicas       []int32
	ISR            []int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	Err            error // a partition error from metadata or ListOffsets
}

// DescribeTopics returns the layout and offsets of topics (every topic when
// none is named), sorted by name.
func (a *Admin) DescribeTopics(ctx context.Context, names ...string) ([]TopicDescription, error) {
	req := &wire.MetadataRequest{AllTopics: len(names) == 0, Topics: names}
	var resp wire.MetadataResponse
	if err := a.cl.requestAny(ctx, req, &resp); err != nil {
		return nil, fmt.Errorf("client: describe topics: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("client: describe topics: %w", err)
	}
	a.cl.apply(&resp)
	var descs []TopicDescription
	var tps []TopicPartition
	for _, t := range resp.Topics {
		d := TopicDescription{Name: t.Name}
		if err := t.ErrorCode.Err(); err != nil {
			d.Err = fmt.Errorf("client: topic %q: %w", t.Name, err)
		}
		for _, p := range t.Partitions {
			pd := PartitionDescription{Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: append([]int32(nil), p.Replicas...), ISR: append([]int32(nil), p.ISR...),
				LogStartOffset: -1, LogEndOffset: -1, HighWatermark: -1}
			if err := p.ErrorCode.Err(); err != nil {
				pd.Err = partitionErr(t.Name, p.Partition, err)
			}
			d.Partitions = append(d.Partitions, pd)
			tps = append(tps, TopicPartition{t.Name, p.Partition})
		}
		sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].Partition < d.Partitions[j].Partition })
		descs = append(descs, d)
	}
	sort.Slice(descs, func(i, j int) bool { return descs[i].Name < descs[j].Name })
	start, err := a.ListOffsets(ctx, Earliest(), tps...)
	if err != nil {
		return nil, err
	}
	hw, err := a.ListOffsets(ctx, Latest(), tps...)
	if err != nil {
		return nil, err
	}
	end, err := a.ListOffsets(ctx, logEnd(), tps...)
	if err != nil {
		return nil, err
	}
	for i := range descs {
		for j := range descs[i].Partitions {
			pd := &descs[i].Partitions[j]
			tp := TopicPartition{descs[i].Name, pd.Partition}
			s, h, e := start[tp], hw[tp], end[tp]
			pd.LogStartOffset, pd.HighWatermark, pd.LogEndOffset = s.Offset, h.Offset, e.Offset
			if pd.Err == nil {
				pd.Err = errors.Join(s.Err, h.Err, e.Err)
			}
		}
	}
	return descs, nil
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ListedOffset is the answer of ListOffsets for one partition.
type ListedOffset struct {
	Offset    int64 // -1 when no record is at or after the time asked for
	Timestamp int64 // the record's timestamp in ms for AtTime; -1 otherwise
	Err       error
}

// ListOffsets returns, for each partition, the offset that at designates:
// Earliest (log start), Latest (high watermark) or AtTime (first record at
// or after the time). Each request goes to the partition's leader.
func (a *Admin) ListOffsets(ctx context.Context, at Offset, tps ...TopicPartition) (map[TopicPartition]ListedOffset, error) {
	if at.resolved() {
		return nil, fmt.Errorf("client: list offsets: At(%d) is not a query (use Earliest, Latest or AtTime): %w", at.at, ErrInvalidOption)
	}
	out := make(map[TopicPartition]ListedOffset, len(tps))
	byLeader, failed := a.byLeader(ctx, tps)
	for tp, err := range failed {
		out[tp] = ListedOffset{Offset: -1, Timestamp: -1, Err: err}
	}
	for leader, list := range byLeader {
		var req wire.ListOffsetsRequest
		for _, tp := range list {
			req.Topics = appendListOffsets(req.Topics, tp.Topic, tp.Partition, at.listTimestamp())
		}
		var resp wire.ListOffsetsResponse
		if err := a.brokerRequest(ctx, leader, &req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
			return nil, fmt.Errorf("client: list offsets on broker %d: %w", leader, err)
		}
		for _, tp := range list {
			lo := ListedOffset{Offset: -1, Timestamp: -1}
			lo.Offset, lo.Timestamp, lo.Err = listOffsetsFull(&resp, tp)
			out[tp] = lo
		}
	}
	return out, nil
}

// brokerRequest sends req to broker id, retrying retriable failures
// (including a retriable top-level code) until ctx ends.
func (a *Admin) brokerRequest(ctx context.Context, id int32, req wire.Request, resp wire.Response, code func() wire.ErrorCode) error {
	return a.cl.retry(ctx, func() error {
		c, err := a.cl.connTo(ctx, id)
		if err != nil {
			return err
		}
		if err := c.request(ctx, req, resp, a.cfg.reqTO); err != nil {
			return err
		}
		return code().Err()
	})
}

// byLeader groups partitions by their leader's node id, fetching the
// metadata of topics not yet known; failed holds those without a leader.
func (a *Admin) byLeader(ctx context.Context, tps []TopicPartition) (byLeader map[int32][]TopicPartition, failed map[TopicPartition]error) {
	byLeader, failed = make(map[int32][]TopicPartition), make(map[TopicPartition]error)
	for _, tp := range tps {
		leader, ok := a.cl.leader(tp.Topic, tp.Partition)
		if !ok {
			if _, err := a.cl.waitTopic(ctx, tp.Topic); err != nil {
				failed[tp] = err
				continue
			}
			if leader, ok = a.cl.leader(tp.Topic, tp.Partition); !ok {
				failed[tp] = partitionErr(tp.Topic, tp.Partition, wire.ErrLeaderNotAvailable)
				continue
			}
		}
		byLeader[leader] = append(byLeader[leader], tp)
	}
	return byLeader, failed
}

func listOffsetsFull(resp *wire.ListOffsetsResponse, tp TopicPartition) (int64, int64, error) {
	for i := range resp.Topics {
		if resp.Topics[i].Name != tp.Topic {
			continue
		}
		for _, p := range resp.Topics[i].Partitions {
			if p.Partition == tp.Partition {
				if err := p.ErrorCode.Err(); err != nil {
					return -1, -1, partitionErr(tp.Topic, tp.Partition, err)
				}
				return p.Offset, p.Timestamp, nil
			}
		}
	}
	return -1, -1, partitionErr(tp.Topic, tp.Partition, fmt.Errorf("no result in the list offsets response: %w", wire.ErrUnknownServerError))
}
