package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// TestKillDuringAcksAllProduce is the storage promise end to end: a real
// broker process takes 1,000,000 records over 4 partitions, then, while a
// second producer writes with acks=all to a flush.policy=always topic, it is
// killed with SIGKILL and restarted on the same data directory and address.
// Every acknowledged record must read back, in order, with no gap and no
// duplicate; the only records allowed beyond the acknowledged ones are those
// of the single request that was in flight at the kill.
func TestKillDuringAcksAllProduce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test")
	}
	const partitions = 4
	const firstPhase = 1_000_000
	const perBatch = 2500 // records per partition per request
	dir, addr := t.TempDir(), freeAddr(t)
	b := startBroker(t, dir, addr)
	w := dialWire(t, b.Addr)
	if code := w.createTopic("crash", partitions, wire.Config{Key: "flush.policy", Value: "always"}); code != wire.None {
		t.Fatalf("create topic: %s", code)
	}

	// next[p] is the sequence number of partition p's next record; values
	// are "p<P>-<seq>" so a reader can tell exactly what is missing or doubled.
	var next [partitions]int
	produce := func(w *wireConn, acks int16) (wire.ErrorCode, error) {
		req := &wire.ProduceRequest{Acks: acks, TimeoutMs: 30000, Topics: []wire.ProduceTopic{{Name: "crash"}}}
		for p := 0; p < partitions; p++ {
			req.Topics[0].Partitions = append(req.Topics[0].Partitions, wire.ProducePartition{
				Partition: int32(p), Records: seqBatch(p, next[p], perBatch),
			})
		}
		var resp wire.ProduceResponse
		if err := w.tryRoundTrip(req, &resp); err != nil {
			return wire.None, err
		}
		for _, pr := range resp.Topics[0].Partitions {
			if pr.ErrorCode != wire.None {
				return pr.ErrorCode, nil
			}
		}
		for p := range next {
			next[p] += perBatch
		}
		return wire.None, nil
	}

	for sent := 0; sent < firstPhase; sent += partitions * perBatch {
		if code, err := produce(w, wire.AcksLeader); err != nil || code != wire.None {
			t.Fatalf("first phase at %d records: %s %v", sent, code, err)
		}
	}

	// Second phase: acks=all until the kill; the kill lands while requests
	// are in flight because the producer never pauses.
	acked := make(chan [partitions]int, 1)
	w2 := dialWire(t, b.Addr)
	go func() {
		for {
			if code, err := produce(w2, wire.AcksAll); err != nil || code != wire.None {
				acked <- next // the failed request was not acknowledged
				return
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	b.kill()
	ackedNext := <-acked
	if ackedNext[0] <= firstPhase/partitions {
		t.Fatalf("no acks=all request was acknowledged before the kill (next=%v)", ackedNext)
	}

	b2 := startBroker(t, dir, addr)
	r := dialWire(t, b2.Addr)
	for p := 0; p < partitions; p++ {
		values := r.readAll("crash", int32(p))
		if len(values) < ackedNext[p] {
			t.Fatalf("partition %d: %d records after restart, %d were acknowledged", p, len(values), ackedNext[p])
		}
		if len(values) > ackedNext[p]+perBatch {
			t.Fatalf("partition %d: %d records after restart, more than acknowledged (%d) plus one in-flight batch", p, len(values), ackedNext[p])
		}
		prefix := "p" + strconv.Itoa(p) + "-"
		for i, v := range values {
			if v != prefix+strconv.Itoa(i) {
				t.Fatalf("partition %d offset %d: %q, want %q (gap, duplicate or reorder)", p, i, v, prefix+strconv.Itoa(i))
			}
		}
		t.Logf("partition %d: %d records read back, %d acknowledged", p, len(values), ackedNext[p])
	}
	if !strings.Contains(b2.output(), "started") {
		t.Fatalf("restarted broker output:\n%s", b2.output())
	}
	b2.stop()
}

// seqBatch builds one batch of n records "p<P>-<from>" .. "p<P>-<from+n-1>".
func seqBatch(p, from, n int) []byte {
	var bld record.Builder
	bld.Reset(nil, record.Options{})
	ts := time.Now().UnixMilli()
	var v []byte
	for i := from; i < from+n; i++ {
		v = fmt.Appendf(v[:0], "p%d-%d", p, i)
		bld.Append(ts, nil, v, nil)
	}
	out, err := bld.Finish()
	if err != nil {
		panic(err)
	}
	return out
}

// TestKillDuringDirectWrites is the same promise for batches large enough to
// be written with O_DIRECT (log.direct.write.bytes, 64 KiB by default) under
// the default flush.policy=never and acks=1: a broker killed with SIGKILL in
// the middle of them keeps every acknowledged record, and restarts with no
// gap, duplicate or zero padding served.
func TestKillDuringDirectWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test")
	}
	const perBatch = 12_000 // records of ~10 bytes: batches of ~230 KB
	dir, addr := t.TempDir(), freeAddr(t)
	b := startBroker(t, dir, addr)
	w := dialWire(t, b.Addr)
	if code := w.createTopic("direct", 1); code != wire.None {
		t.Fatalf("create topic: %s", code)
	}
	acked := make(chan int, 1)
	var progress atomic.Int64 // records acknowledged so far
	go func() {
		next := 0
		for {
			req := &wire.ProduceRequest{Acks: wire.AcksLeader, TimeoutMs: 30000, Topics: []wire.ProduceTopic{{Name: "direct",
				Partitions: []wire.ProducePartition{{Partition: 0, Records: seqBatch(0, next, perBatch)}}}}}
			var resp wire.ProduceResponse
			if err := w.tryRoundTrip(req, &resp); err != nil || resp.Topics[0].Partitions[0].ErrorCode != wire.None {
				acked <- next // the failed request was not acknowledged
				return
			}
			next += perBatch
			progress.Store(int64(next))
		}
	}()
	// Killed once ten batches are in, mid-stream: waiting for a count, not
	// a time (1.5 s gave eight batches on a loaded CI machine once).
	deadline := time.Now().Add(60 * time.Second)
	for progress.Load() < 10*perBatch && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b.kill()
	ackedNext := <-acked
	if ackedNext < 10*perBatch {
		t.Fatalf("only %d records acknowledged before the kill (60 s)", ackedNext)
	}
	b2 := startBroker(t, dir, addr)
	values := dialWire(t, b2.Addr).readAll("direct", 0)
	if len(values) < ackedNext || len(values) > ackedNext+perBatch {
		t.Fatalf("%d records after restart, %d acknowledged (at most one in-flight batch more allowed)", len(values), ackedNext)
	}
	for i, v := range values {
		if want := "p0-" + strconv.Itoa(i); v != want {
			t.Fatalf("offset %d: %q, want %q (gap, duplicate or reorder)", i, v, want)
		}
	}
	t.Logf("%d records read back, %d acknowledged", len(values), ackedNext)
	b2.stop()
}
