package engine

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// clusterGroupHarness is a groupHarness whose engine runs in cluster mode
// as broker 1. Its CreateTopicHook plays broker and controller: it applies
// the topic with the partitions placed by h.place at epoch 0, and counts
// its calls.
type clusterGroupHarness struct {
	*groupHarness
	place   func(i int) (int32, []int32)
	creates atomic.Int32
}

func newClusterGroupHarness(t *testing.T) *clusterGroupHarness {
	t.Helper()
	cfg := DefaultGroupConfig()
	cfg.OffsetsTopicPartitions = 4
	cfg.MinSessionTimeout = time.Second
	cfg.InitialRebalanceDelay = time.Hour // joins park until the test acts
	cfg.TickInterval = 0
	h := &clusterGroupHarness{place: allHere}
	h.groupHarness = &groupHarness{t: t, dir: t.TempDir(), cfg: cfg, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.engineCfg = func(c *Config) {
		c.Clustered = true
		c.BrokerID = self
		c.CreateTopicHook = func(name string, partitions int32, configs map[string]string) error {
			h.creates.Add(1)
			spec := spread(name, 42, int(partitions), 0, h.place)
			spec.Configs = configs
			return h.e.ApplyTopic(spec)
		}
	}
	h.open()
	t.Cleanup(h.close)
	return h
}

// firstCommit finds the group's coordinator (creating the offsets topic,
// every partition led here) and commits offset for t-0 without membership.
func (h *clusterGroupHarness) firstCommit(group string, offset int64) {
	h.t.Helper()
	if _, _, err := h.c.FindCoordinator(group); err != nil {
		h.t.Fatal(err)
	}
	if err := h.commit(OffsetCommitRequest{GroupID: group, GenerationID: -1, Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: offset}}}); err != nil {
		h.t.Fatalf("commit for group %q: %v", group, err)
	}
}

// offsets is the spec of __consumer_offsets with partition p led by
// leader at epoch, and every other partition led here at epoch 0.
func offsets(h *clusterGroupHarness, p, leader, epoch int32) TopicSpec {
	spec := spread(OffsetsTopic, 42, int(h.cfg.OffsetsTopicPartitions), 0, allHere)
	spec.Configs = (*h.e.topics.Load())[OffsetsTopic].settings.Load().overrides
	spec.Partitions[p] = PartitionRole{Partition: p, Leader: leader, LeaderEpoch: epoch, Replicas: []int32{self, 2}, ISR: []int32{self, 2}}
	return spec
}

// TestGroupCoordinatorFollowsLeadership: FindCoordinator creates the
// offsets topic through the hook and answers the partition's leader;
// losing leadership of the group's partition drops the group (a parked
// join answers ErrNotCoordinator, requests are refused), and gaining it
// back loads the committed offsets from the log.
func TestGroupCoordinatorFollowsLeadership(t *testing.T) {
	h := newClusterGroupHarness(t)
	const group = "billing"
	broker, p, err := h.c.FindCoordinator(group)
	if err != nil || broker != self || p != OffsetsPartitionFor(group, 4) {
		t.Fatalf("FindCoordinator: broker %d partition %d %v, want broker 1 partition %d", broker, p, err, OffsetsPartitionFor(group, 4))
	}
	if n := h.creates.Load(); n != 1 {
		t.Fatalf("CreateTopicHook called %d times, want 1", n)
	}
	if err := h.commit(OffsetCommitRequest{GroupID: group, GenerationID: -1, Offsets: []CommitOffset{{Topic: "orders", Partition: 3, Offset: 77, LeaderEpoch: -1}}}); err != nil {
		t.Fatalf("commit: %v", err)
	}
	first := h.join(h.joinReq(group, "", "", protocols("range"))).answered()
	joining := h.join(h.joinReq(group, first.MemberID, "", protocols("range")))
	joining.parked()

	mustApply(t, h.e, offsets(h, p, 2, 1))
	if res := joining.answered(); !errors.Is(res.Err, ErrNotCoordinator) {
		t.Errorf("parked join after leadership moved: %+v, want ErrNotCoordinator", res)
	}
	if _, err := h.c.FetchOffsets(group, nil); !errors.Is(err, ErrNotCoordinator) {
		t.Errorf("FetchOffsets after leadership moved: %v, want ErrNotCoordinator", err)
	}
	if err := h.commit(OffsetCommitRequest{GroupID: group, GenerationID: -1, Offsets: []CommitOffset{{Topic: "orders", Partition: 3, Offset: 99}}}); !errors.Is(err, ErrNotCoordinator) {
		t.Errorf("commit after leadership moved: %v, want ErrNotCoordinator", err)
	}
	if d := h.describe(group); !errors.Is(d.Err, ErrNotCoordinator) {
		t.Errorf("DescribeGroups after leadership moved: %+v, want ErrNotCoordinator", d)
	}
	if errs := h.deleteGroups(group); !errors.Is(errs[0], ErrNotCoordinator) {
		t.Errorf("DeleteGroups after leadership moved: %v, want ErrNotCoordinator", errs)
	}
	if broker, _, err := h.c.FindCoordinator(group); err != nil || broker != 2 {
		t.Errorf("FindCoordinator after leadership moved: broker %d %v, want 2", broker, err)
	}

	mustApply(t, h.e, offsets(h, p, self, 2))
	got, err := h.c.FetchOffsets(group, []TopicPartition{{"orders", 3}})
	if err != nil || len(got) != 1 || got[0].Offset != 77 {
		t.Fatalf("FetchOffsets after leadership came back: %+v %v, want offset 77 loaded from the log", got, err)
	}
	if broker, _, _ := h.c.FindCoordinator(group); broker != self {
		t.Errorf("FindCoordinator after leadership came back: broker %d", broker)
	}
	if n := h.creates.Load(); n != 1 {
		t.Errorf("CreateTopicHook called %d times, want 1", n)
	}
}

