package client_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// BenchmarkGroupJoin measures how long a member joining a stable group of
// three takes to get its partitions: from NewGroupConsumer of the fourth
// member until its OnAssigned fires with a non-empty assignment. Each
// iteration builds a fresh group of three (untimed) and waits until every
// one of them holds its 4 of the topic's 12 partitions, then waits a
// random part of a heartbeat interval so that the join lands anywhere in
// the others' heartbeat cycle. protocol-median-ms subtracts the wait for
// the last of the three's next heartbeat (computed from when each was
// assigned). perf/groups.md
// records the figures and explains them; run with -benchtime 5x, each
// iteration takes up to a heartbeat interval plus, for a new group, the
// initial rebalance delay.
//
// The assignor=cooperative-sticky rows run KIP-429's protocol: the
// newcomer's first generation gives it nothing (each partition it is to
// get is still owned by an old member), and it gets them in the follow-up
// rebalance, which it learns of from its own next heartbeat, the early
// first one after a cooperative sync; their protocol-median-ms still
// subtracts only the first wait.
func BenchmarkGroupJoin(b *testing.B) {
	for _, delay := range []time.Duration{3 * time.Second, 0} {
		for _, heartbeat := range []time.Duration{3 * time.Second, 100 * time.Millisecond} {
			for _, assignor := range []string{client.AssignRange, client.AssignCooperativeSticky} {
				if delay > 0 && assignor != client.AssignRange {
					continue // the delay plays no part in a join into a stable group (perf/groups.md)
				}
				name := fmt.Sprintf("rebalance.delay=%dms,heartbeat=%dms,assignor=%s", delay.Milliseconds(), heartbeat.Milliseconds(), assignor)
				b.Run(name, func(b *testing.B) { benchGroupJoin(b, delay, heartbeat, assignor) })
			}
		}
	}
}

// joinWatch records when one member was last assigned, and its first
// non-empty assignment.
type joinWatch struct {
	mu         sync.Mutex
	assignedAt time.Time     // the member's heartbeat ticker starts right after OnAssigned
	got        chan struct{} // closed at the first non-empty assignment
	once       sync.Once
}

func (w *joinWatch) onAssigned(tps []client.TopicPartition) {
	w.mu.Lock()
	w.assignedAt = time.Now()
	w.mu.Unlock()
	if len(tps) > 0 {
		w.once.Do(func() { close(w.got) })
	}
}

func (w *joinWatch) lastAssigned() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.assignedAt
}

func benchGroupJoin(b *testing.B, delay, heartbeat time.Duration, assignor string) {
	const partitions = 12
	br := brokertest.Start(b, func(c *broker.Config) { c.GroupInitialRebalanceDelay = delay })
	addr := br.Addr()
	createTopic(b, addr, "joins", partitions)
	settings := func(w *joinWatch) client.GroupSettings {
		return client.GroupSettings{HeartbeatInterval: heartbeat, SessionTimeout: 10 * time.Second,
			AutoCommitInterval: -1, OnAssigned: w.onAssigned, Assignors: []string{assignor}}
	}
	join := func(group string, w *joinWatch) *client.GroupConsumer {
		gc, err := client.NewGroupConsumer(group, []string{"joins"}, settings(w), client.SeedBrokers(addr), fastRetries())
		if err != nil {
			b.Fatal(err)
		}
		return gc
	}
	rng := rand.New(rand.NewPCG(1, uint64(heartbeat))) // the same join phases for every delay
	var took, protocol []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		group := fmt.Sprintf("join-%d-%d", b.N, i)
		watches := make([]*joinWatch, 4)
		members := make([]*client.GroupConsumer, 0, 4)
		for j := range watches {
			watches[j] = &joinWatch{got: make(chan struct{})}
		}
		for _, w := range watches[:3] {
			members = append(members, join(group, w))
		}
		// Assignment, not the last OnAssigned: a cooperative OnAssigned
		// names only what a member gained.
		waitUntil(b, 30*time.Second, func() bool {
			return len(members[0].Assignment()) == 4 && len(members[1].Assignment()) == 4 && len(members[2].Assignment()) == 4
		})
		// A member joins at any moment of the others' heartbeat cycle.
		time.Sleep(time.Duration(rng.Int64N(int64(heartbeat))))
		var assignedAt [3]time.Time // before the join reassigns them
		for j, w := range watches[:3] {
			assignedAt[j] = w.lastAssigned()
		}
		b.StartTimer()
		start := time.Now()
		members = append(members, join(group, watches[3]))
		select {
		case <-watches[3].got:
		case <-time.After(60 * time.Second):
			b.Fatalf("group %s: the fourth member got no partitions in 60 s", group)
		}
		took = append(took, time.Since(start))
		// The rebalance starts when the last of the three heartbeats; the
		// rest is the join/sync protocol and the offset fetch. Each
		// member's heartbeats come every interval from its assignment, the
		// first of them early under the cooperative protocol
		// (client/group.go, cooperativeFirstBeat: 250 ms).
		first := heartbeat
		if assignor == client.AssignCooperativeSticky {
			first = min(heartbeat, 250*time.Millisecond)
		}
		var noticed time.Duration
		for _, at := range assignedAt {
			if beat := at.Add(first); start.Before(beat) {
				noticed = max(noticed, beat.Sub(start))
			} else {
				noticed = max(noticed, heartbeat-start.Sub(beat)%heartbeat)
			}
		}
		protocol = append(protocol, took[len(took)-1]-noticed)
		b.StopTimer()
		for _, m := range members {
			if err := m.Close(); err != nil {
				b.Fatalf("close member of group %s: %v", group, err)
			}
		}
	}
	slices.Sort(took)
	slices.Sort(protocol)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[0]), "min-ms")
	b.ReportMetric(ms(took[len(took)/2]), "median-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
	b.ReportMetric(ms(protocol[len(protocol)/2]), "protocol-median-ms")
}

// waitUntil polls cond every 10 ms until it holds or the timeout passes.
func waitUntil(b testing.TB, timeout time.Duration, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("condition not met in %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
