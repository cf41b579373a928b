package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testDeadline = 60 * time.Second

// startSolo starts a one-voter node (no voters configured) in dir and
// waits until it is the controller.
func startSolo(t *testing.T, dir string, id int32) *Node {
	t.Helper()
	return startElected(t, Config{BrokerID: id, ControllerAddr: "127.0.0.1:0", DataDir: dir})
}

// startElected starts a one-voter node and waits until it is the
// controller.
func startElected(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	deadline := time.Now().Add(testDeadline)
	for !n.IsController() {
		if time.Now().After(deadline) {
			t.Fatalf("a one-voter node (controller.addr %q) did not elect itself", cfg.ControllerAddr)
		}
		time.Sleep(time.Millisecond)
	}
	return n
}

func waitOffset(t *testing.T, n *Node, offset int64) *Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	img, err := n.WaitFor(ctx, func(img *Image) bool { return img.Offset() >= offset })
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestSoloNodeBootstrapsAndNamesCluster: with no voters a broker is a
// one-voter cluster of itself, with no format step; its controller names
// the cluster and meta.properties records it.
func TestSoloNodeBootstrapsAndNamesCluster(t *testing.T) {
	dir := t.TempDir()
	n := startSolo(t, dir, 7)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	img, err := n.WaitFor(ctx, func(img *Image) bool { return !img.ClusterID().IsZero() })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testDeadline)
	for {
		m, ok, err := readMeta(dir)
		if err != nil {
			t.Fatal(err)
		}
		if ok && m.clusterID == img.ClusterID() && m.brokerID == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meta.properties: %+v, want broker 7 of cluster %s", m, img.ClusterID())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id, ok := n.ControllerID(); !ok || id != 7 {
		t.Fatalf("controller id %d, %v", id, ok)
	}
	for _, f := range []string{"metadata/raft.db", "metadata/snapshots"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

// TestDataDirOfAnotherBroker: a data dir written by broker 1 is refused to
// broker 2 with a clear error, and nothing in it changes.
func TestDataDirOfAnotherBroker(t *testing.T) {
	dir := t.TempDir()
	n := startSolo(t, dir, 1)
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	before := dirContent(t, dir)
	_, err := Start(Config{BrokerID: 2, ControllerAddr: "127.0.0.1:0", DataDir: dir})
	if !errors.Is(err, ErrDataDir) {
		t.Fatalf("err = %v, want ErrDataDir", err)
	}
	t.Log(err)
	if after := dirContent(t, dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused start changed the data dir:\nbefore %v\nafter  %v", before, after)
	}
}

// TestDataDirOfAnotherCluster: a metadata log that names another cluster
// than meta.properties is refused at start, before raft runs.
func TestDataDirOfAnotherCluster(t *testing.T) {
	dir, img := stoppedNamedSolo(t)
	other := ID16{0x5e}
	if err := writeMeta(dir, dirMeta{brokerID: 1, clusterID: other}); err != nil {
		t.Fatal(err)
	}
	_, err := Start(Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", DataDir: dir})
	if !errors.Is(err, ErrDataDir) || !strings.Contains(err.Error(), img.ClusterID().String()) {
		t.Fatalf("err = %v, want ErrDataDir naming cluster %s", err, img.ClusterID())
	}
	t.Log(err)
	if m, _, _ := readMeta(dir); m.clusterID != other {
		t.Fatalf("meta.properties rewritten to %s", m.clusterID)
	}
}

// TestClusterIDLearnedAtStart: a node stopped before it wrote the cluster
// id to meta.properties learns it from its log at the next start, before
// its transport accepts a connection.
func TestClusterIDLearnedAtStart(t *testing.T) {
	dir, img := stoppedNamedSolo(t)
	if err := writeMeta(dir, dirMeta{brokerID: 1}); err != nil {
		t.Fatal(err)
	}
	n2, err := Start(Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown()
	if got := n2.knownClusterID(); got != img.ClusterID() {
		t.Fatalf("known cluster id %s right after Start, want %s", got, img.ClusterID())
	}
	if m, _, _ := readMeta(dir); m.clusterID != img.ClusterID() {
		t.Fatalf("meta.properties has cluster %s, want %s", m.clusterID, img.ClusterID())
	}
}

// stoppedNamedSolo runs a one-voter broker 1 until its cluster is named,
// stops it, and returns its data dir and last image.
func stoppedNamedSolo(t *testing.T) (string, *Image) {
	t.Helper()
	dir := t.TempDir()
	n := startSolo(t, dir, 1)
	img := waitNamed(t, n)
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	return dir, img
}

func waitNamed(t *testing.T, n *Node) *Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	img, err := n.WaitFor(ctx, func(img *Image) bool { return !img.ClusterID().IsZero() })
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// dirContent maps each file below dir to its content.
func dirContent(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		out[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestartAfterLongLog writes 10,000 and then 100,000 metadata records,
// waits for raft's snapshot, writes 3,000 more (below the snapshot
// threshold, so they stay in the log only), restarts, and checks that the
// restart restored the snapshot and replayed only the entries after it, so
// restart time stays flat as the log grows, and that the state after the
// restart equals the state before. Restart times are logged, not asserted.
func TestRestartAfterLongLog(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 113,000 records")
	}
	for _, records := range []int{10_000, 100_000} {
		t.Run(strconv.Itoa(records), func(t *testing.T) { testRestartAfter(t, records) })
	}
}

// writeConfigs proposes count ChangeConfig entries on topic id from a few
// goroutines without waiting for each, and waits for the last of each.
func writeConfigs(t *testing.T, n *Node, id ID16, from, count int) {
	t.Helper()
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last interface{ Error() error }
			for i := from + w; i < from+count; i += writers {
				entry := AppendEntry(nil, ChangeConfig{TopicID: id, Set: map[string]string{"k" + strconv.Itoa(w): strconv.Itoa(i)}})
				last = n.raft.Apply(entry, proposeTimeout)
			}
			errs <- last.Error()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func testRestartAfter(t *testing.T, records int) {
	const tail = 3_000 // entries after the last snapshot
	dir := t.TempDir()
	n := startSolo(t, dir, 1)
	epoch, err := n.RegisterBroker(RegisterBroker{BrokerID: 1, Incarnation: ID16{1}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Heartbeat(1, epoch, epoch); err != nil {
		t.Fatal(err)
	}
	tp, err := n.CreateTopic("t", 3, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	writeConfigs(t, n, tp.ID, 0, records)
	t.Logf("wrote %d records in %v", records, time.Since(start).Round(time.Millisecond))
	// Raft snapshots at its next threshold check.
	lastIndex := n.raft.LastIndex()
	deadline := time.Now().Add(testDeadline)
	for {
		snap, _ := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
		if snap+DefaultSnapshotThreshold > lastIndex { // snap may pass lastIndex: no subtraction
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot near index %d (last at %d)", lastIndex, snap)
		}
		time.Sleep(50 * time.Millisecond)
	}
	writeConfigs(t, n, tp.ID, records, tail)
	before := waitOffset(t, n, int64(n.raft.LastIndex()))
	want := imageState(before)
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}

	restart := time.Now()
	n2, err := Start(Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Shutdown()
	restored := time.Since(restart)
	img := waitOffset(t, n2, before.Offset())
	caughtUp := time.Since(restart)
	replayed := n2.fsm.applied.Load()
	t.Logf("restart with %d records in the log: snapshot restored by Start in %v; caught up to offset %d in %v "+
		"(incl. the one-node election), %d entries replayed after the snapshot",
		records+tail, restored.Round(time.Millisecond), img.Offset(), caughtUp.Round(time.Millisecond), replayed)
	if replayed > DefaultSnapshotThreshold+tail {
		t.Errorf("restart replayed %d entries, want at most %d", replayed, DefaultSnapshotThreshold+tail)
	}
	got := imageState(img)
	got.Offset, want.Offset = 0, 0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("state after restart differs:\n got %+v\nwant %+v", got, want)
	}
	if v := img.Topic("t").Configs["k3"]; v != strconv.Itoa(records+tail-5) {
		t.Fatalf("k3 = %q after restart, want %d", v, records+tail-5)
	}
}

// TestAdvertisedControllerAddr: a node listening on one address and
// advertising another gives raft the advertised one (its configuration,
// and the leader address controller calls dial), and a voter's advertised
// address, not its listener, is what must match its voter-list entry.
func TestAdvertisedControllerAddr(t *testing.T) {
	const advertised = "127.0.0.1:19093"
	n, err := Start(Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", AdvertisedAddr: advertised, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	if n.AdvertisedAddr() != advertised || n.Addr() == advertised {
		t.Fatalf("Addr %s, AdvertisedAddr %s; want a bound port and %s", n.Addr(), n.AdvertisedAddr(), advertised)
	}
	deadline := time.Now().Add(testDeadline)
	for !n.IsController() {
		if time.Now().After(deadline) {
			t.Fatal("a one-voter node did not elect itself")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr, _ := n.raft.LeaderWithID(); string(addr) != advertised {
		t.Errorf("raft leader address %q, want the advertised %q", addr, advertised)
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if s := f.Configuration().Servers; len(s) != 1 || string(s[0].Address) != advertised {
		t.Errorf("raft configuration %+v, want one server at %s", s, advertised)
	}

	voters := []Voter{{ID: 1, Addr: "127.0.0.1:19093"}, {ID: 2, Addr: "127.0.0.1:19193"}}
	ok := Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", AdvertisedAddr: "127.0.0.1:19093", Voters: voters, DataDir: "d"}
	if err := ok.check(); err != nil {
		t.Errorf("advertised address as listed refused: %v", err)
	}
	bad := Config{BrokerID: 1, ControllerAddr: "127.0.0.1:19093", AdvertisedAddr: "127.0.0.1:29093", Voters: voters, DataDir: "d"}
	if err := bad.check(); err == nil || !strings.Contains(err.Error(), "controller.advertised.addr") {
		t.Errorf("advertised address not in the voters: err %v, want one naming controller.advertised.addr", err)
	}
}