// TestGroupCoordinatorRestartLoadsOnGain: after a restart the offsets
// partitions have no role, so the coordinator serves no group until
// ApplyTopic makes this broker their leader again; then the committed
// offsets are back. An offline partition has no coordinator.
func TestGroupCoordinatorRestartLoadsOnGain(t *testing.T) {
	h := newClusterGroupHarness(t)
	const group = "audit"
	h.firstCommit(group, 5)
	h.restart()
	if _, err := h.c.FetchOffsets(group, nil); !errors.Is(err, ErrNotCoordinator) {
		t.Fatalf("FetchOffsets before the metadata came: %v, want ErrNotCoordinator", err)
	}
	if _, _, err := h.c.FindCoordinator(group); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Errorf("FindCoordinator before the metadata came: %v, want ErrCoordinatorNotAvailable (no leader known)", err)
	}
	p := OffsetsPartitionFor(group, 4)
	offline := offsets(h, p, -1, 1)
	offline.Partitions[p].ISR = []int32{2}
	mustApply(t, h.e, offline)
	if _, _, err := h.c.FindCoordinator(group); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Errorf("FindCoordinator with the partition offline: %v, want ErrCoordinatorNotAvailable", err)
	}
	mustApply(t, h.e, offsets(h, p, self, 2))
	got, err := h.c.FetchOffsets(group, nil)
	if err != nil || len(got) != 1 || got[0].Offset != 5 {
		t.Fatalf("FetchOffsets after ApplyTopic: %+v %v, want offset 5", got, err)
	}
	if err := h.e.RemoveTopic(OffsetsTopic); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.FetchOffsets(group, nil); !errors.Is(err, ErrNotCoordinator) {
		t.Errorf("FetchOffsets after RemoveTopic: %v, want ErrNotCoordinator", err)
	}
}

// TestGroupCoordinatorOpenedAfterApply: a coordinator opened once the
// offsets topic has been applied loads the partitions led here then, and
// a second coordinator on the same engine is refused.
func TestGroupCoordinatorOpenedAfterApply(t *testing.T) {
	h := newClusterGroupHarness(t)
	const group = "late"
	h.firstCommit(group, 12)
	if _, err := OpenGroupCoordinator(h.e, h.cfg); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("a second coordinator on one engine: %v, want ErrInvalidRequest", err)
	}
	h.c.Close()
	c, err := OpenGroupCoordinator(h.e, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	got, err := c.FetchOffsets(group, nil)
	if err != nil || len(got) != 1 || got[0].Offset != 12 {
		t.Fatalf("FetchOffsets from a coordinator opened after ApplyTopic: %+v %v, want offset 12", got, err)
	}
}
