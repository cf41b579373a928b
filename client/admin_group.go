package client

// Group administration: list, describe and delete consumer groups, and
// read or set their committed offsets. Each group lives on one coordinator
// (FindCoordinator names it), so every call but ListGroups goes there;
// ListGroups asks every broker, since each lists only the groups it
// coordinates.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/spate-io/spate/wire"
)

// GroupListing is one group of ListGroups.
type GroupListing struct {
	GroupID      string
	ProtocolType string // "consumer" for GroupConsumer groups
	State        string // Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
	Coordinator  int32  // node id of the broker that answered for it
}

// GroupDescription is one group of DescribeGroups. An unknown group comes
// back with State "Dead" and no members, as Kafka answers it.
type GroupDescription struct {
	GroupID      string
	State        string
	ProtocolType string
	Protocol     string // the assignor the group chose, e.g. "range"
	Members      []GroupMemberDescription
	Err          error // the coordinator's error for this group
}

// GroupMemberDescription is one member of a described group.
type GroupMemberDescription struct {
	MemberID   string
	InstanceID string // static members only
	ClientID   string
	ClientHost string
	// Assigned is the member's assignment decoded with the consumer
	// protocol, sorted by topic then partition; nil when the group's
	// protocol type is not "consumer" or the assignment does not parse
	// (AssignErr says why).
	Assigned  []TopicPartition
	AssignErr error
}

