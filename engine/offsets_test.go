package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/segment"
)

func (h *groupHarness) commit(req OffsetCommitRequest) error {
	c := newCall[error](h.t)
	h.c.CommitOffsets(req, h.now, c.done)
	return c.answered()
}

func (h *groupHarness) fetch(group string, tps []TopicPartition) []CommittedOffset {
	h.t.Helper()
	out, err := h.c.FetchOffsets(group, tps)
	if err != nil {
		h.t.Fatalf("FetchOffsets(%q): %v", group, err)
	}
	return out
}

func (h *groupHarness) deleteGroups(ids ...string) []error {
	c := newCall[[]error](h.t)
	h.c.DeleteGroups(ids, h.now, c.done)
	return c.answered()
}

// stableGroup makes a Stable two-member group and returns the member ids;
// the assignments are "A" and "B".
func (h *groupHarness) stableGroup(g string) (string, string) {
	h.t.Helper()
	id1, j1 := h.newMember(g, protocols("range"))
	j1.answered()
	id2, j2 := h.newMember(g, protocols("range"))
	h.join(h.joinReq(g, id1, "", protocols("range"))).answered()
	j2.answered()
	h.sync(g, 2, id1, []GroupAssignment{{id1, []byte("A")}, {id2, []byte("B")}}).answered()
	h.sync(g, 2, id2, nil).answered()
	h.wantState(g, GroupStable)
	return id1, id2
}

// TestOffsetsCommitFetch: standalone and member commits, fetch of named
// partitions and of all, and refusal during CompletingRebalance.
func TestOffsetsCommitFetch(t *testing.T) {
	h := newGroupHarness(t, nil)
	err := h.commit(OffsetCommitRequest{GroupID: "solo", GenerationID: -1, Offsets: []CommitOffset{
		{Topic: "orders", Partition: 1, Offset: 100, LeaderEpoch: 2, Metadata: "ckpt"},
		{Topic: "orders", Partition: 0, Offset: 7, LeaderEpoch: -1},
	}})
	if err != nil {
		t.Fatalf("standalone commit: %v", err)
	}
	h.wantState("solo", GroupEmpty)
	got := h.fetch("solo", []TopicPartition{{"orders", 1}, {"orders", 5}})
	want := []CommittedOffset{
		{Topic: "orders", Partition: 1, Offset: 100, LeaderEpoch: 2, Metadata: "ckpt", CommitTimestamp: h.now.UnixMilli()},
		{Topic: "orders", Partition: 5, Offset: -1, LeaderEpoch: -1, CommitTimestamp: -1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fetch:\n got %+v\nwant %+v", got, want)
	}
	if all := h.fetch("solo", nil); len(all) != 2 || all[0].Partition != 0 || all[1].Offset != 100 {
		t.Fatalf("fetch all: %+v", all)
	}
	if none := h.fetch("unknown", nil); len(none) != 0 {
		t.Fatalf("fetch all of an unknown group: %+v", none)
	}
	h.now = h.now.Add(time.Second)
	if err := h.commit(OffsetCommitRequest{GroupID: "solo", GenerationID: -1, Offsets: []CommitOffset{{Topic: "orders", Partition: 1, Offset: 150, LeaderEpoch: 3}}}); err != nil {
		t.Fatal(err)
	}
	if got := h.fetch("solo", []TopicPartition{{"orders", 1}})[0]; got.Offset != 150 || got.Metadata != "" || got.CommitTimestamp != h.now.UnixMilli() {
		t.Fatalf("second commit: %+v", got)
	}

	id1, _ := h.stableGroup("members")
	if err := h.commit(OffsetCommitRequest{GroupID: "members", GenerationID: 2, MemberID: id1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 9}}}); err != nil {
		t.Fatalf("member commit: %v", err)
	}
	// A new member makes the group rebalance; once it is CompletingRebalance
	// commits wait for the new generation.
	_, j3 := h.newMember("members", protocols("range"))
	j1 := h.join(h.joinReq("members", id1, "", protocols("range")))
	j1.parked() // member 2 has not rejoined yet
	j3.parked()
	err = h.commit(OffsetCommitRequest{GroupID: "members", GenerationID: 2, MemberID: id1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 10}}})
	if err != nil {
		t.Fatalf("commit during PreparingRebalance with the current generation is allowed (Kafka): %v", err)
	}
	h.advance(30 * time.Second) // member 2 never rejoins
	j1.answered()
	j3.answered()
	h.wantState("members", GroupCompletingRebalance)
	err = h.commit(OffsetCommitRequest{GroupID: "members", GenerationID: 3, MemberID: id1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 11}}})
	wantGroupErr(t, "commit during CompletingRebalance", err, ErrRebalanceInProgress)
	if got := h.fetch("members", []TopicPartition{{"t", 0}})[0].Offset; got != 10 {
		t.Fatalf("offset %d after a refused commit, want 10", got)
	}
}

