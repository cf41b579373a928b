package cluster

import (
	"reflect"
	"slices"
	"testing"
)

func TestElectLeader(t *testing.T) {
	cases := []struct {
		name          string
		replicas, isr []int32
		live          []int32
		unclean       bool
		leader        int32
		newISR        []int32
	}{
		{"preferred replica", []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 2, 3}, false, 1, []int32{1, 2, 3}},
		{"first live ISR member in replica order", []int32{1, 2, 3}, []int32{3, 2}, []int32{2, 3}, false, 2, []int32{3, 2}},
		{"never an out-of-sync replica", []int32{1, 2, 3}, []int32{1}, []int32{2, 3}, false, NoLeader, []int32{1}},
		{"unclean: first live replica, ISR of it", []int32{1, 2, 3}, []int32{1}, []int32{2, 3}, true, 2, []int32{2}},
		{"unclean still prefers the ISR", []int32{1, 2, 3}, []int32{1, 3}, []int32{2, 3}, true, 3, []int32{1, 3}},
		{"nobody live", []int32{1, 2}, []int32{1, 2}, nil, true, NoLeader, []int32{1, 2}},
	}
	for _, c := range cases {
		leader, isr := ElectLeader(c.replicas, c.isr, func(id int32) bool { return slices.Contains(c.live, id) }, c.unclean)
		if leader != c.leader || !reflect.DeepEqual(isr, c.newISR) {
			t.Errorf("%s: got leader %d ISR %v, want %d %v", c.name, leader, isr, c.leader, c.newISR)
		}
	}
}

// TestFenceAndUnfenceChanges: fencing broker 1 moves the leadership of the
// partitions it led to an ISR member with the leader epoch bumped, takes it
// out of every ISR where it is not alone, and the changes apply.
func TestFenceAndUnfenceChanges(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 40, CreateTopic{Name: "solo", TopicID: ID16{0xd}, Partitions: []PartitionAssignment{
		{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	}})
	recs := append(fenceChanges(img, 1, leaveISR), FenceBroker{BrokerID: 1, BrokerEpoch: 1})
	img = mustApply(t, img, 41, recs...)
	p0, p1 := img.Topic("t").Partitions[0], img.Topic("t").Partitions[1]
	if p0.Leader != 2 || p0.LeaderEpoch != 1 || !reflect.DeepEqual(p0.ISR, []int32{2, 3}) {
		t.Fatalf("t-0 after fencing its leader: %+v", p0)
	}
	if p1.Leader != 2 || p1.LeaderEpoch != 0 || !reflect.DeepEqual(p1.ISR, []int32{2, 3}) {
		t.Fatalf("t-1 after fencing a follower: %+v", p1)
	}
	// The sole replica stays in the ISR and the partition goes offline.
	if s := img.Topic("solo").Partitions[0]; s.Leader != NoLeader || !reflect.DeepEqual(s.ISR, []int32{1}) || s.LeaderEpoch != 1 {
		t.Fatalf("solo-0 after fencing its only replica: %+v", s)
	}
	offline, under := img.OfflinePartitions(), img.UnderReplicatedPartitions()
	if !reflect.DeepEqual(offline, []TopicPartition{{"solo", 0}}) ||
		!reflect.DeepEqual(under, []TopicPartition{{"t", 0}, {"t", 1}}) {
		t.Fatalf("offline %v, under-replicated %v", offline, under)
	}
	// Unfencing brings the offline partition back with broker 1 leading.
	recs = append([]Record{UnfenceBroker{BrokerID: 1, BrokerEpoch: 1}}, unfenceChanges(img, 1)...)
	img = mustApply(t, img, 42, recs...)
	if s := img.Topic("solo").Partitions[0]; s.Leader != 1 || s.LeaderEpoch != 2 {
		t.Fatalf("solo-0 after unfencing: %+v", s)
	}
	if p := img.Topic("t").Partitions[0]; p.Leader != 2 {
		t.Fatalf("t-0 must keep its new leader (no automatic preferred election): %+v", p)
	}
	if offline := img.OfflinePartitions(); offline != nil {
		t.Fatalf("offline after unfencing: %v", offline)
	}
}

func TestFenceUncleanTopic(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 40, CreateTopic{Name: "u", TopicID: ID16{0xe},
		Configs:    map[string]string{UncleanLeaderElectionKey: "true"},
		Partitions: []PartitionAssignment{{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1}}})
	img = mustApply(t, img, 41, append(fenceChanges(img, 1, leaveISR), FenceBroker{BrokerID: 1, BrokerEpoch: 1})...)
	if p := img.Topic("u").Partitions[0]; p.Leader != 2 || !reflect.DeepEqual(p.ISR, []int32{2}) {
		t.Fatalf("unclean election: %+v", p)
	}
}

