package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/segment"
)

// The tests in this file are scripts: each step is one client action or one
// tick of the clock, in the order a story would tell it. Writes to
// __consumer_offsets complete inside the call (flush.policy never, acks=-1),
// and the clock is the test's, so whether an answer has arrived is
// deterministic at every step.

// groupHarness is an engine and a coordinator on one data directory, with
// a test clock.
type groupHarness struct {
	t   testing.TB
	dir string
	e   *Engine
	c   *GroupCoordinator
	now time.Time
	cfg GroupConfig
	// engineCfg, if not nil, edits the engine config before each open.
	engineCfg func(*Config)
}

func newGroupHarness(t testing.TB, mutate func(*GroupConfig)) *groupHarness {
	t.Helper()
	cfg := DefaultGroupConfig()
	cfg.OffsetsTopicPartitions = 3
	cfg.MinSessionTimeout = time.Second
	cfg.InitialRebalanceDelay = 0
	cfg.TickInterval = 0
	if mutate != nil {
		mutate(&cfg)
	}
	h := &groupHarness{t: t, dir: t.TempDir(), cfg: cfg, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open opens the engine and the coordinator on h.dir.
func (h *groupHarness) open() {
	h.t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = h.dir
	cfg.RetentionCheckInterval = 0
	cfg.MaxIndexBytes = 64 << 10
	if h.engineCfg != nil {
		h.engineCfg(&cfg)
	}
	e, err := Open(cfg)
	if err != nil {
		h.t.Fatalf("Open(%s): %v", h.dir, err)
	}
	c, err := OpenGroupCoordinator(e, h.cfg)
	if err != nil {
		e.Close(context.Background())
		h.t.Fatalf("OpenGroupCoordinator: %v", err)
	}
	h.e, h.c = e, c
}

// close closes the coordinator and then the engine, cleanly.
func (h *groupHarness) close() {
	if h.e == nil {
		return
	}
	h.c.Close()
	if err := h.e.Close(context.Background()); err != nil {
		h.t.Errorf("engine Close: %v", err)
	}
	h.e, h.c = nil, nil
}

func (h *groupHarness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

// advance moves the clock and ticks the coordinator.
func (h *groupHarness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.Tick(h.now)
}

// call is a parked request: its answer arrives on ch.
type call[T any] struct {
	t  testing.TB
	ch chan T
}

func newCall[T any](t testing.TB) *call[T] { return &call[T]{t: t, ch: make(chan T, 1)} }

func (c *call[T]) done(v T) {
	select {
	case c.ch <- v:
	default:
		c.t.Errorf("callback ran twice")
	}
}

// answered returns the answer, failing the test if there is none within
// 10 s. Most answers come inside the call; a write to __consumer_offsets
// that rolls a segment is answered from the partition's off-loop appender
// (offloop.go).
func (c *call[T]) answered() T {
	c.t.Helper()
	select {
	case v := <-c.ch:
		return v
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no answer within 10s")
		var zero T
		return zero
	}
}

// parked fails the test if the call has been answered.
func (c *call[T]) parked() {
	c.t.Helper()
	select {
	case v := <-c.ch:
		c.t.Fatalf("answered too early: %+v", v)
	default:
	}
}

func protocols(names ...string) []GroupProtocol {
	var ps []GroupProtocol
	for _, n := range names {
		ps = append(ps, GroupProtocol{Name: n, Metadata: []byte("sub:" + n)})
	}
	return ps
}

func (h *groupHarness) joinReq(group, memberID, instance string, ps []GroupProtocol) JoinGroupRequest {
	return JoinGroupRequest{GroupID: group, MemberID: memberID, GroupInstanceID: instance, ClientID: "client",
		ClientHost: "/127.0.0.1", SessionTimeout: 10 * time.Second, RebalanceTimeout: 30 * time.Second,
		ProtocolType: "consumer", Protocols: ps}
}

// join sends a JoinGroup and returns the parked call.
func (h *groupHarness) join(req JoinGroupRequest) *call[JoinGroupResult] {
	c := newCall[JoinGroupResult](h.t)
	h.c.JoinGroup(req, h.now, c.done)
	return c
}

// newMember does the KIP-394 dance: a join without id gets
// MEMBER_ID_REQUIRED and the id; the second join parks with it.
func (h *groupHarness) newMember(group string, ps []GroupProtocol) (string, *call[JoinGroupResult]) {
	h.t.Helper()
	first := h.join(h.joinReq(group, "", "", ps)).answered()
	if !errors.Is(first.Err, ErrMemberIDRequired) || first.MemberID == "" {
		h.t.Fatalf("first join: %+v, want MEMBER_ID_REQUIRED with an id", first)
	}
	return first.MemberID, h.join(h.joinReq(group, first.MemberID, "", ps))
}

func (h *groupHarness) sync(group string, gen int32, memberID string, assign []GroupAssignment) *call[SyncGroupResult] {
	c := newCall[SyncGroupResult](h.t)
	h.c.SyncGroup(SyncGroupRequest{GroupID: group, GenerationID: gen, MemberID: memberID, Assignments: assign}, h.now, c.done)
	return c
}

func (h *groupHarness) heartbeat(group string, gen int32, memberID string) error {
	return h.c.Heartbeat(HeartbeatRequest{GroupID: group, GenerationID: gen, MemberID: memberID}, h.now)
}

func (h *groupHarness) describe(group string) GroupDescription {
	return h.c.DescribeGroups(group)[0]
}

func (h *groupHarness) wantState(group string, want GroupState) {
	h.t.Helper()
	if got := h.describe(group).State; got != want {
		h.t.Fatalf("group %q is %s, want %s", group, got, want)
	}
}

func memberIDs(d GroupDescription) []string {
	var ids []string
	for _, m := range d.Members {
		ids = append(ids, m.MemberID)
	}
	return ids
}

func wantGroupErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// TestGroupThreeMembersAndSessionExpiry: three members join, the leader
// gets every member's metadata, sync distributes the assignments, member 2
// stops heartbeating, and after its session timeout a rebalance removes it.
func TestGroupThreeMembersAndSessionExpiry(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.InitialRebalanceDelay = 3 * time.Second })
	const g = "billing"

	// Three members start together; the initial delay holds the barrier.
	id1, j1 := h.newMember(g, protocols("range", "roundrobin"))
	id2, j2 := h.newMember(g, protocols("roundrobin", "range"))
	id3, j3 := h.newMember(g, protocols("range"))
	j1.parked()
	j2.parked()
	j3.parked()
	h.wantState(g, GroupPreparingRebalance)

	h.advance(3 * time.Second)
	r1, r2, r3 := j1.answered(), j2.answered(), j3.answered()
	for _, r := range []JoinGroupResult{r1, r2, r3} {
		if r.Err != nil || r.GenerationID != 1 || r.Leader != id1 || r.ProtocolName != "range" || r.ProtocolType != "consumer" {
			t.Fatalf("join result %+v: want generation 1, leader %s (first joiner), protocol range (the only common one)", r, id1)
		}
	}
	if len(r1.Members) != 3 || len(r2.Members) != 0 || len(r3.Members) != 0 {
		t.Fatalf("leader got %d members, followers %d and %d; want 3, 0, 0", len(r1.Members), len(r2.Members), len(r3.Members))
	}
	for i, m := range r1.Members {
		if m.MemberID != []string{id1, id2, id3}[i] || string(m.Metadata) != "sub:range" {
			t.Fatalf("leader's member %d: %+v", i, m)
		}
	}
	h.wantState(g, GroupCompletingRebalance)

	// Followers sync first and wait; the leader's sync releases everyone.
	s2, s3 := h.sync(g, 1, id2, nil), h.sync(g, 1, id3, nil)
	s2.parked()
	s3.parked()
	s1 := h.sync(g, 1, id1, []GroupAssignment{{id1, []byte("p0")}, {id2, []byte("p1")}, {id3, []byte("p2")}})
	for i, s := range []*call[SyncGroupResult]{s1, s2, s3} {
		if r := s.answered(); r.Err != nil || string(r.Assignment) != []string{"p0", "p1", "p2"}[i] || r.ProtocolName != "range" {
			t.Fatalf("member %d sync: %+v", i+1, r)
		}
	}
	h.wantState(g, GroupStable)

	// Members 1 and 3 heartbeat every 4 s; member 2 has gone quiet.
	for range 2 {
		h.advance(4 * time.Second)
		if err := errors.Join(h.heartbeat(g, 1, id1), h.heartbeat(g, 1, id3)); err != nil {
			t.Fatalf("heartbeat in a stable group: %v", err)
		}
	}
	h.wantState(g, GroupStable) // 8 s after the sync: member 2 is still within its 10 s
	h.advance(3 * time.Second)
	h.wantState(g, GroupPreparingRebalance)
	wantGroupErr(t, "heartbeat of member 1 during the rebalance", h.heartbeat(g, 1, id1), ErrRebalanceInProgress)
	wantGroupErr(t, "heartbeat of the expired member 2", h.heartbeat(g, 1, id2), ErrUnknownMemberID)

	// The survivors rejoin and get generation 2 without member 2.
	j1, j3 = h.join(h.joinReq(g, id1, "", protocols("range"))), h.join(h.joinReq(g, id3, "", protocols("range")))
	r1, r3 = j1.answered(), j3.answered()
	if r1.GenerationID != 2 || r3.GenerationID != 2 || r1.Leader != id1 || len(r1.Members) != 2 {
		t.Fatalf("rejoin: %+v / %+v", r1, r3)
	}
	if ids := memberIDs(h.describe(g)); !slices.Equal(ids, []string{id1, id3}) {
		t.Fatalf("members %v, want [%s %s]", ids, id1, id3)
	}
	wantGroupErr(t, "heartbeat with the old generation", h.heartbeat(g, 1, id1), ErrIllegalGeneration)
}

// TestGroupStaticMemberRejoin: a static member that restarts and rejoins
// with an unchanged subscription takes its old place without a rebalance;
// its old member id is fenced. A changed subscription does rebalance.
func TestGroupStaticMemberRejoin(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.InitialRebalanceDelay = time.Second })
	const g = "static"
	ja := h.join(h.joinReq(g, "", "host-a", protocols("range")))
	jb := h.join(h.joinReq(g, "", "host-b", protocols("range")))
	h.advance(time.Second)
	ra, rb := ja.answered(), jb.answered()
	if ra.Err != nil || rb.Err != nil || ra.GenerationID != 1 {
		t.Fatalf("static members join without MEMBER_ID_REQUIRED: %+v / %+v", ra, rb)
	}
	sa := h.sync(g, 1, ra.MemberID, []GroupAssignment{{ra.MemberID, []byte("a")}, {rb.MemberID, []byte("b")}})
	sa.answered()
	h.sync(g, 1, rb.MemberID, nil).answered()

	// host-b restarts: it has lost its member id and joins with none.
	jb2 := h.join(h.joinReq(g, "", "host-b", protocols("range")))
	rb2 := jb2.answered()
	if rb2.Err != nil || rb2.GenerationID != 1 || rb2.MemberID == rb.MemberID || rb2.Leader != ra.MemberID {
		t.Fatalf("static rejoin: %+v; want generation 1 kept, a new member id, leader unchanged", rb2)
	}
	h.wantState(g, GroupStable)
	if err := h.heartbeat(g, 1, ra.MemberID); err != nil {
		t.Fatalf("the other member sees no rebalance: %v", err)
	}
	err := h.c.Heartbeat(HeartbeatRequest{GroupID: g, GenerationID: 1, MemberID: rb.MemberID, GroupInstanceID: "host-b"}, h.now)
	wantGroupErr(t, "heartbeat of the replaced member id", err, ErrFencedInstanceID)
	if r := h.sync(g, 1, rb2.MemberID, nil).answered(); r.Err != nil || string(r.Assignment) != "b" {
		t.Fatalf("the new id gets the old assignment: %+v", r)
	}

	// host-b restarts again with a different subscription: that rebalances.
	jb3 := h.join(h.joinReq(g, "", "host-b", []GroupProtocol{{Name: "range", Metadata: []byte("more topics")}}))
	jb3.parked()
	h.wantState(g, GroupPreparingRebalance)
	wantGroupErr(t, "heartbeat during the rebalance", h.heartbeat(g, 1, ra.MemberID), ErrRebalanceInProgress)
	h.join(h.joinReq(g, ra.MemberID, "host-a", protocols("range"))).answered()
	if r := jb3.answered(); r.Err != nil || r.GenerationID != 2 {
		t.Fatalf("changed subscription: %+v, want generation 2", r)
	}
}