// TestOffsetsAndGroupsSurviveRestart: offsets and group membership survive
// a clean Close and Open; the members go on with their ids and generation.
func TestOffsetsAndGroupsSurviveRestart(t *testing.T) {
	h := newGroupHarness(t, nil)
	id1, id2 := h.stableGroup("g")
	if err := h.commit(OffsetCommitRequest{GroupID: "g", GenerationID: 2, MemberID: id2, Offsets: []CommitOffset{
		{Topic: "orders", Partition: 3, Offset: 42, LeaderEpoch: 1, Metadata: "m"}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.commit(OffsetCommitRequest{GroupID: "solo", GenerationID: -1, Offsets: []CommitOffset{{Topic: "x", Partition: 0, Offset: 1}}}); err != nil {
		t.Fatal(err)
	}
	before := h.fetch("g", nil)
	beforeDesc := h.describe("g")

	h.restart()
	if got := h.fetch("g", nil); !reflect.DeepEqual(got, before) {
		t.Fatalf("offsets after restart:\n got %+v\nwant %+v", got, before)
	}
	if got := h.describe("g"); !reflect.DeepEqual(got, beforeDesc) {
		t.Fatalf("group after restart:\n got %+v\nwant %+v", got, beforeDesc)
	}
	if err := errorsJoin(h.heartbeat("g", 2, id1), h.heartbeat("g", 2, id2)); err != nil {
		t.Fatalf("members heartbeat across the restart: %v", err)
	}
	if got := h.c.ListGroups(); len(got) != 2 || got[0].GroupID != "g" || got[1].State != GroupEmpty {
		t.Fatalf("ListGroups after restart: %+v", got)
	}
	if got := h.c.ListGroups(GroupStable); len(got) != 1 || got[0].GroupID != "g" {
		t.Fatalf("ListGroups(Stable): %+v", got)
	}
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

// TestOffsetsSurviveUncleanReopen: the data directory as a crash leaves it
// (copied while the engine runs, no clean-shutdown markers) plus a torn
// write at the end of every log loads every acknowledged commit.
func TestOffsetsSurviveUncleanReopen(t *testing.T) {
	h := newGroupHarness(t, nil)
	var want []CommittedOffset
	for i := range 20 {
		h.now = h.now.Add(time.Millisecond)
		if err := h.commit(OffsetCommitRequest{GroupID: "crashy", GenerationID: -1, Offsets: []CommitOffset{
			{Topic: "t", Partition: int32(i % 4), Offset: int64(i), LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
	}
	want = h.fetch("crashy", nil)
	crashed := t.TempDir()
	copyDir(t, h.dir, crashed) // producerstate_test.go's: the engine is open, so no clean-shutdown markers
	logs, _ := filepath.Glob(filepath.Join(crashed, OffsetsTopic+"-*", "*.log"))
	if len(logs) == 0 {
		t.Fatal("no log files copied")
	}
	for _, l := range logs {
		f, err := os.OpenFile(l, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte{0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 1, 0, 0xde, 0xad}) // half a batch header
		f.Close()
	}
	h.close()
	h.dir = crashed
	h.open()
	if got := h.fetch("crashy", nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("after unclean reopen:\n got %+v\nwant %+v", got, want)
	}
	if err := h.commit(OffsetCommitRequest{GroupID: "crashy", GenerationID: -1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 1000}}}); err != nil {
		t.Fatalf("commit after recovery: %v", err)
	}
}

// TestDeleteGroups: unknown and non-empty groups are refused; an Empty
// group and its offsets go, and stay gone after a restart.
func TestDeleteGroups(t *testing.T) {
	h := newGroupHarness(t, nil)
	id1, id2 := h.stableGroup("busy")
	h.commit(OffsetCommitRequest{GroupID: "busy", GenerationID: 2, MemberID: id1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5}}})
	h.commit(OffsetCommitRequest{GroupID: "keep", GenerationID: -1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 6}}})

	errs := h.deleteGroups("busy", "nope")
	wantGroupErr(t, "delete a group with members", errs[0], ErrNonEmptyGroup)
	wantGroupErr(t, "delete an unknown group", errs[1], ErrGroupIDNotFound)

	h.c.LeaveGroup("busy", []LeavingMember{{MemberID: id1}, {MemberID: id2}}, h.now)
	h.wantState("busy", GroupEmpty)
	if errs := h.deleteGroups("busy"); errs[0] != nil {
		t.Fatalf("delete an Empty group: %v", errs[0])
	}
	h.wantState("busy", GroupDead)
	if got := h.fetch("busy", []TopicPartition{{"t", 0}})[0].Offset; got != -1 {
		t.Fatalf("offset of a deleted group: %d", got)
	}
	h.restart()
	h.wantState("busy", GroupDead)
	if got := h.fetch("keep", []TopicPartition{{"t", 0}})[0].Offset; got != 6 {
		t.Fatalf("another group's offset after the restart: %d", got)
	}
	var ids []string
	for _, l := range h.c.ListGroups() {
		ids = append(ids, l.GroupID)
	}
	sort.Strings(ids)
	if !reflect.DeepEqual(ids, []string{"keep"}) {
		t.Fatalf("groups after deleting busy and a restart: %v", ids)
	}
}

// TestOffsetsTopicCreatedOnFirstUse: no topic until a group is used, then
// one with the configured partition count that keeps everything.
func TestOffsetsTopicCreatedOnFirstUse(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.OffsetsTopicPartitions = 5 })
	if d := h.e.Describe(OffsetsTopic)[0]; d.Err == nil {
		t.Fatal("the offsets topic exists before first use")
	}
	broker, part, err := h.c.FindCoordinator("hello")
	if err != nil || broker != h.e.cfg.BrokerID || part != OffsetsPartitionFor("hello", 5) {
		t.Fatalf("FindCoordinator: %d %d %v", broker, part, err)
	}
	d := h.e.Describe(OffsetsTopic)[0]
	if d.Err != nil || len(d.Partitions) != 5 || d.Configs["retention.ms"] != "-1" || d.Configs["retention.bytes"] != "-1" ||
		d.Configs["segment.bytes"] != "104857600" {
		t.Fatalf("offsets topic: %+v", d)
	}
	if _, _, err := h.c.FindCoordinator(""); !errors.Is(err, ErrInvalidGroupID) {
		t.Fatalf("FindCoordinator(\"\"): %v", err)
	}
}