// TestCountElections: a committed leader change to an ISR member is a
// clean election, to a replica outside the ISR an unclean one; an ISR
// change, a partition going offline and a record of another kind are none.
func TestCountElections(t *testing.T) {
	img := sampleImage(t) // partition 0: replicas and ISR 1,2,3 led by 1
	img = mustApply(t, img, 80, ChangePartition{TopicID: sampleTopicID, Partition: 1, PartitionEpoch: 0, Leader: 2, ISR: []int32{2}})
	n := &Node{}
	n.countElections(img, []Record{
		ChangePartition{TopicID: sampleTopicID, Partition: 0, Leader: 2, ISR: []int32{2, 3}},     // clean
		ChangeReplicas{TopicID: sampleTopicID, Partition: 1, Leader: 3, ISR: []int32{3}},         // unclean: 3 left partition 1's ISR
		ChangePartition{TopicID: sampleTopicID, Partition: 0, Leader: 1, ISR: []int32{1}},        // same leader
		ChangePartition{TopicID: sampleTopicID, Partition: 0, Leader: NoLeader, ISR: []int32{1}}, // offline
		FenceBroker{BrokerID: 3},
	})
	if clean, unclean := n.LeaderElections(); clean != 1 || unclean != 1 {
		t.Fatalf("elections clean %d unclean %d, want 1 and 1", clean, unclean)
	}
}

// TestRestartAllAfterLossyRestart replays what the fault suite once saw:
// broker 3 lost its unsynced records (a power loss) and restarted, and
// before its registration every broker was killed and restarted. The
// brokers register again one by one, 3 last and lossy. A restart that kept
// its log stays in the ISR, so the ISR ends [1 2], not [3] as when each
// registration took its broker out: then broker 3, with an empty log,
// led every partition and the others truncated to it.
func TestRestartAllAfterLossyRestart(t *testing.T) {
	img := sampleImage(t)
	register := func(id int32, lossy bool) {
		old := img.Broker(id)
		recs := append(restartChanges(img, id, lossy), FenceBroker{BrokerID: id, BrokerEpoch: old.Epoch},
			RegisterBroker{BrokerID: id, Incarnation: ID16{byte(id), 2}})
		img = mustApply(t, img, img.offset+1, recs...)
	}
	register(1, false)
	register(2, false)
	for _, p := range img.Topic("t").Partitions {
		if len(p.ISR) != 3 || p.Leader != 3 {
			t.Fatalf("after 1 and 2 restarted: %+v, want ISR of 3 led by 3 (not yet registered again)", p)
		}
	}
	register(3, true)
	for i, p := range img.Topic("t").Partitions {
		if slices.Contains(p.ISR, 3) || len(p.ISR) != 2 || p.Leader != NoLeader {
			t.Fatalf("t-%d after the lossy restart of 3: %+v, want ISR [1 2] and no leader until one is unfenced", i, p)
		}
	}
	img = mustApply(t, img, img.offset+1, append([]Record{UnfenceBroker{BrokerID: 1, BrokerEpoch: img.Broker(1).Epoch}}, unfenceChanges(img, 1)...)...)
	for i, p := range img.Topic("t").Partitions {
		if p.Leader != 1 {
			t.Fatalf("t-%d after unfencing 1: %+v, want led by 1", i, p)
		}
	}
}

// TestLossyRestartOfLastISRMember: a lossy restart leaves even an ISR it is
// the last of; the partition has no leader, and unfencing the broker does
// not make it lead again (an unclean election would). A partition with one
// replica keeps it.
func TestLossyRestartOfLastISRMember(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, img.offset+1, CreateTopic{Name: "solo", TopicID: ID16{0xd}, Partitions: []PartitionAssignment{
		{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1},
	}})
	img = mustApply(t, img, img.offset+1, CreateTopic{Name: "rf1", TopicID: ID16{0xe}, Partitions: []PartitionAssignment{
		{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	}})
	// A restart that kept its log keeps its place.
	keep := restartChanges(img, 1, false)
	after := mustApply(t, img, img.offset+1, append(keep, FenceBroker{BrokerID: 1, BrokerEpoch: 1})...)
	if p := after.Topic("solo").Partitions[0]; !slices.Equal(p.ISR, []int32{1}) || p.Leader != NoLeader {
		t.Fatalf("solo-0 after a restart of 1 that kept its log: %+v", p)
	}
	img = mustApply(t, img, img.offset+1, append(restartChanges(img, 1, true), FenceBroker{BrokerID: 1, BrokerEpoch: 1},
		RegisterBroker{BrokerID: 1, Incarnation: ID16{1, 2}})...)
	if p := img.Topic("solo").Partitions[0]; len(p.ISR) != 0 || p.Leader != NoLeader {
		t.Fatalf("solo-0 after a lossy restart of its last ISR member: %+v, want an empty ISR and no leader", p)
	}
	for _, r := range unfenceChanges(img, 1) {
		if c, ok := r.(ChangePartition); ok && c.TopicID == (ID16{0xd}) {
			t.Fatalf("unfencing the lossy broker changed solo-0: %+v", c)
		}
	}
	// A partition with no other replica keeps its only one, which leads
	// again once unfenced.
	if p := img.Topic("rf1").Partitions[0]; !slices.Equal(p.ISR, []int32{1}) || p.Leader != NoLeader {
		t.Fatalf("rf1-0 after a lossy restart of its only replica: %+v", p)
	}
	img = mustApply(t, img, img.offset+1, append([]Record{UnfenceBroker{BrokerID: 1, BrokerEpoch: img.Broker(1).Epoch}}, unfenceChanges(img, 1)...)...)
	if p := img.Topic("rf1").Partitions[0]; p.Leader != 1 {
		t.Fatalf("rf1-0 after unfencing its only replica: %+v", p)
	}
}