// TestGroupErrors walks the refusals: bad ids, timeouts, protocols,
// generations and members.
func TestGroupErrors(t *testing.T) {
	h := newGroupHarness(t, nil)
	const g = "errs"
	id1, j1 := h.newMember(g, protocols("range"))
	r1 := j1.answered() // alone, no initial delay: generation 1 at once
	if r1.GenerationID != 1 || r1.Leader != id1 {
		t.Fatalf("single member join: %+v", r1)
	}
	h.sync(g, 1, id1, []GroupAssignment{{id1, []byte("all")}}).answered()

	bad := h.joinReq("", "", "", protocols("range"))
	wantGroupErr(t, "empty group id", h.join(bad).answered().Err, ErrInvalidGroupID)
	bad = h.joinReq(g, "", "", protocols("range"))
	bad.SessionTimeout = time.Hour
	wantGroupErr(t, "session timeout above the maximum", h.join(bad).answered().Err, ErrInvalidSessionTimeout)
	bad = h.joinReq(g, "", "", protocols("roundrobin"))
	wantGroupErr(t, "no protocol in common", h.join(bad).answered().Err, ErrInconsistentGroupProtocol)
	bad = h.joinReq(g, "", "", protocols("range"))
	bad.ProtocolType = "connect"
	wantGroupErr(t, "other protocol type", h.join(bad).answered().Err, ErrInconsistentGroupProtocol)
	wantGroupErr(t, "join with an unknown member id", h.join(h.joinReq(g, "ghost", "", protocols("range"))).answered().Err, ErrUnknownMemberID)
	wantGroupErr(t, "join of an unknown group with a member id", h.join(h.joinReq("nope", "ghost", "", protocols("range"))).answered().Err, ErrUnknownMemberID)

	wantGroupErr(t, "heartbeat, old generation", h.heartbeat(g, 0, id1), ErrIllegalGeneration)
	wantGroupErr(t, "heartbeat, unknown member", h.heartbeat(g, 1, "ghost"), ErrUnknownMemberID)
	wantGroupErr(t, "heartbeat, unknown group", h.heartbeat("nope", 1, id1), ErrUnknownMemberID)
	wantGroupErr(t, "sync, future generation", h.sync(g, 2, id1, nil).answered().Err, ErrIllegalGeneration)
	wantGroupErr(t, "sync, unknown member", h.sync(g, 1, "ghost", nil).answered().Err, ErrUnknownMemberID)

	commit := func(gen int32, member string) error {
		c := newCall[error](t)
		h.c.CommitOffsets(OffsetCommitRequest{GroupID: g, GenerationID: gen, MemberID: member,
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}, h.now, c.done)
		return c.answered()
	}
	wantGroupErr(t, "commit, old generation", commit(0, id1), ErrIllegalGeneration)
	wantGroupErr(t, "commit, unknown member", commit(1, "ghost"), ErrUnknownMemberID)
	wantGroupErr(t, "standalone commit to a group with members", commit(-1, ""), ErrUnknownMemberID)
	if err := commit(1, id1); err != nil {
		t.Fatalf("commit of the current generation: %v", err)
	}
}

