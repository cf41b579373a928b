package client_test

import (
	"github.com/prometheus/client_golang/prometheus"

	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
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

// aFollower is the first replica of p that does not lead it.
func aFollower(p cluster.Partition) int32 {
	for _, id := range p.Replicas {
		if id != p.Leader {
			return id
		}
	}
	return -1
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
	if tp == nil {
		return 0, "the first running broker does not know the topic yet"
	}
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

// TestReplicationLeaderFailover: an acks=all producer keeps writing to a
// three-replica topic while the leader's broker stops; the controller
// elects another ISR member, the producer goes on, and once the old leader
// is back (a follower now, truncating against the new leader) every
// replica holds the same batches and every acknowledged value is read.
// The idempotent producer runs with one and with five batches in flight:
// either way the log holds each value at most once, in produce order.
func TestReplicationLeaderFailover(t *testing.T) {
	for _, window := range []int{1, 5} {
		t.Run("in_flight="+strconv.Itoa(window), func(t *testing.T) { testLeaderFailover(t, window) })
	}
}

func testLeaderFailover(t *testing.T, window int) {
	c := brokertest.StartCluster(t, 3, nil)
	if err := c.Brokers[0].CreateTopic("fo", 1, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	old := c.WaitLeaders("fo").Partitions[0].Leader
	seed := c.Brokers[old%3].Addr() // not the broker that stops
	p, err := client.NewProducer(client.SeedBrokers(strings.Split(c.Bootstrap(), ",")...), fastRetries(), client.RequiredAcks(client.AcksAll),
		client.DeliveryTimeout(20*time.Second), client.MaxInFlightPerPartition(window))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var mu sync.Mutex
	acked := map[int]bool{}
	var failed atomic.Int64
	var firstErr atomic.Pointer[string] // callbacks may run after the test body; t.Logf may not
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			v := []byte(strconv.Itoa(i))
			p.Produce(ctxFor(t), &client.Record{Topic: "fo", Value: v}, func(_ *client.Record, err error) {
				if err != nil {
					if failed.Add(1) == 1 {
						msg := fmt.Sprintf("value %d: %v", i, err)
						firstErr.Store(&msg)
					}
					return
				}
				mu.Lock()
				acked[i] = true
				mu.Unlock()
			})
		}
	}
	produce(0, 2000)
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	produce(2000, 3000) // in flight while the leader stops
	if err := c.Brokers[old-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[old-1] = nil
	img := c.Wait("a new leader of fo", func(img *cluster.Image) bool {
		l := img.Topic("fo").Partitions[0].Leader
		return l >= 0 && l != old
	})
	t.Logf("leader %d stopped; broker %d leads at epoch %d, ISR %v", old, img.Topic("fo").Partitions[0].Leader,
		img.Topic("fo").Partitions[0].LeaderEpoch, img.Topic("fo").Partitions[0].ISR)
	produce(3000, 5000)
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	c.Start(old)
	c.Wait("the old leader back in the ISR", func(img *cluster.Image) bool {
		t := img.Topic("fo") // nil while a restarted broker catches up
		return t != nil && slices.Contains(t.Partitions[0].ISR, old)
	})
	produce(5000, 6000)
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	total := waitReplicasIdentical(t, c, "fo")
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	t.Logf("%d acknowledged, %d failed, %d records in every replica", n, failed.Load(), total)
	if msg := firstErr.Load(); msg != nil {
		t.Logf("first failure: %s", *msg)
	}
	if n < 5000 {
		t.Fatalf("only %d of 6000 records acknowledged", n)
	}
	seen := consumeDistinct(t, seed, "fo", 1, n)
	for v := range acked {
		if !seen[v] {
			t.Errorf("acknowledged value %d lost", v)
		}
	}
	cons, err := client.NewConsumer(client.SeedBrokers(seed), client.Assign("fo", nil, client.Earliest()),
		client.MaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	prev := -1
	for off, s := range pollValues(t, cons, int(total))[0] {
		v, _ := strconv.Atoi(s)
		if v <= prev {
			t.Fatalf("offset %d holds %d after %d: repeated or reordered", off, v, prev)
		}
		prev = v
	}
}

// TestReplicationISRShrinkExpand: with replica.lag.time.max.ms at 1 s, a
// follower whose fetches are held while records keep coming leaves the ISR
// through the leader's AlterPartition (it stays registered, so the
// controller does not fence it), acks=all goes on with the two others, and
// once it fetches again it catches up and rejoins; stopped and restarted,
// it rejoins again and holds the same batches.
func TestReplicationISRShrinkExpand(t *testing.T) {
	var held [4]atomic.Bool
	c := brokertest.StartCluster(t, 3, func(cfg *broker.Config) {
		cfg.ReplicaLagTimeMax = time.Second
		id := cfg.BrokerID
		cfg.HoldReplicaFetches = func() bool { return held[id].Load() }
	})
	if err := c.Brokers[0].CreateTopic("isr", 1, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	tp := c.WaitLeaders("isr").Partitions[0]
	follower := aFollower(tp)
	seed := c.Brokers[tp.Leader-1].Addr()
	inISR := func(want bool) func(*cluster.Image) bool {
		return func(img *cluster.Image) bool {
			// A broker just restarted may not have the topic yet.
			t := img.Topic("isr")
			return t != nil && slices.Contains(t.Partitions[0].ISR, follower) == want
		}
	}
	start := time.Now()
	held[follower].Store(true)
	total := 0
	for !inISR(false)(c.Wait("any image", func(*cluster.Image) bool { return true })) {
		if acked := produceValues(t, seed, "isr", total, total+50); len(acked) != 50 {
			t.Fatalf("%d of 50 acknowledged while broker %d lagged", len(acked), follower)
		}
		total += 50
		if total > 100_000 {
			t.Fatalf("broker %d still in the ISR after %d records", follower, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := c.Wait("any image", func(*cluster.Image) bool { return true }).Topic("isr").Partitions[0]
	t.Logf("%v: broker %d left the ISR after %d records: ISR %v at partition epoch %d", time.Since(start), follower, total, p.ISR, p.PartitionEpoch)
	if acked := produceValues(t, seed, "isr", total, total+500); len(acked) != 500 {
		t.Fatalf("%d of 500 acknowledged with broker %d out of the ISR", len(acked), follower)
	}
	total += 500
	held[follower].Store(false)
	c.Wait("the follower back in the ISR", inISR(true))
	t.Logf("%v: broker %d rejoined the ISR", time.Since(start), follower)
	// The leader counts a change once the controller's answer reaches it,
	// which may be after another broker applied it.
	for deadline := time.Now().Add(30 * time.Second); ; {
		shrinks, expands := isrChanges(t, c.Brokers[tp.Leader-1])
		if shrinks >= 1 && expands >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader's spate_isr_changes_total: shrink %v, expand %v; want at least 1 each", shrinks, expands)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := waitReplicasIdentical(t, c, "isr"); n != int64(total) {
		t.Fatalf("replicas hold %d records, want %d", n, total)
	}

	if err := c.Brokers[follower-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[follower-1] = nil
	c.Wait("the stopped follower out of the ISR", inISR(false))
	t.Logf("%v: broker %d stopped and out of the ISR", time.Since(start), follower)
	if acked := produceValues(t, seed, "isr", total, total+500); len(acked) != 500 {
		t.Fatalf("%d of 500 acknowledged with broker %d stopped", len(acked), follower)
	}
	total += 500
	c.Start(follower)
	c.Wait("the restarted follower back in the ISR", inISR(true))
	t.Logf("%v: broker %d restarted and back in the ISR", time.Since(start), follower)
	if n := waitReplicasIdentical(t, c, "isr"); n != int64(total) {
		t.Fatalf("replicas hold %d records after the restart, want %d", n, total)
	}
	if seen := consumeDistinct(t, seed, "isr", 1, total); len(seen) != total {
		t.Fatalf("consumed %d distinct values, want %d", len(seen), total)
	}
}

// TestReplicationTruncatesDivergentTail: the leader takes acks=1 records
// its followers never fetch (their fetches are held), then stops; a
// follower is elected and takes acks=all records at the same offsets. The
// old leader, restarted, must drop its divergent tail (OffsetForLeaderEpoch,
// then truncation) and copy the new leader's records: afterwards every
// replica holds the same batches, and every acks=all value is read.
// (The hold drops a follower's fetch answers from the moment it is set, so
// the followers end exactly at the acks=all records.)
func TestReplicationTruncatesDivergentTail(t *testing.T) {
	var held [4]atomic.Bool
	c := brokertest.StartCluster(t, 3, func(cfg *broker.Config) {
		id := cfg.BrokerID
		cfg.HoldReplicaFetches = func() bool { return held[id].Load() }
	})
	if err := c.Brokers[0].CreateTopic("div", 1, 3, map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	old := c.WaitLeaders("div").Partitions[0].Leader
	oldSeed := c.Brokers[old-1].Addr()
	seed := c.Brokers[old%3].Addr()
	acked := produceValues(t, oldSeed, "div", 0, 1000)
	if len(acked) != 1000 {
		t.Fatalf("%d of 1000 acks=all records acknowledged", len(acked))
	}
	waitReplicasIdentical(t, c, "div")
	for id := range held {
		held[id].Store(int32(id) != old)
	}
	p, err := client.NewProducer(client.SeedBrokers(oldSeed), fastRetries(), client.RequiredAcks(client.AcksLeader))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1000; i < 1500; i++ {
		v := []byte(strconv.Itoa(i))
		p.Produce(ctxFor(t), &client.Record{Topic: "div", Value: v}, nil)
	}
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	p.Close()
	tail, err := c.Brokers[old-1].Engine().DescribeReplica("div", 0)
	if err != nil || tail.LogEnd != 1500 || tail.HighWatermark != 1000 {
		t.Fatalf("old leader before it stops: %+v %v; want log end 1500, high watermark 1000", tail, err)
	}
	if err := c.Brokers[old-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[old-1] = nil
	c.Wait("a new leader of div", func(img *cluster.Image) bool {
		l := img.Topic("div").Partitions[0].Leader
		return l >= 0 && l != old
	})
	for id := range held {
		held[id].Store(false)
	}
	more := produceValues(t, seed, "div", 2000, 2800)
	if len(more) != 800 {
		t.Fatalf("%d of 800 acks=all records acknowledged by the new leader", len(more))
	}
	c.Start(old)
	c.Wait("the old leader back in the ISR", func(img *cluster.Image) bool {
		t := img.Topic("div")
		return t != nil && slices.Contains(t.Partitions[0].ISR, old)
	})
	if total := waitReplicasIdentical(t, c, "div"); total != 1800 {
		t.Fatalf("replicas hold %d records, want 1800 (the old leader's 500 acks=1 records dropped)", total)
	}
	seen := consumeDistinct(t, seed, "div", 1, 1800)
	for _, v := range slices.Concat(acked, more) {
		if !seen[v] {
			t.Errorf("acks=all value %d lost", v)
		}
	}
	for v := range seen {
		if v >= 1000 && v < 1500 {
			t.Errorf("acks=1 value %d of the dropped tail was read", v)
		}
	}
}

// isrChanges reads the committed ISR shrinks and expands from broker b's
// engine metrics (spate_isr_changes_total).
func isrChanges(t *testing.T, b *broker.Broker) (shrinks, expands float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Engine().Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "spate_isr_changes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetValue() {
				case "shrink":
					shrinks = m.GetCounter().GetValue()
				case "expand":
					expands = m.GetCounter().GetValue()
				}
			}
		}
	}
	return shrinks, expands
}

// TestReplicationFollowerBelowLogStart: a follower is down while the
// leader deletes records past the follower's log end; back, its fetch is
// out of range, so it empties its log to start at the leader's log start
// (Kafka's truncateFullyAndStartAt), copies the rest, rejoins the ISR and
// holds the same batches as the leader from there.
func TestReplicationFollowerBelowLogStart(t *testing.T) {
	c := brokertest.StartCluster(t, 3, nil)
	if err := c.Brokers[0].CreateTopic("ls", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	p := c.WaitLeaders("ls").Partitions[0]
	follower := aFollower(p)
	seed := c.Brokers[p.Leader-1].Addr()
	if acked := produceValues(t, seed, "ls", 0, 1000); len(acked) != 1000 {
		t.Fatalf("%d of 1000 acknowledged", len(acked))
	}
	if err := c.Brokers[follower-1].Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[follower-1] = nil
	c.Wait("the stopped follower out of the ISR", func(img *cluster.Image) bool {
		return !slices.Contains(img.Topic("ls").Partitions[0].ISR, follower)
	})
	if acked := produceValues(t, seed, "ls", 1000, 3000); len(acked) != 2000 {
		t.Fatalf("%d of 2000 acknowledged", len(acked))
	}
	a := newAdmin(t, seed)
	res, err := a.DeleteRecords(ctxFor(t), "ls", map[int32]int64{0: 2500})
	if err != nil || res[0].Err != nil || res[0].LogStartOffset != 2500 {
		t.Fatalf("delete records before 2500: %+v, %v", res, err)
	}
	back := c.Start(follower)
	c.Wait("the follower back in the ISR", func(img *cluster.Image) bool {
		t := img.Topic("ls")
		return t != nil && slices.Contains(t.Partitions[0].ISR, follower)
	})
	if total := waitReplicasIdentical(t, c, "ls"); total != 3000 {
		t.Fatalf("replicas end at %d, want 3000", total)
	}
	got, err := back.Engine().DescribeReplica("ls", 0)
	if err != nil {
		t.Fatal(err)
	}
	// It starts at the base of the leader's batch holding offset 2500 (a
	// batch of the producer's second run, so at 1000 or later, however
	// the producer batched), not at 0 with its old records kept.
	if got.LogEnd != 3000 || got.LogStart > 2500 || got.LogStart < 1000 || len(got.BatchCRCs) == 0 {
		t.Fatalf("follower replica from %d to %d (%d batches); want from the base of the batch holding 2500 (1000 to 2500) to 3000", got.LogStart, got.LogEnd, len(got.BatchCRCs))
	}
}
