package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
)

// One member's whole life in a group at old (v3, no MEMBER_ID_REQUIRED)
// and new versions: join, sync, heartbeat, commit, fetch offsets, leave;
// then the groups are listed, described and deleted.
func TestGroupLifecycle(t *testing.T) {
	b := brokertest.Start(t, func(c *broker.Config) { c.GroupInitialRebalanceDelay = 0 })
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "g-topic", 2)
	for _, v := range []struct{ join, sync, hb, leave, commit, fetch int16 }{
		{join: 3, sync: 2, hb: 2, leave: 2, commit: 3, fetch: 3},
		{join: 9, sync: 5, hb: 4, leave: 5, commit: 8, fetch: 7},
	} {
		group := "g" + string(rune('0'+v.join))
		// As every client does before its first group request.
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = group
		if r := do[*kmsg.FindCoordinatorResponse](k, fc, 3); r.ErrorCode != 0 {
			t.Fatalf("FindCoordinator %s: %+v", group, r)
		}
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = group, 10000, 10000, "consumer"
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", []byte("meta")
		join.Protocols = append(join.Protocols, proto)
		jr := do[*kmsg.JoinGroupResponse](k, join, v.join)
		if v.join >= 4 {
			if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
				t.Fatalf("JoinGroup v%d first join: error %d member %q, want MEMBER_ID_REQUIRED with an id", v.join, jr.ErrorCode, jr.MemberID)
			}
			join.MemberID = jr.MemberID
			jr = do[*kmsg.JoinGroupResponse](k, join, v.join)
		}
		if jr.ErrorCode != 0 || jr.MemberID == "" || jr.LeaderID != jr.MemberID || jr.Generation < 1 ||
			len(jr.Members) != 1 || string(jr.Members[0].ProtocolMetadata) != "meta" {
			t.Fatalf("JoinGroup v%d: %+v", v.join, jr)
		}
		member := jr.MemberID

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group, sync.Generation, sync.MemberID = group, jr.Generation, member
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = member, []byte("all of it")
		sync.GroupAssignment = append(sync.GroupAssignment, a)
		if sr := do[*kmsg.SyncGroupResponse](k, sync, v.sync); sr.ErrorCode != 0 || string(sr.MemberAssignment) != "all of it" {
			t.Fatalf("SyncGroup v%d: %+v", v.sync, sr)
		}

		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.Generation, hb.MemberID = group, jr.Generation, member
		if hr := do[*kmsg.HeartbeatResponse](k, hb, v.hb); hr.ErrorCode != 0 {
			t.Fatalf("Heartbeat v%d: error %d", v.hb, hr.ErrorCode)
		}
		hb.Generation++
		if hr := do[*kmsg.HeartbeatResponse](k, hb, v.hb); hr.ErrorCode != kerr.IllegalGeneration.Code {
			t.Fatalf("Heartbeat v%d with a wrong generation: error %d, want ILLEGAL_GENERATION", v.hb, hr.ErrorCode)
		}

		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Group, commit.Generation, commit.MemberID = group, jr.Generation, member
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.Topic = "g-topic"
		for _, p := range []int32{1, 5} {
			cp := kmsg.NewOffsetCommitRequestTopicPartition()
			cp.Partition, cp.Offset, cp.Metadata = p, 42, kmsg.StringPtr("m")
			ct.Partitions = append(ct.Partitions, cp)
		}
		commit.Topics = append(commit.Topics, ct)
		cr := do[*kmsg.OffsetCommitResponse](k, commit, v.commit)
		if ps := cr.Topics[0].Partitions; ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("OffsetCommit v%d: %+v", v.commit, ps)
		}

		fetch := kmsg.NewPtrOffsetFetchRequest()
		fetch.Group = group
		ft := kmsg.NewOffsetFetchRequestTopic()
		ft.Topic, ft.Partitions = "g-topic", []int32{0, 1}
		fetch.Topics = append(fetch.Topics, ft)
		fr := do[*kmsg.OffsetFetchResponse](k, fetch, v.fetch)
		if ps := fr.Topics[0].Partitions; fr.ErrorCode != 0 || len(ps) != 2 || ps[0].Offset != -1 || ps[1].Offset != 42 || *ps[1].Metadata != "m" {
			t.Fatalf("OffsetFetch v%d: %+v", v.fetch, fr)
		}

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group, leave.MemberID = group, member
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = member
		leave.Members = append(leave.Members, lm)
		lr := do[*kmsg.LeaveGroupResponse](k, leave, v.leave)
		if lr.ErrorCode != 0 || (v.leave >= 3 && (len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0)) {
			t.Fatalf("LeaveGroup v%d: %+v", v.leave, lr)
		}
		hb.Generation--
		if hr := do[*kmsg.HeartbeatResponse](k, hb, v.hb); hr.ErrorCode != kerr.UnknownMemberID.Code {
			t.Fatalf("Heartbeat v%d after leaving: error %d, want UNKNOWN_MEMBER_ID", v.hb, hr.ErrorCode)
		}
	}

	list := kmsg.NewPtrListGroupsRequest()
	list.StatesFilter = []string{"Empty"}
	lg := do[*kmsg.ListGroupsResponse](k, list, 4)
	if lg.ErrorCode != 0 || len(lg.Groups) != 2 || lg.Groups[0].GroupState != "Empty" {
		t.Fatalf("ListGroups of empty groups: %+v", lg)
	}
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"g3", "nope"}
	dg := do[*kmsg.DescribeGroupsResponse](k, desc, 5)
	if len(dg.Groups) != 2 || dg.Groups[0].State != "Empty" || dg.Groups[0].ProtocolType != "consumer" || dg.Groups[1].State != "Dead" {
		t.Fatalf("DescribeGroups: %+v", dg.Groups)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"g3", "g9"}
	if dr := do[*kmsg.DeleteGroupsResponse](k, del, 2); dr.Groups[0].ErrorCode != 0 || dr.Groups[1].ErrorCode != 0 {
		t.Fatalf("DeleteGroups: %+v", dr.Groups)
	}
	if lg := do[*kmsg.ListGroupsResponse](k, kmsg.NewPtrListGroupsRequest(), 0); len(lg.Groups) != 0 {
		t.Fatalf("groups left after DeleteGroups: %+v", lg.Groups)
	}
}
