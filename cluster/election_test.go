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
	recs := append(fenceChanges(img, 1), FenceBroker{BrokerID: 1, BrokerEpoch: 1})
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
	img = mustApply(t, img, 41, append(fenceChanges(img, 1), FenceBroker{BrokerID: 1, BrokerEpoch: 1})...)
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
