package client

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/client/internal/cutproxy"
)

// checkOrdered verifies a partition log against values 0..n-1 produced in
// order: exactly those values, each once, in order. The producer is
// idempotent, so a batch whose acknowledgement was lost with its connection
// is recognized by the broker when it is retried and not written again.
func checkOrdered(t *testing.T, partition int32, values []string, n int) {
	t.Helper()
	for i, v := range values {
		if v != strconv.Itoa(i) {
			t.Fatalf("partition %d offset %d holds %q, expected %d: repeated, reordered or lost", partition, i, v, i)
		}
	}
	if len(values) != n {
		t.Fatalf("partition %d: %d records written, want %d", partition, len(values), n)
	}
}

// TestProduceThroughConnectionCuts cuts the producer's connections at random
// points while it sends to three partitions. Every record must be
// acknowledged, and each partition's log must hold each record exactly
// once, in produce order.
func TestProduceThroughConnectionCuts(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 3)
	proxy, err := cutproxy.New(fb.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p := newTestProducer(t, fb, Dialer(proxy.Dial), Partitioner(PartitionManual), BatchSize(400),
		Linger(time.Millisecond), RequestTimeout(2*time.Second))

	cutter := proxy.CutEvery(7, time.Millisecond, 15*time.Millisecond)
	// Produce until enough cuts happened (at least 2,000 records per partition).
	var acked atomic.Int32
	var wg sync.WaitGroup
	perPartition := 0
	for ; perPartition < 2000 || (cutter.Cuts() < 20 && perPartition < 1_000_000); perPartition++ {
		i := perPartition
		wg.Add(3)
		for part := range int32(3) {
			p.Produce(testCtx(t), &Record{Topic: "t", Partition: part, Value: fmt.Appendf(nil, "%d", i)},
				func(_ *Record, err error) {
					if err != nil {
						t.Error(err)
					} else {
						acked.Add(1)
					}
					wg.Done()
				})
		}
	}
	wg.Wait()
	cuts := cutter.Stop()
	if int(acked.Load()) != 3*perPartition {
		t.Fatalf("%d of %d acknowledged", acked.Load(), 3*perPartition)
	}
	for part := range int32(3) {
		var values []string
		for _, r := range fb.records("t", part) {
			values = append(values, string(r.Value))
		}
		checkOrdered(t, part, values, perPartition)
	}
	fb.mu.Lock()
	dups := fb.duplicates
	fb.mu.Unlock()
	t.Logf("%d connection cuts, %d retried batches recognized as already written", cuts, dups)
	if cuts < 20 {
		t.Fatalf("only %d cuts happened: the test did not exercise reconnects", cuts)
	}
}
