package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Defaults. Raft's own timing (1 s heartbeat and election timeouts) is
// kept for a quorum that talks over the network: a new controller is
// elected a few seconds after the old one dies. A lone voter (see
// Config.Voters) uses loneTimeout instead.
const (
	// DefaultSessionTimeout is Kafka's broker.session.timeout.ms (9 s).
	DefaultSessionTimeout = 9 * time.Second
	// DefaultSnapshotThreshold: raft snapshots once this many entries
	// follow the last snapshot, so a restart restores one snapshot and
	// replays at most about this many entries, however long the log grew.
	DefaultSnapshotThreshold = 4096
	// snapshotInterval is how often raft checks the threshold. Raft's
	// default (120 s) would let a burst of creates grow the replay far
	// past the threshold; the check itself only compares two indexes.
	snapshotInterval = 2 * time.Second
	// proposeTimeout bounds a controller call waiting for raft.
	proposeTimeout = 30 * time.Second
	// ProducerIDBlockSize is how many producer ids one AllocateProducerIDs
	// hands a broker (Kafka's KIP-730 uses 1000).
	ProducerIDBlockSize = 1000
	// loneTimeout is a lone voter's raft heartbeat and election timeout
	// once it runs, equal to raft's default leader lease, which a lone
	// voter keeps: its leader checks the lease every LeaderLeaseTimeout,
	// forever, and with its quorum being itself the lease never lapses, so
	// a short lease buys nothing. (At 20 ms, the value before, the idle
	// broker woke 50 times a second for it: 10.1 against 4.8 ms of CPU
	// and 378 against 156 context switches per second, idle, perf stat.)
	// The start does not wait for it: see startLone.
	loneTimeout = 500 * time.Millisecond
	// loneAddr is a lone voter's raft address: it has no transport to
	// the outside, so the address names nothing to dial.
	loneAddr = "in-memory"
)

// Config configures a Node.
type Config struct {
	// BrokerID is broker.id; it is also the node's raft server id.
	BrokerID int32
	// ControllerAddr is controller.addr, the raft transport's listener
	// (host:port; port 0 picks a free port, see Node.Addr). When empty and
	// this broker is in Voters, its address there is used.
	ControllerAddr string
	// AdvertisedAddr is controller.advertised.addr: the host:port the
	// other nodes dial to reach this one (raft's advertise address, as in
	// hashicorp raft's NewTCPTransport), when it is not the bound one: a
	// NAT, or a test's TCP proxy in front of the listener. Empty: the bound
	// address. A voter's entry in Voters must name this address.
	AdvertisedAddr string
	// Listener, when set, is an already bound listener used instead of
	// ControllerAddr, so a caller (a test cluster) can learn every node's
	// address before any node starts. The node closes it on Shutdown.
	Listener net.Listener
	// Voters is controller.quorum.voters (ParseVoters). The first
	// MaxVoters vote; the rest, and any broker not listed, replicate the
	// metadata as non-voters. Empty: the node is a one-voter cluster of
	// itself. Empty with no ControllerAddr and no Listener: it is a lone
	// voter, a one-voter cluster with no controller listener (raft runs on
	// an in-memory transport), so a broker with none of the cluster keys
	// opens no port for it and no other broker can join.
	Voters []Voter
	// DataDir is the broker's data dir; the node keeps <DataDir>/metadata
	// and <DataDir>/meta.properties.
	DataDir string
	// SessionTimeout is broker.session.timeout.ms: the controller fences a
	// broker that sent no heartbeat for this long. Zero: the default.
	SessionTimeout time.Duration
	// SnapshotThreshold overrides DefaultSnapshotThreshold when non-zero.
	// As many entries stay in the log after a snapshot, so a follower a
	// little behind catches up from the log rather than by a snapshot
	// transfer.
	SnapshotThreshold uint64
	// Now is the controller's clock for heartbeats and session timeouts;
	// nil is time.Now. Tests inject a clock they advance by hand.
	Now func() time.Time
	// LogOutput receives raft's log lines; nil discards them.
	LogOutput io.Writer
}

