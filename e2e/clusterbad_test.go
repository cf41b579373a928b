package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// dirListing lists every file under dir with its size and modification
// time, to show that a refused start changed nothing. The .lock (the pid
// of the broker holding the dir) and .write-calibration.json (the write
// path measured at engine open, which comes before the cluster checks) are
// not data and are left out.
func dirListing(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Name() != ".lock" && info.Name() != ".write-calibration.json" {
			rel, _ := filepath.Rel(dir, p)
			lines = append(lines, fmt.Sprintf("%s %d %d", rel, info.Size(), info.ModTime().UnixNano()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// runBroker runs `spate broker args...` expecting it to exit by itself
// within timeout, and returns its output and exit code.
func runBrokerExit(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(spateBin, append([]string{"broker", "--kafka-addr", "", "--admin-addr", ""}, args...)...)
	out, err := cmdOutput(cmd, timeout)
	if err != nil {
		t.Fatalf("spate broker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, cmd.ProcessState.ExitCode()
}

func cmdOutput(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if _, exited := err.(*exec.ExitError); exited {
			err = nil
		}
		return b.String(), err
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return b.String(), fmt.Errorf("still running after %v", timeout)
	}
}

func healthBody(t *testing.T, admin string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/health")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterBadInput: malformed controller.quorum.voters, voters that are
// not up yet, a duplicate broker id and another cluster's data dir each
// give a clear message, and a refused start changes no data.
func TestClusterBadInput(t *testing.T) {
	t.Run("malformed voters", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "d")
		out, code := runBrokerExit(t, 30*time.Second, "--data-dir", dir, "--addr", "127.0.0.1:0",
			"--set", "controller.quorum.voters=1@127.0.0.1:9193,two@127.0.0.1:9293")
		if code == 0 || !strings.Contains(out, "controller.quorum.voters") || !strings.Contains(out, "two@127.0.0.1:9293") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("the refused broker created its data dir (%v)", err)
		}
		t.Log(strings.TrimSpace(out))
	})

	c := &procCluster{t: t}
	for range 3 {
		c.dirs = append(c.dirs, t.TempDir())
		c.natives = append(c.natives, freeAddr(t))
		c.ctrls = append(c.ctrls, freeAddr(t))
	}
	c.procs = make([]*brokerProc, 3)

	// Broker 1 alone: no quorum yet. It runs, says why it is not serving,
	// and keeps retrying until the other voters appear.
	c.start(1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := healthBody(t, c.procs[0].Admin)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "cannot reach") || strings.Contains(body, "connection refused") {
			t.Logf("broker 1 alone: /health %d: %s", code, strings.TrimSpace(body))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker 1 alone: /health %d: %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if !c.procs[0].running() {
		t.Fatalf("broker 1 gave up waiting for the voters:\n%s", c.procs[0].output())
	}
	c.start(2)
	c.start(3)
	c.waitHealthy()

	t.Run("voter at another address", func(t *testing.T) {
		out, code := runBrokerExit(t, 60*time.Second, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--set", "broker.id=2",
			"--set", "controller.addr="+freeAddr(t), "--set", "controller.quorum.voters="+c.voters())
		if code == 0 || !strings.Contains(out, "is not broker 2's address") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		t.Log(lastLine(out))
	})

	t.Run("another cluster's data dir", func(t *testing.T) {
		c.procs[2].stop()
		before := dirListing(t, c.dirs[2])
		// Broker 3's data dir, given to a one-voter cluster of broker 3.
		out, code := runBrokerExit(t, 30*time.Second, "--data-dir", c.dirs[2], "--addr", "127.0.0.1:0",
			"--set", "broker.id=3", "--set", "controller.addr="+freeAddr(t))
		if code == 0 || !strings.Contains(out, "data dir") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		t.Log(lastLine(out))
		if after := dirListing(t, c.dirs[2]); after != before {
			t.Fatalf("the refused start changed the data dir:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		c.start(3)
		c.waitHealthy()
	})
	t.Run("duplicate broker id", func(t *testing.T) {
		// Last: broker 4 stays registered, fenced, after it stops.
		// Broker 4 is not a voter: it joins when it registers. A second
		// broker 4 is refused while the first one's session lives, and
		// gives up after two session timeouts.
		args := func() []string {
			return []string{"--set", "broker.id=4", "--set", "controller.addr=" + freeAddr(t), "--set", "controller.quorum.voters=" + c.voters(),
				"--set", "broker.session.timeout.ms=3000"}
		}
		first := startBroker(t, t.TempDir(), "127.0.0.1:0", args()...)
		deadline := time.Now().Add(30 * time.Second)
		for code, _ := healthBody(t, first.Admin); code != http.StatusOK; code, _ = healthBody(t, first.Admin) {
			if time.Now().After(deadline) {
				t.Fatalf("broker 4 not healthy:\n%s", first.output())
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, code := runBrokerExit(t, 60*time.Second, append([]string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, args()...)...)
		if code == 0 || !strings.Contains(out, "broker.id 4 is live") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		t.Log(lastLine(out))
		if code, body := healthBody(t, first.Admin); code != http.StatusOK {
			t.Fatalf("the first broker 4 was harmed: /health %d %s", code, body)
		}
		first.stop()
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
