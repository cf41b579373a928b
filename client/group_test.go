package client_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// produceSpread writes values [from, to) as records to partition i%partitions.
func produceSpread(t *testing.T, addr, topic string, partitions, from, to int) {
	t.Helper()
	p, err := client.NewProducer(client.SeedBrokers(addr), client.Partitioner(client.PartitionManual))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []*client.Record
	for i := from; i < to; i++ {
		recs = append(recs, &client.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))})
	}
	if err := p.ProduceSync(ctxFor(t), recs...); err != nil {
		t.Fatal(err)
	}
}

// pollLoop polls a GroupConsumer on its own goroutine, handing each fetch
// to onFetch, until close (registered as a cleanup) stops it and closes the
// consumer, committing what it read.
type pollLoop struct {
	name string
	gc   *client.GroupConsumer
	stop context.CancelFunc
	done chan error
}

func startPollLoop(t *testing.T, name string, gc *client.GroupConsumer, onFetch func(client.Fetches) error) *pollLoop {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &pollLoop{name: name, gc: gc, stop: cancel, done: make(chan error, 1)}
	go func() {
		for {
			fs, err := gc.Poll(ctx)
			if err == nil {
				err = errors.Join(fs.Errors()...)
			}
			if err == nil {
				err = onFetch(fs)
			}
			if err != nil {
				l.done <- err
				return
			}
		}
	}()
	t.Cleanup(func() { l.close(t) })
	return l
}

// close stops polling, then closes the consumer (committing what it read).
func (l *pollLoop) close(t *testing.T) {
	if l.stop == nil {
		return
	}
	l.stop()
	l.stop = nil
	if err := <-l.done; !errors.Is(err, context.Canceled) {
		t.Errorf("%s: poll loop ended with %v", l.name, err)
	}
	if err := l.gc.Close(); err != nil {
		t.Errorf("%s: close group consumer: %v", l.name, err)
	}
}

// groupReader is a pollLoop that counts every value it reads.
type groupReader struct {
	*pollLoop

	mu       sync.Mutex
	seen     map[string]int // shared by the readers of one test
	assigned []client.TopicPartition
}

func fastGroup(r *groupReader) client.GroupSettings {
	start := client.Earliest()
	return client.GroupSettings{
		SessionTimeout:     6 * time.Second, // the broker's minimum
		HeartbeatInterval:  100 * time.Millisecond,
		AutoCommitInterval: 100 * time.Millisecond,
		Start:              &start,
		OnAssigned: func(tps []client.TopicPartition) {
			r.mu.Lock()
			r.assigned = tps
			r.mu.Unlock()
		},
	}
}

func startReader(t *testing.T, addr, group, topic, instance string, seen map[string]int, mu *sync.Mutex, mods ...func(*client.GroupSettings)) *groupReader {
	t.Helper()
	r := &groupReader{seen: seen}
	settings := fastGroup(r)
	settings.InstanceID = instance
	for _, m := range mods {
		m(&settings)
	}
	gc, err := client.NewGroupConsumer(group, []string{topic}, settings, client.SeedBrokers(addr), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	r.pollLoop = startPollLoop(t, "reader "+instance, gc, func(fs client.Fetches) error {
		mu.Lock()
		defer mu.Unlock()
		return fs.EachRecord(func(rec *client.Record) { seen[string(rec.Value)]++ })
	})
	return r
}

func (r *groupReader) partitions() []client.TopicPartition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.assigned)
}

