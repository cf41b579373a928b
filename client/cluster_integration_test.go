package client_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
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
}
