package cluster_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/cluster/clustertest"
)

// TestReassignReplacesLeader: a partition on brokers 1-3 moves to a new
// broker 4 in place of its leader. The replica set grows to the target
// plus the leader, leadership stays until broker 4 is in the ISR, then the
// AlterPartition that takes 4 in finishes it: replicas = target, the
// leader moves to the first target replica with the leader epoch bumped.
// Asked of a node that is not the controller (forwarded).
func TestReassignReplacesLeader(t *testing.T) {
	c := clustertest.Start(t, 3)
	tp := createTopic(t, c, "moving", 1, 3)
	c.AddBroker(4)
	p := tp.Partitions[0]
	leader := p.Leader
	target := append([]int32{4}, slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return id == leader })...)
	var asked *cluster.Node
	for _, n := range c.Nodes() {
		if !n.IsController() {
			asked = n
			break
		}
	}
	got, err := asked.ReassignPartition("moving", 0, target)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(target), leader); !slices.Equal(got.Replicas, want) || !slices.Equal(got.Target, target) ||
		got.Leader != leader || !slices.Equal(got.ISR, p.ISR) {
		t.Fatalf("reassignment started as %+v, want replicas %v target %v, leader %d, ISR %v", got, want, target, leader, p.ISR)
	}
	// Broker 4 caught up: the leader takes it into the ISR.
	var done cluster.Partition
	if err := c.Do(func(ctrl *cluster.Node) (err error) {
		done, err = ctrl.AlterPartition("moving", 0, leader, got.LeaderEpoch, got.PartitionEpoch, append(slices.Clone(got.ISR), 4))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	img := c.WaitAll("reassignment finished", func(img *cluster.Image) bool { return img.Topic("moving").Partitions[0].Target == nil })
	fin := img.Topic("moving").Partitions[0]
	if !slices.Equal(fin.Replicas, target) || fin.Leader != 4 || fin.LeaderEpoch != p.LeaderEpoch+1 || slices.Contains(fin.ISR, leader) {
		t.Fatalf("finished as %+v (AlterPartition answered %+v), want replicas %v led by 4 at leader epoch %d", fin, done, target, p.LeaderEpoch+1)
	}
	if len(img.Reassigning()) != 0 || len(img.UnderReplicatedPartitions()) != 0 {
		t.Fatalf("reassigning %v, under-replicated %v", img.Reassigning(), img.UnderReplicatedPartitions())
	}
}

// TestReassignRemoveOnlyFinishesAtOnce: dropping a replica (every target
// already in the ISR) finishes in the entry that starts it; a target that
// is not a registered broker, or repeats one, is refused.
func TestReassignRemoveOnlyFinishesAtOnce(t *testing.T) {
	c := clustertest.Start(t, 3)
	p := createTopic(t, c, "shrink", 1, 3).Partitions[0]
	target := p.Replicas[:2]
	got, err := c.Controller().ReassignPartition("shrink", 0, target)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Replicas, target) || got.Target != nil || !slices.Equal(got.ISR, target) || got.Leader != p.Leader {
		t.Fatalf("after removing %d: %+v", p.Replicas[2], got)
	}
	if _, err := c.Controller().ReassignPartition("shrink", 0, []int32{1, 9}); !errors.Is(err, cluster.ErrUnknownBroker) {
		t.Fatalf("target broker 9: err = %v", err)
	}
	if _, err := c.Controller().ReassignPartition("shrink", 0, []int32{1, 1}); !errors.Is(err, cluster.ErrInvalidChange) {
		t.Fatalf("target [1 1]: err = %v", err)
	}
	if _, err := c.Controller().ReassignPartition("nope", 0, []int32{1}); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Fatalf("unknown topic: err = %v", err)
	}
}
