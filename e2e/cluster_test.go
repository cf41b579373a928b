package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

// procCluster is three real `spate broker` processes of one quorum.
type procCluster struct {
	t       *testing.T
	dirs    []string
	natives []string // fixed, so a restarted broker keeps its address
	ctrls   []string
	procs   []*brokerProc
}

func startProcCluster(t *testing.T, n int) *procCluster {
	c := &procCluster{t: t}
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
		c.natives = append(c.natives, freeAddr(t))
		c.ctrls = append(c.ctrls, freeAddr(t))
	}
	c.procs = make([]*brokerProc, n)
	for i := range n {
		c.start(i + 1)
	}
	c.waitHealthy()
	return c
}

func (c *procCluster) voters() string {
	var vs []string
	for i, a := range c.ctrls {
		if i < 3 {
			vs = append(vs, fmt.Sprintf("%d@%s", i+1, a))
		}
	}
	return strings.Join(vs, ",")
}

func (c *procCluster) args(id int) []string {
	return []string{"--set", fmt.Sprintf("broker.id=%d", id), "--set", "controller.addr=" + c.ctrls[id-1],
		"--set", "controller.quorum.voters=" + c.voters(), "--set", "broker.session.timeout.ms=3000"}
}

func (c *procCluster) start(id int) {
	c.procs[id-1] = startBroker(c.t, c.dirs[id-1], c.natives[id-1], c.args(id)...)
}

// bootstrap is the native address of every running broker.
func (c *procCluster) bootstrap() string {
	var out []string
	for i, p := range c.procs {
		if p != nil && p.running() {
			out = append(out, c.natives[i])
		}
	}
	return strings.Join(out, ",")
}

// health runs `spate cluster health` and returns its exit code and output.
func (c *procCluster) health() (int, string) {
	out, errOut, code := runCLI(c.t, c.bootstrap(), nil, 30*time.Second, "cluster", "health")
	return code, out + errOut
}

// waitHealthy waits until `spate cluster health` passes with every
// broker registered.
func (c *procCluster) waitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out := c.health()
		if code == 0 && strings.Contains(out, fmt.Sprintf("healthy: %d brokers alive", len(c.procs))) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not healthy within 60s: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describe asks the brokers at addrs (comma separated) for the controller.
func (c *procCluster) describe(addrs string) (controller int32, err error) {
	a, err := client.NewAdmin(client.SeedBrokers(strings.Split(addrs, ",")...), client.UnreachableTimeout(3*time.Second))
	if err != nil {
		return -1, err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := a.DescribeCluster(ctx)
	if err != nil {
		return -1, err
	}
	return d.ControllerID, nil
}

// TestClusterThreeProcesses: three `spate broker` processes started with
// broker.id, controller.addr and controller.quorum.voters. A 12-partition
// topic lands 4/4/4; 1,000,000 records produced through one bootstrap
// address all come back; SIGKILL of the controller's process leaves a new
// controller within seconds, metadata served and topics creatable; its
// partitions (replication factor 1) are offline in `spate cluster health`
// until it restarts, and then come back whole.
func TestClusterThreeProcesses(t *testing.T) {
	c := startProcCluster(t, 3)
	seed := c.natives[1]
	mustCLI(t, seed, nil, 60*time.Second, "topic", "create", "spread", "--partitions", "12")
	var desc []struct {
		Partitions []struct {
			Partition int32 `json:"partition"`
			Leader    int32 `json:"leader"`
		} `json:"partitions"`
	}
	// Brokers apply the metadata each at its own pace (as in Kafka): the
	// create answered once broker 2 had the topic; describe asks others too.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, errOut, code := runCLI(t, seed, nil, 60*time.Second, "topic", "describe", "spread", "--json")
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &desc); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic describe: exit %d: %s", code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	led := map[int32]int{}
	for _, p := range desc[0].Partitions {
		led[p.Leader]++
	}
	if led[1] != 4 || led[2] != 4 || led[3] != 4 {
		t.Fatalf("leaders per broker %v, want 4 each", led)
	}

	metrics := scrape(t, c.procs[0].Admin)
	for _, want := range []string{`spate_cluster_brokers{state="alive"} 3`, "spate_cluster_controller_id ", "spate_cluster_offline_partitions 0"} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}

	const n = 1_000_000
	produceCluster(t, seed, "spread", n)
	if got := consumeCount(t, seed, "spread", 12, n); got != n {
		t.Fatalf("consumed %d distinct records, want %d", got, n)
	}

	ctrl, err := c.describe(seed)
	if err != nil || ctrl < 1 {
		t.Fatalf("controller %d, %v", ctrl, err)
	}
	other := c.natives[ctrl%3] // a broker that is not the controller
	killed := time.Now()
	c.procs[ctrl-1].kill()
	var next int32
	for {
		if id, err := c.describe(other); err == nil && id >= 1 && id != ctrl {
			next = id
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no new controller within 30s of SIGKILL of broker %d", ctrl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("SIGKILL of controller broker %d: broker %d is controller after %v", ctrl, next, time.Since(killed).Round(time.Millisecond))
	mustCLI(t, other, nil, 60*time.Second, "topic", "create", "after-failover", "--partitions", "2")

	// The killed broker's partitions have no leader until it is back.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out := c.health()
		if code != 0 && strings.Contains(out, "offline partitions") {
			t.Logf("cluster health with broker %d down (exit %d):\n%s", ctrl, code, out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster health never named the offline partitions: exit %d\n%s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.start(int(ctrl))
	c.waitHealthy()
	if got := consumeCount(t, seed, "spread", 12, n); got != n {
		t.Fatalf("after the restart: consumed %d distinct records, want %d", got, n)
	}
}

// produceCluster produces n records keyed by their number, through one
// bootstrap address, and fails the test on any error.
func produceCluster(t *testing.T, seed, topic string, n int) {
	t.Helper()
	p, err := client.NewProducer(client.SeedBrokers(seed))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var failed atomic.Int64
	var first atomic.Pointer[error]
	for i := range n {
		v := []byte(strconv.Itoa(i))
		p.Produce(ctx, &client.Record{Topic: topic, Key: v, Value: v}, func(_ *client.Record, err error) {
			if err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := p.Flush(ctx); err != nil || failed.Load() > 0 {
		t.Fatalf("produce: flush %v; %d failed, first %v", err, failed.Load(), first.Load())
	}
}

// consumeCount reads every partition of topic from the start until want
// records arrived and returns how many distinct values it saw; a value seen
// twice fails the test.
func consumeCount(t *testing.T, seed, topic string, partitions int32, want int) int {
	t.Helper()
	all := make([]int32, partitions)
	for i := range all {
		all[i] = int32(i)
	}
	cons, err := client.NewConsumer(client.SeedBrokers(seed), client.Assign(topic, all, client.Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	seen := make([]bool, want)
	got := 0
	for got < want {
		fs, err := cons.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", got, err)
		}
		it := fs.Records()
		for it.Next() {
			i, err := strconv.Atoi(string(it.Record().Value))
			if err != nil || i < 0 || i >= want || seen[i] {
				t.Fatalf("value %q unknown or read twice", it.Record().Value)
			}
			seen[i] = true
			got++
		}
	}
	return got
}
