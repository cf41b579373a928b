package client

import (
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

	perPartition, cuts := produceThroughCuts(t, p, proxy.CutEvery(7, time.Millisecond, 15*time.Millisecond), 3)
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
}

// produceThroughCuts produces the values 0, 1, ... in order to each of
// partitions partitions of topic "t" while cutter cuts p's connections: at
// least 2,000 per partition, and on until 20 cuts happened. Every record
// must be acknowledged. It returns how many records each partition got and
// the number of cuts.
func produceThroughCuts(t *testing.T, p *Producer, cutter *cutproxy.Cutter, partitions int32) (perPartition, cuts int) {
	t.Helper()
	var acked atomic.Int32
	var wg sync.WaitGroup
	for ; perPartition < 2000 || (cutter.Cuts() < 20 && perPartition < 1_000_000); perPartition++ {
		wg.Add(int(partitions))
		for part := range partitions {
			p.Produce(testCtx(t), &Record{Topic: "t", Partition: part, Value: strconv.AppendInt(nil, int64(perPartition), 10)},
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
	cuts = int(cutter.Stop())
	if int(acked.Load()) != int(partitions)*perPartition {
		t.Fatalf("%d of %d acknowledged", acked.Load(), int(partitions)*perPartition)
	}
	if cuts < 20 {
		t.Fatalf("only %d cuts happened: the test did not exercise reconnects", cuts)
	}
	return perPartition, cuts
}
