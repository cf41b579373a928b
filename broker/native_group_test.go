package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// call sends q on c and decodes the answer into resp, failing the test on
// any transport or decode error. Only for the test goroutine.
func call(t *testing.T, c *testConn, q wire.Request, resp wire.Response) {
	t.Helper()
	if err := resp.Decode(c.do(t, wire.AppendRequestFrame(nil, 1, q))); err != nil {
		t.Fatalf("%s: %v", q.APIKey(), err)
	}
}

// callAsync is call for requests that park (JoinGroup, SyncGroup): it runs
// on its own goroutine and reports through the returned channel.
func callAsync(c *testConn, q wire.Request, resp wire.Response) <-chan error {
	ch := make(chan error, 1)
	go func() {
		body, err := c.roundTrip(wire.AppendRequestFrame(nil, 1, q))
		if err == nil {
			err = resp.Decode(body)
		}
		ch <- err
	}()
	return ch
}

func (c *testConn) roundTrip(frame []byte) ([]byte, error) {
	if _, err := c.c.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return nil, err
	}
	_, body, err := wire.ParseResponseHeader(buf)
	return body, err
}

func wait(t *testing.T, what string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer in 20s", what)
	}
}

// findCoordinator asks for group's coordinator, as every client does
// before its first group request, and checks that it is this broker.
func findCoordinator(t *testing.T, c *testConn, b *Broker, group string) {
	t.Helper()
	var fc wire.FindCoordinatorResponse
	call(t, c, &wire.FindCoordinatorRequest{Key: group}, &fc)
	if fc.ErrorCode != wire.None || fc.NodeID != b.cfg.BrokerID || fmt.Sprintf("%s:%d", fc.Host, fc.Port) != b.Addr() {
		t.Fatalf("FindCoordinator: %+v, want node %d at %s", fc, b.cfg.BrokerID, b.Addr())
	}
}

func joinReq(group, member string) *wire.JoinGroupRequest {
	return &wire.JoinGroupRequest{
		GroupID: group, MemberID: member, ClientID: "test-client",
		SessionTimeoutMs: 10000, RebalanceTimeoutMs: 10000, ProtocolType: "consumer",
		Protocols: []wire.GroupProtocol{{Name: "range", Metadata: []byte("subscription")}},
	}
}

// joinNew does the two-step first join of a dynamic member (KIP-394) and
// returns the member id the broker gave; the second join is left parked.
func joinNew(t *testing.T, c *testConn, group string, resp *wire.JoinGroupResponse) <-chan error {
	t.Helper()
	var first wire.JoinGroupResponse
	call(t, c, joinReq(group, ""), &first)
	if first.ErrorCode != wire.MemberIDRequired || first.MemberID == "" {
		t.Fatalf("first join: code %s, member id %q; want MEMBER_ID_REQUIRED with an id", first.ErrorCode, first.MemberID)
	}
	return callAsync(c, joinReq(group, first.MemberID), resp)
}

