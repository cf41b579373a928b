package client_test

import (
	"sync"
	"testing"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// TestGroupWatchesSubscribedTopics: a group subscribed to a topic that does
// not exist yet neither creates it nor gets stuck: once the topic is
// created, the leader's metadata watch rebalances and its records are read.
// When the topic is deleted the member is left with nothing; when it is
// created again it is read from its start (the group's old offsets went with
// the deletion).
func TestGroupWatchesSubscribedTopics(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic = "later"
	var mu sync.Mutex
	seen := map[string]int{}
	r := startReader(t, b.Addr(), "watchers", topic, "", seen, &mu)
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitCoop(t, "a stable group", func() bool {
		d, err := a.DescribeGroups(ctxFor(t), "watchers")
		return err == nil && d[0].State == "Stable"
	})
	if got := r.gc.Assignment(); len(got) != 0 {
		t.Fatalf("assigned %v before the topic exists", got)
	}
	if names, err := a.ListTopics(ctxFor(t)); err != nil || len(names) != 1 { // __consumer_offsets only
		t.Fatalf("topics while the group waits: %v, %v; the group consumer must not create its topic", names, err)
	}

	createTopic(t, b.Addr(), topic, 3)
	produceSpread(t, b.Addr(), topic, 3, 0, 30)
	waitSeen(t, &mu, seen, 0, 30)
	if got := r.gc.Assignment(); len(got) != 3 {
		t.Fatalf("assignment after the topic appeared: %v, want its 3 partitions", got)
	}

	if err := a.DeleteTopic(ctxFor(t), topic); err != nil {
		t.Fatal(err)
	}
	waitCoop(t, "the assignment to empty after the delete", func() bool { return len(r.gc.Assignment()) == 0 })

	createTopic(t, b.Addr(), topic, 2)
	produceSpread(t, b.Addr(), topic, 2, 100, 110)
	waitSeen(t, &mu, seen, 100, 110)
	waitCoop(t, "both partitions of the new topic", func() bool { return len(r.gc.Assignment()) == 2 })
}
