package kafka

// Behavior: the classic consumer-group APIs translated onto
// engine.GroupCoordinator, the coordinator the native front end uses, so
// both front doors see the same groups and committed offsets
// (docs/groups.md has the protocol).
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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
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
		if err == nil && len(errs) > 0 {
			resp.ErrorCode = h.code(errs[0])
		}
		h.reply(r, hdr, resp)
		return
	}
	for i, m := range q.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		if i < len(errs) {
			rm.ErrorCode = h.code(errs[i])
		}
		resp.Members = append(resp.Members, rm)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) offsetCommit(r *netio.Responder, hdr requestHeader, q *kmsg.OffsetCommitRequest) {
	req := engine.OffsetCommitRequest{
		GroupID: q.Group, GenerationID: q.Generation, MemberID: q.MemberID, GroupInstanceID: deref(q.InstanceID),
	}
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			meta := deref(p.Metadata)
			switch {
			case !h.cfg.Engine.HasPartition(t.Topic, p.Partition):
				// A commit must not bring back offsets of a deleted topic.
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(meta) > int(h.cfg.OffsetMetadataMaxBytes):
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				req.Offsets = append(req.Offsets, engine.CommitOffset{
					Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: meta,
				})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.cfg.Groups.CommitOffsets(req, time.Now(), func(err error) {
		code := h.code(err)
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if p := &resp.Topics[i].Partitions[j]; p.ErrorCode == 0 {
					p.ErrorCode = code
				}
			}
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
	// The coordinator returns the request's order, or topic then partition
	// order for all topics, so one topic's partitions are adjacent.
	for _, o := range offsets {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != o.Topic {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = o.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		t := &resp.Topics[len(resp.Topics)-1]
		rp := kmsg.NewOffsetFetchResponseTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.Offset, o.LeaderEpoch, ptr(o.Metadata)
		if q.Version < 2 {
			rp.ErrorCode = resp.ErrorCode // no top-level error code before v2
		}
		t.Partitions = append(t.Partitions, rp)
	}
	h.reply(r, hdr, resp)
}
