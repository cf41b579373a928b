package cluster

import (
	"errors"
	"maps"
	"testing"
)

// startLone starts a lone voter (no controller address, no voters) in dir
// and waits until it is the controller.
func startLone(t *testing.T, dir string, id int32) *Node {
	t.Helper()
	return startElected(t, Config{BrokerID: id, DataDir: dir})
}

// registerUnfenced registers broker id on its own controller n and
// heartbeats until it is unfenced; it returns the broker epoch.
func registerUnfenced(t *testing.T, n *Node, id int32, incarnation ID16, native string) int64 {
	t.Helper()
	epoch, err := n.RegisterBroker(RegisterBroker{BrokerID: id, Incarnation: incarnation, Addrs: BrokerAddrs{Native: native}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if fenced, err := n.Heartbeat(id, epoch, n.Image().Offset()); err != nil || fenced {
		t.Fatalf("heartbeat after registering: fenced %v, %v", fenced, err)
	}
	return epoch
}

// TestLoneVoter: with neither a controller address nor voters a node is a
// one-voter cluster on no port; it elects itself, and after a crash (no
// controlled shutdown) its broker registers again at once, on another
// native address, instead of waiting out its previous session.
func TestLoneVoter(t *testing.T) {
	dir := t.TempDir()
	n := startLone(t, dir, 4)
	if n.Addr() != "" {
		t.Fatalf("a lone voter listens on %q", n.Addr())
	}
	// startLone lowered the timeouts raft was created with (which is what
	// makes it stand at once) to the lease's, not below: a lone leader
	// checks its lease that often for as long as it runs.
	if rc := n.raft.ReloadableConfig(); rc.HeartbeatTimeout != loneTimeout || rc.ElectionTimeout != loneTimeout {
		t.Fatalf("lone voter's heartbeat and election timeouts %v and %v, want %v", rc.HeartbeatTimeout, rc.ElectionTimeout, loneTimeout)
	}
	registerUnfenced(t, n, 4, ID16{1}, "127.0.0.1:1000")
	if _, err := n.CreateTopic("t", 2, 1, nil); err != nil {
		t.Fatal(err)
	}
	last := n.Image().Offset()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}

	n = startLone(t, dir, 4)
	img := waitOffset(t, n, last)
	if b := img.Broker(4); b == nil || b.Fenced {
		t.Fatalf("broker 4 after the restart: %+v, want registered and unfenced (it never shut down cleanly)", b)
	}
	if _, err := n.RegisterBroker(RegisterBroker{BrokerID: 4, Incarnation: ID16{2}, Addrs: BrokerAddrs{Native: "127.0.0.1:2000"}}, false); err != nil {
		t.Fatalf("a lone voter's broker registering again after a crash: %v", err)
	}
	if t2 := n.Image().Topic("t"); t2 == nil || len(t2.Partitions) != 2 {
		t.Fatalf("topic t after the restart: %+v", t2)
	}
}

// TestAdoptTopics: a broker's own topics become cluster topics it leads
// alone, with their partition counts and configs; names the metadata has
// are left alone; asking again changes nothing; the next producer id
// moves past the broker's own.
func TestAdoptTopics(t *testing.T) {
	n := startLone(t, t.TempDir(), 0)
	epoch := registerUnfenced(t, n, 0, ID16{1}, "127.0.0.1:1000")
	theirs, err := n.CreateTopic("taken", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	topics := []AdoptedTopic{
		{Name: "a", Partitions: 3, Configs: map[string]string{"retention.ms": "1000"}},
		{Name: "__consumer_offsets", Partitions: 50},
		{Name: "taken", Partitions: 4},
	}
	const pidEnd = int64(1<<31) + 5000 // two blocks: a count is an int32
	if err := n.AdoptTopics(0, epoch, topics, pidEnd); err != nil {
		t.Fatal(err)
	}
	img := n.Image()
	for _, want := range topics[:2] {
		got := img.Topic(want.Name)
		if got == nil || len(got.Partitions) != int(want.Partitions) || !maps.Equal(got.Configs, want.Configs) {
			t.Fatalf("adopted %s: %+v, want %d partitions, configs %v", want.Name, got, want.Partitions, want.Configs)
		}
		for i, p := range got.Partitions {
			if p.Leader != 0 || len(p.Replicas) != 1 || p.Replicas[0] != 0 || len(p.ISR) != 1 || p.ISR[0] != 0 {
				t.Fatalf("%s-%d: %+v, want led by broker 0, its sole replica and ISR", want.Name, i, p)
			}
		}
	}
	if got := img.Topic("taken"); got.ID != theirs.ID || len(got.Partitions) != 1 {
		t.Fatalf("the cluster's own topic of an adopted name changed: %+v", got)
	}
	if got := img.NextProducerID(); got != pidEnd {
		t.Fatalf("next producer id %d after adoption, want %d", got, pidEnd)
	}

	before := img.Offset()
	if err := n.AdoptTopics(0, epoch, topics, pidEnd); err != nil {
		t.Fatal(err)
	}
	if img := n.Image(); img.Offset() != before || img.Topic("a").ID != n.Image().Topic("a").ID {
		t.Fatalf("adopting again wrote offset %d (was %d)", img.Offset(), before)
	}
	if err := n.AdoptTopics(0, epoch+1, topics, 0); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("adopting at another broker epoch: %v, want ErrStaleEpoch", err)
	}
}