// ListGroups returns the groups of every broker the client knows, sorted by
// id. A broker that cannot be reached fails the call: a partial list would
// look complete.
func (a *Admin) ListGroups(ctx context.Context) ([]GroupListing, error) {
	if err := a.cl.refresh(ctx, []string{}, time.Time{}); err != nil {
		return nil, fmt.Errorf("client: list groups: %w", err)
	}
	var out []GroupListing
	for _, id := range a.brokerIDs() {
		var resp wire.ListGroupsResponse
		err := a.cl.retry(ctx, func() error {
			c, err := a.cl.connTo(ctx, id)
			if err != nil {
				return err
			}
			if err := c.request(ctx, &wire.ListGroupsRequest{}, &resp, a.cfg.reqTO); err != nil {
				return err
			}
			return resp.ErrorCode.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("client: list groups on broker %d: %w", id, err)
		}
		for _, g := range resp.Groups {
			out = append(out, GroupListing{GroupID: g.GroupID, ProtocolType: g.ProtocolType, State: g.State, Coordinator: id})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return out, nil
}

// brokerIDs returns the node ids learnt from metadata (not the seeds).
func (a *Admin) brokerIDs() []int32 {
	a.cl.mu.Lock()
	defer a.cl.mu.Unlock()
	ids := make([]int32, 0, len(a.cl.mu.brokers))
	for id := range a.cl.mu.brokers {
		if id >= 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// coordinatorRequest sends req to group's coordinator and decodes into
// resp, retrying retriable failures (a coordinator that moved or is
// loading). code reads the response's top-level error. owned decodes into
// a copy of the frame, for responses whose byte fields outlive the call.
func (a *Admin) coordinatorRequest(ctx context.Context, group string, req wire.Request, resp wire.Response, code func() wire.ErrorCode, owned bool) error {
	return a.cl.retry(ctx, func() error {
		c, err := a.coordinatorConn(ctx, group)
		if err != nil {
			return err
		}
		if owned {
			err = c.request(ctx, req, resp, a.cfg.reqTO)
		} else {
			err = c.request(ctx, req, resp, a.cfg.reqTO)
		}
		if err != nil {
			return err
		}
		return code().Err()
	})
}

// coordinatorConn finds group's coordinator and returns a connection to it.
func (a *Admin) coordinatorConn(ctx context.Context, group string) (*conn, error) {
	var resp wire.FindCoordinatorResponse
	if err := a.cl.requestAny(ctx, &wire.FindCoordinatorRequest{Key: group, KeyType: wire.CoordinatorKeyGroup}, &resp); err != nil {
		return nil, fmt.Errorf("find coordinator of group %q: %w", group, err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("find coordinator of group %q: %w", group, err)
	}
	c, err := a.cl.connTo(ctx, resp.NodeID)
	if errors.Is(err, wire.ErrBrokerNotAvailable) {
		// Only the seeds are known yet: learn the brokers' ids.
		if err := a.cl.refresh(ctx, []string{}, time.Time{}); err != nil {
			return nil, err
		}
		c, err = a.cl.connTo(ctx, resp.NodeID)
	}
	return c, err
}

// DescribeGroups describes groups by id, in the order asked.
func (a *Admin) DescribeGroups(ctx context.Context, ids ...string) ([]GroupDescription, error) {
	out := make([]GroupDescription, 0, len(ids))
	for _, id := range ids {
		var resp wire.DescribeGroupsResponse
		err := a.coordinatorRequest(ctx, id, &wire.DescribeGroupsRequest{Groups: []string{id}}, &resp,
			func() wire.ErrorCode { return resp.ErrorCode }, true)
		if err == nil && len(resp.Groups) != 1 {
			err = fmt.Errorf("%d groups in the answer for one: %w", len(resp.Groups), wire.ErrUnknownServerError)
		}
		if err != nil {
			return nil, fmt.Errorf("client: describe group %q: %w", id, err)
		}
		out = append(out, describedGroup(&resp.Groups[0]))
	}
	return out, nil
}

func describedGroup(g *wire.DescribedGroup) GroupDescription {
	d := GroupDescription{GroupID: g.GroupID, State: g.State, ProtocolType: g.ProtocolType, Protocol: g.Protocol}
	if err := g.ErrorCode.Err(); err != nil {
		d.Err = fmt.Errorf("client: group %q: %w", g.GroupID, err)
	}
	for _, m := range g.Members {
		md := GroupMemberDescription{MemberID: m.MemberID, InstanceID: m.GroupInstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if g.ProtocolType == GroupProtocolType {
			parts, err := decodeAssignment(m.Assignment)
			if err != nil {
				md.AssignErr = fmt.Errorf("client: group %q member %q: %w", g.GroupID, m.MemberID, err)
			}
			for topic, ps := range parts {
				for _, p := range ps {
					md.Assigned = append(md.Assigned, TopicPartition{topic, p})
				}
			}
			sortTopicPartitions(md.Assigned)
		}
		d.Members = append(d.Members, md)
	}
	return d
}

func sortTopicPartitions(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
}

// FetchGroupOffsets returns every committed offset of group (the next
// offset its consumers will read), by partition. A group without commits
// gives an empty map.
func (a *Admin) FetchGroupOffsets(ctx context.Context, group string) (map[TopicPartition]int64, error) {
	var resp wire.OffsetFetchResponse
	err := a.coordinatorRequest(ctx, group, &wire.OffsetFetchRequest{GroupID: group, AllTopics: true}, &resp,
		func() wire.ErrorCode { return resp.ErrorCode }, false)
	if err != nil {
		return nil, fmt.Errorf("client: fetch offsets of group %q: %w", group, err)
	}
	out := make(map[TopicPartition]int64)
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := p.ErrorCode.Err(); err != nil {
				errs = append(errs, partitionErr(t.Name, p.Partition, err))
				continue
			}
			if p.Offset >= 0 {
				out[TopicPartition{t.Name, p.Partition}] = p.Offset
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("client: fetch offsets of group %q: %w", group, err)
	}
	return out, nil
}

// CommitGroupOffsets stores offsets for group as a standalone client
// (generation -1, no member id). The coordinator accepts that only while
// the group has no members; otherwise the error wraps
// wire.ErrUnknownMemberID or wire.ErrIllegalGeneration (the broker decides).
func (a *Admin) CommitGroupOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sortTopicPartitions(tps)
	req := &wire.OffsetCommitRequest{GroupID: group, GenerationID: -1}
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Name != tp.Topic {
			req.Topics = append(req.Topics, wire.OffsetCommitTopic{Name: tp.Topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, wire.OffsetCommitPartition{Partition: tp.Partition, Offset: offsets[tp], LeaderEpoch: -1})
	}
	var resp wire.OffsetCommitResponse
	err := a.coordinatorRequest(ctx, group, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }, false)
	if err != nil {
		return fmt.Errorf("client: commit offsets of group %q: %w", group, err)
	}
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := p.ErrorCode.Err(); err != nil {
				errs = append(errs, partitionErr(t.Name, p.Partition, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("client: commit offsets of group %q: %w", group, err)
	}
	return nil
}

// DeleteGroups deletes groups and their committed offsets. Only groups
// without members can go (wire.ErrNonEmptyGroup otherwise). It returns the
// per-group errors joined, each naming its group.
func (a *Admin) DeleteGroups(ctx context.Context, ids ...string) error {
	var errs []error
	for _, id := range ids {
		var resp wire.DeleteGroupsResponse
		err := a.coordinatorRequest(ctx, id, &wire.DeleteGroupsRequest{Groups: []string{id}}, &resp,
			func() wire.ErrorCode { return resp.ErrorCode }, false)
		for _, r := range resp.Results {
			if err == nil {
				err = r.ErrorCode.Err()
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("client: delete group %q: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
