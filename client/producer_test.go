package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestProducer(t testing.TB, fb *fakeBroker, opts ...Opt) *Producer {
	opts = append([]Opt{SeedBrokers(fb.addr()), RetryBackoff(5*time.Millisecond, 50*time.Millisecond)}, opts...)
	p, err := NewProducer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProduceSyncOffsetsAndContent(t *testing.T) {
	for _, codec := range []record.Compression{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd} {
		t.Run("compression="+codec.String(), func(t *testing.T) {
			fb := newFakeBroker(t)
			fb.createTopic("t", 1)
			p := newTestProducer(t, fb, Compression(codec), Linger(time.Millisecond))
			var recs []*Record
			for i := range 50 {
				recs = append(recs, &Record{Topic: "t", Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i),
					Headers: []Header{{Key: []byte("h"), Value: []byte("x")}}})
			}
			if err := p.ProduceSync(testCtx(t), recs...); err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if r.Offset != int64(i) || r.Partition != 0 {
					t.Fatalf("record %d: offset %d partition %d", i, r.Offset, r.Partition)
				}
			}
			got := fb.records("t", 0)
			if len(got) != 50 {
				t.Fatalf("broker has %d records, want 50", len(got))
			}
			for i, r := range got {
				if string(r.Value) != fmt.Sprintf("v%d", i) || string(r.Headers[0].Value) != "x" {
					t.Fatalf("record %d: %q %v", i, r.Value, r.Headers)
				}
			}
		})
	}
}

// TestBatchClosesOnSize: with a long linger, records go out only when a
// batch reaches BatchSize; each request then carries whole batches.
func TestBatchClosesOnSize(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, BatchSize(1000), Linger(time.Hour))
	var acked atomic.Int32
	value := make([]byte, 90) // about 100 bytes encoded: 9 per batch
	for range 40 {
		p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) {
			if err != nil {
				t.Error(err)
			}
			acked.Add(1)
		})
	}
	waitFor(t, func() bool { return acked.Load() >= 36 })
	time.Sleep(50 * time.Millisecond)
	if n := acked.Load(); n != 36 {
		t.Fatalf("acked %d records without a flush, want 36 (4 full batches)", n)
	}
	fb.mu.Lock()
	nb := len(fb.logs["t"][0].batches)
	fb.mu.Unlock()
	if nb != 4 {
		t.Fatalf("broker has %d batches, want 4", nb)
	}
	if err := p.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != 40 {
		t.Fatalf("acked %d after Flush, want 40", acked.Load())
	}
}

