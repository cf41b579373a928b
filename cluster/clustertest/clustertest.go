// Package clustertest starts metadata quorums of cluster.Node in one test
// process, as the NATS server's tests start clusters: every node listens on
// 127.0.0.1 port 0 with its data dir in t.TempDir(), the helper waits for a
// controller, and t.Cleanup shuts everything down. The nodes share a manual
// clock, so a test decides when a broker's session expires.
//
// A node stands for a whole broker here: the helper registers each one with
// the controller and sends its heartbeats, the calls the broker makes once
// it is wired to the cluster.
package clustertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/cluster"
)

// Deadline bounds every wait of the helper; generous, for a loaded 2-core
// machine running tests with -race.
const Deadline = 60 * time.Second

// Clock is a manual clock for the controller's session timeouts.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Option changes how Start builds the cluster.
type Option func(*options)

type options struct {
	racks     []string
	logOutput io.Writer
	threshold uint64
}

// WithRacks gives broker i the rack racks[(i-1) % len(racks)].
func WithRacks(racks ...string) Option { return func(o *options) { o.racks = racks } }

// WithLogOutput sends raft's log lines to w (they are discarded by default).
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// WithSnapshotThreshold sets every node's raft snapshot threshold.
func WithSnapshotThreshold(n uint64) Option { return func(o *options) { o.threshold = n } }

// SessionTimeout is the nodes' broker session timeout (on Clock's time).
const SessionTimeout = 10 * time.Second

// Cluster is a running test quorum of brokers 1..n, all of them voters
// when n <= cluster.MaxVoters.
type Cluster struct {
	t      testing.TB
	opts   options
	Clock  *Clock
	voters []cluster.Voter
	dirs   map[int32]string
	addrs  map[int32]string // controller addresses
	mu     sync.Mutex
	nodes  map[int32]*cluster.Node // running nodes
	epochs map[int32]int64         // broker epochs from the last registration
	incs   map[int32]cluster.ID16  // incarnation of each broker's current run
}

// Start starts n nodes, waits for a controller, registers every broker and
// heartbeats them until they are unfenced.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Clock: &Clock{now: time.Unix(1_700_000_000, 0)}, dirs: map[int32]string{}, addrs: map[int32]string{},
		nodes: map[int32]*cluster.Node{}, epochs: map[int32]int64{}}
	for _, o := range opts {
		o(&c.opts)
	}
	listeners := map[int32]net.Listener{}
	for id := int32(1); id <= int32(n); id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[id] = ln
		c.voters = append(c.voters, cluster.Voter{ID: id, Addr: ln.Addr().String()})
		c.dirs[id], c.addrs[id] = t.TempDir(), ln.Addr().String()
	}
	t.Cleanup(c.shutdownAll)
	for id := int32(1); id <= int32(n); id++ {
		c.start(id, listeners[id])
	}
	for id := int32(1); id <= int32(n); id++ {
		c.Register(id)
	}
	for id := int32(1); id <= int32(n); id++ {
		c.WaitUnfenced(id)
	}
	return c
}

func (c *Cluster) start(id int32, ln net.Listener) {
	c.t.Helper()
	node, err := cluster.Start(cluster.Config{
		BrokerID: id, Listener: ln, Voters: c.voters, DataDir: c.dirs[id],
		SessionTimeout: SessionTimeout, Now: c.Clock.Now, LogOutput: c.opts.logOutput,
		SnapshotThreshold: c.opts.threshold,
	})
	if err != nil {
		ln.Close()
		c.t.Fatalf("start broker %d: %v", id, err)
	}
	c.mu.Lock()
	c.nodes[id] = node
	c.mu.Unlock()
}

func (c *Cluster) shutdownAll() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[int32]*cluster.Node{}
	c.mu.Unlock()
	for id, n := range nodes {
		if err := n.Shutdown(); err != nil {
			c.t.Errorf("shutdown broker %d: %v", id, err)
		}
	}
}

// Node returns broker id's running node, or nil.
func (c *Cluster) Node(id int32) *cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Nodes returns the running nodes.
func (c *Cluster) Nodes() []*cluster.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*cluster.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	return out
}

// DataDir returns broker id's data dir.
func (c *Cluster) DataDir(id int32) string { return c.dirs[id] }

// Voters returns the quorum's voters (controller.quorum.voters).
func (c *Cluster) Voters() []cluster.Voter { return c.voters }