// TestGroupLeaveAndMaxSize: leaving rebalances at once; the last member
// leaving empties the group and bumps the generation; a group at
// MaxGroupSize refuses another member.
func TestGroupLeaveAndMaxSize(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.MaxGroupSize = 2 })
	const g = "leavers"
	id1, j1 := h.newMember(g, protocols("range"))
	j1.answered()
	id2, j2 := h.newMember(g, protocols("range"))
	j2.parked() // member 1 must rejoin first
	wantGroupErr(t, "third member", h.join(h.joinReq(g, "", "", protocols("range"))).answered().Err, ErrGroupMaxSizeReached)
	h.join(h.joinReq(g, id1, "", protocols("range"))).answered()
	if r := j2.answered(); r.GenerationID != 2 {
		t.Fatalf("second member: %+v", r)
	}

	errs, err := h.c.LeaveGroup(g, []LeavingMember{{MemberID: id2}, {MemberID: "ghost"}}, h.now)
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownMemberID) {
		t.Fatalf("leave: %v %v", errs, err)
	}
	h.wantState(g, GroupPreparingRebalance)
	if r := h.join(h.joinReq(g, id1, "", protocols("range"))).answered(); r.GenerationID != 3 || len(r.Members) != 1 {
		t.Fatalf("rejoin after a leave: %+v", r)
	}
	if errs, _ := h.c.LeaveGroup(g, []LeavingMember{{MemberID: id1}}, h.now); errs[0] != nil {
		t.Fatalf("last member leaves: %v", errs[0])
	}
	if d := h.describe(g); d.State != GroupEmpty || d.Generation != 4 || len(d.Members) != 0 {
		t.Fatalf("after the last leave: %+v, want Empty at generation 4", d)
	}
}

