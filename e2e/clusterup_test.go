package e2e

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeBlock finds a base port such that the ports spate cluster up uses for
// n brokers (base+100*i, +1, +2) are free right now.
func freeBlock(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for i := range n {
			for d := range 3 {
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+100*i+d))
				if err != nil {
					ok = false
					break
				}
				ln.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free block of ports for cluster up")
	return 0
}

// TestClusterUpREADME: `spate cluster up -n 3` starts three brokers and
// prints the SPATE_BROKERS line; the README's topic, produce, consume and
// group commands then work against it unchanged; Ctrl-C stops them all.
func TestClusterUpREADME(t *testing.T) {
	base := freeBlock(t, 3)
	cmd := exec.Command(spateBin, "cluster", "up", "-n", "3", "--data-dir", t.TempDir(),
		"--base-port", fmt.Sprint(base), "--kafka-base-port", "0", "--set", "log.direct.write.bytes=65536")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var out strings.Builder
	brokers, up := make(chan string, 1), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if v, ok := strings.CutPrefix(line, "export SPATE_BROKERS="); ok {
				brokers <- v
			}
			if strings.HasPrefix(line, "cluster up: 3 brokers alive") {
				close(up)
			}
		}
	}()
	var seeds string
	select {
	case seeds = <-brokers:
	case <-time.After(30 * time.Second):
		t.Fatalf("no SPATE_BROKERS line within 30s:\n%s", out.String())
	}
	select {
	case <-up:
	case <-time.After(60 * time.Second):
		t.Fatalf("cluster not up within 60s:\n%s", out.String())
	}
	seed := strings.Split(seeds, ",")[2] // any broker will do
	run := func(stdin string, args ...string) string {
		t.Helper()
		return mustCLI(t, seed, strings.NewReader(stdin), 60*time.Second, args...)
	}
	run("", "topic", "create", "events", "--partitions", "6", "--config", "retention.ms=86400000")
	if got := run("", "topic", "list"); !strings.Contains(got, "events") {
		t.Fatalf("topic list: %s", got)
	}
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "k%d:v%d\n", i, i)
	}
	run(lines.String(), "produce", "events", "--key-separator", ":")
	// Brokers apply the metadata at their own pace; describe asks them all.
	waitCLI(t, seed, "topic", "describe", "events")
	run("", "topic", "alter", "events", "--config", "retention.ms=3600000")
	// Each broker applies the change at its own pace; describe asks any.
	for deadline := time.Now().Add(30 * time.Second); ; {
		got := run("", "topic", "describe", "events")
		if strings.Contains(got, "3600000") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("altered retention.ms not described:\n%s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := run("", "consume", "events", "--from", "beginning", "--exit-idle", "2s", "--format", "%v\n"); strings.Count(got, "\n") != 1000 {
		t.Fatalf("consume from beginning: %d lines, want 1000", strings.Count(got, "\n"))
	}
	if got := run("", "consume", "events", "--group", "billing", "--count", "100"); strings.Count(got, "\n") != 100 {
		t.Fatalf("group consume: %d lines, want 100", strings.Count(got, "\n"))
	}
	if got := run("", "group", "list"); !strings.Contains(got, "billing") {
		t.Fatalf("group list: %s", got)
	}
	if got := run("", "group", "describe", "billing"); !strings.Contains(got, "events") {
		t.Fatalf("group describe: %s", got)
	}
	run("", "topic", "delete-records", "events", "--before", "end")
	run("", "topic", "delete", "events")
	if got := run("", "cluster", "health"); !strings.HasPrefix(got, "healthy: 3 brokers alive") {
		t.Fatalf("cluster health: %s", got)
	}

	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cluster up after Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("cluster up did not stop within 40s of Ctrl-C:\n%s", out.String())
	}
	if n := strings.Count(out.String(), "stopped cleanly"); n != 3 {
		t.Fatalf("%d brokers stopped cleanly, want 3:\n%s", n, out.String())
	}
}

// waitCLI runs a command until it succeeds (for up to 30 s).
func waitCLI(t *testing.T, seed string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := runCLI(t, seed, nil, 60*time.Second, args...)
		if code == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("spate %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
