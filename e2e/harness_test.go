package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// spateBin is the binary built once by TestMain for every test here.
var spateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spate-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	spateBin = filepath.Join(dir, "spate")
	build := exec.Command("go", "build", "-o", spateBin, "github.com/spate-io/spate/cmd/spate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building spate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// brokerProc is one spate broker process.
type brokerProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	dataDir string
	Addr    string // native protocol host:port
	Kafka   string // Kafka protocol host:port
	Admin   string // admin HTTP host:port
	exited  chan struct{}

	mu  sync.Mutex
	out strings.Builder // everything the process printed
}

// startBroker runs `spate broker` on dataDir. addr may be "127.0.0.1:0";
// the real address is read from the broker's start-up lines. extra are more
// flags (e.g. "--set", "log.flush.policy=always"). The process is killed at
// test cleanup if still running.
//
// The write path is pinned to O_DIRECT from 64 KiB (extra may override it):
// the default, auto, writes ~400 MB to measure every fresh data dir, and
// the crash tests of direct writes must test them on every machine.
func startBroker(t testing.TB, dataDir, addr string, extra ...string) *brokerProc {
	t.Helper()
	return startBrokerNofile(t, 0, dataDir, addr, extra...)
}

// startBrokerNofile is startBroker with RLIMIT_NOFILE (soft and hard) set
// to nofile for the broker process (`ulimit -n`); 0 leaves it alone.
// brokerEnviron is the test's environment without the fault suite's own
// variables (SPATE_FAULTS...), which a broker would read as config keys and
// warn about.
func brokerEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SPATE_FAULTS") })
}

func startBrokerNofile(t testing.TB, nofile int, dataDir, addr string, extra ...string) *brokerProc {
	t.Helper()
	args := append([]string{"broker", "--data-dir", dataDir, "--addr", addr, "--kafka-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--set", "log.direct.write.bytes=65536"}, extra...)
	cmd := exec.Command(spateBin, args...)
	if nofile > 0 {
		// The Go runtime gives a child the limit the test process started
		// with, so a shell sets it; exec keeps the broker's pid.
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)
		cmd = exec.Command("sh", append([]string{"-c", script, spateBin}, args...)...)
	}
	cmd.Env = append(brokerEnviron(), "GOTRACEBACK=all")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	p := &brokerProc{t: t, cmd: cmd, dataDir: dataDir, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start spate broker: %v", err)
	}
	ready := make(chan struct{})
	go p.scan(stdout, ready)
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("broker output:\n%s", p.output())
		}
	})
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("broker exited during start-up:\n%s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("broker did not report its addresses within 30s:\n%s", p.output())
	}
	return p
}

// scan copies the process output and picks the addresses out of the
// start-up lines ("native protocol  HOST:PORT", "kafka protocol  HOST:PORT",
// "admin http  http://HOST:PORT/...").
func (p *brokerProc) scan(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	signaled := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.out.WriteString(line + "\n")
		p.mu.Unlock()
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "native" && f[1] == "protocol":
			p.Addr = f[2]
		case len(f) == 3 && f[0] == "kafka" && f[1] == "protocol":
			p.Kafka = f[2]
		case len(f) >= 3 && f[0] == "admin" && f[1] == "http":
			p.Admin = strings.TrimSuffix(strings.TrimPrefix(f[2], "http://"), "/metrics")
		case len(f) >= 2 && f[0] == "data" && f[1] == "directory" && !signaled:
			signaled = true
			close(ready)
		}
	}
}

func (p *brokerProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *brokerProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL: no flush, no clean-shutdown marker.
func (p *brokerProc) kill() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *brokerProc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("broker did not stop within 30s of SIGTERM:\n%s", p.output())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("broker exited with code %d after SIGTERM:\n%s", code, p.output())
	}
}

// healthy asks /health and reports whether it answered 200.
func (p *brokerProc) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.Admin+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freeAddr returns a loopback address with a port free right now, so a
// restarted broker can take the same address its clients know.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