// Node is one broker's member of the metadata quorum: it replicates the
// metadata log, applies it to its local Image, and, while it is the raft
// leader, is the controller (controller.go).
type Node struct {
	cfg  Config
	dir  string // <DataDir>/metadata
	addr string // the bound controller address; "" for a lone voter
	// lone: a one-voter cluster with no controller listener (Config.Voters).
	lone bool
	// advertised is what other nodes dial: Config.AdvertisedAddr, or addr.
	advertised string
	raft       *raft.Raft
	fsm        *fsm
	store      *raftboltdb.BoltStore
	trans      interface {
		raft.Transport
		Close() error
	}
	ctrl    controller
	calls   callClient // forwarded controller calls, both ways (rpc.go)
	hbCalls callClient // forwarded heartbeats, on a connection of their own (rpc.go)
	// started is closed once Start has set up raft: controller calls that
	// arrive before wait for it.
	started chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	metaMu  sync.Mutex // serialises meta.properties writes
	meta    dirMeta    // under metaMu
	failMu  sync.Mutex
	failErr error // under failMu: why the node stopped by itself
	// lastRefusal is the last raft connection refused for being of
	// another cluster (handshake.go), for the errors of controller calls.
	lastRefusal atomic.Pointer[error]
	dialMu      sync.Mutex
	dialErrs    map[string]error // under dialMu: peers whose last dial failed
	shut        sync.Once
}

// Start opens (or creates) the node's metadata in cfg.DataDir, starts raft
// on the controller listener and returns once raft runs; the controller is
// elected in the background (WaitForController). A fresh voter bootstraps
// the quorum itself: there is no format step.
func Start(cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, dir: filepath.Join(cfg.DataDir, "metadata"), stop: make(chan struct{}), started: make(chan struct{}),
		lone: cfg.ControllerAddr == "" && len(cfg.Voters) == 0 && cfg.Listener == nil}
	if n.cfg.SessionTimeout == 0 {
		n.cfg.SessionTimeout = DefaultSessionTimeout
	}
	if n.cfg.Now == nil {
		n.cfg.Now = time.Now
	}
	if n.cfg.SnapshotThreshold == 0 {
		n.cfg.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if err := n.openIdentity(); err != nil {
		return nil, err
	}
	ln, err := n.listen()
	if err != nil {
		return nil, err
	}
	if err := n.startRaft(ln); err != nil {
		if ln != nil {
			ln.Close()
		}
		n.closeStores()
		return nil, err
	}
	n.ctrl.init()
	close(n.started)
	n.wg.Add(2)
	go n.watchIdentity()
	go n.controllerLoop()
	return n, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.DataDir == "":
		return fmt.Errorf("cluster: no data dir")
	case cfg.BrokerID < 0:
		return fmt.Errorf("cluster: broker.id %d is negative", cfg.BrokerID)
	}
	for _, v := range cfg.Voters {
		if v.ID != cfg.BrokerID || cfg.Listener != nil {
			continue
		}
		if cfg.ControllerAddr == "" {
			cfg.ControllerAddr = v.Addr
		}
		// The others dial v.Addr: listening (or advertising) elsewhere
		// would leave this broker unreachable. Hosts may be spelled
		// differently; ports not.
		name, addr := "controller.addr", cfg.ControllerAddr
		if cfg.AdvertisedAddr != "" {
			name, addr = "controller.advertised.addr", cfg.AdvertisedAddr
		}
		_, want, _ := net.SplitHostPort(v.Addr)
		if _, port, err := net.SplitHostPort(addr); err != nil || port != want {
			return fmt.Errorf("cluster: %s %q is not broker %d's address %s in controller.quorum.voters",
				name, addr, cfg.BrokerID, v.Addr)
		}
	}
	if cfg.ControllerAddr == "" && cfg.Listener == nil && len(cfg.Voters) > 0 {
		return fmt.Errorf("cluster: no controller.addr for broker %d, which is not in controller.quorum.voters %s", cfg.BrokerID, FormatVoters(cfg.Voters))
	}
	return nil
}

// openIdentity checks (or first writes) meta.properties before anything
// else in the data dir is opened or created.
func (n *Node) openIdentity() error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	m, ok, err := readMeta(n.cfg.DataDir)
	if err != nil {
		return err
	}
	if !ok {
		m = dirMeta{brokerID: n.cfg.BrokerID}
		if err := writeMeta(n.cfg.DataDir, m); err != nil {
			return err
		}
	}
	if err := m.checkBroker(n.cfg.DataDir, n.cfg.BrokerID); err != nil {
		return err
	}
	n.meta = m
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	return nil
}

