package client_test

import (
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// TestGroupProtocolFollowsTheGroup: a member that prefers
// cooperative-sticky but also lists range runs whatever protocol the
// broker chose for each generation: range while a range-only member is
// there, cooperative-sticky when alone, and back to range (giving up all it
// held cooperatively) when a range-only member joins again. Nothing is
// missed across the switches.
func TestGroupProtocolFollowsTheGroup(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group, parts = "switch", "switchers", 4
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 40)
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitProtocol := func(want string, members int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := a.DescribeGroups(ctxFor(t), group)
			if err == nil && d[0].State == "Stable" && d[0].Protocol == want && len(d[0].Members) == members {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("group never ran %s with %d members: %+v, %v", want, members, d, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	coopFirst := func(s *client.GroupSettings) {
		s.Assignors = []string{client.AssignCooperativeSticky, client.AssignRange}
	}
	rangeOnly := func(s *client.GroupSettings) { s.Assignors = []string{client.AssignRange} }

	m1 := startReader(t, b.Addr(), group, topic, "", seen, &mu, coopFirst)
	m2 := startReader(t, b.Addr(), group, topic, "", seen, &mu, rangeOnly)
	waitProtocol(client.AssignRange, 2) // the only assignor both list
	waitSeen(t, &mu, seen, 0, 40)

	m2.close(t)
	waitProtocol(client.AssignCooperativeSticky, 1) // m1 alone votes for its first
	produceSpread(t, b.Addr(), topic, parts, 40, 80)
	waitSeen(t, &mu, seen, 40, 80)
	if got := m1.gc.Assignment(); len(got) != parts {
		t.Fatalf("alone, the member owns %v; want all %d partitions", got, parts)
	}

	m3 := startReader(t, b.Addr(), group, topic, "", seen, &mu, rangeOnly)
	waitProtocol(client.AssignRange, 2)
	produceSpread(t, b.Addr(), topic, parts, 80, 120)
	waitSeen(t, &mu, seen, 80, 120)
	deadline := time.Now().Add(30 * time.Second)
	for len(m1.gc.Assignment()) != parts/2 || len(m3.gc.Assignment()) != parts/2 {
		if time.Now().After(deadline) {
			t.Fatalf("back on range: %v and %v, want %d each", m1.gc.Assignment(), m3.gc.Assignment(), parts/2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tp := range m1.gc.Assignment() {
		for _, other := range m3.gc.Assignment() {
			if tp == other {
				t.Fatalf("partition %v owned by both members", tp)
			}
		}
	}
}
