package e2e

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSharedDataDirRefused is the first fault: a second broker
// pointed at a data dir that a running broker holds must exit non-zero at
// once, naming the holder, and the first broker must keep every record it
// acknowledged, before and after a restart.
func TestSharedDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	first := startBroker(t, dir, addr)
	mustCLI(t, first.Addr, bytes.NewReader(seqInput(5000)), 60*time.Second, "produce", "shared")

	start := time.Now()
	out, errOut, code := runCLI(t, first.Addr, nil, 30*time.Second,
		"broker", "--data-dir", dir, "--addr", "127.0.0.1:0", "--kafka-addr", "", "--admin-addr", "")
	took := time.Since(start)
	if code == 0 {
		t.Fatalf("second broker on a locked data dir exited 0 after %v; stdout:\n%s\nstderr:\n%s", took, out, errOut)
	}
	msg := out + errOut
	want := fmt.Sprintf("open data dir %s: engine: data dir in use by another broker (pid %d holds its .lock)", dir, first.cmd.Process.Pid)
	if !strings.Contains(msg, want) {
		t.Fatalf("second broker's message lacks %q:\n%s", want, msg)
	}
	t.Logf("second broker refused in %v with exit code %d: %s", took, code, strings.TrimSpace(errOut))

	if !first.healthy() {
		t.Fatalf("first broker unhealthy after the refused start:\n%s", first.output())
	}
	// The shared-file overwrite of the issue happened on the next appends.
	input := bytes.NewReader([]byte(strings.Join(seqLines(5001, 6000), "\n") + "\n"))
	mustCLI(t, first.Addr, input, 60*time.Second, "produce", "shared")
	first.stop()

	again := startBroker(t, dir, addr)
	got := mustCLI(t, again.Addr, nil, 60*time.Second, "consume", "shared", "--from", "beginning", "--count", "6000")
	checkSeqMultiset(t, strings.Split(strings.TrimSuffix(got, "\n"), "\n"), 6000)
}

// seqLines returns the decimal numbers from..to inclusive.
func seqLines(from, to int) []string {
	lines := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		lines = append(lines, strconv.Itoa(i))
	}
	return lines
}
