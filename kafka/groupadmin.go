package kafka

// Behavior: the group admin APIs, over the same coordinator.
//
//	ListGroups       every group, optionally filtered by state (v4+); an
//	                 unknown state name is INVALID_REQUEST
//	DescribeGroups   each named group; an unknown one is described as Dead,
//	                 as Kafka does; an empty id is INVALID_GROUP_ID, a group
//	                 another broker coordinates NOT_COORDINATOR
//	DeleteGroups     answered once the tombstones are written; a group with
//	                 members is NON_EMPTY_GROUP

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
)

func (h *Handler) listGroups(r *netio.Responder, hdr requestHeader, q *kmsg.ListGroupsRequest) {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = q.Version
	groups, code := h.groups.ListGroups(q.StatesFilter)
	resp.ErrorCode = int16(code)
	for _, g := range groups {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState = g.GroupID, g.ProtocolType, g.State.String()
		resp.Groups = append(resp.Groups, lg)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) describeGroups(r *netio.Responder, hdr requestHeader, q *kmsg.DescribeGroupsRequest) {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = q.Version
	for _, g := range h.cfg.Groups.DescribeGroups(q.Groups...) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.State, dg.ProtocolType, dg.Protocol = g.GroupID, g.State.String(), g.ProtocolType, g.Protocol
		dg.ErrorCode = int16(front.DescribedCode(&g))
		for _, m := range g.Members {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.ClientID, dm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
			dm.ProtocolMetadata, dm.MemberAssignment = m.Metadata, m.Assignment
			if m.GroupInstanceID != "" {
				dm.InstanceID = ptr(m.GroupInstanceID)
			}
			dg.Members = append(dg.Members, dm)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) deleteGroups(r *netio.Responder, hdr requestHeader, q *kmsg.DeleteGroupsRequest) {
	ids := q.Groups
	h.cfg.Groups.DeleteGroups(ids, time.Now(), func(errs []error) {
		resp := kmsg.NewPtrDeleteGroupsResponse()
		resp.Version = q.Version
		for i, id := range ids {
			dg := kmsg.NewDeleteGroupsResponseGroup()
			dg.Group = id
			if dg.ErrorCode = int16(front.CodeAt(errs, i)); dg.ErrorCode != 0 {
				dg.ErrorMessage = ptr(front.ErrorMessage(errs[i]))
			}
			resp.Groups = append(resp.Groups, dg)
		}
		h.reply(r, hdr, resp)
	})
}