// listen binds the controller listener; nil for a lone voter.
func (n *Node) listen() (net.Listener, error) {
	if n.lone {
		return nil, nil
	}
	if n.cfg.Listener != nil {
		return n.cfg.Listener, nil
	}
	ln, err := net.Listen("tcp", n.cfg.ControllerAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: controller.addr %s: %w", n.cfg.ControllerAddr, err)
	}
	return ln, nil
}

func (n *Node) startRaft(ln net.Listener) error {
	out := n.cfg.LogOutput
	if out == nil {
		out = io.Discard
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name: "raft " + strconv.Itoa(int(n.cfg.BrokerID)), Output: out, Level: hclog.Info,
	})
	var err error
	// An existing metadata log is checked read-only first, so a data dir
	// refused as another cluster's keeps every byte of its raft.db.
	if err := n.checkExisting(logger); err != nil {
		return err
	}
	if _, err := reserveLogSpace(filepath.Join(n.dir, "raft.db")); err != nil {
		return err
	}
	n.store, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(n.dir, "raft.db")})
	if err != nil {
		return fmt.Errorf("cluster: open %s: %w", filepath.Join(n.dir, "raft.db"), err)
	}
	logs, err := raft.NewLogCache(512, n.store)
	if err != nil {
		return fmt.Errorf("cluster: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.dir, 2, logger)
	if err != nil {
		return fmt.Errorf("cluster: snapshots in %s: %w", n.dir, err)
	}
	existing, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return fmt.Errorf("cluster: read %s: %w", n.dir, err)
	}
	n.fsm = newFSM()
	conf := raft.DefaultConfig()
	if n.lone {
		_, n.trans = raft.NewInmemTransport(loneAddr)
		// Created above loneTimeout so that startLone can lower it.
		conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 2*loneTimeout, 2*loneTimeout, loneTimeout
	} else {
		n.addr = ln.Addr().String()
		n.advertised = n.addr
		if n.cfg.AdvertisedAddr != "" {
			n.advertised = n.cfg.AdvertisedAddr
		}
		stream := newStreamLayer(ln, n.advertised, n.knownClusterID, n.noteRefusal, n.noteDial)
		stream.serveRPC = n.serveRPC
		n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: logger,
		})
	}
	conf.LocalID = serverID(n.cfg.BrokerID)
	conf.Logger = logger
	conf.SnapshotThreshold = n.cfg.SnapshotThreshold
	conf.SnapshotInterval = snapshotInterval
	conf.TrailingLogs = n.cfg.SnapshotThreshold
	conf.BatchApplyCh = true
	if !existing {
		if err := n.bootstrap(conf, logs, snaps); err != nil {
			n.trans.Close()
			return err
		}
	}
	n.raft, err = raft.NewRaft(conf, n.fsm, logs, n.store, snaps, n.trans)
	if err != nil {
		n.trans.Close()
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	if n.lone {
		if err := n.startLone(); err != nil {
			n.raft.Shutdown().Error() // err says why; the stores close next
			n.trans.Close()
			return err
		}
	}
	return nil
}

// startLone has a lone voter stand for election at once. With no peer
// there is no network to wait for and no vote to split: the only wait is
// the follower's heartbeat timeout before it stands, 1-2 heartbeat
// timeouts (randomized), which every start would idle before its broker
// can register. Lowering the heartbeat timeout through ReloadConfig makes
// a follower restart its heartbeat timer, which fires at once
// (hashicorp/raft's runFollower), and a node that never heard from a
// leader then stands; as its own quorum it wins at once.
func (n *Node) startLone() error {
	rc := n.raft.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = loneTimeout, loneTimeout
	if err := n.raft.ReloadConfig(rc); err != nil {
		return fmt.Errorf("cluster: lone voter's raft timeouts: %w", err)
	}
	return nil
}

// checkExisting runs checkStored on an existing metadata log opened
// read-only. It runs before the transport accepts a connection, so that the
// handshake names this node's cluster from the first one on.
func (n *Node) checkExisting(logger hclog.Logger) error {
	path := filepath.Join(n.dir, "raft.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ro, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
	if err != nil {
		return fmt.Errorf("cluster: open %s: %w", path, err)
	}
	defer ro.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.dir, 2, logger)
	if err != nil {
		return fmt.Errorf("cluster: snapshots in %s: %w", n.dir, err)
	}
	existing, err := raft.HasExistingState(ro, ro, snaps)
	if err != nil {
		return fmt.Errorf("cluster: read %s: %w", n.dir, err)
	}
	if !existing {
		return nil
	}
	return n.checkStored(ro, snaps)
}

