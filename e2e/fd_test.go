package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spate-io/spate/wire"
)

// adminClient keeps one connection to the admin listener alive, so the
// test can read /health and /metrics while the broker has no descriptor to
// accept a new connection with (a fresh one would wait in the backlog).
func adminClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
}

func adminGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDescriptorExhaustionKeepsListener (issue 15): a broker under
// `ulimit -n 1024` gets 1,100 idle connections. Those it has no descriptor
// for are closed, the listener stays up, /health fails while it cannot
// accept, and once the connections close a produce and a consume succeed
// and /health is ok again. gnet's own acceptor used to exit at the first
// EMFILE, closing the port for good while /health said ok.
func TestDescriptorExhaustionKeepsListener(t *testing.T) {
	const conns = 1100
	b := startBrokerNofile(t, 1024, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "fd", "--partitions", "1")
	admin := adminClient()
	health, metrics := "http://"+b.Admin+"/health", "http://"+b.Admin+"/metrics"
	if code, body := adminGet(t, admin, health); code != http.StatusOK {
		t.Fatalf("/health before the flood: %d %q", code, body)
	}

	var closed atomic.Int64
	var wg sync.WaitGroup
	held := make([]net.Conn, 0, conns)
	for i := range conns {
		c, err := net.DialTimeout("tcp", b.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v (the listener is gone?)", i, err)
		}
		held = append(held, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An idle connection reads nothing until the broker closes it.
			if _, err := c.Read(make([]byte, 1)); err != nil {
				closed.Add(1)
			}
		}()
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
		wg.Wait()
	}()
	waitFor(t, 30*time.Second, "the broker closes the connections it has no descriptor for", func() bool {
		return closed.Load() >= conns-1024
	})
	waitFor(t, 10*time.Second, "/health fails while out of descriptors", func() bool {
		code, body := adminGet(t, admin, health)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "out of file descriptors")
	})
	if !b.running() {
		t.Fatalf("broker exited during the flood:\n%s", b.output())
	}
	_, m := adminGet(t, admin, metrics)
	refused := metricValue(m, "spate_connections_refused_total")
	if refused < 1 || metricValue(m, "spate_accept_fd_exhausted_total") < 1 {
		t.Errorf("/metrics during the flood: refused %v, exhausted %v; want both > 0", refused, metricValue(m, "spate_accept_fd_exhausted_total"))
	}
	t.Logf("%d of %d connections closed by the broker; %v refused", closed.Load(), conns, refused)

	for _, c := range held {
		c.Close()
	}
	held = held[:0]
	waitFor(t, 30*time.Second, "/health back to ok after the flood", func() bool {
		code, _ := adminGet(t, admin, health)
		return code == http.StatusOK
	})
	mustCLI(t, b.Addr, bytes.NewReader(seqInput(1000)), 60*time.Second, "produce", "fd")
	out := mustCLI(t, b.Addr, nil, 60*time.Second, "consume", "fd", "--from", "beginning", "--count", "1000")
	checkSeqMultiset(t, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), 1000)
	if !strings.Contains(b.output(), "out of file descriptors") {
		t.Errorf("the broker logged nothing about running out of descriptors:\n%s", b.output())
	}
}

// metricValue returns the value of an unlabelled Prometheus series, or -1.
func metricValue(metrics, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// tmpfsDir mounts a tmpfs of size for the test, or skips the test where
// mounting is not allowed. Unmounted at cleanup, after any broker the test
// starts later is killed (cleanups run last first).
func tmpfsDir(t *testing.T, size, why string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (%v); %s", err, why)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestManyPartitionsLeaveRoomForConnections (issue 15): a broker under
// `ulimit -n 20000` restarted with 4,000 partitions states its descriptor
// budget at start and still serves 3,000 connections. Each partition held
// 4 descriptors plus 3 per sealed segment before; creates failed near
// 4,900 partitions and 238 connections then killed the listener.
//
// The data dir is a tmpfs: segment.Open fsyncs several times per
// partition, so creating 4,000 took about 40 s on this VM's disk and
// 2.5 s on tmpfs; the restart likewise.
func TestManyPartitionsLeaveRoomForConnections(t *testing.T) {
	const partitions, conns = 4000, 3000
	dir := tmpfsDir(t, "512m", "4,000 partitions fsync'd on disk take ~40 s to create here")
	addr := freeAddr(t)
	b := startBrokerNofile(t, 20000, dir, addr)
	mustCLI(t, b.Addr, nil, 60*time.Second, "topic", "create", "wide", "--partitions", strconv.Itoa(partitions))
	b.stop()

	b = startBrokerNofile(t, 20000, dir, addr)
	waitFor(t, 10*time.Second, "the descriptors start-up line", func() bool {
		return strings.Contains(b.output(), "  descriptors ")
	})
	banner := regexp.MustCompile(`(?m)^  descriptors +(\d+) partitions x (\d+) at most = \d+; (\d+) in use of RLIMIT_NOFILE 20000;`).
		FindStringSubmatch(b.output())
	if banner == nil || banner[1] != strconv.Itoa(partitions) {
		t.Fatalf("start-up lines do not state the descriptor budget of %d partitions:\n%s", partitions, b.output())
	}
	t.Logf("budget: %s", strings.TrimSpace(banner[0]))

	for i := range conns {
		w := dialWire(t, b.Addr)
		var resp wire.APIVersionsResponse
		if err := w.tryRoundTrip(&wire.APIVersionsRequest{}, &resp); err != nil || resp.ErrorCode != wire.None {
			t.Fatalf("connection %d of %d: ApiVersions: %v, code %v", i+1, conns, err, resp.ErrorCode)
		}
	}
	admin := adminClient()
	_, m := adminGet(t, admin, "http://"+b.Admin+"/metrics")
	if v := metricValue(m, "spate_accept_fd_exhausted_total"); v != 0 {
		t.Errorf("spate_accept_fd_exhausted_total = %v with %d connections, want 0", v, conns)
	}
	if code, body := adminGet(t, admin, "http://"+b.Admin+"/health"); code != http.StatusOK {
		t.Errorf("/health with %d connections: %d %q", conns, code, body)
	}
}
