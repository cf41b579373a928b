package front

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/engine/enginetest"
	"github.com/spate-io/spate/wire"
)

func openGroups(t *testing.T) *Groups {
	t.Helper()
	e := enginetest.Open(t, nil)
	cfg := engine.DefaultGroupConfig()
	cfg.OffsetsTopicPartitions = 1
	c, err := engine.OpenGroupCoordinator(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := e.CreateTopic("t", 2, nil); err != nil {
		t.Fatal(err)
	}
	return &Groups{Engine: e, Coordinator: c, OffsetMetadataMaxBytes: 8}
}

// commit runs CommitOffsets and waits for its answer.
func commit(t *testing.T, g *Groups, req engine.OffsetCommitRequest) ([]wire.ErrorCode, bool) {
	t.Helper()
	type answer struct {
		codes  []wire.ErrorCode
		failed bool
	}
	done := make(chan answer, 1)
	g.CommitOffsets(req, time.Now(), func(codes []wire.ErrorCode, failed bool) { done <- answer{codes, failed} })
	select {
	case a := <-done:
		return a.codes, a.failed
	case <-time.After(30 * time.Second):
		t.Fatal("OffsetCommit not answered in 30 s")
		return nil, false
	}
}

// A commit answers each partition in request order: the unknown partition
// and the too-long metadata refused, the rest committed; a commit the
// coordinator refuses repeats its code in every partition it did not
// refuse itself.
func TestCommitOffsets(t *testing.T) {
	g := openGroups(t)
	req := engine.OffsetCommitRequest{GroupID: "g", GenerationID: -1, Offsets: []engine.CommitOffset{
		{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1},
		{Topic: "t", Partition: 7, Offset: 5, LeaderEpoch: -1},
		{Topic: "gone", Partition: 0, Offset: 5, LeaderEpoch: -1},
		{Topic: "t", Partition: 1, Offset: 9, LeaderEpoch: -1, Metadata: strings.Repeat("m", 9)},
		{Topic: "t", Partition: 1, Offset: 3, LeaderEpoch: -1, Metadata: "ok"},
	}}
	codes, failed := commit(t, g, req)
	want := []wire.ErrorCode{wire.None, wire.UnknownTopicOrPartition, wire.UnknownTopicOrPartition, wire.OffsetMetadataTooLarge, wire.None}
	if !slices.Equal(codes, want) || !failed {
		t.Fatalf("codes %v failed %v, want %v and failed", codes, failed, want)
	}
	got, err := g.Coordinator.FetchOffsets("g", nil)
	if err != nil || len(got) != 2 || got[0].Offset != 5 || got[1].Offset != 3 || got[1].Metadata != "ok" {
		t.Fatalf("committed %+v (%v), want t-0 at 5 and t-1 at 3", got, err)
	}

	codes, failed = commit(t, g, engine.OffsetCommitRequest{GroupID: "g", GenerationID: 4, MemberID: "nobody", Offsets: []engine.CommitOffset{
		{Topic: "t", Partition: 0, Offset: 6, LeaderEpoch: -1},
		{Topic: "t", Partition: 9, Offset: 6, LeaderEpoch: -1},
	}})
	if !failed || codes[1] != wire.UnknownTopicOrPartition || codes[0] == wire.None || codes[0] == wire.UnknownTopicOrPartition {
		t.Fatalf("commit of an unknown member: codes %v failed %v, want the coordinator's error then UNKNOWN_TOPIC_OR_PARTITION", codes, failed)
	}

	codes, failed = commit(t, g, engine.OffsetCommitRequest{GroupID: "g", GenerationID: -1, Offsets: []engine.CommitOffset{
		{Topic: "t", Partition: 1, Offset: 4, LeaderEpoch: -1},
	}})
	if failed || !slices.Equal(codes, []wire.ErrorCode{wire.None}) {
		t.Fatalf("a plain commit: codes %v failed %v", codes, failed)
	}
}

func TestByTopic(t *testing.T) {
	offsets := []engine.CommittedOffset{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 2}, {Topic: "b", Partition: 1}, {Topic: "a", Partition: 1}}
	var got []string
	for topic, run := range ByTopic(offsets) {
		var ps []string
		for _, o := range run {
			ps = append(ps, string(rune('0'+o.Partition)))
		}
		got = append(got, topic+":"+strings.Join(ps, ","))
	}
	if want := []string{"a:0,2", "b:1", "a:1"}; !slices.Equal(got, want) {
		t.Fatalf("ByTopic = %v, want %v", got, want)
	}
	for range ByTopic(nil) {
		t.Fatal("ByTopic(nil) yielded")
	}
	n := 0
	for range ByTopic(offsets) {
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("ByTopic did not stop at break: %d", n)
	}
}

func TestGroupCodes(t *testing.T) {
	g := openGroups(t)
	if _, code := g.ListGroups([]string{"Stable", "Sleepy"}); code != wire.InvalidRequest {
		t.Fatalf("ListGroups with an unknown state: %s, want INVALID_REQUEST", code)
	}
	if groups, code := g.ListGroups([]string{"Empty"}); code != wire.None || len(groups) != 0 {
		t.Fatalf("ListGroups(Empty) = %v, %s", groups, code)
	}
	if _, code, err := g.FindCoordinator(1, "txn"); code != wire.InvalidRequest || !errors.Is(err, ErrUnsupportedCoordinator) {
		t.Fatalf("FindCoordinator of a transactional id: %s %v, want INVALID_REQUEST", code, err)
	}
	if _, code, _ := g.FindCoordinator(wire.CoordinatorKeyGroup, ""); code != wire.InvalidGroupID {
		t.Fatalf("FindCoordinator of an empty group id: %s, want INVALID_GROUP_ID", code)
	}
	if id, code, err := g.FindCoordinator(wire.CoordinatorKeyGroup, "g"); err != nil || code != wire.None || id != 0 {
		t.Fatalf("FindCoordinator(g) = %d %s %v, want this broker (0)", id, code, err)
	}
	for _, tc := range []struct {
		d    engine.GroupDescription
		want wire.ErrorCode
	}{
		{engine.GroupDescription{GroupID: "g", State: engine.GroupDead}, wire.None},
		{engine.GroupDescription{}, wire.InvalidGroupID},
		{engine.GroupDescription{GroupID: "g", Err: engine.ErrNotCoordinator}, wire.NotCoordinator},
	} {
		if got := DescribedCode(&tc.d); got != tc.want {
			t.Errorf("DescribedCode(%+v) = %s, want %s", tc.d, got, tc.want)
		}
	}
	errs := []error{nil, engine.ErrUnknownMemberID}
	if CodeAt(errs, 0) != wire.None || CodeAt(errs, 1) != wire.UnknownMemberID || CodeAt(errs, 2) != wire.None {
		t.Fatalf("CodeAt(%v, 0..2) = %s %s %s", errs, CodeAt(errs, 0), CodeAt(errs, 1), CodeAt(errs, 2))
	}
}
