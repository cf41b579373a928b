package client_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
)

// TestClusterProduceConsume: three brokers of one quorum in this process; a
// 12-partition topic created through one broker is led 4/4/4, and records
// produced and consumed through one bootstrap address (the clients find
// every partition's leader from the metadata) all come back once.
func TestClusterProduceConsume(t *testing.T) {
	c := brokertest.StartCluster(t, 3, nil)
	seed := c.Brokers[2].Addr()
	createTopic(t, seed, "spread", 12)
	topic := c.WaitLeaders("spread")
	led := map[int32]int{}
	for _, p := range topic.Partitions {
		led[p.Leader]++
	}
	if led[1] != 4 || led[2] != 4 || led[3] != 4 {
		t.Fatalf("leaders per broker %v, want 4 each", led)
	}

	const n = 20_000
	p, err := client.NewProducer(client.SeedBrokers(seed), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var failed atomic.Int64
	for i := range n {
		p.Produce(ctxFor(t), &client.Record{Topic: "spread", Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}, func(_ *client.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := p.Flush(ctxFor(t)); err != nil || failed.Load() != 0 {
		t.Fatalf("flush: %v; %d records failed", err, failed.Load())
	}

	all := make([]int32, 12)
	for i := range all {
		all[i] = int32(i)
	}
	cons, err := client.NewConsumer(client.SeedBrokers(seed), client.Assign("spread", all, client.Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := make([]bool, n)
	perPartition := pollValues(t, cons, n)
	for part, vs := range perPartition {
		if len(vs) == 0 {
			t.Fatalf("partition %d got nothing", part)
		}
		for _, v := range vs {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i >= n || seen[i] {
				t.Fatalf("partition %d: value %q unknown or seen twice", part, v)
			}
			seen[i] = true
		}
	}
	if len(perPartition) != 12 {
		t.Fatalf("records in %d partitions, want 12", len(perPartition))
	}
}

// TestClusterGroupConsumers: two group consumers on a three-broker cluster
// split a topic's partitions and read everything; the group's coordinator
// is whichever broker leads its partition of __consumer_offsets (created
// through the controller on first use), found through one seed address.
func TestClusterGroupConsumers(t *testing.T) {
	c := brokertest.StartCluster(t, 3, func(cfg *broker.Config) { cfg.OffsetsTopicPartitions = 6 })
	seed := c.Brokers[0].Addr()
	const topic, group, parts, n = "orders", "billing", 6, 600
	createTopic(t, seed, topic, parts)
	c.WaitLeaders(topic)
	produceSpread(t, seed, topic, parts, 0, n)

	var mu sync.Mutex
	seen := map[string]int{}
	r1 := startReader(t, seed, group, topic, "", seen, &mu)
	r2 := startReader(t, seed, group, topic, "", seen, &mu)
	waitSeen(t, &mu, seen, 0, n)
	if p1, p2 := r1.partitions(), r2.partitions(); len(p1)+len(p2) != parts {
		t.Fatalf("assignments %v and %v; want %d partitions between them", p1, p2, parts)
	}
	offsets := c.WaitLeaders("__consumer_offsets")
	if len(offsets.Partitions) != 6 {
		t.Fatalf("__consumer_offsets has %d partitions, want 6", len(offsets.Partitions))
	}
	for i, p := range offsets.Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("__consumer_offsets-%d has replicas %v, want 3 (offsets.topic.replication.factor -1 with 3 live brokers)", i, p.Replicas)
		}
	}
}

// TestClusterCoordinatorFailover: committed offsets live in a replicated
// __consumer_offsets (offsets.topic.replication.factor -1: 3 of 3 brokers).
// When the broker coordinating the group stops, another broker leads the
// group's partition and serves its committed offsets: a new member of the
// group resumes where the first stopped and reads nothing twice.
func TestClusterCoordinatorFailover(t *testing.T) {
	c := brokertest.StartCluster(t, 3, func(cfg *broker.Config) { cfg.OffsetsTopicPartitions = 3 })
	const topic, group, parts, n = "ledger", "audit", 3, 300
	a, err := client.NewAdmin(client.SeedBrokers(strings.Split(c.Bootstrap(), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctxFor(t), topic, parts, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	c.WaitLeaders(topic)
	seed := c.Brokers[0].Addr()
	produceSpread(t, seed, topic, parts, 0, n)

	var mu sync.Mutex
	seen := map[string]int{}
	r := startReader(t, seed, group, topic, "", seen, &mu)
	waitSeen(t, &mu, seen, 0, n)
	r.pollLoop.close(t) // commits what it read
	committed, err := a.FetchGroupOffsets(ctxFor(t), group)
	// The first member's autocommit and its close both commit; the
	// offsets fetched here are what the close left.
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, off := range committed {
		sum += off
	}
	if sum != n {
		t.Fatalf("committed offsets %v sum to %d, want %d", committed, sum, n)
	}

	// Stop the group's coordinator: the leader of its offsets partition.
	p := engine.OffsetsPartitionFor(group, 3)
	offsets := c.WaitLeaders(engine.OffsetsTopic)
	coordinator := offsets.Partitions[p].Leader
	if err := c.Brokers[coordinator-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Wait("a new leader of the group's offsets partition", func(img *cluster.Image) bool {
		l := img.Topic(engine.OffsetsTopic).Partitions[p].Leader
		return l >= 0 && l != coordinator
	})
	seeds := c.Brokers[coordinator%3].Addr() // a broker still running
	c.Wait("the topic led by the brokers left", func(img *cluster.Image) bool {
		for _, p := range img.Topic(topic).Partitions {
			if p.Leader < 0 || p.Leader == coordinator {
				return false
			}
		}
		return true
	})
	produceSpread(t, seeds, topic, parts, n, 2*n)
	clear(seen)
	startReader(t, seeds, group, topic, "", seen, &mu)
	waitSeen(t, &mu, seen, n, 2*n)
	mu.Lock()
	defer mu.Unlock()
	for v, times := range seen {
		if i, _ := strconv.Atoi(v); i < n || times > 1 {
			t.Fatalf("after the coordinator moved, value %s was read %d times (committed before: %v)", v, times, i < n)
		}
	}
}