// TestBatchClosesOnLinger: a batch far below BatchSize goes out after Linger.
func TestBatchClosesOnLinger(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, Linger(100*time.Millisecond))
	done := make(chan time.Time, 1)
	start := time.Now()
	p.Produce(testCtx(t), &Record{Topic: "t", Value: []byte("x")}, func(_ *Record, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- time.Now()
	})
	select {
	case at := <-done:
		if d := at.Sub(start); d < 100*time.Millisecond {
			t.Fatalf("acknowledged after %v, before the 100ms linger", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never acknowledged")
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestStickyPartitioner: keyless records fill one partition's batch before
// moving to another, and over many batches use more than one partition.
func TestStickyPartitioner(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 4)
	p := newTestProducer(t, fb, BatchSize(1000), Linger(time.Hour))
	value := make([]byte, 90)
	recs := make([]*Record, 90)
	for i := range recs {
		recs[i] = &Record{Topic: "t", Value: value}
		p.Produce(testCtx(t), recs[i], func(_ *Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := p.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	parts := make([]int32, len(recs)) // in Produce order
	for i, r := range recs {
		parts[i] = r.Partition
	}
	runs, used := 1, map[int32]bool{parts[0]: true}
	for i := 1; i < len(parts); i++ {
		used[parts[i]] = true
		if parts[i] != parts[i-1] {
			runs++
		}
	}
	// 90 records of ~100 bytes in 1000-byte batches: 10 batches; a
	// per-record partitioner would switch ~67 times.
	if runs > 12 || len(used) < 2 {
		t.Fatalf("partitions %v: %d runs over %d partitions", parts, runs, len(used))
	}
}

func TestKeyedAndManualPartitioning(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 7)
	p := newTestProducer(t, fb)
	for i := range 30 {
		key := fmt.Appendf(nil, "key-%d", i)
		r := &Record{Topic: "t", Key: key}
		if err := p.ProduceSync(testCtx(t), r); err != nil {
			t.Fatal(err)
		}
		if want := KeyPartition(key, 7); r.Partition != want {
			t.Fatalf("key %q went to %d, want %d", key, r.Partition, want)
		}
	}
	m := newTestProducer(t, fb, Partitioner(PartitionManual))
	r := &Record{Topic: "t", Partition: 5, Value: []byte("v")}
	if err := m.ProduceSync(testCtx(t), r); err != nil || r.Partition != 5 {
		t.Fatalf("manual: partition %d err %v", r.Partition, err)
	}
	err := m.ProduceSync(testCtx(t), &Record{Topic: "t", Partition: 7})
	if !errors.Is(err, ErrNoPartitions) {
		t.Fatalf("partition 7 of 7: %v, want ErrNoPartitions", err)
	}
}

// TestBufferFull: with FailWhenBufferFull a full buffer fails at once;
// without it Produce blocks until an acknowledgement frees room.
func TestBufferFull(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	value := make([]byte, 400)
	t.Run("fail", func(t *testing.T) {
		p := newTestProducer(t, fb, BatchSize(512), MaxBufferedBytes(1024), Linger(time.Hour), FailWhenBufferFull())
		// The first batch's ack is held back (NotEnoughReplicas, retriable)
		// so it cannot free room before the third record: otherwise a
		// fast answer from the fake broker makes the test pass or fail by
		// scheduling. Registered after the producer, the release runs
		// before the producer's close, which then gets its ack.
		fb.mu.Lock()
		fb.produceErr = func(string, int32) wire.ErrorCode { return wire.NotEnoughReplicas }
		fb.mu.Unlock()
		t.Cleanup(func() { fb.mu.Lock(); fb.produceErr = nil; fb.mu.Unlock() })
		var errs []error
		for range 3 {
			p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) {
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		if len(errs) != 1 || !errors.Is(errs[0], ErrBufferFull) {
			t.Fatalf("errors %v, want one ErrBufferFull", errs)
		}
	})
	t.Run("block", func(t *testing.T) {
		// acks are held back by the broker answering NotEnoughReplicas
		// (retriable) until release is closed.
		var hold atomic.Bool
		hold.Store(true)
		fb.mu.Lock()
		fb.produceErr = func(string, int32) wire.ErrorCode {
			if hold.Load() {
				return wire.NotEnoughReplicas
			}
			return wire.None
		}
		fb.mu.Unlock()
		p := newTestProducer(t, fb, BatchSize(512), MaxBufferedBytes(1024), Linger(0))
		p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, nil)
		p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, nil)
		ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
		defer cancel()
		var blockedErr error
		p.Produce(ctx, &Record{Topic: "t", Value: value}, func(_ *Record, err error) { blockedErr = err })
		if !errors.Is(blockedErr, context.DeadlineExceeded) {
			t.Fatalf("third record with a full buffer: %v, want deadline exceeded", blockedErr)
		}
		unblocked := make(chan error, 1)
		go p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) { unblocked <- err })
		time.Sleep(50 * time.Millisecond)
		select {
		case err := <-unblocked:
			t.Fatalf("produced while the buffer was full: %v", err)
		default:
		}
		hold.Store(false)
		select {
		case err := <-unblocked:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Produce still blocked after acknowledgements freed the buffer")
		}
	})
}

// TestNonRetriableErrorFailsBatch: a non-retriable broker error reaches
// every record of the batch, testable with errors.Is and naming the
// partition; a retriable one is retried until the delivery timeout.
func TestNonRetriableErrorFailsBatch(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	fb.produceErr = func(string, int32) wire.ErrorCode { return wire.MessageTooLarge }
	p := newTestProducer(t, fb)
	err := p.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("a")}, &Record{Topic: "t", Value: []byte("b")})
	if !errors.Is(err, wire.ErrMessageTooLarge) {
		t.Fatalf("err %v, want MESSAGE_TOO_LARGE", err)
	}
	if want := `topic "t" partition 0`; !contains(err.Error(), want) {
		t.Fatalf("err %q does not name %s", err, want)
	}

	fb.mu.Lock()
	fb.produceErr = func(string, int32) wire.ErrorCode { return wire.NotLeader }
	fb.mu.Unlock()
	q := newTestProducer(t, fb, DeliveryTimeout(200*time.Millisecond))
	err = q.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("c")})
	if !errors.Is(err, ErrDeliveryTimeout) || !errors.Is(err, wire.ErrNotLeader) {
		t.Fatalf("err %v, want delivery timeout wrapping NOT_LEADER", err)
	}
	if fb.count(wire.ProduceKey) < 3 {
		t.Fatalf("%d produce requests: the retriable error was not retried", fb.count(wire.ProduceKey))
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestRetriableErrorsKeepOrder: random retriable failures on some produce
// attempts; every record is acknowledged exactly once and the log holds them
// in produce order per partition (a failed attempt appends nothing here).
func TestRetriableErrorsKeepOrder(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 3)
	var n atomic.Int64
	fb.produceErr = func(string, int32) wire.ErrorCode {
		if n.Add(1)%3 == 0 {
			return wire.NotEnoughReplicas
		}
		return wire.None
	}
	p := newTestProducer(t, fb, BatchSize(300), Linger(time.Millisecond), Partitioner(PartitionManual))
	const perPartition = 300
	var wg sync.WaitGroup
	wg.Add(3 * perPartition)
	for i := range perPartition {
		for part := range int32(3) {
			p.Produce(testCtx(t), &Record{Topic: "t", Partition: part, Value: fmt.Appendf(nil, "%d", i)},
				func(_ *Record, err error) {
					if err != nil {
						t.Error(err)
					}
					wg.Done()
				})
		}
	}
	wg.Wait()
	for part := range int32(3) {
		got := fb.records("t", part)
		if len(got) != perPartition {
			t.Fatalf("partition %d has %d records, want %d", part, len(got), perPartition)
		}
		for i, r := range got {
			if string(r.Value) != fmt.Sprint(i) {
				t.Fatalf("partition %d offset %d holds %q, want %d", part, i, r.Value, i)
			}
		}
	}
}

