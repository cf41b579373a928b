package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// groupRequestCases are realistic and edge-value requests of every group API.
func groupRequestCases() map[string]Request {
	return map[string]Request{
		"FindCoordinator": &FindCoordinatorRequest{Key: "billing-consumers", KeyType: CoordinatorKeyGroup},
		"JoinGroup/first": &JoinGroupRequest{GroupID: "g", SessionTimeoutMs: 45000, RebalanceTimeoutMs: 300000,
			ClientID: "consumer-1", ProtocolType: "consumer", Protocols: []GroupProtocol{
				{Name: "cooperative-sticky", Metadata: []byte{0, 1, 2}}, {Name: "range", Metadata: []byte{}}, {Name: "rr"}}},
		"JoinGroup/static": &JoinGroupRequest{GroupID: "g", SessionTimeoutMs: math.MaxInt32, RebalanceTimeoutMs: -1,
			MemberID: "consumer-1-9f2c", GroupInstanceID: "host-a", ProtocolType: "consumer"},
		"SyncGroup/leader": &SyncGroupRequest{GroupID: "g", GenerationID: 3, MemberID: "m1", ProtocolType: "consumer",
			ProtocolName: "range", Assignments: []SyncGroupAssignment{{MemberID: "m1", Assignment: []byte("a1")}, {MemberID: "m2"}}},
		"SyncGroup/follower": &SyncGroupRequest{GroupID: "g", GenerationID: math.MinInt32, MemberID: "m2", GroupInstanceID: "i2"},
		"Heartbeat":          &HeartbeatRequest{GroupID: "g", GenerationID: 7, MemberID: "m1", GroupInstanceID: "host-a"},
		"LeaveGroup": &LeaveGroupRequest{GroupID: "g", Members: []LeaveGroupMember{
			{MemberID: "m1"}, {GroupInstanceID: "host-b"}}},
		"OffsetCommit": &OffsetCommitRequest{GroupID: "g", GenerationID: 4, MemberID: "m1", Topics: []OffsetCommitTopic{
			{Name: "orders", Partitions: []OffsetCommitPartition{
				{Partition: 0, Offset: 1 << 40, LeaderEpoch: 3, Metadata: "checkpoint 17"},
				{Partition: 5, Offset: 0, LeaderEpoch: -1},
			}},
			{Name: "empty"},
		}},
		"OffsetCommit/standalone": &OffsetCommitRequest{GroupID: "g", GenerationID: -1},
		"OffsetFetch":             &OffsetFetchRequest{GroupID: "g", Topics: []OffsetFetchTopic{{Name: "orders", Partitions: []int32{0, 1, math.MaxInt32}}, {Name: "t"}}},
		"OffsetFetch/all":         &OffsetFetchRequest{GroupID: "g", AllTopics: true},
		"ListGroups":              &ListGroupsRequest{StatesFilter: []string{"Stable", "Empty"}},
		"ListGroups/all":          &ListGroupsRequest{},
		"DescribeGroups":          &DescribeGroupsRequest{Groups: []string{"g", "h", ""}},
		"DeleteGroups":            &DeleteGroupsRequest{Groups: []string{"old"}},
	}
}

// groupResponseCases are realistic and edge-value responses of every group API.
func groupResponseCases() map[string]Response {
	return map[string]Response{
		"FindCoordinator":       &FindCoordinatorResponse{NodeID: 1, Host: "broker-1.spate.internal", Port: 9092},
		"FindCoordinator/error": &FindCoordinatorResponse{ErrorCode: CoordinatorNotAvailable, Message: "loading", NodeID: -1, Port: -1},
		"JoinGroup/leader": &JoinGroupResponse{GenerationID: 1, ProtocolType: "consumer", ProtocolName: "range", Leader: "m1", MemberID: "m1",
			Members: []JoinGroupMember{{MemberID: "m1", Metadata: []byte{1}}, {MemberID: "m2", GroupInstanceID: "host-b", Metadata: []byte{}}}},
		"JoinGroup/follower":        &JoinGroupResponse{GenerationID: math.MaxInt32, ProtocolName: "range", Leader: "m1", MemberID: "m2"},
		"JoinGroup/member-required": &JoinGroupResponse{ErrorCode: MemberIDRequired, GenerationID: -1, MemberID: "consumer-1-ab12"},
		"SyncGroup":                 &SyncGroupResponse{ProtocolType: "consumer", ProtocolName: "range", Assignment: []byte("orders:0,1")},
		"SyncGroup/empty":           &SyncGroupResponse{Assignment: []byte{}},
		"Heartbeat":                 &HeartbeatResponse{ErrorCode: RebalanceInProgress},
		"Heartbeat/ok":              &HeartbeatResponse{},
		"LeaveGroup": &LeaveGroupResponse{Members: []LeaveGroupMemberResponse{
			{MemberID: "m1"}, {GroupInstanceID: "host-b", ErrorCode: UnknownMemberID}}},
		"OffsetCommit": &OffsetCommitResponse{Topics: []OffsetCommitTopicResponse{
			{Name: "orders", Partitions: []OffsetCommitPartitionResponse{{Partition: 0}, {Partition: 1, ErrorCode: IllegalGeneration}}}}},
		"OffsetFetch": &OffsetFetchResponse{Topics: []OffsetFetchTopicResponse{
			{Name: "orders", Partitions: []OffsetFetchPartitionResponse{
				{Partition: 0, Offset: 42, LeaderEpoch: 2, Metadata: "m"},
				{Partition: 1, Offset: -1, LeaderEpoch: -1},
				{Partition: 2, Offset: -1, LeaderEpoch: -1, ErrorCode: UnknownTopicOrPartition},
			}}}},
		"ListGroups": &ListGroupsResponse{Groups: []ListedGroup{{GroupID: "g", ProtocolType: "consumer", State: "Stable"}, {GroupID: "standalone", State: "Empty"}}},
		"DescribeGroups": &DescribeGroupsResponse{Groups: []DescribedGroup{
			{GroupID: "g", State: "Stable", ProtocolType: "consumer", Protocol: "range", Members: []DescribedMember{
				{MemberID: "m1", ClientID: "c1", ClientHost: "/10.0.0.7", Metadata: []byte{1, 2}, Assignment: []byte{3}},
				{MemberID: "m2", GroupInstanceID: "host-b", ClientID: "c2", ClientHost: "/10.0.0.8"}}},
			{GroupID: "missing", State: "Dead"},
		}},
		"DeleteGroups": &DeleteGroupsResponse{Results: []DeleteGroupResult{{GroupID: "old"}, {GroupID: "busy", ErrorCode: NonEmptyGroup}, {GroupID: "x", ErrorCode: GroupIDNotFound}}},
	}
}