// TestGroupRebalanceTimeout: a member that does not rejoin within the
// rebalance timeout is dropped and the others go on.
func TestGroupRebalanceTimeout(t *testing.T) {
	h := newGroupHarness(t, nil)
	const g = "slow"
	id1, j1 := h.newMember(g, protocols("range"))
	j1.answered()
	id2, j2 := h.newMember(g, protocols("range"))
	h.join(h.joinReq(g, id1, "", protocols("range"))).answered()
	j2.answered()
	h.sync(g, 2, id1, nil).answered()
	h.sync(g, 2, id2, nil).answered()

	// Member 1 asks to reassign; member 2 heartbeats but never rejoins.
	j1 = h.join(h.joinReq(g, id1, "", protocols("range")))
	for range 5 {
		h.advance(5 * time.Second)
		wantGroupErr(t, "member 2 heartbeat", h.heartbeat(g, 2, id2), ErrRebalanceInProgress)
		j1.parked()
	}
	h.advance(5 * time.Second) // 30 s: the rebalance timeout
	if r := j1.answered(); r.GenerationID != 3 || len(r.Members) != 1 {
		t.Fatalf("after the rebalance timeout: %+v", r)
	}
	wantGroupErr(t, "member 2 after being dropped", h.heartbeat(g, 3, id2), ErrUnknownMemberID)
}

