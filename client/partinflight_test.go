package client

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/client/internal/cutproxy"
	"github.com/spate-io/spate/wire"
)

func TestMaxInFlightPerPartitionOptions(t *testing.T) {
	fb := newFakeBroker(t)
	for _, opts := range [][]Opt{
		{MaxInFlightPerPartition(0)},
		{MaxInFlightPerPartition(6)},                   // idempotent by default: the broker remembers 5 batches
		{MaxInFlightPerPartition(6), Idempotent(true)}, // and explicitly
	} {
		if _, err := NewProducer(append(opts, SeedBrokers(fb.addr()))...); !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("%d options: %v, want ErrInvalidOption", len(opts), err)
		}
	}
	for _, opts := range [][]Opt{
		{MaxInFlightPerPartition(3), RequiredAcks(AcksLeader)},
		{MaxInFlightPerPartition(3), Idempotent(false)},
		{MaxInFlightPerPartition(5)},
		{MaxInFlightPerPartition(6), Idempotent(false)},
	} {
		p, err := NewProducer(append(opts, SeedBrokers(fb.addr()))...)
		if err != nil {
			t.Fatalf("%d options: %v", len(opts), err)
		}
		p.Close()
	}
}

// TestMaxInFlightPerPartitionPipelines: with a cap of 3, three batches of
// one partition are in flight while the broker holds them, never a
// fourth, and the log ends up in produce order.
func TestMaxInFlightPerPartitionPipelines(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	release := fb.stallProduce()
	p := newTestProducer(t, fb, Idempotent(false), MaxInFlightPerPartition(3), BatchSize(100), Linger(0))
	const n = 12
	var wg sync.WaitGroup
	wg.Add(n)
	value := make([]byte, 60) // one record per batch
	for i := range n {
		copy(value, strconv.Itoa(i)+" ")
		p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	pp := p.topics["t"].parts[0]
	inflight := func() int {
		pp.mu.Lock()
		defer pp.mu.Unlock()
		return pp.inflight
	}
	waitFor(t, func() bool { return inflight() == 3 })
	time.Sleep(50 * time.Millisecond)
	if got := inflight(); got != 3 {
		t.Fatalf("%d batches in flight with a cap of 3", got)
	}
	release()
	wg.Wait()
	for i, r := range fb.records("t", 0) {
		if want := strconv.Itoa(i) + " "; string(r.Value[:len(want)]) != want {
			t.Fatalf("offset %d holds %q, want the record produced %d-th", i, r.Value, i)
		}
	}
}

// TestMaxInFlightPerPartitionThroughCuts: batches in flight together fail
// together when the connection is cut and are resent in their order, so
// every record is stored and the first copy of each comes in produce
// order (a retried batch the broker had already written appears twice:
// the producer is not idempotent).
func TestMaxInFlightPerPartitionThroughCuts(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 2)
	proxy, err := cutproxy.New(fb.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p := newTestProducer(t, fb, Dialer(proxy.Dial), Partitioner(PartitionManual), BatchSize(400),
		Linger(time.Millisecond), RequestTimeout(2*time.Second), RequiredAcks(AcksLeader), MaxInFlightPerPartition(4))
	perPartition, cuts := produceThroughCuts(t, p, proxy.CutEvery(11, time.Millisecond, 15*time.Millisecond), 2)
	dups := 0
	for part := range int32(2) {
		next := 0
		for _, r := range fb.records("t", part) {
			v, _ := strconv.Atoi(string(r.Value))
			switch {
			case v == next:
				next++
			case v < next:
				dups++ // a resent copy
			default:
				t.Fatalf("partition %d: %d stored before %d: reordered or lost", part, v, next)
			}
		}
		if next != perPartition {
			t.Fatalf("partition %d: records up to %d stored in order, want %d", part, next, perPartition)
		}
	}
	t.Logf("%d cuts, %d records resent after being stored", cuts, dups)
}

// TestExpiredRetryFreesItsSlotOnce: a batch that failed retriably and
// passed its delivery timeout in the queue, waiting for its retry, is
// failed by the sender; its partition's count of batches in flight must
// come back to 0. It went to -1 (the retry and finish both counted the
// batch out of flight), which let two batches fly in a window of one.
func TestExpiredRetryFreesItsSlotOnce(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	fb.produceErr = func(string, int32) wire.ErrorCode { return wire.NotLeader }
	// The retry waits 1 s, past the 200 ms delivery timeout: the sender
	// finds the batch expired in its queue.
	p := newTestProducer(t, fb, RetryBackoff(time.Second, time.Second), DeliveryTimeout(200*time.Millisecond))
	err := p.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("x")})
	if !errors.Is(err, ErrDeliveryTimeout) || !errors.Is(err, wire.ErrNotLeader) {
		t.Fatalf("err %v, want delivery timeout wrapping NOT_LEADER", err)
	}
	if n := fb.count(wire.ProduceKey); n != 1 {
		t.Fatalf("%d produce requests, want 1: the batch was to expire waiting for its retry", n)
	}
	if err := p.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	pp := p.topics["t"].parts[0]
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.inflight != 0 {
		t.Fatalf("%d batches in flight after the expiry, want 0", pp.inflight)
	}
}
