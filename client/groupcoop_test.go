package client_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// coopLog records who read which value when, for the members of one test.
type coopLog struct {
	mu    sync.Mutex
	reads map[int][]coopRead // value -> its reads
}

type coopRead struct {
	member string
	at     time.Time
}

// coopMember is a cooperative-sticky GroupConsumer whose poll loop logs
// every record and whose callbacks log every assignment change.
type coopMember struct {
	*pollLoop

	mu        sync.Mutex
	revoked   []client.TopicPartition // every partition OnRevoked was given
	revokedAt time.Time               // first OnRevoked
	assigned  [][]client.TopicPartition
	gainedAt  time.Time // first non-empty OnAssigned
}

// startCoopMember starts a member. hold, if not nil, runs on the member's
// group goroutine before its first OnAssigned returns: while it runs the
// member neither heartbeats nor rejoins, so the group's next rebalance waits
// for it.
func startCoopMember(t *testing.T, addr, group, topic, name string, heartbeat time.Duration, log *coopLog, hold func()) *coopMember {
	t.Helper()
	m := &coopMember{}
	var holdOnce sync.Once
	start := client.Earliest()
	settings := client.GroupSettings{
		SessionTimeout: 6 * time.Second, HeartbeatInterval: heartbeat, AutoCommitInterval: 100 * time.Millisecond,
		Start: &start, Assignors: []string{client.AssignCooperativeSticky},
		OnAssigned: func(tps []client.TopicPartition) {
			if hold != nil {
				holdOnce.Do(hold)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.assigned = append(m.assigned, tps)
			if len(tps) > 0 && m.gainedAt.IsZero() {
				m.gainedAt = time.Now()
			}
		},
		OnRevoked: func(tps []client.TopicPartition) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.revoked = append(m.revoked, tps...)
			if m.revokedAt.IsZero() {
				m.revokedAt = time.Now()
			}
		},
	}
	gc, err := client.NewGroupConsumer(group, []string{topic}, settings, client.SeedBrokers(addr), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	m.pollLoop = startPollLoop(t, name, gc, func(fs client.Fetches) error {
		now := time.Now()
		log.mu.Lock()
		defer log.mu.Unlock()
		return fs.EachRecord(func(r *client.Record) {
			v, _ := strconv.Atoi(string(r.Value))
			log.reads[v] = append(log.reads[v], coopRead{name, now})
		})
	})
	return m
}

func (m *coopMember) snapshot() (revoked []client.TopicPartition, revokedAt time.Time, assigned [][]client.TopicPartition, gainedAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.revoked), m.revokedAt, slices.Clone(m.assigned), m.gainedAt
}

// steadyProducer writes one value per partition (value v to partition
// v%partitions) every 10 ms until stopped, and returns how many it wrote.
// It stops at test cleanup at the latest.
func steadyProducer(t *testing.T, addr, topic string, partitions, from int) (stop func() int) {
	t.Helper()
	p, err := client.NewProducer(client.SeedBrokers(addr), client.Partitioner(client.PartitionManual))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		next := from
		defer func() { p.Close(); done <- next }()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var recs []*client.Record
			for i := next; i < next+partitions; i++ {
				recs = append(recs, &client.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))})
			}
			if err := p.ProduceSync(ctx, recs...); err != nil {
				if ctx.Err() == nil {
					t.Errorf("steady producer at value %d: %v", next, err)
				}
				return
			}
			next += partitions
		}
	}()
	var once sync.Once
	var produced int
	stop = func() int {
		once.Do(func() { cancel(); produced = <-done })
		return produced
	}
	t.Cleanup(func() { stop() })
	return stop
}

// readKeptSinceRevoke reports whether m has read, since it first gave a
// partition up, a value of a partition it still holds.
func readKeptSinceRevoke(m *coopMember, topic string, parts int, log *coopLog) bool {
	_, revokedAt, _, _ := m.snapshot()
	if revokedAt.IsZero() {
		return false
	}
	now := m.gc.Assignment()
	log.mu.Lock()
	defer log.mu.Unlock()
	for v, reads := range log.reads {
		tp := client.TopicPartition{Topic: topic, Partition: int32(v % parts)}
		for _, r := range reads {
			if r.member == m.name && slices.Contains(now, tp) && r.at.After(revokedAt) {
				return true
			}
		}
	}
	return false
}