// bootstrap writes the initial quorum configuration on a fresh node that
// belongs to it: every listed member writes the same one (hashicorp/raft
// allows that), so no node has to start first. A broker not listed waits
// to be added by the controller when it registers.
func (n *Node) bootstrap(conf *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore) error {
	var servers []raft.Server
	if len(n.cfg.Voters) == 0 {
		servers = []raft.Server{{ID: conf.LocalID, Address: n.trans.LocalAddr(), Suffrage: raft.Voter}}
	}
	listed := false
	for i, v := range n.cfg.Voters {
		suffrage := raft.Voter
		if i >= MaxVoters {
			suffrage = raft.Nonvoter
		}
		servers = append(servers, raft.Server{ID: serverID(v.ID), Address: raft.ServerAddress(v.Addr), Suffrage: suffrage})
		listed = listed || v.ID == n.cfg.BrokerID
	}
	if len(n.cfg.Voters) > 0 && !listed {
		return nil
	}
	if err := raft.BootstrapCluster(conf, logs, n.store, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("cluster: bootstrap the quorum %s: %w", FormatVoters(n.cfg.Voters), err)
	}
	return nil
}

func serverID(brokerID int32) raft.ServerID { return raft.ServerID(strconv.Itoa(int(brokerID))) }

func parseServerID(id raft.ServerID) (int32, error) {
	b, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil || b < 0 {
		return 0, fmt.Errorf("raft server id %q is not a broker id", id)
	}
	return int32(b), nil
}

// Shutdown stops the node: it leaves raft (without handing over leadership
// first; a new controller is elected by the others) and closes its files and
// listener. It is safe to call more than once.
func (n *Node) Shutdown() error {
	var err error
	n.shut.Do(func() {
		close(n.stop)
		n.calls.close()
		n.hbCalls.close()
		// Raft first: a controller call of the loop waiting on raft then
		// ends at once with ErrClosed.
		err = n.raft.Shutdown().Error()
		n.wg.Wait()
		if cerr := n.trans.Close(); err == nil {
			err = cerr
		}
		if cerr := n.closeStores(); err == nil {
			err = cerr
		}
		n.fail(ErrClosed)
	})
	return err
}

func (n *Node) closeStores() error {
	if n.store == nil {
		return nil
	}
	return n.store.Close()
}

// fail records why the node stopped, once, and wakes WaitFor callers.
func (n *Node) fail(err error) {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	if n.failErr == nil {
		n.failErr = err
		n.fsm.republish() // wake WaitFor callers
	}
}

// Err returns why the node stopped (ErrClosed after Shutdown, or the
// ErrDataDir error that stopped it), or nil while it runs.
func (n *Node) Err() error {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	return n.failErr
}

// Addr is the bound controller address (useful with port 0); "" for a
// lone voter, which has none.
func (n *Node) Addr() string { return n.addr }

// Lone reports whether the node is a lone voter (Config.Voters): a
// one-voter cluster no other broker can join.
func (n *Node) Lone() bool { return n.lone }

// AdvertisedAddr is the controller address other nodes dial:
// Config.AdvertisedAddr, or Addr when that is empty.
func (n *Node) AdvertisedAddr() string { return n.advertised }

// BrokerID is the node's broker.id.
func (n *Node) BrokerID() int32 { return n.cfg.BrokerID }

// Image returns the newest applied metadata. It takes no lock: one atomic
// load.
func (n *Node) Image() *Image { return n.fsm.image() }

// ControllerID returns the current controller's broker id, or false while
// none is known (an election is under way).
func (n *Node) ControllerID() (int32, bool) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return 0, false
	}
	b, err := parseServerID(id)
	return b, err == nil
}

// WaitForController waits until a controller is known and returns its id.
// While the voters cannot be reached, raft keeps retrying them and the
// error at ctx's end says which.
func (n *Node) WaitForController(ctx context.Context) (int32, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if id, ok := n.ControllerID(); ok {
			return id, nil
		}
		if err := n.Err(); err != nil {
			return 0, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return 0, fmt.Errorf("%w (%w)", n.notController(), ctx.Err())
		}
	}
}