func TestAcksNone(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, RequiredAcks(AcksNone))
	r := &Record{Topic: "t", Value: []byte("x")}
	if err := p.ProduceSync(testCtx(t), r); err != nil {
		t.Fatal(err)
	}
	if r.Offset != -1 {
		t.Fatalf("offset %d under acks=0, want -1", r.Offset)
	}
	waitFor(t, func() bool { return len(fb.records("t", 0)) == 1 })
}

// TestAcksNoneCloseWritesEverything: an acks=0 record completes once its
// request is written to the socket, not when it is queued, so the buffer
// limit paces the producer and Close writes everything out. Here the broker
// stops reading (a stalled produce) while 50 MB is produced: records
// behind the socket buffers must not complete, and Close must deliver them
// all. Before, they completed when queued and Close dropped the queue
// (spate bench --acks 0 reported 28.9 M records sent against a broker whose
// log then held 24.2 M).
func TestAcksNoneCloseWritesEverything(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, RequiredAcks(AcksNone), BatchSize(256<<10), Linger(time.Millisecond),
		MaxBufferedBytes(64<<20)) // all of it fits: Produce never waits
	unstall := fb.stallProduce()
	t.Cleanup(unstall) // a failed check must not leave the fake broker stuck
	// 50 MB: more than loopback can buffer (tcp_wmem 4 MiB + tcp_rmem up
	// to 32 MiB here), so some must wait for the broker to read.
	const n = 50_000
	value := make([]byte, 1000)
	var done atomic.Int64
	for range n {
		p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) {
			if err != nil {
				t.Error(err)
			}
			done.Add(1)
		})
	}
	time.Sleep(300 * time.Millisecond)
	if got := done.Load(); got >= n {
		t.Fatalf("all %d records completed while the broker read nothing: acks=0 must complete on write", got)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	time.Sleep(200 * time.Millisecond)
	unstall()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(fb.records("t", 0)) == n })
}