func TestGroupSingleMemberStory(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	const group = "story"
	if err := b.CreateTopic("t", 2, -1, nil); err != nil {
		t.Fatal(err)
	}
	findCoordinator(t, c, b, group)

	var join wire.JoinGroupResponse
	wait(t, "join", joinNew(t, c, group, &join))
	if join.ErrorCode != wire.None || join.GenerationID != 1 || join.Leader != join.MemberID || len(join.Members) != 1 || join.ProtocolName != "range" {
		t.Fatalf("join: %+v", join)
	}
	me := join.MemberID

	var sync wire.SyncGroupResponse
	call(t, c, &wire.SyncGroupRequest{GroupID: group, GenerationID: 1, MemberID: me,
		Assignments: []wire.SyncGroupAssignment{{MemberID: me, Assignment: []byte("t:0")}}}, &sync)
	if sync.ErrorCode != wire.None || string(sync.Assignment) != "t:0" {
		t.Fatalf("sync: %+v", sync)
	}

	var hb wire.HeartbeatResponse
	call(t, c, &wire.HeartbeatRequest{GroupID: group, GenerationID: 1, MemberID: me}, &hb)
	if hb.ErrorCode != wire.None {
		t.Fatalf("heartbeat: %s", hb.ErrorCode)
	}
	call(t, c, &wire.HeartbeatRequest{GroupID: group, GenerationID: 7, MemberID: me}, &hb)
	if hb.ErrorCode != wire.IllegalGeneration {
		t.Fatalf("heartbeat with generation 7: %s, want ILLEGAL_GENERATION", hb.ErrorCode)
	}

	var oc wire.OffsetCommitResponse
	call(t, c, &wire.OffsetCommitRequest{GroupID: group, GenerationID: 1, MemberID: me, Topics: []wire.OffsetCommitTopic{
		{Name: "t", Partitions: []wire.OffsetCommitPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1, Metadata: "m"}}},
	}}, &oc)
	if len(oc.Topics) != 1 || len(oc.Topics[0].Partitions) != 1 || oc.Topics[0].Partitions[0].ErrorCode != wire.None {
		t.Fatalf("commit: %+v", oc)
	}
	call(t, c, &wire.OffsetCommitRequest{GroupID: group, GenerationID: 1, MemberID: "stranger", Topics: []wire.OffsetCommitTopic{
		{Name: "t", Partitions: []wire.OffsetCommitPartition{{Partition: 0, Offset: 99, LeaderEpoch: -1}, {Partition: 1, Offset: 99, LeaderEpoch: -1}}},
	}}, &oc)
	for _, p := range oc.Topics[0].Partitions {
		if p.ErrorCode != wire.UnknownMemberID {
			t.Fatalf("commit by a stranger, partition %d: %s, want UNKNOWN_MEMBER_ID", p.Partition, p.ErrorCode)
		}
	}

	var of wire.OffsetFetchResponse
	call(t, c, &wire.OffsetFetchRequest{GroupID: group, Topics: []wire.OffsetFetchTopic{{Name: "t", Partitions: []int32{0, 1}}}}, &of)
	if of.ErrorCode != wire.None || len(of.Topics) != 1 || len(of.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch: %+v", of)
	}
	if p0, p1 := of.Topics[0].Partitions[0], of.Topics[0].Partitions[1]; p0.Offset != 42 || p0.Metadata != "m" || p1.Offset != -1 {
		t.Fatalf("fetch: partition 0 at %d (%q), partition 1 at %d; want 42 (\"m\") and -1", p0.Offset, p0.Metadata, p1.Offset)
	}

	var dg wire.DescribeGroupsResponse
	call(t, c, &wire.DescribeGroupsRequest{Groups: []string{group, "nobody"}}, &dg)
	if len(dg.Groups) != 2 || dg.Groups[0].State != "Stable" || len(dg.Groups[0].Members) != 1 || dg.Groups[1].State != "Dead" {
		t.Fatalf("describe: %+v", dg)
	}
	if m := dg.Groups[0].Members[0]; m.MemberID != me || m.ClientHost != "127.0.0.1" || m.ClientID != "test-client" || string(m.Assignment) != "t:0" {
		t.Fatalf("described member: %+v", m)
	}

	var lg wire.ListGroupsResponse
	call(t, c, &wire.ListGroupsRequest{StatesFilter: []string{"Stable"}}, &lg)
	if len(lg.Groups) != 1 || lg.Groups[0].GroupID != group || lg.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("list Stable: %+v", lg)
	}
	call(t, c, &wire.ListGroupsRequest{StatesFilter: []string{"Sleepy"}}, &lg)
	if lg.ErrorCode != wire.InvalidRequest {
		t.Fatalf("list with an unknown state: %s, want INVALID_REQUEST", lg.ErrorCode)
	}

	var del wire.DeleteGroupsResponse
	call(t, c, &wire.DeleteGroupsRequest{Groups: []string{group}}, &del)
	if len(del.Results) != 1 || del.Results[0].ErrorCode != wire.NonEmptyGroup {
		t.Fatalf("delete a group with a member: %+v", del)
	}

	var lv wire.LeaveGroupResponse
	call(t, c, &wire.LeaveGroupRequest{GroupID: group, Members: []wire.LeaveGroupMember{{MemberID: me}, {MemberID: "ghost"}}}, &lv)
	if lv.ErrorCode != wire.None || len(lv.Members) != 2 || lv.Members[0].ErrorCode != wire.None || lv.Members[1].ErrorCode != wire.UnknownMemberID {
		t.Fatalf("leave: %+v", lv)
	}
	call(t, c, &wire.HeartbeatRequest{GroupID: group, GenerationID: 1, MemberID: me}, &hb)
	if hb.ErrorCode != wire.UnknownMemberID {
		t.Fatalf("heartbeat after leave: %s, want UNKNOWN_MEMBER_ID", hb.ErrorCode)
	}

	call(t, c, &wire.DeleteGroupsRequest{Groups: []string{group, "nobody"}}, &del)
	if len(del.Results) != 2 || del.Results[0].ErrorCode != wire.None || del.Results[1].ErrorCode != wire.GroupIDNotFound {
		t.Fatalf("delete: %+v", del)
	}
	call(t, c, &wire.OffsetFetchRequest{GroupID: group, AllTopics: true}, &of)
	if of.ErrorCode != wire.None || len(of.Topics) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", of)
	}
}