// TestOffsetsConcurrentCommits runs the coordinator as a broker would: the
// tick goroutine on, flush.policy=always (so writes complete later, from
// the segment syncer), and clients committing from many goroutines. Every
// acknowledged commit is visible, the last one wins, and all of them
// survive a restart.
func TestOffsetsConcurrentCommits(t *testing.T) {
	h := &groupHarness{t: t, dir: t.TempDir(), now: time.Now(), cfg: DefaultGroupConfig(),
		engineCfg: func(c *Config) { c.Topic.FlushPolicy = segment.FlushAlways }}
	h.cfg.OffsetsTopicPartitions = 4
	h.cfg.TickInterval = time.Millisecond
	h.open()
	t.Cleanup(h.close)
	const clients, commits = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			group := fmt.Sprintf("group-%d", cl%3)
			for i := range commits {
				ch := make(chan error, 1)
				h.c.CommitOffsets(OffsetCommitRequest{GroupID: group, GenerationID: -1, Offsets: []CommitOffset{
					{Topic: "t", Partition: int32(cl), Offset: int64(i), LeaderEpoch: -1}}}, time.Now(), func(err error) { ch <- err })
				if err := <-ch; err != nil {
					errs <- err
					return
				}
				got, err := h.c.FetchOffsets(group, []TopicPartition{{"t", int32(cl)}})
				if err != nil || got[0].Offset != int64(i) {
					errs <- fmt.Errorf("client %d: fetch after commit %d: %+v %v", cl, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	h.restart()
	for cl := range clients {
		if got := h.fetch(fmt.Sprintf("group-%d", cl%3), []TopicPartition{{"t", int32(cl)}})[0].Offset; got != commits-1 {
			t.Fatalf("client %d: offset %d after restart, want %d", cl, got, commits-1)
		}
	}
}

// TestOffsetsReloadAfterCompaction: with __consumer_offsets compacted (when
// this build compacts), many commits of the same partitions and a deleted
// group's tombstones shrink to the latest values, and a reload still finds
// exactly the latest state.
func TestOffsetsReloadAfterCompaction(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) {
		c.OffsetsTopicPartitions = 1
		c.OffsetsTopicSegmentBytes = 4 << 10
	})
	h.c.FindCoordinator("g")
	if policy := h.e.Describe(OffsetsTopic)[0].Configs["cleanup.policy"]; policy != "compact" {
		t.Skipf("this build creates %s with cleanup.policy=%s: nothing to compact", OffsetsTopic, policy)
	}
	for i := range 300 {
		h.now = h.now.Add(time.Millisecond)
		if err := h.commit(OffsetCommitRequest{GroupID: fmt.Sprintf("g%d", i%3), GenerationID: -1, Offsets: []CommitOffset{
			{Topic: "t", Partition: int32(i % 5), Offset: int64(i), LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if errs := h.deleteGroups("g2"); errs[0] != nil {
		t.Fatal(errs[0])
	}
	h.commit(OffsetCommitRequest{GroupID: "g0", GenerationID: -1, Offsets: []CommitOffset{{Topic: "roll", Offset: 1}}})
	want0, want1 := h.fetch("g0", nil), h.fetch("g1", nil)
	before := h.e.Describe(OffsetsTopic)[0].Partitions[0]
	// Past delete.retention.ms (24 h), so the tombstones go as well.
	n, err := h.e.Compact(h.now.Add(25 * time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("Compact: %d segments, %v", n, err)
	}
	h.restart()
	if got0, got1 := h.fetch("g0", nil), h.fetch("g1", nil); !reflect.DeepEqual(got0, want0) || !reflect.DeepEqual(got1, want1) {
		t.Fatalf("after compaction and reload:\n got %+v %+v\nwant %+v %+v", got0, got1, want0, want1)
	}
	h.wantState("g2", GroupDead)
	if after := h.e.Describe(OffsetsTopic)[0].Partitions[0]; after.LogEndOffset != before.LogEndOffset {
		t.Fatalf("compaction moved the log end: %d -> %d", before.LogEndOffset, after.LogEndOffset)
	}
}

// TestOffsetsExpire: standalone offsets expire OffsetsRetention after their
// commit, one by one; a group that used membership keeps all its offsets
// until it has been Empty that long, then loses them and its metadata.
// Expired offsets stay gone after a restart.
func TestOffsetsExpire(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) {
		c.OffsetsRetention, c.OffsetsRetentionCheckInterval = time.Hour, time.Minute
	})
	standalone := func(p int32, off int64) {
		t.Helper()
		if err := h.commit(OffsetCommitRequest{GroupID: "solo", GenerationID: -1,
			Offsets: []CommitOffset{{Topic: "t", Partition: p, Offset: off, LeaderEpoch: -1}}}); err != nil {
			t.Fatal(err)
		}
	}
	offsets := func(group string) map[int32]int64 {
		t.Helper()
		got := map[int32]int64{}
		for _, o := range h.fetch(group, nil) {
			got[o.Partition] = o.Offset
		}
		return got
	}
	groups := func() []string {
		var ids []string
		for _, l := range h.c.ListGroups() {
			ids = append(ids, l.GroupID)
		}
		return ids
	}

	standalone(0, 10) // at 0
	h.advance(30 * time.Minute)
	standalone(1, 11) // at 30 min
	id1, id2 := h.stableGroup("members")
	if err := h.commit(OffsetCommitRequest{GroupID: "members", GenerationID: 2, MemberID: id1,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.LeaveGroup("members", []LeavingMember{{MemberID: id1}, {MemberID: id2}}, h.now); err != nil {
		t.Fatal(err)
	}
	h.wantState("members", GroupEmpty) // Empty since 30 min

	h.advance(31 * time.Minute) // 61 min
	if got, want := offsets("solo"), map[int32]int64{1: 11}; !reflect.DeepEqual(got, want) {
		t.Fatalf("solo at 61 min: %v, want %v (partition 0 expired at 60 min)", got, want)
	}
	if got, want := offsets("members"), map[int32]int64{0: 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("members at 61 min, Empty for 31: %v, want %v", got, want)
	}

	h.advance(30 * time.Minute) // 91 min
	if got := groups(); len(got) != 0 {
		t.Fatalf("groups at 91 min: %v, want none (solo's last offset is 61 min old, members Empty for 61 min)", got)
	}
	h.restart()
	if got := groups(); len(got) != 0 {
		t.Fatalf("groups after restart: %v, want none", got)
	}
	if got := offsets("members"); len(got) != 0 {
		t.Fatalf("members after restart: %v", got)
	}
}
