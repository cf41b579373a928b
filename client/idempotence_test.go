package client

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// rawBatches returns a copy of the batches stored in a partition.
func (fb *fakeBroker) rawBatches(topic string, partition int32) []record.Batch {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	var out []record.Batch
	for _, b := range fb.logs[topic][partition].batches {
		out = append(out, record.Batch(append([]byte(nil), b...)))
	}
	return out
}

// TestIdempotentRetryAfterLostAck: a produce the broker applied but whose
// answer was lost with the connection is retried with the same sequence;
// the broker recognizes it, nothing is written twice, and the records get
// their original offsets.
func TestIdempotentRetryAfterLostAck(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	fb.mu.Lock()
	fb.lostAcks = 3
	fb.mu.Unlock()
	p := newTestProducer(t, fb, Linger(time.Millisecond))
	var recs []*Record
	for round := range 4 {
		batch := make([]*Record, 5)
		for i := range batch {
			batch[i] = &Record{Topic: "t", Value: fmt.Appendf(nil, "%d", round*5+i)}
		}
		if err := p.ProduceSync(testCtx(t), batch...); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, batch...)
	}
	got := fb.records("t", 0)
	if len(got) != len(recs) {
		t.Fatalf("broker has %d records, want %d", len(got), len(recs))
	}
	for i, r := range got {
		if string(r.Value) != fmt.Sprint(i) || recs[i].Offset != int64(i) {
			t.Fatalf("offset %d holds %q; record %q reported offset %d", i, r.Value, recs[i].Value, recs[i].Offset)
		}
	}
	fb.mu.Lock()
	dups, lost := fb.duplicates, fb.lostAcks
	fb.mu.Unlock()
	if lost != 0 || dups != 3 {
		t.Fatalf("%d lost acks left, %d duplicates recognized; want 0 and 3", lost, dups)
	}
	if n := fb.count(wire.InitProducerIDKey); n != 1 {
		t.Fatalf("%d InitProducerId requests, want 1", n)
	}
}