func newGroupRequest(k APIKey) Request {
	switch k {
	case FindCoordinatorKey:
		return &FindCoordinatorRequest{}
	case JoinGroupKey:
		return &JoinGroupRequest{}
	case SyncGroupKey:
		return &SyncGroupRequest{}
	case HeartbeatKey:
		return &HeartbeatRequest{}
	case LeaveGroupKey:
		return &LeaveGroupRequest{}
	case OffsetCommitKey:
		return &OffsetCommitRequest{}
	case OffsetFetchKey:
		return &OffsetFetchRequest{}
	case ListGroupsKey:
		return &ListGroupsRequest{}
	case DescribeGroupsKey:
		return &DescribeGroupsRequest{}
	case DeleteGroupsKey:
		return &DeleteGroupsRequest{}
	}
	return nil
}

func newGroupResponse(k APIKey) Response {
	switch k {
	case FindCoordinatorKey:
		return &FindCoordinatorResponse{}
	case JoinGroupKey:
		return &JoinGroupResponse{}
	case SyncGroupKey:
		return &SyncGroupResponse{}
	case HeartbeatKey:
		return &HeartbeatResponse{}
	case LeaveGroupKey:
		return &LeaveGroupResponse{}
	case OffsetCommitKey:
		return &OffsetCommitResponse{}
	case OffsetFetchKey:
		return &OffsetFetchResponse{}
	case ListGroupsKey:
		return &ListGroupsResponse{}
	case DescribeGroupsKey:
		return &DescribeGroupsResponse{}
	case DeleteGroupsKey:
		return &DeleteGroupsResponse{}
	}
	return nil
}

// TestGroupRequestRoundTrip sends every group request through a frame and
// the broker's Decoder (reused across cases, so stale capacity is
// exercised), and through the standalone Decode.
func TestGroupRequestRoundTrip(t *testing.T) {
	cases := groupRequestCases()
	var d Decoder
	for _, name := range sortedKeys(cases) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			payload := AppendRequestFrame(nil, 31, want)[SizeLen:]
			h, got, err := d.Decode(payload)
			if err != nil {
				t.Fatalf("Decoder.Decode: %v", err)
			}
			if h.Key != want.APIKey() || h.CorrelationID != 31 {
				t.Fatalf("header %+v", h)
			}
			if enc, wantEnc := got.AppendTo(nil), want.AppendTo(nil); !bytes.Equal(enc, wantEnc) {
				t.Fatalf("Decoder.Decode mismatch\n got %+v\nwant %+v", got, want)
			}
			fresh := newGroupRequest(want.APIKey())
			if err := fresh.Decode(payload[RequestHeaderLen:]); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(fresh, want) {
				t.Fatalf("Request.Decode mismatch\n got %+v\nwant %+v", fresh, want)
			}
			if err := newGroupRequest(want.APIKey()).Decode(append(want.AppendTo(nil), 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("trailing byte accepted: %v", err)
			}
		})
	}
}