func TestGroupSecondMemberRebalances(t *testing.T) {
	b := startTestBroker(t, nil)
	c1, c2 := dialTest(t, b), dialTest(t, b)
	const group = "pair"
	findCoordinator(t, c1, b, group)

	var j1 wire.JoinGroupResponse
	wait(t, "first member's join", joinNew(t, c1, group, &j1))
	m1 := j1.MemberID
	var s1 wire.SyncGroupResponse
	call(t, c1, &wire.SyncGroupRequest{GroupID: group, GenerationID: j1.GenerationID, MemberID: m1,
		Assignments: []wire.SyncGroupAssignment{{MemberID: m1, Assignment: []byte("all")}}}, &s1)
	if s1.ErrorCode != wire.None || string(s1.Assignment) != "all" {
		t.Fatalf("first sync: %+v", s1)
	}

	// The second member's join parks and moves the group to PreparingRebalance.
	var j2 wire.JoinGroupResponse
	joined2 := joinNew(t, c2, group, &j2)
	var hb wire.HeartbeatResponse
	deadline := time.Now().Add(10 * time.Second)
	for {
		call(t, c1, &wire.HeartbeatRequest{GroupID: group, GenerationID: j1.GenerationID, MemberID: m1}, &hb)
		if hb.ErrorCode == wire.RebalanceInProgress {
			break
		}
		if hb.ErrorCode != wire.None || time.Now().After(deadline) {
			t.Fatalf("first member's heartbeat: %s, want REBALANCE_IN_PROGRESS", hb.ErrorCode)
		}
		time.Sleep(20 * time.Millisecond)
	}

	var j1b wire.JoinGroupResponse
	wait(t, "first member's rejoin", callAsync(c1, joinReq(group, m1), &j1b))
	wait(t, "second member's join", joined2)
	if j1b.ErrorCode != wire.None || j2.ErrorCode != wire.None || j1b.GenerationID != j1.GenerationID+1 || j2.GenerationID != j1b.GenerationID {
		t.Fatalf("rebalance: first %+v, second %+v", j1b, j2)
	}
	if j1b.Leader != m1 || j2.Leader != m1 || len(j1b.Members) != 2 || len(j2.Members) != 0 {
		t.Fatalf("leader: first sees %q with %d members, second sees %q with %d; want %q, 2 and 0",
			j1b.Leader, len(j1b.Members), j2.Leader, len(j2.Members), m1)
	}
	m2 := j2.MemberID
	gen := j1b.GenerationID

	// The follower's sync parks until the leader's assignment is written.
	var s2 wire.SyncGroupResponse
	synced2 := callAsync(c2, &wire.SyncGroupRequest{GroupID: group, GenerationID: gen, MemberID: m2}, &s2)
	assignments := []wire.SyncGroupAssignment{{MemberID: m1, Assignment: []byte("p0,p1")}, {MemberID: m2, Assignment: []byte("p2,p3")}}
	call(t, c1, &wire.SyncGroupRequest{GroupID: group, GenerationID: gen, MemberID: m1, Assignments: assignments}, &s1)
	wait(t, "follower's sync", synced2)
	if s1.ErrorCode != wire.None || !bytes.Equal(s1.Assignment, []byte("p0,p1")) || s2.ErrorCode != wire.None || !bytes.Equal(s2.Assignment, []byte("p2,p3")) {
		t.Fatalf("assignments: leader %+v, follower %+v", s1, s2)
	}
	for i, m := range []string{m1, m2} {
		call(t, c1, &wire.HeartbeatRequest{GroupID: group, GenerationID: gen, MemberID: m}, &hb)
		if hb.ErrorCode != wire.None {
			t.Fatalf("member %d heartbeat in generation %d: %s", i+1, gen, hb.ErrorCode)
		}
	}
}

