package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/internal/faultproxy"
	"github.com/spate-io/spate/segment"
	"github.com/spate-io/spate/wire"
)

// faultCluster is three real `spate broker` processes, each reached only
// through two TCP proxies of this test (native and controller listener),
// which the brokers advertise: clients, follower fetchers and raft all go
// through them, so the nemesis can cut a broker off.
type faultCluster struct {
	t       *testing.T
	timeout time.Duration // broker.session.timeout.ms and replica.lag.time.max.ms
	flush   string        // log.flush.policy
	dirs    []string
	natives []string // bound native addresses, fixed across restarts
	ctrls   []string // bound controller addresses
	nproxy  []*faultproxy.Proxy
	cproxy  []*faultproxy.Proxy
	procs   []*brokerProc
	runs    [][]*brokerProc // every process each broker ran, for the logs
}

// startFaultCluster starts n brokers with the power-loss journal on,
// session and lag timeouts of timeout and log.flush.policy flush, and waits
// until all are alive.
func startFaultCluster(t *testing.T, n int, timeout time.Duration, flush string) *faultCluster {
	t.Setenv(segment.PowerLossJournalEnv, "1") // inherited by the broker processes
	c := &faultCluster{t: t, timeout: timeout, flush: flush, procs: make([]*brokerProc, n), runs: make([][]*brokerProc, n)}
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
		c.natives = append(c.natives, freeAddr(t))
		c.ctrls = append(c.ctrls, freeAddr(t))
	}
	for i := range n {
		np, err := faultproxy.Listen("127.0.0.1:0", c.natives[i])
		if err != nil {
			t.Fatal(err)
		}
		cp, err := faultproxy.Listen("127.0.0.1:0", c.ctrls[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { np.Close(); cp.Close() })
		c.nproxy, c.cproxy = append(c.nproxy, np), append(c.cproxy, cp)
	}
	for id := 1; id <= n; id++ {
		c.start(id)
	}
	c.waitSettled("", 90*time.Second)
	return c
}

func (c *faultCluster) start(id int) {
	var voters []string
	for i, p := range c.cproxy {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, p.Addr()))
	}
	ms := fmt.Sprint(c.timeout.Milliseconds())
	c.procs[id-1] = startBroker(c.t, c.dirs[id-1], c.natives[id-1],
		"--set", fmt.Sprintf("broker.id=%d", id),
		"--set", "advertised.addr="+c.nproxy[id-1].Addr(),
		"--set", "controller.addr="+c.ctrls[id-1],
		"--set", "controller.advertised.addr="+c.cproxy[id-1].Addr(),
		"--set", "controller.quorum.voters="+strings.Join(voters, ","),
		"--set", "broker.session.timeout.ms="+ms,
		"--set", "replica.lag.time.max.ms="+ms,
		"--set", "log.flush.policy="+c.flush)
	c.runs[id-1] = append(c.runs[id-1], c.procs[id-1])
}

