package brokertest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/cluster"
)

// Deadline bounds every wait of a test cluster: generous, for a loaded
// machine.
const Deadline = 60 * time.Second

// Cluster is n brokers of one metadata quorum in this process.
type Cluster struct {
	t       testing.TB
	Brokers []*broker.Broker // index i is broker.id i+1
	dirs    []string
	addrs   []string // native addresses, kept for restarts
	voters  string
	mutate  func(*broker.Config)
}

// StartCluster starts n brokers (ids 1..n; the first three vote) on
// 127.0.0.1 ports of their own and fresh temp dirs, waits until every one
// is registered and unfenced, and closes them when the test ends. mutate,
// if not nil, changes each broker's config first.
func StartCluster(t testing.TB, n int, mutate func(*broker.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, mutate: mutate}
	var voters []string
	for i := range n {
		c.dirs = append(c.dirs, t.TempDir())
		c.addrs = append(c.addrs, "127.0.0.1:0")
		if i < cluster.MaxVoters {
			voters = append(voters, fmt.Sprintf("%d@%s", i+1, freeAddr(t)))
		}
	}
	c.voters = strings.Join(voters, ",")
	c.Brokers = make([]*broker.Broker, n)
	for i := range n {
		c.Start(int32(i + 1))
	}
	c.WaitReady()
	return c
}

// freeAddr is a loopback address nobody listens on now: a controller
// address must be known to every voter before any of them starts.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start (re)starts broker id on its data dir and, after a restart, its
// native address.
func (c *Cluster) Start(id int32) *broker.Broker {
	c.t.Helper()
	i := int(id - 1)
	var controller string
	for _, v := range strings.Split(c.voters, ",") {
		if vid, addr, _ := strings.Cut(v, "@"); vid == fmt.Sprint(id) {
			controller = addr
		}
	}
	if controller == "" {
		controller = "127.0.0.1:0"
	}
	b := StartOn(c.t, c.dirs[i], c.addrs[i], func(cfg *broker.Config) {
		cfg.BrokerID = id
		cfg.ControllerAddr = controller
		cfg.Voters = c.voters
		cfg.SessionTimeout = 3 * time.Second
		if c.mutate != nil {
			c.mutate(cfg)
		}
	})
	c.Brokers[i], c.addrs[i] = b, b.Addr()
	return b
}

// Bootstrap is every broker's native address, comma separated.
func (c *Cluster) Bootstrap() string { return strings.Join(c.addrs, ",") }

// Wait waits until cond holds for the image of broker 1 (or the first
// running broker) and returns that image.
func (c *Cluster) Wait(what string, cond func(*cluster.Image) bool) *cluster.Image {
	c.t.Helper()
	deadline := time.Now().Add(Deadline)
	for {
		for _, b := range c.Brokers {
			if b == nil || b.Node() == nil || b.Node().Err() != nil {
				continue
			}
			if img := b.Node().Image(); cond(img) {
				return img
			}
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("test cluster: %s: not within %v", what, Deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReady waits until every broker is registered and unfenced.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	c.Wait("every broker registered and unfenced", func(img *cluster.Image) bool {
		live := 0
		for _, b := range img.Brokers() {
			if !b.Fenced {
				live++
			}
		}
		return live == len(c.Brokers)
	})
}

// WaitLeaders waits until every partition of topic has a leader and
// returns the topic.
func (c *Cluster) WaitLeaders(topic string) *cluster.Topic {
	c.t.Helper()
	img := c.Wait("every partition of "+topic+" led", func(img *cluster.Image) bool {
		t := img.Topic(topic)
		if t == nil {
			return false
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	})
	return img.Topic(topic)
}