func TestGroupCommitSurvivesRestart(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	const group = "durable"
	findCoordinator(t, c, b, group)
	// A standalone commit (no membership): generation -1, no member id.
	commit := &wire.OffsetCommitRequest{GroupID: group, GenerationID: -1}
	for p := int32(0); p < 3; p++ {
		if err := b.CreateTopic("t"+strconv.Itoa(int(p)), 3, -1, nil); err != nil {
			t.Fatal(err)
		}
		commit.Topics = append(commit.Topics, wire.OffsetCommitTopic{Name: "t" + strconv.Itoa(int(p)),
			Partitions: []wire.OffsetCommitPartition{{Partition: p, Offset: 100 + int64(p), LeaderEpoch: 4}}})
	}
	var oc wire.OffsetCommitResponse
	call(t, c, commit, &oc)
	for _, tp := range oc.Topics {
		if tp.Partitions[0].ErrorCode != wire.None {
			t.Fatalf("commit %s: %s", tp.Name, tp.Partitions[0].ErrorCode)
		}
	}
	b2 := restartTestBroker(t, b)
	var of wire.OffsetFetchResponse
	call(t, dialTest(t, b2), &wire.OffsetFetchRequest{GroupID: group, AllTopics: true}, &of)
	if of.ErrorCode != wire.None || len(of.Topics) != 3 {
		t.Fatalf("fetch after restart: %+v", of)
	}
	for i, tp := range of.Topics {
		p := tp.Partitions[0]
		if tp.Name != "t"+strconv.Itoa(i) || p.Partition != int32(i) || p.Offset != 100+int64(i) || p.LeaderEpoch != 4 {
			t.Fatalf("after restart, topic %d: %s %+v; want t%d partition %d at %d epoch 4", i, tp.Name, p, i, i, 100+i)
		}
	}
}

