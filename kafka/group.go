package kafka

// Behavior: the classic consumer-group APIs translated onto
// engine.GroupCoordinator through front.Groups, as the native front end
// does, so both front doors see the same groups and committed offsets and
// answer them with the same codes (docs/groups.md has the protocol).
//
//	JoinGroup      parks until the join barrier opens; answered from the
//	               coordinator's goroutine. Below v4 a member cannot be told
//	               MEMBER_ID_REQUIRED (KIP-394), so the front end joins again
//	               at once with the id the coordinator gave, as Kafka does.
//	SyncGroup      a follower parks until the leader's assignment is written
//	OffsetCommit   answered once the offsets are written to __consumer_offsets;
//	               an unknown partition is UNKNOWN_TOPIC_OR_PARTITION, metadata
//	               over offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE
//	Heartbeat, LeaveGroup, OffsetFetch   answered at once
//
// Parked answers reply through the netio.Responder from another goroutine;
// they read only the coordinator's result and what was copied out of the
// request before ServeFrame returned (kmsg decoded strings are copies).

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr(s string) *string { return &s }

func (h *Handler) joinGroup(r *netio.Responder, hdr requestHeader, q *kmsg.JoinGroupRequest) {
	req := engine.JoinGroupRequest{
		GroupID:          q.Group,
		MemberID:         q.MemberID,
		GroupInstanceID:  deref(q.InstanceID),
		ClientID:         hdr.clientID,
		ClientHost:       r.Conn().RemoteHost(),
		SessionTimeout:   time.Duration(q.SessionTimeoutMillis) * time.Millisecond,
		RebalanceTimeout: time.Duration(q.RebalanceTimeoutMillis) * time.Millisecond,
		ProtocolType:     q.ProtocolType,
		Protocols:        make([]engine.GroupProtocol, len(q.Protocols)),
	}
	if q.Version == 0 {
		req.RebalanceTimeout = req.SessionTimeout // v0 has no rebalance timeout; Kafka uses the session's
	}
	for i, p := range q.Protocols {
		req.Protocols[i] = engine.GroupProtocol{Name: p.Name, Metadata: p.Metadata}
	}
	var done func(engine.JoinGroupResult)
	done = func(res engine.JoinGroupResult) {
		if q.Version < 4 && errors.Is(res.Err, engine.ErrMemberIDRequired) {
			req.MemberID = res.MemberID
			h.cfg.Groups.JoinGroup(req, time.Now(), done)
			return
		}
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = q.Version
		resp.ErrorCode = h.code(res.Err)
		resp.Generation = res.GenerationID
		resp.ProtocolType, resp.Protocol = ptr(res.ProtocolType), ptr(res.ProtocolName)
		resp.LeaderID, resp.MemberID = res.Leader, res.MemberID
		for _, m := range res.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
			if m.GroupInstanceID != "" {
				rm.InstanceID = ptr(m.GroupInstanceID)
			}
			resp.Members = append(resp.Members, rm)
		}
		h.reply(r, hdr, resp)
	}
	h.cfg.Groups.JoinGroup(req, time.Now(), done)
}

func (h *Handler) syncGroup(r *netio.Responder, hdr requestHeader, q *kmsg.SyncGroupRequest) {
	req := engine.SyncGroupRequest{
		GroupID:         q.Group,
		GenerationID:    q.Generation,
		MemberID:        q.MemberID,
		GroupInstanceID: deref(q.InstanceID),
		ProtocolType:    deref(q.ProtocolType),
		ProtocolName:    deref(q.Protocol),
	}
	for _, a := range q.GroupAssignment {
		req.Assignments = append(req.Assignments, engine.GroupAssignment{MemberID: a.MemberID, Assignment: a.MemberAssignment})
	}
	h.cfg.Groups.SyncGroup(req, time.Now(), func(res engine.SyncGroupResult) {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = q.Version
		resp.ErrorCode = h.code(res.Err)
		resp.ProtocolType, resp.Protocol = ptr(res.ProtocolType), ptr(res.ProtocolName)
		resp.MemberAssignment = res.Assignment
		h.reply(r, hdr, resp)
	})
}

func (h *Handler) heartbeat(r *netio.Responder, hdr requestHeader, q *kmsg.HeartbeatRequest) {
	err := h.cfg.Groups.Heartbeat(engine.HeartbeatRequest{
		GroupID: q.Group, GenerationID: q.Generation, MemberID: q.MemberID, GroupInstanceID: deref(q.InstanceID),
	}, time.Now())
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version, resp.ErrorCode = q.Version, h.code(err)
	h.reply(r, hdr, resp)
}

func (h *Handler) leaveGroup(r *netio.Responder, hdr requestHeader, q *kmsg.LeaveGroupRequest) {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = q.Version
	var members []engine.LeavingMember
	if q.Version < 3 {
		members = []engine.LeavingMember{{MemberID: q.MemberID}}
	}
	for _, m := range q.Members {
		members = append(members, engine.LeavingMember{MemberID: m.MemberID, GroupInstanceID: deref(m.InstanceID)})
	}
	errs, err := h.cfg.Groups.LeaveGroup(q.Group, members, time.Now())
	resp.ErrorCode = h.code(err)
	if q.Version < 3 {
		if err == nil {
			resp.ErrorCode = int16(front.CodeAt(errs, 0)) // the one member's, the only code v0-v2 have
		}
		h.reply(r, hdr, resp)
		return
	}
	for i, m := range q.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, int16(front.CodeAt(errs, i))
		resp.Members = append(resp.Members, rm)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) offsetCommit(r *netio.Responder, hdr requestHeader, q *kmsg.OffsetCommitRequest) {
	req := engine.OffsetCommitRequest{
		GroupID: q.Group, GenerationID: q.Generation, MemberID: q.MemberID, GroupInstanceID: deref(q.InstanceID),
	}
	for _, t := range q.Topics {
		for _, p := range t.Partitions {
			req.Offsets = append(req.Offsets, engine.CommitOffset{
				Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: deref(p.Metadata),
			})
		}
	}
	h.groups.CommitOffsets(req, time.Now(), func(codes []wire.ErrorCode, _ bool) {
		resp := kmsg.NewPtrOffsetCommitResponse()
		resp.Version = q.Version
		for _, t := range q.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode, codes = p.Partition, int16(codes[0]), codes[1:]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		h.reply(r, hdr, resp)
	})
}

func (h *Handler) offsetFetch(r *netio.Responder, hdr requestHeader, q *kmsg.OffsetFetchRequest) {
	var partitions []engine.TopicPartition
	if q.Topics != nil { // null (v2+): every topic the group committed
		partitions = []engine.TopicPartition{}
		for _, t := range q.Topics {
			for _, p := range t.Partitions {
				partitions = append(partitions, engine.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	offsets, err := h.cfg.Groups.FetchOffsets(q.Group, partitions)
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = q.Version
	resp.ErrorCode = h.code(err)
	for topic, offsets := range front.ByTopic(offsets) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = topic
		for _, o := range offsets {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, ptr(o.Metadata)
			if q.Version < 2 {
				rp.ErrorCode = resp.ErrorCode // no top-level error code before v2
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}