// IsController reports whether this node is the raft leader.
func (n *Node) IsController() bool { return n.raft.State() == raft.Leader }

// WaitFor returns the first image for which cond is true, waiting for new
// images as they are applied, until ctx ends or the node stops.
func (n *Node) WaitFor(ctx context.Context, cond func(*Image) bool) (*Image, error) {
	for {
		img := n.Image()
		if cond(img) {
			return img, nil
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		select {
		case <-img.Changed():
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: broker %d waiting for metadata at offset %d: %w", n.cfg.BrokerID, img.Offset(), ctx.Err())
		}
	}
}

// watchIdentity records the cluster id in meta.properties once the metadata
// names it, and stops the node if the data dir belongs to another cluster.
func (n *Node) watchIdentity() {
	defer n.wg.Done()
	for {
		img := n.Image()
		if id := img.ClusterID(); !id.IsZero() {
			if err := n.recordClusterID(id); err != nil {
				n.fail(err)
				go n.raft.Shutdown()
			}
			return
		}
		select {
		case <-img.Changed():
		case <-n.stop:
			return
		}
	}
}

func (n *Node) recordClusterID(id ID16) error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	if err := n.meta.checkCluster(n.cfg.DataDir, id); err != nil {
		return err
	}
	if n.meta.clusterID == id {
		return nil
	}
	m := n.meta
	m.clusterID = id
	if err := writeMeta(n.cfg.DataDir, m); err != nil {
		return err
	}
	n.meta = m
	return nil
}

// knownClusterID is the cluster id this node knows: its meta.properties',
// else its metadata's; zero while it knows none.
func (n *Node) knownClusterID() ID16 {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	if !n.meta.clusterID.IsZero() {
		return n.meta.clusterID
	}
	return n.fsm.image().ClusterID()
}

func (n *Node) noteRefusal(err error) { n.lastRefusal.Store(&err) }

func (n *Node) noteDial(addr string, err error) {
	n.dialMu.Lock()
	defer n.dialMu.Unlock()
	if err == nil {
		delete(n.dialErrs, addr)
		return
	}
	if n.dialErrs == nil {
		n.dialErrs = map[string]error{}
	}
	n.dialErrs[addr] = err
}

// unreachable describes the peers whose last dial failed, "" if none.
func (n *Node) unreachable() string {
	n.dialMu.Lock()
	defer n.dialMu.Unlock()
	addrs := slices.Sorted(maps.Keys(n.dialErrs))
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = n.dialErrs[a].Error()
	}
	return strings.Join(parts, "; ")
}

// notController is the ErrNotController error naming the current leader.
func (n *Node) notController() error {
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		if refusal := n.lastRefusal.Load(); refusal != nil {
			return fmt.Errorf("%w: broker %d is not, and no controller is elected yet; a controller connection was refused: %w",
				ErrNotController, n.cfg.BrokerID, *refusal)
		}
		if down := n.unreachable(); down != "" {
			return fmt.Errorf("%w: broker %d is not, and no controller is elected yet; raft keeps retrying the voters it cannot reach: %s",
				ErrNotController, n.cfg.BrokerID, down)
		}
		return fmt.Errorf("%w: broker %d is not, and no controller is elected yet", ErrNotController, n.cfg.BrokerID)
	}
	return fmt.Errorf("%w: broker %d is not; the controller is broker %s at %s", ErrNotController, n.cfg.BrokerID, id, addr)
}

// propose commits recs as one raft entry and waits until this node applied
// it, counting the leader elections it made. It returns the entry's
// offset, or the error apply refused it with.
// When leadership is lost meanwhile, the entry may still commit under the
// next controller; the caller gets ErrNotController and may retry there:
// apply's checks (names taken, epochs, the first partition of
// AddPartitions, the next producer id) refuse a second copy, so a retry
// never applies a change twice (a retried producer-id block may skip ids,
// never repeat them).
func (n *Node) propose(recs ...Record) (int64, error) {
	img := n.Image()
	f := n.raft.Apply(AppendEntry(nil, recs...), proposeTimeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return 0, n.notController()
		}
		if errors.Is(err, raft.ErrRaftShutdown) {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("cluster: propose %d records: %w", len(recs), err)
	}
	if err, _ := f.Response().(error); err != nil {
		return int64(f.Index()), err
	}
	n.countElections(img, recs)
	return int64(f.Index()), nil
}