// TestGroupOffsetsOfDeletedTopic: deleting a topic deletes every group's
// committed offsets of it, durably; a commit to a partition that does not
// exist is answered UNKNOWN_TOPIC_OR_PARTITION while the others in the same
// request are committed; a topic created again under the name starts with
// no offsets.
func TestGroupOffsetsOfDeletedTopic(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	for _, name := range []string{"gone", "kept"} {
		if err := b.CreateTopic(name, 2, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(group string, offset int64) wire.OffsetCommitResponse {
		t.Helper()
		findCoordinator(t, c, b, group)
		q := &wire.OffsetCommitRequest{GroupID: group, GenerationID: -1}
		for _, name := range []string{"gone", "kept"} {
			q.Topics = append(q.Topics, wire.OffsetCommitTopic{Name: name, Partitions: []wire.OffsetCommitPartition{
				{Partition: 0, Offset: offset, LeaderEpoch: -1}, {Partition: 1, Offset: offset + 1, LeaderEpoch: -1}}})
		}
		var resp wire.OffsetCommitResponse
		call(t, c, q, &resp)
		return resp
	}
	fetch := func(b *Broker, group string) map[string]int64 {
		t.Helper()
		var resp wire.OffsetFetchResponse
		call(t, dialTest(t, b), &wire.OffsetFetchRequest{GroupID: group, AllTopics: true}, &resp)
		got := map[string]int64{}
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				got[tp.Name+"-"+strconv.Itoa(int(p.Partition))] = p.Offset
			}
		}
		return got
	}
	commit("g1", 10)
	commit("g2", 20)
	var dr wire.DeleteTopicsResponse
	call(t, c, &wire.DeleteTopicsRequest{Topics: []string{"gone"}}, &dr)
	if dr.Topics[0].ErrorCode != wire.None || dr.Topics[0].Message != "" {
		t.Fatalf("delete: %+v", dr.Topics[0])
	}
	for group, base := range map[string]int64{"g1": 10, "g2": 20} {
		if got, want := fetch(b, group), map[string]int64{"kept-0": base, "kept-1": base + 1}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s after deleting topic gone: %v, want %v", group, got, want)
		}
	}
	resp := commit("g1", 30)
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if want := map[string]wire.ErrorCode{"gone": wire.UnknownTopicOrPartition, "kept": wire.None}[tp.Name]; p.ErrorCode != want {
				t.Errorf("commit %s-%d: %s, want %s", tp.Name, p.Partition, p.ErrorCode, want)
			}
		}
	}
	if err := b.CreateTopic("gone", 2, -1, nil); err != nil {
		t.Fatal(err)
	}
	b2 := restartTestBroker(t, b)
	if got, want := fetch(b2, "g1"), map[string]int64{"kept-0": 30, "kept-1": 31}; !reflect.DeepEqual(got, want) {
		t.Fatalf("g1 after restart: %v, want %v (nothing of the deleted topic)", got, want)
	}
}

// TestGroupOffsetMetadataLimit: a partition whose commit metadata is
// longer than offset.metadata.max.bytes is refused with
// OFFSET_METADATA_TOO_LARGE; the other partition of the request is
// committed.
func TestGroupOffsetMetadataLimit(t *testing.T) {
	b := startTestBroker(t, func(c *Config) { c.OffsetMetadataMaxBytes = 16 })
	c := dialTest(t, b)
	findCoordinator(t, c, b, "g")
	if err := b.CreateTopic("t", 2, -1, nil); err != nil {
		t.Fatal(err)
	}
	var resp wire.OffsetCommitResponse
	call(t, c, &wire.OffsetCommitRequest{GroupID: "g", GenerationID: -1, Topics: []wire.OffsetCommitTopic{{Name: "t",
		Partitions: []wire.OffsetCommitPartition{
			{Partition: 0, Offset: 5, LeaderEpoch: -1, Metadata: strings.Repeat("x", 17)},
			{Partition: 1, Offset: 6, LeaderEpoch: -1, Metadata: strings.Repeat("y", 16)}}}}}, &resp)
	if got := resp.Topics[0].Partitions; got[0].ErrorCode != wire.OffsetMetadataTooLarge || got[1].ErrorCode != wire.None {
		t.Fatalf("commit answers %+v, want OFFSET_METADATA_TOO_LARGE then NONE", got)
	}
	var of wire.OffsetFetchResponse
	call(t, c, &wire.OffsetFetchRequest{GroupID: "g", AllTopics: true}, &of)
	if len(of.Topics) != 1 || len(of.Topics[0].Partitions) != 1 || of.Topics[0].Partitions[0].Partition != 1 ||
		of.Topics[0].Partitions[0].Metadata != strings.Repeat("y", 16) {
		t.Fatalf("committed: %+v, want only partition 1 with its metadata", of.Topics)
	}
}

