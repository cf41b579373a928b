package broker

// Behavior: the ten consumer-group APIs (wire keys 10-19) translated onto
// engine.GroupCoordinator. docs/groups.md has the protocol.
//
//	FindCoordinator   the leader of the group's partition of __consumer_offsets, created (off the loop) on first use
//	JoinGroup         parks until the join barrier opens; answered from the coordinator's goroutine
//	SyncGroup         a follower parks until the leader's assignment is written
//	OffsetCommit      answered once the offsets are written (acks=all) to __consumer_offsets;
//	                  a request-level error is repeated in every partition, as Kafka does
//	Heartbeat, LeaveGroup, OffsetFetch, ListGroups, DescribeGroups   answered at once
//	DeleteGroups      answered once the tombstones are written
//
// Parked answers (join, sync, commit, delete) run on another goroutine and
// reply through the netio.Responder, which accepts that. They read only the
// coordinator's result: the decoded request belongs to a pooled decoder
// that is reused once ServeFrame returns, and the coordinator copies the
// byte fields it keeps. The connection's responses stay in request order,
// so a client must not expect an answer to a request sent behind a parked
// JoinGroup on the same connection before the join completes (Kafka brokers
// behave the same way).

import (
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

func (h *nativeHandler) findCoordinator(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.FindCoordinatorRequest) {
	// The first lookup may create __consumer_offsets through the
	// controller: off the event loop.
	keyType, key := q.KeyType, q.Key
	go h.answerCoordinator(r, hdr, start, keyType, key)
}

// answerCoordinator answers with the broker that coordinates group key:
// the leader of the group's partition of __consumer_offsets, at its
// native address.
func (h *nativeHandler) answerCoordinator(r *netio.Responder, hdr wire.RequestHeader, start time.Time, keyType int8, key string) {
	resp := &wire.FindCoordinatorResponse{NodeID: -1, Port: -1}
	id, code, err := h.groups.FindCoordinator(keyType, key)
	if err == nil {
		if resp.NodeID, resp.Host, resp.Port, err = h.b.member.brokerAddr(id); err != nil {
			code = codeOf(err)
		}
	}
	if err != nil {
		resp.NodeID, resp.Port = -1, -1
		resp.ErrorCode, resp.Message = code, err.Error()
		h.reply(r, hdr, start, resp, true)
		return
	}
	h.reply(r, hdr, start, resp, false)
}

func (h *nativeHandler) joinGroup(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.JoinGroupRequest) {
	req := engine.JoinGroupRequest{
		GroupID:          q.GroupID,
		MemberID:         q.MemberID,
		GroupInstanceID:  q.GroupInstanceID,
		ClientID:         q.ClientID,
		ClientHost:       r.Conn().RemoteHost(),
		SessionTimeout:   time.Duration(q.SessionTimeoutMs) * time.Millisecond,
		RebalanceTimeout: time.Duration(q.RebalanceTimeoutMs) * time.Millisecond,
		ProtocolType:     q.ProtocolType,
		Protocols:        make([]engine.GroupProtocol, len(q.Protocols)),
	}
	for i, p := range q.Protocols {
		req.Protocols[i] = engine.GroupProtocol{Name: p.Name, Metadata: p.Metadata}
	}
	h.b.groups.JoinGroup(req, time.Now(), func(res engine.JoinGroupResult) {
		resp := &wire.JoinGroupResponse{
			ErrorCode:    codeOf(res.Err),
			GenerationID: res.GenerationID,
			ProtocolType: res.ProtocolType,
			ProtocolName: res.ProtocolName,
			Leader:       res.Leader,
			MemberID:     res.MemberID,
			Members:      make([]wire.JoinGroupMember, len(res.Members)),
		}
		for i, m := range res.Members {
			resp.Members[i] = wire.JoinGroupMember{MemberID: m.MemberID, GroupInstanceID: m.GroupInstanceID, Metadata: m.Metadata}
		}
		h.reply(r, hdr, start, resp, res.Err != nil)
	})
}

func (h *nativeHandler) syncGroup(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.SyncGroupRequest) {
	req := engine.SyncGroupRequest{
		GroupID:         q.GroupID,
		GenerationID:    q.GenerationID,
		MemberID:        q.MemberID,
		GroupInstanceID: q.GroupInstanceID,
		ProtocolType:    q.ProtocolType,
		ProtocolName:    q.ProtocolName,
	}
	if len(q.Assignments) > 0 {
		req.Assignments = make([]engine.GroupAssignment, len(q.Assignments))
		for i, a := range q.Assignments {
			req.Assignments[i] = engine.GroupAssignment{MemberID: a.MemberID, Assignment: a.Assignment}
		}
	}
	h.b.groups.SyncGroup(req, time.Now(), func(res engine.SyncGroupResult) {
		resp := &wire.SyncGroupResponse{
			ErrorCode:    codeOf(res.Err),
			ProtocolType: res.ProtocolType,
			ProtocolName: res.ProtocolName,
			Assignment:   res.Assignment,
		}
		h.reply(r, hdr, start, resp, res.Err != nil)
	})
}

func (h *nativeHandler) heartbeat(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.HeartbeatRequest) {
	err := h.b.groups.Heartbeat(engine.HeartbeatRequest{
		GroupID: q.GroupID, GenerationID: q.GenerationID, MemberID: q.MemberID, GroupInstanceID: q.GroupInstanceID,
	}, time.Now())
	h.reply(r, hdr, start, &wire.HeartbeatResponse{ErrorCode: codeOf(err)}, err != nil)
}

func (h *nativeHandler) leaveGroup(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.LeaveGroupRequest) {
	members := make([]engine.LeavingMember, len(q.Members))
	for i, m := range q.Members {
		members[i] = engine.LeavingMember{MemberID: m.MemberID, GroupInstanceID: m.GroupInstanceID}
	}
	errs, err := h.b.groups.LeaveGroup(q.GroupID, members, time.Now())
	resp := &wire.LeaveGroupResponse{ErrorCode: codeOf(err), Members: make([]wire.LeaveGroupMemberResponse, len(q.Members))}
	failed := err != nil
	for i, m := range q.Members {
		resp.Members[i] = wire.LeaveGroupMemberResponse{MemberID: m.MemberID, GroupInstanceID: m.GroupInstanceID, ErrorCode: front.CodeAt(errs, i)}
		failed = failed || resp.Members[i].ErrorCode != wire.None
	}
	h.reply(r, hdr, start, resp, failed)
}

func (h *nativeHandler) offsetCommit(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.OffsetCommitRequest) {
	req := engine.OffsetCommitRequest{
		GroupID: q.GroupID, GenerationID: q.GenerationID, MemberID: q.MemberID, GroupInstanceID: q.GroupInstanceID,
	}
	// The response mirrors the request's shape; it is built now because
	// done runs after q has gone back to the decoder pool.
	resp := &wire.OffsetCommitResponse{Topics: make([]wire.OffsetCommitTopicResponse, len(q.Topics))}
	for i, t := range q.Topics {
		rt := &resp.Topics[i]
		rt.Name = t.Name
		rt.Partitions = make([]wire.OffsetCommitPartitionResponse, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j].Partition = p.Partition
			req.Offsets = append(req.Offsets, engine.CommitOffset{
				Topic: t.Name, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata,
			})
		}
	}
	h.groups.CommitOffsets(req, time.Now(), func(codes []wire.ErrorCode, failed bool) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode, codes = codes[0], codes[1:]
			}
		}
		h.reply(r, hdr, start, resp, failed)
	})
}

