package client

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/client/internal/cutproxy"
)

// checkOrdered verifies a partition log against values 0..n-1 produced in
// order: the first occurrences are exactly 0..n-1 in order (no gap, no
// reordering); repeats of records already written are counted. Without an
// idempotent producer a batch whose acknowledgement was lost with its
// connection is written again on retry, right after itself, so repeats are
// expected; reordering never is.
func checkOrdered(t *testing.T, partition int32, values []string, n int) (dups int) {
	t.Helper()
	next := 0
	for i, v := range values {
		x, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("partition %d offset %d: value %q", partition, i, v)
		}
		switch {
		case x == next:
			next++
		case x < next:
			dups++
		default:
			t.Fatalf("partition %d offset %d holds %d, expected %d next: reordered or lost", partition, i, x, next)
		}
	}
	if next != n {
		t.Fatalf("partition %d: %d of %d records written", partition, next, n)
	}
	return dups
}

// TestProduceThroughConnectionCuts cuts the producer's connections at random
// points while it sends to three partitions. Every record must be
// acknowledged, and each partition's log must hold the records in produce
// order.
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

	stop := make(chan struct{})
	var cuts atomic.Int32
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1+rng.IntN(15)) * time.Millisecond):
				proxy.CutAll()
				cuts.Add(1)
			}
		}
	}()
	// Produce until enough cuts happened (at least 2,000 records per partition).
	var acked atomic.Int32
	var wg sync.WaitGroup
	perPartition := 0
	for ; perPartition < 2000 || (cuts.Load() < 20 && perPartition < 1_000_000); perPartition++ {
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
	close(stop)
	if int(acked.Load()) != 3*perPartition {
		t.Fatalf("%d of %d acknowledged", acked.Load(), 3*perPartition)
	}
	dups := 0
	for part := range int32(3) {
		var values []string
		for _, r := range fb.records("t", part) {
			values = append(values, string(r.Value))
		}
		dups += checkOrdered(t, part, values, perPartition)
	}
	t.Logf("%d connection cuts, %d records written twice after a lost acknowledgement", cuts.Load(), dups)
	if cuts.Load() < 20 {
		t.Fatalf("only %d cuts happened: the test did not exercise reconnects", cuts.Load())
	}
}