// TestGroupMetrics: /metrics reports each group's members, and per
// committed partition its offset and its lag behind the high watermark.
func TestGroupMetrics(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	var pr wire.ProduceResponse
	if err := pr.Decode(c.do(t, produceFrame("metered", wire.AcksLeader, testBatch(t, 30, 10)))); err != nil ||
		pr.Topics[0].Partitions[0].ErrorCode != wire.None {
		t.Fatalf("produce: %+v, %v", pr, err)
	}
	findCoordinator(t, c, b, "billing")
	var resp wire.OffsetCommitResponse
	call(t, c, &wire.OffsetCommitRequest{GroupID: "billing", GenerationID: -1, Topics: []wire.OffsetCommitTopic{{Name: "metered",
		Partitions: []wire.OffsetCommitPartition{{Partition: 0, Offset: 12, LeaderEpoch: -1}}}}}, &resp)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != wire.None {
		t.Fatalf("commit: %s", code)
	}
	metrics := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{
		`spate_consumer_group_members{group="billing"} 0`,
		`spate_consumer_group_committed_offset{group="billing",partition="0",topic="metered"} 12`,
		`spate_consumer_group_lag{group="billing",partition="0",topic="metered"} 18`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
}

// restartTestBroker closes b cleanly and starts a broker on its data
// directory (new ports, no admin listener).
func restartTestBroker(t *testing.T, b *Broker) *Broker {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := b.cfg
	cfg.Addr, cfg.KafkaAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", ""
	b2, err := New(cfg)
	if err != nil {
		t.Fatalf("reopen %s: %v", cfg.DataDir, err)
	}
	if err := b2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Close() })
	return b2
}

func TestGroupAPIsAdvertised(t *testing.T) {
	for k := wire.FindCoordinatorKey; k <= wire.DeleteGroupsKey; k++ {
		found := false
		for _, v := range servedAPIs {
			found = found || v.Key == k
		}
		if !found {
			t.Errorf("ApiVersions does not advertise %s", k)
		}
	}
}

func TestGroupRequestErrors(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)

	var fc wire.FindCoordinatorResponse
	call(t, c, &wire.FindCoordinatorRequest{Key: "g", KeyType: 1}, &fc)
	if fc.ErrorCode != wire.InvalidRequest || fc.NodeID != -1 {
		t.Fatalf("transactional FindCoordinator: %+v, want INVALID_REQUEST and node -1", fc)
	}
	call(t, c, &wire.FindCoordinatorRequest{Key: ""}, &fc)
	if fc.ErrorCode != wire.InvalidGroupID {
		t.Fatalf("FindCoordinator of an empty group id: %s, want INVALID_GROUP_ID", fc.ErrorCode)
	}

	findCoordinator(t, c, b, "g")
	var join wire.JoinGroupResponse
	q := joinReq("g", "")
	q.SessionTimeoutMs = 10 // below the broker's 6 s minimum
	call(t, c, q, &join)
	if join.ErrorCode != wire.InvalidSessionTimeout {
		t.Fatalf("join with a 10 ms session: %s, want INVALID_SESSION_TIMEOUT", join.ErrorCode)
	}

	var sync wire.SyncGroupResponse
	call(t, c, &wire.SyncGroupRequest{GroupID: "g", GenerationID: 1, MemberID: "nobody"}, &sync)
	if sync.ErrorCode != wire.UnknownMemberID {
		t.Fatalf("sync of an unknown member: %s, want UNKNOWN_MEMBER_ID", sync.ErrorCode)
	}
	var of wire.OffsetFetchResponse
	call(t, c, &wire.OffsetFetchRequest{GroupID: ""}, &of)
	if of.ErrorCode != wire.InvalidGroupID {
		t.Fatalf("OffsetFetch of an empty group id: %s, want INVALID_GROUP_ID", of.ErrorCode)
	}
}