// TestGroupCloseAnswersParked: Close answers parked joins with
// ErrNotCoordinator, and later calls fail the same way.
func TestGroupCloseAnswersParked(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.InitialRebalanceDelay = time.Second })
	_, j := h.newMember("g", protocols("range"))
	j.parked()
	h.c.Close()
	wantGroupErr(t, "parked join at Close", j.answered().Err, ErrNotCoordinator)
	wantGroupErr(t, "heartbeat after Close", h.heartbeat("g", 0, "x"), ErrNotCoordinator)
}

// TestGroupPendingMemberID: an id handed out with MEMBER_ID_REQUIRED holds
// the barrier until it is used or its session timeout passes; an unused one
// expires, and a group that only ever had an unused id is forgotten.
func TestGroupPendingMemberID(t *testing.T) {
	h := newGroupHarness(t, nil)
	id1, j1 := h.newMember("g", protocols("range"))
	j1.answered()
	h.sync("g", 1, id1, nil).answered()
	pending := h.join(h.joinReq("g", "", "", protocols("range"))).answered().MemberID
	j1 = h.join(h.joinReq("g", id1, "", protocols("range"))) // the leader asks to reassign
	j1.parked()                                              // the pending id may join any moment
	h.advance(10 * time.Second)                              // its session timeout
	if r := j1.answered(); r.GenerationID != 2 || len(r.Members) != 1 {
		t.Fatalf("after the pending id expired: %+v", r)
	}
	wantGroupErr(t, "join with an expired pending id", h.join(h.joinReq("g", pending, "", protocols("range"))).answered().Err, ErrUnknownMemberID)

	h.join(h.joinReq("ghost-town", "", "", protocols("range"))).answered()
	h.wantState("ghost-town", GroupEmpty)
	h.advance(10 * time.Second)
	if l := h.c.ListGroups(); len(l) != 1 || l[0].GroupID != "g" {
		t.Fatalf("groups after the unused id expired: %+v", l)
	}
}

