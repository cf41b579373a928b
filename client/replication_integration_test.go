package client_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
)

// produceValues produces values [from, to) to topic with acks=all through
// seed and returns the values acknowledged.
func produceValues(t *testing.T, seed, topic string, from, to int) []int {
	t.Helper()
	p, err := client.NewProducer(client.SeedBrokers(seed), fastRetries(), client.RequiredAcks(client.AcksAll))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	acked := make([]atomic.Bool, to-from)
	for i := from; i < to; i++ {
		v := []byte(strconv.Itoa(i))
		p.Produce(ctxFor(t), &client.Record{Topic: topic, Key: v, Value: v}, func(_ *client.Record, err error) {
			if err == nil {
				acked[i-from].Store(true)
			}
		})
	}
	p.Flush(ctxFor(t))
	var out []int
	for i := range acked {
		if acked[i].Load() {
			out = append(out, from+i)
		}
	}
	return out
}

// waitReplicasIdentical waits until every running replica of every
// partition of topic holds the same batches (per-batch CRCs) up to the same
// log end, with the leader's high watermark at that end, and returns the
// records' total.
func waitReplicasIdentical(t *testing.T, c *brokertest.Cluster, topic string) int64 {
	t.Helper()
	deadline := time.Now().Add(brokertest.Deadline)
	for {
		total, why := replicasIdentical(c, topic)
		if why == "" {
			return total
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas of %s differ after %v: %s", topic, brokertest.Deadline, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func replicasIdentical(c *brokertest.Cluster, topic string) (int64, string) {
	img := c.Wait("any image", func(*cluster.Image) bool { return true })
	tp := img.Topic(topic)
	var total int64
	for part, p := range tp.Partitions {
		var want *engine.ReplicaEnd
		for _, id := range p.Replicas {
			b := c.Brokers[id-1]
			if b == nil {
				continue
			}
			got, err := b.Engine().DescribeReplica(topic, int32(part))
			if err != nil {
				return 0, fmt.Sprintf("partition %d on broker %d: %v", part, id, err)
			}
			if id == p.Leader && got.HighWatermark != got.LogEnd {
				return 0, fmt.Sprintf("partition %d: leader %d high watermark %d, log end %d", part, id, got.HighWatermark, got.LogEnd)
			}
			if want == nil {
				want = &got
				continue
			}
			if got.LogEnd != want.LogEnd || !slices.Equal(got.BatchCRCs, want.BatchCRCs) {
				return 0, fmt.Sprintf("partition %d: broker %d has %d batches to %d, another replica %d to %d",
					part, id, len(got.BatchCRCs), got.LogEnd, len(want.BatchCRCs), want.LogEnd)
			}
		}
		total += want.LogEnd
	}
	return total, ""
}

// consumeDistinct reads topic's partitions from the start until n distinct
// values arrived and returns them.
func consumeDistinct(t *testing.T, seed, topic string, partitions int32, n int) map[int]bool {
	t.Helper()
	all := make([]int32, partitions)
	for i := range all {
		all[i] = int32(i)
	}
	cons, err := client.NewConsumer(client.SeedBrokers(seed), client.Assign(topic, all, client.Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[int]bool{}
	ctx := ctxFor(t)
	for len(seen) < n {
		fs, err := cons.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d of %d distinct values: %v", len(seen), n, err)
		}
		it := fs.Records()
		for it.Next() {
			v, err := strconv.Atoi(string(it.Record().Value))
			if err != nil {
				t.Fatalf("value %q", it.Record().Value)
			}
			seen[v] = true
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

// TestReplicationFactor3: a topic with three replicas and
// min.insync.replicas=2 on three brokers; an acks=all producer's records
// are on every replica (identical batches, compared by CRC) and consumers
// read them all.
func TestReplicationFactor3(t *testing.T) {
	c := brokertest.StartCluster(t, 3, nil)
	seed := c.Brokers[0].Addr()
	if err := c.Brokers[0].CreateTopic("r3", 2, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	c.WaitLeaders("r3")
	const n = 5000
	acked := produceValues(t, seed, "r3", 0, n)
	if len(acked) != n {
		t.Fatalf("%d of %d records acknowledged", len(acked), n)
	}
	if total := waitReplicasIdentical(t, c, "r3"); total != n {
		t.Fatalf("replicas hold %d records, want %d", total, n)
	}
	seen := consumeDistinct(t, seed, "r3", 2, n)
	if len(seen) != n {
		t.Fatalf("consumed %d distinct values, want %d", len(seen), n)
	}
}