// TestGroupResponseRoundTrip encodes, frames, decodes and compares every
// group response, and checks that every strict prefix of a body is refused.
func TestGroupResponseRoundTrip(t *testing.T) {
	cases := groupResponseCases()
	for _, name := range sortedKeys(cases) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			payload := AppendResponseFrame(nil, 8, want)[SizeLen:]
			corr, body, err := ParseResponseHeader(payload)
			if err != nil || corr != 8 {
				t.Fatalf("ParseResponseHeader: %d %v", corr, err)
			}
			got := newGroupResponse(want.APIKey())
			if err := got.Decode(body); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("mismatch\n got %+v\nwant %+v", got, want)
			}
			for n := 2; n < len(body); n++ {
				if err := newGroupResponse(want.APIKey()).Decode(body[:n]); err == nil {
					// A prefix that ends right after a non-zero error code is
					// the legal error-only form.
					if n == 2 && body[0]|body[1] != 0 {
						continue
					}
					t.Fatalf("prefix of %d/%d bytes decoded without error", n, len(body))
				}
			}
		})
	}
}

// TestGroupKeys: the group APIs take the keys docs/protocol.md reserved
// (10-19) and have names.
func TestGroupKeys(t *testing.T) {
	for k := FindCoordinatorKey; k <= DeleteGroupsKey; k++ {
		if !Supports(k, 0) || newGroupRequest(k) == nil || newGroupRequest(k).APIKey() != k || newGroupResponse(k).APIKey() != k {
			t.Fatalf("key %d is not a registered group API", k)
		}
		if name := k.String(); strings.HasPrefix(name, "APIKey(") {
			t.Fatalf("key %d has no name: %q", k, name)
		}
	}
	for _, k := range []APIKey{20, 29, 39} {
		if Supports(k, 0) {
			t.Fatalf("reserved key %d is supported", k)
		}
	}
}

// TestGroupErrorCodes spot-checks Kafka's numbers of the group codes.
func TestGroupErrorCodes(t *testing.T) {
	for code, name := range map[ErrorCode]string{14: "COORDINATOR_LOAD_IN_PROGRESS", 15: "COORDINATOR_NOT_AVAILABLE",
		16: "NOT_COORDINATOR", 22: "ILLEGAL_GENERATION", 23: "INCONSISTENT_GROUP_PROTOCOL", 24: "INVALID_GROUP_ID",
		25: "UNKNOWN_MEMBER_ID", 26: "INVALID_SESSION_TIMEOUT", 27: "REBALANCE_IN_PROGRESS", 68: "NON_EMPTY_GROUP",
		69: "GROUP_ID_NOT_FOUND", 79: "MEMBER_ID_REQUIRED", 81: "GROUP_MAX_SIZE_REACHED", 82: "FENCED_INSTANCE_ID"} {
		if code.String() != name || code.Err() == nil || CodeOf(code.Err()) != code {
			t.Fatalf("code %d is %s, Kafka calls it %s", code, code, name)
		}
	}
	if !IsRetriable(ErrNotCoordinator) || IsRetriable(ErrRebalanceInProgress) {
		t.Fatal("NOT_COORDINATOR must be retriable and REBALANCE_IN_PROGRESS not (Kafka's classes)")
	}
}

// FuzzGroupRequest seeds the request fuzzer's logic with the group requests:
// arbitrary bytes decode or fail with ErrMalformed, and what decodes
// re-encodes stably.
func FuzzGroupRequest(f *testing.F) {
	reqs := groupRequestCases()
	for _, name := range sortedKeys(reqs) {
		f.Add(AppendRequestFrame(nil, 42, reqs[name])[SizeLen:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var d Decoder
		h, req, err := d.Decode(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		enc := req.AppendTo(nil)
		again := newRequest(h.Key)
		if err := again.Decode(enc); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if enc2 := again.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip unstable:\n%x\n%x", enc, enc2)
		}
	})
}

// fuzzGroupResponse is fuzzResponse seeded with the group cases of key.
func fuzzGroupResponse(f *testing.F, key APIKey) {
	resps := groupResponseCases()
	for _, name := range sortedKeys(resps) {
		if resps[name].APIKey() == key {
			f.Add(AppendResponseFrame(nil, 7, resps[name])[SizeLen:])
		}
	}
	fuzzResponse(f, key)
}

func FuzzFindCoordinatorResponse(f *testing.F) { fuzzGroupResponse(f, FindCoordinatorKey) }
func FuzzJoinGroupResponse(f *testing.F)       { fuzzGroupResponse(f, JoinGroupKey) }
func FuzzSyncGroupResponse(f *testing.F)       { fuzzGroupResponse(f, SyncGroupKey) }
func FuzzHeartbeatResponse(f *testing.F)       { fuzzGroupResponse(f, HeartbeatKey) }
func FuzzLeaveGroupResponse(f *testing.F)      { fuzzGroupResponse(f, LeaveGroupKey) }
func FuzzOffsetCommitResponse(f *testing.F)    { fuzzGroupResponse(f, OffsetCommitKey) }
func FuzzOffsetFetchResponse(f *testing.F)     { fuzzGroupResponse(f, OffsetFetchKey) }
func FuzzListGroupsResponse(f *testing.F)      { fuzzGroupResponse(f, ListGroupsKey) }
func FuzzDescribeGroupsResponse(f *testing.F)  { fuzzGroupResponse(f, DescribeGroupsKey) }
func FuzzDeleteGroupsResponse(f *testing.F)    { fuzzGroupResponse(f, DeleteGroupsKey) }