// Controller waits until a running node is the controller and returns it.
func (c *Cluster) Controller() *cluster.Node {
	c.t.Helper()
	deadline := time.Now().Add(Deadline)
	for time.Now().Before(deadline) {
		for _, n := range c.Nodes() {
			if n.IsController() {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no controller elected within %v", Deadline)
	return nil
}

// Do runs fn on the controller, again on the new controller if leadership
// moved during the call, until it succeeds or fails otherwise.
func (c *Cluster) Do(fn func(ctrl *cluster.Node) error) error {
	c.t.Helper()
	deadline := time.Now().Add(Deadline)
	for {
		err := fn(c.Controller())
		if !errors.Is(err, cluster.ErrNotController) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Register registers broker id (a new incarnation) with the controller.
func (c *Cluster) Register(id int32) {
	c.t.Helper()
	if err := c.tryRegister(id, false); err != nil {
		c.t.Fatalf("register broker %d: %v", id, err)
	}
}

// RegisterLossy registers broker id as a restart that may lack records it
// acknowledged (cluster.Node.RegisterBroker's lossy).
func (c *Cluster) RegisterLossy(id int32) {
	c.t.Helper()
	if err := c.tryRegister(id, true); err != nil {
		c.t.Fatalf("register broker %d (lossy): %v", id, err)
	}
}

func (c *Cluster) tryRegister(id int32, lossy bool) error {
	var inc cluster.ID16
	rand.Read(inc[:])
	node := c.Node(id)
	var epoch int64
	err := c.Do(func(ctrl *cluster.Node) (err error) {
		epoch, err = ctrl.RegisterBroker(cluster.RegisterBroker{
			BrokerID: id, Incarnation: inc, Rack: c.rack(id),
			Addrs: cluster.BrokerAddrs{Native: fmt.Sprintf("broker-%d:9092", id), Controller: node.Addr()},
		}, lossy)
		return err
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.epochs[id] = epoch
	c.mu.Unlock()
	return nil
}

func (c *Cluster) rack(id int32) string {
	if len(c.opts.racks) == 0 {
		return ""
	}
	return c.opts.racks[int(id-1)%len(c.opts.racks)]
}

// Epoch returns broker id's epoch from its last registration.
func (c *Cluster) Epoch(id int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epochs[id]
}

// Heartbeat sends broker id's heartbeat, with its node's applied offset,
// to the controller, and returns whether the broker is still fenced.
func (c *Cluster) Heartbeat(id int32) (fenced bool, err error) {
	err = c.Do(func(ctrl *cluster.Node) (err error) {
		fenced, err = ctrl.Heartbeat(id, c.Epoch(id), c.Node(id).Image().Offset())
		return err
	})
	return fenced, err
}

// WaitUnfenced heartbeats broker id until the controller unfences it and
// its own node has applied the unfencing.
func (c *Cluster) WaitUnfenced(id int32) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("broker %d unfenced", id), func() bool {
		fenced, err := c.Heartbeat(id)
		if err != nil {
			c.t.Fatalf("heartbeat of broker %d: %v", id, err)
		}
		return !fenced && c.Node(id).Image().Broker(id) != nil && !c.Node(id).Image().Broker(id).Fenced
	})
}

// WaitAll waits until every running node's image satisfies cond, and
// returns the controller's.
func (c *Cluster) WaitAll(what string, cond func(*cluster.Image) bool) *cluster.Image {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	for _, n := range c.Nodes() {
		if _, err := n.WaitFor(ctx, cond); err != nil {
			c.t.Fatalf("broker %d waiting for %s: %v", n.BrokerID(), what, err)
		}
	}
	return c.Controller().Image()
}

func (c *Cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v", what, Deadline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts broker id's node down (its data dir stays).
func (c *Cluster) Stop(id int32) {
	c.t.Helper()
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		c.t.Fatalf("broker %d is not running", id)
	}
	if err := n.Shutdown(); err != nil {
		c.t.Fatalf("shutdown broker %d: %v", id, err)
	}
}

// AddBroker starts broker id, which controller.quorum.voters does not
// list, registers it (the controller adds it to raft as a non-voter) and
// waits until it has caught up and is unfenced.
func (c *Cluster) AddBroker(id int32) {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	c.dirs[id], c.addrs[id] = c.t.TempDir(), ln.Addr().String()
	c.start(id, ln)
	c.Register(id)
	c.WaitUnfenced(id)
}

// Restart starts broker id again on its data dir and controller address,
// registers it and waits until it is unfenced.
func (c *Cluster) Restart(id int32) {
	c.t.Helper()
	addr := c.addrs[id]
	var ln net.Listener
	c.waitFor("listen on "+addr, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	c.start(id, ln)
	// The previous run's registration holds the id until its session
	// expires (ErrBrokerIDInUse, as in Kafka): move the clock a second at
	// a time, heartbeating the other brokers so only this one expires.
	c.waitFor(fmt.Sprintf("broker %d's previous session to expire", id), func() bool {
		if c.tryRegister(id, false) == nil {
			return true
		}
		c.Clock.Advance(time.Second)
		for _, n := range c.Nodes() {
			if other := n.BrokerID(); other != id {
				c.Heartbeat(other)
			}
		}
		return false
	})
	c.WaitUnfenced(id)
}