func TestProduceAfterClose(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(testCtx(t), &Record{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// TestRequestTimeout: a broker that never answers makes the connection
// fail with REQUEST_TIMED_OUT after RequestTimeout; the records are
// retried and finally fail with ErrDeliveryTimeout wrapping it.
func TestRequestTimeout(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	defer fb.stallProduce()()
	p := newTestProducer(t, fb, RequestTimeout(100*time.Millisecond), DeliveryTimeout(400*time.Millisecond))
	start := time.Now()
	err := p.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("x")})
	if !errors.Is(err, ErrDeliveryTimeout) || !errors.Is(err, wire.ErrRequestTimedOut) {
		t.Fatalf("err %v, want delivery timeout wrapping REQUEST_TIMED_OUT", err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("failed after %v, want just after the 400ms delivery timeout", d)
	}
}

type countingHooks struct {
	connects, writes, reads, batchesWritten, batchesRead, records atomic.Int64
}

func (h *countingHooks) OnBrokerConnect(_ int32, _ string, _ time.Duration, err error) {
	if err == nil {
		h.connects.Add(1)
	}
}
func (h *countingHooks) OnBrokerWrite(_ int32, n int, _ time.Duration, _ error) {
	h.writes.Add(int64(n))
}
func (h *countingHooks) OnBrokerRead(_ int32, n int, _ time.Duration, _ error) { h.reads.Add(int64(n)) }
func (h *countingHooks) OnProduceBatchWritten(_ string, _ int32, records, _ int) {
	h.batchesWritten.Add(1)
	h.records.Add(int64(records))
}
func (h *countingHooks) OnFetchBatchRead(_ string, _ int32, _, _ int) { h.batchesRead.Add(1) }

func TestHooks(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	var h countingHooks
	p := newTestProducer(t, fb, WithHooks(&h))
	recs := []*Record{{Topic: "t", Value: []byte("a")}, {Topic: "t", Value: []byte("b")}}
	if err := p.ProduceSync(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(SeedBrokers(fb.addr()), WithHooks(&h), Assign("t", []int32{0}, Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Poll(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if h.connects.Load() < 2 || h.writes.Load() == 0 || h.reads.Load() == 0 ||
		h.batchesWritten.Load() != 1 || h.records.Load() != 2 || h.batchesRead.Load() != 1 {
		t.Fatalf("hooks saw connects=%d writes=%dB reads=%dB batches written=%d records=%d batches read=%d",
			h.connects.Load(), h.writes.Load(), h.reads.Load(), h.batchesWritten.Load(), h.records.Load(), h.batchesRead.Load())
	}
}

// TestInFlightCapAndMultiPartitionRequests: with MaxInFlightPerBroker(1)
// partitions that become ready while a request is in flight wait, then go
// out together in one request.
func TestInFlightCapAndMultiPartitionRequests(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 3)
	release := fb.stallProduce()
	p := newTestProducer(t, fb, MaxInFlightPerBroker(1), Linger(0), Partitioner(PartitionManual))
	var wg sync.WaitGroup
	wg.Add(3)
	cb := func(_ *Record, err error) {
		if err != nil {
			t.Error(err)
		}
		wg.Done()
	}
	p.Produce(testCtx(t), &Record{Topic: "t", Partition: 0, Value: []byte("a")}, cb)
	waitFor(t, func() bool { return fb.count(wire.ProduceKey) == 1 }) // first request parked in the broker
	p.Produce(testCtx(t), &Record{Topic: "t", Partition: 1, Value: []byte("b")}, cb)
	p.Produce(testCtx(t), &Record{Topic: "t", Partition: 2, Value: []byte("c")}, cb)
	time.Sleep(50 * time.Millisecond)
	if n := fb.count(wire.ProduceKey); n != 1 {
		t.Fatalf("%d produce requests with a cap of 1 in flight", n)
	}
	release()
	wg.Wait()
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.produceParts) != 2 || fb.produceParts[1] != 2 {
		t.Fatalf("partitions per request %v, want [1 2]", fb.produceParts)
	}
}

// TestCloseWakesBlockedProduce: Close fails a Produce waiting for buffer
// room with ErrClosed at once, still delivers what was buffered, and every
// callback runs exactly once.
func TestCloseWakesBlockedProduce(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	release := fb.stallProduce()
	p := newTestProducer(t, fb, BatchSize(512), MaxBufferedBytes(1024), Linger(0))
	value := make([]byte, 400)
	var calls [3]atomic.Int32
	var errs [3]error
	for i := range 3 {
		go p.Produce(testCtx(t), &Record{Topic: "t", Value: value}, func(_ *Record, err error) {
			errs[i] = err
			calls[i].Add(1)
		})
		if i < 2 {
			waitFor(t, func() bool { return p.buffered.Load() >= int64(i+1)*400 })
		}
	}
	waitFor(t, func() bool { return p.memWaiters.Load() == 1 }) // the third waits for room
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	waitFor(t, func() bool { return calls[2].Load() == 1 })
	if !errors.Is(errs[2], ErrClosed) {
		t.Fatalf("blocked Produce got %v, want ErrClosed", errs[2])
	}
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if calls[i].Load() != 1 || errs[i] != nil {
			t.Fatalf("record %d: %d callbacks, err %v", i, calls[i].Load(), errs[i])
		}
	}
}

// TestProduceCopiesKeyAndValue: the caller may overwrite key, value and
// header bytes as soon as Produce returns.
func TestProduceCopiesKeyAndValue(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, Linger(time.Hour))
	key, value, hv := []byte("key"), []byte("value"), []byte("hv")
	p.Produce(testCtx(t), &Record{Topic: "t", Key: key, Value: value, Headers: []Header{{Key: []byte("h"), Value: hv}}}, nil)
	copy(key, "XXX")
	copy(value, "XXXXX")
	copy(hv, "XX")
	if err := p.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r := fb.records("t", 0)[0]
	if string(r.Key) != "key" || string(r.Value) != "value" || string(r.Headers[0].Value) != "hv" {
		t.Fatalf("broker stored %q %q %q: Produce did not copy", r.Key, r.Value, r.Headers[0].Value)
	}
}
