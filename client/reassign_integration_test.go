package client_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
)

// reassignTopic creates a one-partition topic of 3 replicas on a 4-broker
// cluster and returns its partition and the broker holding no replica.
func reassignTopic(t *testing.T, c *brokertest.Cluster, topic string) (cluster.Partition, int32) {
	t.Helper()
	if err := c.Brokers[0].CreateTopic(topic, 1, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	p := c.WaitLeaders(topic).Partitions[0]
	for id := int32(1); id <= 4; id++ {
		if !slices.Contains(p.Replicas, id) {
			return p, id
		}
	}
	t.Fatalf("%s has replicas %v on 4 brokers", topic, p.Replicas)
	return p, 0
}

// finished is a wait condition: topic's partition 0 has moved to target.
func finished(topic string, target []int32) func(*cluster.Image) bool {
	return func(img *cluster.Image) bool {
		p := img.Topic(topic).Partitions[0]
		return p.Target == nil && slices.Equal(p.Replicas, target)
	}
}

func newAdmin(t *testing.T, seed string) *client.Admin {
	t.Helper()
	a, err := client.NewAdmin(client.SeedBrokers(seed), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// TestReassignReplacesDeadBroker: a follower's broker dies; its replica
// moves to the spare broker with `reassign` while the spare's fetches are
// held, so the move is seen in progress (listed, under-replicated); once
// they flow the spare catches up, joins the ISR and the dead broker is
// dropped. The spare holds every acknowledged record, byte for byte, and
// the dead broker, back, deletes its copy.
func TestReassignReplacesDeadBroker(t *testing.T) {
	var held [5]atomic.Bool
	c := brokertest.StartCluster(t, 4, func(cfg *broker.Config) {
		id := cfg.BrokerID
		cfg.HoldReplicaFetches = func() bool { return held[id].Load() }
	})
	p, spare := reassignTopic(t, c, "mv")
	dead := aFollower(p)
	seed := c.Brokers[p.Leader-1].Addr()
	if acked := produceValues(t, seed, "mv", 0, 2000); len(acked) != 2000 {
		t.Fatalf("%d of 2000 acknowledged", len(acked))
	}
	if err := c.Brokers[dead-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[dead-1] = nil
	c.Wait("dead broker out of the ISR", func(img *cluster.Image) bool { return !slices.Contains(img.Topic("mv").Partitions[0].ISR, dead) })

	held[spare].Store(true)
	target := slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return id == dead })
	target = append(target, spare)
	a := newAdmin(t, seed)
	if err := a.ReassignPartition(ctxFor(t), "mv", 0, target); err != nil {
		t.Fatal(err)
	}
	// Any broker answers from its own metadata, which may lag a moment.
	var rs []client.Reassignment
	waitUntil(t, brokertest.Deadline, func() bool {
		var err error
		rs, err = a.ListReassignments(ctxFor(t))
		return err == nil && len(rs) == 1
	})
	if rs[0].Topic != "mv" || !slices.Equal(rs[0].Target, target) || !slices.Equal(rs[0].Replicas, append(slices.Clone(target), dead)) {
		t.Fatalf("reassignments in progress: %+v, want mv-0 to %v", rs, target)
	}
	cd, err := a.DescribeCluster(ctxFor(t))
	if err != nil || len(cd.UnderReplicated) != 1 {
		t.Fatalf("under-replicated while moving: %+v, %v", cd, err)
	}
	// Writes go on meanwhile: the ISR (two) meets min.insync.replicas.
	if acked := produceValues(t, seed, "mv", 2000, 3000); len(acked) != 1000 {
		t.Fatalf("%d of 1000 acknowledged while moving", len(acked))
	}
	held[spare].Store(false)
	img := c.Wait("reassignment finished", finished("mv", target))
	fin := img.Topic("mv").Partitions[0]
	if !slices.Equal(fin.Replicas, target) || len(fin.ISR) != len(target) || slices.ContainsFunc(fin.ISR, func(id int32) bool { return !slices.Contains(target, id) }) {
		t.Fatalf("finished as %+v, want replicas and ISR %v", fin, target)
	}
	if total := waitReplicasIdentical(t, c, "mv"); total != 3000 {
		t.Fatalf("replicas hold %d records, want 3000", total)
	}
	waitUntil(t, brokertest.Deadline, func() bool {
		rs, err := a.ListReassignments(ctxFor(t))
		return err == nil && len(rs) == 0
	})
	back := c.Start(dead)
	c.WaitReady()
	waitUntil(t, brokertest.Deadline, func() bool { // the dead broker deletes its copy
		_, err := back.Engine().DescribeReplica("mv", 0)
		return errors.Is(err, engine.ErrUnknownTopicOrPartition)
	})
}

// TestReassignMovesLeader: moving a partition off its leader hands
// leadership to a target replica (leader epoch + 1) once the new replica
// is in the ISR; the old leader deletes its copy and every acknowledged
// value is read from the new replica set.
func TestReassignMovesLeader(t *testing.T) {
	c := brokertest.StartCluster(t, 4, nil)
	p, spare := reassignTopic(t, c, "lead")
	target := append([]int32{spare}, slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return id == p.Leader })...)
	seed := c.Brokers[p.Leader-1].Addr() // stays a cluster member after the move
	if acked := produceValues(t, seed, "lead", 0, 1500); len(acked) != 1500 {
		t.Fatalf("%d of 1500 acknowledged", len(acked))
	}
	a := newAdmin(t, seed)
	if err := a.ReassignPartition(ctxFor(t), "lead", 0, target); err != nil {
		t.Fatal(err)
	}
	img := c.Wait("reassignment finished", finished("lead", target))
	fin := img.Topic("lead").Partitions[0]
	if !slices.Equal(fin.Replicas, target) || fin.Leader == p.Leader || !slices.Contains(target, fin.Leader) || fin.LeaderEpoch <= p.LeaderEpoch {
		t.Fatalf("finished as %+v (was %+v), want replicas %v led by one of them", fin, p, target)
	}
	if acked := produceValues(t, seed, "lead", 1500, 2000); len(acked) != 500 {
		t.Fatalf("%d of 500 acknowledged after the move", len(acked))
	}
	waitUntil(t, brokertest.Deadline, func() bool { // the old leader deletes its copy
		_, err := c.Brokers[p.Leader-1].Engine().DescribeReplica("lead", 0)
		return errors.Is(err, engine.ErrUnknownTopicOrPartition)
	})
	if total := waitReplicasIdentical(t, c, "lead"); total != 2000 {
		t.Fatalf("replicas hold %d records, want 2000", total)
	}
	if seen := consumeDistinct(t, seed, "lead", 1, 2000); len(seen) != 2000 {
		t.Fatalf("read %d distinct values, want 2000", len(seen))
	}
	if err := a.ReassignPartition(ctxFor(t), "lead", 0, []int32{spare, 9}); err == nil {
		t.Fatal("reassigned to unregistered broker 9")
	}
}