// waitSeen waits until every value in [from, to) was read.
func waitSeen(t *testing.T, mu *sync.Mutex, seen map[string]int, from, to int) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for i := from; i < to; i++ {
			if seen[strconv.Itoa(i)] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the values [%d, %d) never read", missing, from, to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGroupConsumersSplitThenTakeOver(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group, parts, n = "orders", "billing", 6, 600
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, n)

	var mu sync.Mutex
	seen := map[string]int{}
	// Both start within the broker's initial rebalance delay, so they form
	// one generation and nothing is read twice.
	r1 := startReader(t, b.Addr(), group, topic, "", seen, &mu)
	r2 := startReader(t, b.Addr(), group, topic, "", seen, &mu)
	waitSeen(t, &mu, seen, 0, n)
	p1, p2 := r1.partitions(), r2.partitions()
	if len(p1) != parts/2 || len(p2) != parts/2 {
		t.Fatalf("assignments %v and %v; want %d partitions each", p1, p2, parts/2)
	}
	for _, tp := range p1 {
		if slices.Contains(p2, tp) {
			t.Fatalf("partition %v assigned to both members", tp)
		}
	}
	mu.Lock()
	for v, k := range seen {
		if k != 1 {
			t.Errorf("value %s read %d times in one generation", v, k)
		}
	}
	mu.Unlock()

	// r1 leaves: r2 takes every partition and reads the rest, starting
	// where r1 committed (at least once: r2's own uncommitted records may
	// come again after the rebalance, none may be missing).
	r1.close(t)
	produceSpread(t, b.Addr(), topic, parts, n, 2*n)
	waitSeen(t, &mu, seen, n, 2*n)
	if got := r2.partitions(); len(got) != parts {
		t.Fatalf("after the other member left: assigned %v, want all %d partitions", got, parts)
	}
	mu.Lock()
	for i := 0; i < n; i++ {
		// r1's records were committed on Close and must not come again
		// unless r2 owned them (then at most the last Poll's worth).
		if v := strconv.Itoa(i); seen[v] > 1 && slices.Contains(p1, client.TopicPartition{Topic: topic, Partition: int32(i % parts)}) {
			t.Errorf("value %s of a partition its first owner committed on Close was read %d times", v, seen[v])
		}
	}
	mu.Unlock()
}

// TestStickyAssignorKeepsPartitionsInPlace: with the sticky assignor, a
// third member joining a group of two takes only what balance needs, and
// each of the first two keeps a subset of what it had.
func TestStickyAssignorKeepsPartitionsInPlace(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group, parts = "sticky", "stickers", 6
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 60)
	var mu sync.Mutex
	seen := map[string]int{}
	sticky := func(s *client.GroupSettings) { s.Assignors = []string{client.AssignSticky} }
	r1 := startReader(t, b.Addr(), group, topic, "", seen, &mu, sticky)
	r2 := startReader(t, b.Addr(), group, topic, "", seen, &mu, sticky)
	waitSeen(t, &mu, seen, 0, 60)
	before1, before2 := r1.partitions(), r2.partitions()
	if len(before1) != 3 || len(before2) != 3 {
		t.Fatalf("first generation: %v and %v, want 3 each", before1, before2)
	}
	r3 := startReader(t, b.Addr(), group, topic, "", seen, &mu, sticky)
	deadline := time.Now().Add(30 * time.Second)
	for len(r3.partitions()) != 2 || len(r1.partitions()) != 2 || len(r2.partitions()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after the third joined: %v, %v, %v; want 2 each", r1.partitions(), r2.partitions(), r3.partitions())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct{ before, after []client.TopicPartition }{{before1, r1.partitions()}, {before2, r2.partitions()}} {
		for _, tp := range c.after {
			if !slices.Contains(c.before, tp) {
				t.Errorf("a first member got %v after the rebalance; it had %v: the sticky assignor moved more than balance needs", c.after, c.before)
			}
		}
	}
}

func TestGroupConsumerResumesFromCommitted(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, parts = "audit", 2
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 100)
	// A dynamic member leaves on Close; a static one stays in the group
	// and its restart takes its old place without a rebalance.
	for _, instance := range []string{"", "auditor-1"} {
		t.Run("instance="+instance, func(t *testing.T) {
			group := "auditors-" + instance
			var mu sync.Mutex
			seen := map[string]int{}
			r := startReader(t, b.Addr(), group, topic, instance, seen, &mu)
			waitSeen(t, &mu, seen, 0, 100)
			r.close(t) // commits everything Poll returned

			produceSpread(t, b.Addr(), topic, parts, 100, 150)
			fresh := map[string]int{}
			r2 := startReader(t, b.Addr(), group, topic, instance, fresh, &mu)
			waitSeen(t, &mu, fresh, 100, 150)
			if got := r2.partitions(); len(got) != parts {
				t.Fatalf("restarted member assigned %v, want all %d partitions", got, parts)
			}
			r2.close(t)
			mu.Lock()
			defer mu.Unlock()
			for v := range fresh {
				if i, _ := strconv.Atoi(v); i < 100 {
					t.Fatalf("restarted consumer read %s again, below the committed offsets", v)
				}
			}
		})
	}
}