// TestGroupConcurrentClients runs the coordinator as a broker would (tick
// goroutine, wall clock, flush.policy=always so writes complete on the
// syncer goroutine) with four consumer loops joining at once: join, sync
// (the leader assigns), heartbeat, rejoin on REBALANCE_IN_PROGRESS. They
// must settle in one Stable generation that all four hold.
func TestGroupConcurrentClients(t *testing.T) {
	h := &groupHarness{t: t, dir: t.TempDir(), now: time.Now(), cfg: DefaultGroupConfig(),
		engineCfg: func(c *Config) { c.Topic.FlushPolicy = segment.FlushAlways }}
	h.cfg.OffsetsTopicPartitions = 2
	h.cfg.TickInterval = 5 * time.Millisecond
	h.cfg.MinSessionTimeout = 50 * time.Millisecond
	h.cfg.InitialRebalanceDelay = 30 * time.Millisecond
	h.open()
	t.Cleanup(h.close)

	const clients = 4
	results := make(chan memberGen, clients)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumerLoop(h.c, stop, results)
		}()
	}
	deadline := time.After(20 * time.Second)
	seen := map[string]int32{}
	for {
		select {
		case s := <-results:
			seen[s.id] = s.gen
		case <-deadline:
			close(stop)
			wg.Wait()
			t.Fatalf("no stable generation held by all %d members: %v, group %+v", clients, seen, h.c.DescribeGroups("g")[0])
		}
		d := h.c.DescribeGroups("g")[0]
		if d.State != GroupStable || len(d.Members) != clients {
			continue
		}
		all := true
		for _, m := range d.Members {
			all = all && seen[m.MemberID] == d.Generation && string(m.Assignment) == "part-of-"+m.MemberID
		}
		if all {
			break
		}
	}
	close(stop)
	wg.Wait()
}

// memberGen is a member id and the generation it holds.
type memberGen struct {
	id  string
	gen int32
}

// consumerLoop is a minimal consumer's group loop; it reports its member id
// and generation after every successful sync and heartbeat.
func consumerLoop(c *GroupCoordinator, stop chan struct{}, out chan<- memberGen) {
	req := JoinGroupRequest{GroupID: "g", ClientID: "c", SessionTimeout: 500 * time.Millisecond,
		RebalanceTimeout: time.Second, ProtocolType: "consumer", Protocols: protocols("range")}
	for {
		select {
		case <-stop:
			c.LeaveGroup("g", []LeavingMember{{MemberID: req.MemberID}}, time.Now())
			return
		default:
		}
		jch := make(chan JoinGroupResult, 1)
		c.JoinGroup(req, time.Now(), func(r JoinGroupResult) { jch <- r })
		j := <-jch
		req.MemberID = j.MemberID
		if j.Err != nil {
			continue // MEMBER_ID_REQUIRED, or a replaced join: go again
		}
		var assign []GroupAssignment
		for _, m := range j.Members {
			assign = append(assign, GroupAssignment{MemberID: m.MemberID, Assignment: []byte("part-of-" + m.MemberID)})
		}
		sch := make(chan SyncGroupResult, 1)
		c.SyncGroup(SyncGroupRequest{GroupID: "g", GenerationID: j.GenerationID, MemberID: j.MemberID, Assignments: assign},
			time.Now(), func(r SyncGroupResult) { sch <- r })
		if s := <-sch; s.Err != nil {
			continue
		}
		for c.Heartbeat(HeartbeatRequest{GroupID: "g", GenerationID: j.GenerationID, MemberID: j.MemberID}, time.Now()) == nil {
			select {
			case out <- memberGen{j.MemberID, j.GenerationID}:
			case <-stop:
			}
			select {
			case <-stop:
				c.LeaveGroup("g", []LeavingMember{{MemberID: req.MemberID}}, time.Now())
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