// TestIdempotentBatchHeaders: batches carry the producer id, epoch 0 and
// per-partition sequences counting records from 0; InitProducerId is
// retried on a retriable error.
func TestIdempotentBatchHeaders(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 2)
	fb.mu.Lock()
	fb.nextProducerID, fb.initIDErrs = 42, 2
	fb.mu.Unlock()
	// A linger long enough that a loaded machine cannot split one round's
	// records over two batches (1 ms did, under a parallel go test).
	p := newTestProducer(t, fb, Partitioner(PartitionManual), Linger(100*time.Millisecond))
	for round := range 3 {
		var batch []*Record
		for part := range int32(2) {
			for range 3 + int(part) {
				batch = append(batch, &Record{Topic: "t", Partition: part, Value: []byte("v")})
			}
		}
		if err := p.ProduceSync(testCtx(t), batch...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	for part := range int32(2) {
		per := int32(3 + part)
		bs := fb.rawBatches("t", part)
		if len(bs) != 3 {
			t.Fatalf("partition %d has %d batches, want 3", part, len(bs))
		}
		for i, b := range bs {
			if b.ProducerID() != 42 || b.ProducerEpoch() != 0 || b.BaseSequence() != int32(i)*per {
				t.Fatalf("partition %d batch %d: producer %d epoch %d sequence %d", part, i, b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
			}
		}
	}
	if n := fb.count(wire.InitProducerIDKey); n != 3 {
		t.Fatalf("%d InitProducerId requests, want 3 (two refused, one answered)", n)
	}
}

// TestIdempotentEpochBumpAfterFailure: a sent batch that fails for good
// (here OUT_OF_ORDER_SEQUENCE_NUMBER) fails its records only; the partition
// bumps its epoch, and a batch created before the failure is re-stamped
// with the new epoch and sequence 0 and a valid CRC.
func TestIdempotentEpochBumpAfterFailure(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	release := fb.stallProduce()
	var failed atomic.Bool
	fb.mu.Lock()
	fb.produceErr = func(string, int32) wire.ErrorCode {
		if failed.CompareAndSwap(false, true) {
			return wire.OutOfOrderSequenceNumber
		}
		return wire.None
	}
	fb.mu.Unlock()
	p := newTestProducer(t, fb, Linger(0))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		p.Produce(testCtx(t), &Record{Topic: "t", Value: fmt.Appendf(nil, "%d", i)}, func(_ *Record, err error) {
			errs[i] = err
			wg.Done()
		})
		if i == 0 {
			waitFor(t, func() bool { return fb.count(wire.ProduceKey) == 1 }) // "0" is in flight
		}
	}
	release()
	wg.Wait()
	if !errors.Is(errs[0], wire.ErrOutOfOrderSequenceNumber) || errs[1] != nil || errs[2] != nil {
		t.Fatalf("callbacks got %v", errs)
	}
	bs := fb.rawBatches("t", 0)
	if len(bs) == 0 || bs[0].ProducerEpoch() != 1 || bs[0].BaseSequence() != 0 || bs[0].Validate() != nil {
		t.Fatalf("first stored batch after the failure: %d batches, epoch %d sequence %d", len(bs), bs[0].ProducerEpoch(), bs[0].BaseSequence())
	}
	if got := fb.records("t", 0); len(got) != 2 || string(got[0].Value) != "1" || string(got[1].Value) != "2" {
		t.Fatalf("stored %d records", len(got))
	}
}

// TestDuplicateSequenceIsSuccess: DUPLICATE_SEQUENCE_NUMBER means the batch
// is already written; its records succeed without an offset.
func TestDuplicateSequenceIsSuccess(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	fb.produceErr = func(string, int32) wire.ErrorCode { return wire.DuplicateSequenceNumber }
	p := newTestProducer(t, fb)
	r := &Record{Topic: "t", Value: []byte("x")}
	if err := p.ProduceSync(testCtx(t), r); err != nil || r.Offset != -1 {
		t.Fatalf("err %v offset %d, want nil and -1", err, r.Offset)
	}
}

// TestIdempotentOptions: Kafka 3.x's rules for idempotence and acks.
func TestIdempotentOptions(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	if _, err := NewProducer(SeedBrokers(fb.addr()), RequiredAcks(AcksLeader), Idempotent(true)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Idempotent(true) with acks=1: %v, want ErrInvalidOption", err)
	}
	for _, opts := range [][]Opt{{RequiredAcks(AcksLeader)}, {Idempotent(false)}} {
		p := newTestProducer(t, fb, opts...)
		if p.cfg.idempotent {
			t.Fatalf("%d options: still idempotent", len(opts))
		}
		if err := p.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range fb.rawBatches("t", 0) {
		if b.ProducerID() != -1 || b.BaseSequence() != -1 {
			t.Fatalf("non-idempotent batch has producer %d sequence %d", b.ProducerID(), b.BaseSequence())
		}
	}
	if n := fb.count(wire.InitProducerIDKey); n != 0 {
		t.Fatalf("%d InitProducerId requests from non-idempotent producers", n)
	}
}

func TestAddSeqWraps(t *testing.T) {
	for _, c := range []struct {
		seq  int32
		n    int
		want int32
	}{{0, 1, 1}, {2147483646, 1, 2147483647}, {2147483647, 1, 0}, {2147483640, 10, 2}} {
		if got := addSeq(c.seq, c.n); got != c.want {
			t.Errorf("addSeq(%d, %d) = %d, want %d", c.seq, c.n, got, c.want)
		}
	}
}

// TestSequencePredictionAfterFailures: the sequence predicted for new
// records is the next one to send plus the records still buffered, after a
// batch that never left failed and after a sent one failed for good
// (settle); a batch sent before that epoch bump then fails with
// ErrSequenceRestarted and leaves the epoch alone.
func TestSequencePredictionAfterFailures(t *testing.T) {
	queued := &batch{recs: make([]*Record, 4), n: 4}
	open := &batch{recs: make([]*Record, 2), n: 2}
	sent := &batch{n: 3, encoded: true, epoch: 3}
	alsoSent := &batch{n: 1, encoded: true, epoch: 3}
	pp := &partitionProducer{queue: []*batch{queued}, open: open, epoch: 3, sendSeq: 10, createSeq: 25,
		unacked: []*batch{sent, alsoSent}}
	if err := pp.settle(&batch{n: 9}, wire.ErrRequestTimedOut); err != wire.ErrRequestTimedOut {
		t.Fatalf("unsent batch's error became %v", err)
	}
	if pp.createSeq != 16 || pp.sendSeq != 10 || pp.epoch != 3 {
		t.Fatalf("after an unsent batch failed: create %d send %d epoch %d, want 16 10 3", pp.createSeq, pp.sendSeq, pp.epoch)
	}
	pp.settle(sent, wire.ErrCorruptMessage)
	if pp.createSeq != 6 || pp.sendSeq != 0 || pp.epoch != 4 {
		t.Fatalf("after a sent batch failed: create %d send %d epoch %d; want 6 0 4",
			pp.createSeq, pp.sendSeq, pp.epoch)
	}
	if err := pp.settle(alsoSent, wire.ErrNotLeader); !errors.Is(err, ErrSequenceRestarted) || !errors.Is(err, wire.ErrNotLeader) {
		t.Fatalf("batch sent before the bump: %v", err)
	}
	if pp.epoch != 4 {
		t.Fatalf("epoch %d after the second failure; want 4", pp.epoch)
	}
}

// TestCompleteInOrder: batches completed out of order get their callbacks
// in the order they were taken, each once, and a caller that is handed
// none leaves them to the one that runs callbacks.
func TestCompleteInOrder(t *testing.T) {
	a, b, c := &batch{}, &batch{}, &batch{}
	pp := &partitionProducer{unacked: []*batch{a, b, c}}
	if got := pp.completeInOrder(b, 7, nil); got != nil {
		t.Fatal("b handed out before a completed")
	}
	if got := pp.completeInOrder(a, 3, nil); got != a || !pp.delivering {
		t.Fatalf("completing a handed out %p, want a (%p)", got, a)
	}
	// c completes while a's callbacks run: its caller gets nothing.
	if got := pp.completeInOrder(c, -1, wire.ErrNotLeader); got != nil {
		t.Fatal("c handed to a second goroutine while a's callbacks run")
	}
	if got := pp.nextInOrder(); got != b || got.doneBase != 7 {
		t.Fatalf("after a: %p, want b", got)
	}
	if got := pp.nextInOrder(); got != c || !errors.Is(got.doneErr, wire.ErrNotLeader) {
		t.Fatalf("after b: %p, want c with its error", got)
	}
	if got := pp.nextInOrder(); got != nil || pp.delivering || len(pp.unacked) != 0 {
		t.Fatalf("after c: %p, delivering %v, %d unacked", got, pp.delivering, len(pp.unacked))
	}
}