// waitCoop waits until cond holds, failing after 30 s with what.
func waitCoop(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCooperativeRebalance: two cooperative-sticky members share 6
// partitions under a steady produce load. (a) A third joins: each of the
// first two gives up exactly the partition that moves to the newcomer,
// never a kept one, and reads its kept partitions on while the newcomer
// waits for the follow-up rebalance; the values of kept partitions are
// read exactly once, every value at least once. (b) The third leaves: the
// others only gain partitions.
func TestCooperativeRebalance(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group, parts = "coop", "cooperators", 6
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 60)
	log := &coopLog{reads: map[int][]coopRead{}}
	seenAll := func(to int) func() bool {
		return func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			for v := 0; v < to; v++ {
				if len(log.reads[v]) == 0 {
					return false
				}
			}
			return true
		}
	}
	m1 := startCoopMember(t, b.Addr(), group, topic, "m1", 100*time.Millisecond, log, nil)
	m2 := startCoopMember(t, b.Addr(), group, topic, "m2", 100*time.Millisecond, log, nil)
	waitCoop(t, "the first two members to split the topic", func() bool {
		return len(m1.gc.Assignment()) == 3 && len(m2.gc.Assignment()) == 3
	})
	waitCoop(t, "the first 60 values", seenAll(60))
	before := map[string][]client.TopicPartition{"m1": m1.gc.Assignment(), "m2": m2.gc.Assignment()}

	stopProducing := steadyProducer(t, b.Addr(), topic, parts, 60)
	time.Sleep(100 * time.Millisecond)
	// The window in which the old members must go on reading their kept
	// partitions runs from giving up the moving one to the newcomer's
	// assignment in the follow-up rebalance. That rebalance cannot finish
	// while the newcomer's group goroutine is held in its first
	// OnAssigned, so the window is held open until both old members have
	// read a kept partition after their revocation (or 4 s, well inside the
	// 6 s session timeout, after which the check below fails). A test
	// that only waited once measured a 69 µs window under load.
	m3 := startCoopMember(t, b.Addr(), group, topic, "m3", time.Second, log, func() {
		deadline := time.Now().Add(4 * time.Second)
		for !(readKeptSinceRevoke(m1, topic, parts, log) && readKeptSinceRevoke(m2, topic, parts, log)) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	})
	waitCoop(t, "2 partitions each after the third joined", func() bool {
		return len(m1.gc.Assignment()) == 2 && len(m2.gc.Assignment()) == 2 && len(m3.gc.Assignment()) == 2
	})
	time.Sleep(100 * time.Millisecond)
	_, _, _, gainedAt := m3.snapshot()
	final3 := m3.gc.Assignment()
	kept := map[client.TopicPartition]string{}
	for _, m := range []*coopMember{m1, m2} {
		revoked, revokedAt, assigned, _ := m.snapshot()
		now := m.gc.Assignment()
		if len(revoked) != 1 || !slices.Contains(final3, revoked[0]) || !slices.Contains(before[m.name], revoked[0]) {
			t.Fatalf("%s gave up %v; want exactly one partition of its %v, now the newcomer's %v", m.name, revoked, before[m.name], final3)
		}
		for _, tp := range now {
			kept[tp] = m.name
			for _, gained := range assigned[1:] {
				if slices.Contains(gained, tp) {
					t.Errorf("%s was assigned its kept partition %v again (%v): it was restarted", m.name, tp, assigned)
				}
			}
		}
		// Reading went on between giving up the moving partition and the
		// follow-up rebalance that handed it to the newcomer.
		readInWindow := false
		log.mu.Lock()
		for v, reads := range log.reads {
			tp := client.TopicPartition{Topic: topic, Partition: int32(v % parts)}
			for _, r := range reads {
				readInWindow = readInWindow || (r.member == m.name && slices.Contains(now, tp) && r.at.After(revokedAt) && r.at.Before(gainedAt))
			}
		}
		log.mu.Unlock()
		if !readInWindow {
			t.Errorf("%s read nothing of its kept partitions %v between giving up %v (%v) and the newcomer's assignment (%v)",
				m.name, now, revoked, revokedAt.Format(time.StampMicro), gainedAt.Format(time.StampMicro))
		}
	}

	// (b) The third leaves: the others take its partitions and give up
	// nothing.
	m3.close(t)
	waitCoop(t, "3 partitions each after the third left", func() bool {
		return len(m1.gc.Assignment()) == 3 && len(m2.gc.Assignment()) == 3
	})
	for _, m := range []*coopMember{m1, m2} {
		if revoked, _, _, _ := m.snapshot(); len(revoked) != 1 {
			t.Errorf("%s gave up %v in all; want only the partition that moved to the third member", m.name, revoked)
		}
		for tp, owner := range kept {
			if owner == m.name && !slices.Contains(m.gc.Assignment(), tp) {
				t.Errorf("%s lost %v when the third member left", m.name, tp)
			}
		}
	}
	produced := stopProducing()
	waitCoop(t, "every produced value", seenAll(produced))
	log.mu.Lock()
	defer log.mu.Unlock()
	for v := 0; v < produced; v++ {
		tp := client.TopicPartition{Topic: topic, Partition: int32(v % parts)}
		if _, ok := kept[tp]; ok && len(log.reads[v]) != 1 {
			t.Errorf("value %d of kept partition %v read %d times (%v), want once", v, tp, len(log.reads[v]), log.reads[v])
		}
	}
}
