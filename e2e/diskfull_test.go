package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/internal/smallfs"
	"github.com/spate-io/spate/wire"
)

// health returns /health's status code and body.
func (p *brokerProc) health() (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.Admin+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// deleteTopic deletes a topic through the native protocol.
func (w *wireConn) deleteTopic(name string) (wire.ErrorCode, string) {
	w.t.Helper()
	var resp wire.DeleteTopicsResponse
	w.roundTrip(&wire.DeleteTopicsRequest{Topics: []string{name}, TimeoutMs: 10000}, &resp)
	if resp.ErrorCode != wire.None {
		return resp.ErrorCode, ""
	}
	return resp.Topics[0].ErrorCode, resp.Topics[0].Message
}

// TestDiskFull is issue 15's full disk, end to end on a 64 MB filesystem:
// produce until the broker refuses (KAFKA_STORAGE_ERROR at
// log.dir.min.free.bytes), then fill the filesystem to the last block.
// Every acknowledged record is still served, /health answers 503 naming
// the full log dir, creating a topic fails cleanly, restarts (SIGTERM and
// SIGKILL) come up and serve everything while the disk stays full, a topic
// can be deleted, and produces are accepted again once that freed space,
// with no restart.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end full-disk test")
	}
	for _, kind := range []string{"ext4", "tmpfs"} {
		t.Run("fs="+kind, func(t *testing.T) { testDiskFull(t, kind) })
	}
}

func testDiskFull(t *testing.T, kind string) {
	fs := smallfs.Mount(t, kind, 64<<20)
	dir, addr := filepath.Join(fs, "data"), freeAddr(t)
	// 4 MiB segments: rolls happen while the disk fills.
	args := []string{"--set", "log.segment.bytes=4194304", "--set", "message.max.bytes=1048576"}
	b := startBroker(t, dir, addr, args...)
	w := dialWire(t, b.Addr)
	for _, name := range []string{"keep", "drop"} {
		if code := w.createTopic(name, 1); code != wire.None {
			t.Fatalf("create %s: %s", name, code)
		}
	}
	const perBatch = 5000 // records of ~10 bytes: batches of ~60 KB
	for i := range 150 {  // ~9 MB that the delete will free
		if code, _ := w.produceCode("drop", 0, seqBatch(1, i*perBatch, perBatch)); code != wire.None {
			t.Fatalf("produce to drop: %s", code)
		}
	}
	acked := 0
	for {
		code, _ := w.produceCode("keep", 0, seqBatch(0, acked, perBatch))
		if code == wire.KafkaStorageError {
			break
		}
		if code != wire.None {
			t.Fatalf("produce to keep at %d records: %s", acked, code)
		}
		acked += perBatch
	}
	t.Logf("%d records acknowledged before the broker refused appends", acked)
	if status, body := b.health(); status != http.StatusServiceUnavailable || !strings.Contains(body, "log dir "+dir+": full") {
		t.Fatalf("/health at the floor: %d %q", status, body)
	}
	if !strings.Contains(b.output(), "until space returns") {
		t.Fatalf("no log line about refusing appends:\n%s", b.output())
	}

	filler := smallfs.Fill(t, fs)
	if code, _ := w.produceCode("keep", 0, seqBatch(0, acked, 10)); code != wire.KafkaStorageError {
		t.Fatalf("produce on a full filesystem: %s, want KAFKA_STORAGE_ERROR", code)
	}
	checkSeq(t, w.readAll("keep", 0), 0, acked)
	if code := w.createTopic("new", 4); code != wire.KafkaStorageError {
		t.Fatalf("create topic on a full filesystem: %s, want KAFKA_STORAGE_ERROR", code)
	}

	// Restarts while full: a graceful one, then a crash.
	b.stop()
	b = startBroker(t, dir, addr, args...)
	checkSeq(t, dialWire(t, b.Addr).readAll("keep", 0), 0, acked)
	b.kill()
	b = startBroker(t, dir, addr, args...)
	w = dialWire(t, b.Addr)
	checkSeq(t, w.readAll("keep", 0), 0, acked)
	if status, body := b.health(); status != http.StatusServiceUnavailable || !strings.Contains(body, "log dir "+dir+": full") {
		t.Fatalf("/health after a restart on a full filesystem: %d %q", status, body)
	}

	if code, msg := w.deleteTopic("drop"); code != wire.None {
		t.Fatalf("delete topic on a full filesystem: %s %s\nbroker output:\n%s", code, msg, b.output())
	}
	// Space returns without a restart: the broker sees it within its
	// check interval (1 s).
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := w.produceCode("keep", 0, seqBatch(0, acked, perBatch))
		if code == wire.None {
			acked += perBatch
			break
		}
		if code != wire.KafkaStorageError || time.Now().After(deadline) {
			t.Fatalf("produce after the delete freed space: %s\nbroker output:\n%s", code, b.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkSeq(t, w.readAll("keep", 0), 0, acked)
	if status, body := b.health(); status != http.StatusOK {
		t.Fatalf("/health after space returned: %d %q", status, body)
	}
	if !b.running() {
		t.Fatalf("broker exited:\n%s", b.output())
	}
	os.Remove(filler)
	b.stop()
}

// checkSeq checks values are "p0-<from>" .. "p0-<to-1>", in order.
func checkSeq(t *testing.T, values []string, from, to int) {
	t.Helper()
	if len(values) != to-from {
		t.Fatalf("%d records served, want %d", len(values), to-from)
	}
	for i, v := range values {
		if want := "p0-" + strconv.Itoa(from+i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
}