func (h *nativeHandler) offsetFetch(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.OffsetFetchRequest) {
	var partitions []engine.TopicPartition
	if !q.AllTopics {
		partitions = []engine.TopicPartition{} // non-nil: "these partitions", even when none
		for _, t := range q.Topics {
			for _, p := range t.Partitions {
				partitions = append(partitions, engine.TopicPartition{Topic: t.Name, Partition: p})
			}
		}
	}
	offsets, err := h.b.groups.FetchOffsets(q.GroupID, partitions)
	resp := &wire.OffsetFetchResponse{ErrorCode: codeOf(err)}
	for topic, offsets := range front.ByTopic(offsets) {
		t := wire.OffsetFetchTopicResponse{Name: topic, Partitions: make([]wire.OffsetFetchPartitionResponse, len(offsets))}
		for i, o := range offsets {
			t.Partitions[i] = wire.OffsetFetchPartitionResponse{
				Partition: o.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata,
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	h.reply(r, hdr, start, resp, err != nil)
}

func (h *nativeHandler) listGroups(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.ListGroupsRequest) {
	groups, code := h.groups.ListGroups(q.StatesFilter)
	resp := &wire.ListGroupsResponse{ErrorCode: code, Groups: make([]wire.ListedGroup, len(groups))}
	for i, g := range groups {
		resp.Groups[i] = wire.ListedGroup{GroupID: g.GroupID, ProtocolType: g.ProtocolType, State: g.State.String()}
	}
	h.reply(r, hdr, start, resp, code != wire.None)
}

func (h *nativeHandler) describeGroups(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DescribeGroupsRequest) {
	groups := h.b.groups.DescribeGroups(q.Groups...)
	resp := &wire.DescribeGroupsResponse{Groups: make([]wire.DescribedGroup, len(groups))}
	for i, g := range groups {
		dg := wire.DescribedGroup{
			GroupID: g.GroupID, State: g.State.String(), ProtocolType: g.ProtocolType, Protocol: g.Protocol,
			Members: make([]wire.DescribedMember, len(g.Members)),
		}
		dg.ErrorCode = front.DescribedCode(&g)
		for j, m := range g.Members {
			dg.Members[j] = wire.DescribedMember{
				MemberID: m.MemberID, GroupInstanceID: m.GroupInstanceID, ClientID: m.ClientID,
				ClientHost: m.ClientHost, Metadata: m.Metadata, Assignment: m.Assignment,
			}
		}
		resp.Groups[i] = dg
	}
	h.reply(r, hdr, start, resp, false)
}

func (h *nativeHandler) deleteGroups(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DeleteGroupsRequest) {
	ids := append([]string(nil), q.Groups...)
	h.b.groups.DeleteGroups(ids, time.Now(), func(errs []error) {
		resp := &wire.DeleteGroupsResponse{Results: make([]wire.DeleteGroupResult, len(ids))}
		failed := false
		for i, id := range ids {
			resp.Results[i] = wire.DeleteGroupResult{GroupID: id, ErrorCode: front.CodeAt(errs, i)}
			failed = failed || resp.Results[i].ErrorCode != wire.None
		}
		h.reply(r, hdr, start, resp, failed)
	})
}