// saveLogs writes what every broker process printed to dir, one file per
// broker (runs in order).
func (c *faultCluster) saveLogs(dir string) error {
	for i, runs := range c.runs {
		var b strings.Builder
		for j, p := range runs {
			fmt.Fprintf(&b, "==== broker %d, run %d\n%s", i+1, j+1, p.output())
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("broker-%d.log", i+1)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// seeds is every broker's advertised native address (its proxy).
func (c *faultCluster) seeds() []string {
	var out []string
	for _, p := range c.nproxy {
		out = append(out, p.Addr())
	}
	return out
}

func (c *faultCluster) admin() (*client.Admin, error) {
	return client.NewAdmin(client.SeedBrokers(c.seeds()...), client.UnreachableTimeout(3*time.Second),
		client.RequestTimeout(3*time.Second))
}

// describe returns the cluster and topic (if named) as one broker sees them.
func (c *faultCluster) describe(topic string) (*client.ClusterDescription, []client.PartitionDescription, error) {
	a, err := c.admin()
	if err != nil {
		return nil, nil, err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cd, err := a.DescribeCluster(ctx)
	if err != nil || topic == "" {
		return cd, nil, err
	}
	ts, err := a.DescribeTopics(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	if len(ts) != 1 || ts[0].Err != nil {
		return nil, nil, fmt.Errorf("describe %s: %+v", topic, ts)
	}
	return cd, ts[0].Partitions, nil
}

// settled says why the cluster is not yet whole again ("" when it is):
// a controller, every broker alive and unfenced, and, for topic, every
// partition led with all its replicas in sync.
func (c *faultCluster) settled(topic string) string {
	cd, parts, err := c.describe(topic)
	if err != nil {
		return err.Error()
	}
	if cd.ControllerID < 1 {
		return "no controller"
	}
	alive := 0
	for _, b := range cd.Brokers {
		if !b.Fenced {
			alive++
		}
	}
	for i, p := range c.procs {
		// The broker's current process must have registered: until then
		// the metadata shows its previous run, unfenced and in every ISR,
		// and a cluster that looks whole may not be.
		epoch, ok := registeredEpoch(p.output())
		if !ok {
			return fmt.Sprintf("broker %d's process has not registered yet", i+1)
		}
		if j := slices.IndexFunc(cd.Brokers, func(b wire.ClusterBroker) bool { return b.ID == int32(i+1) }); j < 0 || cd.Brokers[j].Epoch < epoch {
			return fmt.Sprintf("broker %d's registration at epoch %d not seen yet", i+1, epoch)
		}
	}
	if alive != len(c.procs) || len(cd.Offline) > 0 || len(cd.UnderReplicated) > 0 {
		return fmt.Sprintf("%d of %d brokers unfenced, %d offline and %d under-replicated partitions",
			alive, len(c.procs), len(cd.Offline), len(cd.UnderReplicated))
	}
	for _, p := range parts {
		if p.Leader < 1 || len(p.ISR) != len(p.Replicas) {
			return fmt.Sprintf("partition %d: leader %d, ISR %v of replicas %v", p.Partition, p.Leader, p.ISR, p.Replicas)
		}
	}
	return ""
}

// registeredEpoch is the broker epoch of the last "registered with the
// controller (broker epoch N)" line of a broker process's output.
func registeredEpoch(output string) (int64, bool) {
	const mark = "registered with the controller (broker epoch "
	i := strings.LastIndex(output, mark)
	if i < 0 {
		return 0, false
	}
	rest := output[i+len(mark):]
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(rest[:end], 10, 64)
	return n, err == nil
}

// waitSettled waits until settled holds twice in a row (two answers, maybe
// from two brokers) and returns how long it took.
func (c *faultCluster) waitSettled(topic string, limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	ok := 0
	for {
		why := c.settled(topic)
		if why == "" {
			if ok++; ok == 2 {
				return time.Since(start)
			}
		} else {
			ok = 0
		}
		if time.Since(start) > limit {
			c.t.Fatalf("cluster not whole again within %v: %s", limit, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// observe says how the brokers other than faulted see the cluster now
// (asked of them only: a faulted broker may not answer), so the report
// shows that a fault took effect.
func (c *faultCluster) observe(faulted ...int) string {
	var seeds []string
	for i, p := range c.nproxy {
		if !slices.Contains(faulted, i+1) {
			seeds = append(seeds, p.Addr())
		}
	}
	a, err := client.NewAdmin(client.SeedBrokers(seeds...), client.UnreachableTimeout(3*time.Second), client.RequestTimeout(3*time.Second))
	if err != nil {
		return err.Error()
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cd, err := a.DescribeCluster(ctx)
	if err != nil {
		return "describe cluster: " + err.Error()
	}
	var fenced []int32
	for _, b := range cd.Brokers {
		if b.Fenced {
			fenced = append(fenced, b.ID)
		}
	}
	return fmt.Sprintf("[seen then: controller %d, fenced %v, %d under-replicated, %d offline]",
		cd.ControllerID, fenced, len(cd.UnderReplicated), len(cd.Offline))
}

// leaderOf returns the leader of topic's partition, waiting for one.
func (c *faultCluster) leaderOf(topic string, partition int32) int {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, parts, err := c.describe(topic)
		if err == nil && int(partition) < len(parts) && parts[partition].Leader > 0 {
			return int(parts[partition].Leader)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no leader of %s-%d within 60s: %v", topic, partition, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// controller returns the controller's broker id, waiting for one.
func (c *faultCluster) controller() int {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cd, _, err := c.describe("")
		if err == nil && cd.ControllerID > 0 {
			return int(cd.ControllerID)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no controller within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *faultCluster) kill(id int)    { c.procs[id-1].kill() }
func (c *faultCluster) restart(id int) { c.start(id) }

func (c *faultCluster) signal(id int, sig syscall.Signal) {
	if err := c.procs[id-1].cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to broker %d: %v", sig, id, err)
	}
}

// powerLoss kills broker id and cuts its logs back to what it fdatasync'd,
// returning how many bytes that dropped. The boot id the broker recorded
// changes too: its machine rebooted, so its next start knows it may lack
// what it acknowledged (engine.LossyRestart).
func (c *faultCluster) powerLoss(id int) int64 {
	c.t.Helper()
	c.kill(id)
	cut, err := segment.CutToSynced(c.dirs[id-1])
	if err != nil {
		c.t.Fatalf("power loss of broker %d: %v", id, err)
	}
	boot := fmt.Sprintf("a boot before the power loss at %s\n", time.Now().Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(c.dirs[id-1], engine.BootIDFile), []byte(boot), 0o644); err != nil {
		c.t.Fatalf("power loss of broker %d: %v", id, err)
	}
	var n int64
	for _, b := range cut {
		n += b
	}
	return n
}

// isolate cuts broker id off from everyone: its own proxies drop all
// connections, and the other brokers' proxies drop those it opened.
func (c *faultCluster) isolate(id int) {
	pid := c.procs[id-1].cmd.Process.Pid
	from := func(client net.Addr) bool { return ownedBy(pid, client) }
	for i := range c.procs {
		if i == id-1 {
			c.nproxy[i].Cut()
			c.cproxy[i].Cut()
		} else {
			c.nproxy[i].CutFrom(from)
			c.cproxy[i].CutFrom(from)
		}
	}
}

func (c *faultCluster) heal() {
	for i := range c.procs {
		c.nproxy[i].Heal()
		c.cproxy[i].Heal()
	}
}

// stopAll stops every broker with SIGTERM (a clean shutdown), one by one.
func (c *faultCluster) stopAll() {
	for _, p := range c.procs {
		p.stop()
	}
}

// other returns a broker id that is none of not.
func (c *faultCluster) other(not ...int) int {
	for id := 1; id <= len(c.procs); id++ {
		if !slices.Contains(not, id) {
			return id
		}
	}
	return 1
}
