package client

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// windowRun is an idempotent producer with five batches of one partition
// in flight, one record per batch, and what its callbacks saw.
type windowRun struct {
	fb *fakeBroker
	p  *Producer
	wg sync.WaitGroup

	mu    sync.Mutex
	order []int   // values in the order their callbacks ran
	errs  []error // per value
	calls []int   // callbacks per value
	recs  []*Record
}

const windowSize = 5

func newWindowRun(t *testing.T, fb *fakeBroker, n int, opts ...Opt) *windowRun {
	fb.createTopic("t", 1)
	opts = append([]Opt{MaxInFlightPerPartition(windowSize), BatchSize(100), Linger(0)}, opts...)
	w := &windowRun{fb: fb, errs: make([]error, n), calls: make([]int, n), recs: make([]*Record, n),
		p: newTestProducer(t, fb, opts...)}
	return w
}

// produce sends values from..to-1, one batch each (a 60-byte value fills
// a 100-byte batch).
func (w *windowRun) produce(t *testing.T, from, to int) {
	for i := from; i < to; i++ {
		w.wg.Add(1)
		w.recs[i] = &Record{Topic: "t", Value: fmt.Appendf(nil, "%-60d", i)}
		w.p.Produce(testCtx(t), w.recs[i], func(_ *Record, err error) {
			w.mu.Lock()
			w.order = append(w.order, i)
			w.errs[i] = err
			w.calls[i]++
			w.mu.Unlock()
			w.wg.Done()
		})
	}
}

func (w *windowRun) inflight() int {
	pp := w.p.topics["t"].parts[0]
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.inflight
}

// stored returns the values in the partition's log, in offset order.
func (w *windowRun) stored(t *testing.T) []int {
	var out []int
	for _, r := range w.fb.records("t", 0) {
		v, err := strconv.Atoi(strings.TrimSpace(string(r.Value)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// checkOnce verifies that every callback ran exactly once.
func (w *windowRun) checkOnce(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, c := range w.calls {
		if c != 1 {
			t.Fatalf("value %d: %d callbacks", i, c)
		}
	}
}

// checkExactlyOnce verifies that each of the n values was acknowledged
// once, at its own offset (or -1, a duplicate answered without one), and
// that the log holds each once, in produce order.
func (w *windowRun) checkExactlyOnce(t *testing.T, n int) {
	t.Helper()
	w.checkOnce(t)
	for i, err := range w.errs {
		if err != nil {
			t.Fatalf("value %d failed: %v", i, err)
		}
	}
	stored := w.stored(t)
	for i, v := range stored {
		if v != i {
			t.Fatalf("offset %d holds value %d: repeated, reordered or lost", i, v)
		}
		if off := w.recs[i].Offset; off != int64(i) && off != -1 {
			t.Fatalf("value %d reported offset %d", i, off)
		}
	}
	if len(stored) != n {
		t.Fatalf("%d records stored, want %d", len(stored), n)
	}
}

// checkCallbackOrder verifies that the callbacks ran in produce order.
func (w *windowRun) checkCallbackOrder(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, v := range w.order {
		if v != i {
			t.Fatalf("callback %d was value %d's: not in produce order", i, v)
		}
	}
}

// TestIdempotentWindowFaults: with five batches of a partition in flight,
// a retriable error on the third, NOT_LEADER on the third, or a connection
// dropped after the broker wrote the first but before it answered, makes
// the batches behind it fail (out of sequence, or with the connection);
// they are resent in their order with their sequences, so every record is
// acknowledged exactly once, the log holds each once in produce order,
// and the callbacks run in produce order.
func TestIdempotentWindowFaults(t *testing.T) {
	// injectOnce answers the k-th produce from now on with code. The first
	// batch of the held window read the (nil) injector before it was
	// stalled, so k=2 is the third batch of the window.
	injectOnce := func(k int, code wire.ErrorCode) func(*fakeBroker) {
		return func(fb *fakeBroker) {
			calls := 0
			fb.produceErr = func(string, int32) wire.ErrorCode {
				if calls++; calls == k {
					return code
				}
				return wire.None
			}
		}
	}
	for _, tc := range []struct {
		name string
		arm  func(*fakeBroker) // called with fb.mu held
		// refused: batches the broker must have refused as out of
		// sequence (the two held behind the third), or recognized as
		// duplicates (the first, whose answer was lost).
		outOfOrder, duplicates int
	}{
		{"retriable", injectOnce(2, wire.NotEnoughReplicas), 2, 0},
		{"not-leader", injectOnce(2, wire.NotLeader), 2, 0},
		{"dropped-connection", func(fb *fakeBroker) { fb.lostAcks = 1 }, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 40
			w := newWindowRun(t, newFakeBroker(t), n)
			w.produce(t, 0, 1) // producer id and metadata first
			w.wg.Wait()
			release := w.fb.stallProduce()
			w.produce(t, 1, n)
			waitFor(t, func() bool { return w.inflight() == windowSize })
			w.fb.mu.Lock()
			tc.arm(w.fb)
			w.fb.mu.Unlock()
			release()
			w.wg.Wait()
			w.checkExactlyOnce(t, n)
			w.checkCallbackOrder(t)
			w.fb.mu.Lock()
			ooo, dups := w.fb.outOfOrder, w.fb.duplicates
			w.fb.mu.Unlock()
			if ooo < tc.outOfOrder || dups < tc.duplicates {
				t.Fatalf("%d batches refused out of sequence, %d duplicates: want at least %d, %d (fault not exercised)",
					ooo, dups, tc.outOfOrder, tc.duplicates)
			}
			t.Logf("%d refused out of sequence and resent, %d duplicates recognized", ooo, dups)
		})
	}
}

// TestIdempotentWindowFailsForGood: the first of five batches in flight
// fails for good (MESSAGE_TOO_LARGE); the four sent behind it are refused
// out of sequence and cannot be renumbered, so they fail with
// ErrSequenceRestarted; the partition bumps its epoch and the batches sent
// after succeed from sequence 0. Each callback runs once and the log holds
// exactly the acknowledged values, in produce order.
func TestIdempotentWindowFailsForGood(t *testing.T) {
	const n = 30
	fb := newFakeBroker(t)
	var calls atomic.Int32
	fb.produceErr = func(string, int32) wire.ErrorCode {
		if calls.Add(1) == 2 { // value 0 is the first produce, value 1 the second
			return wire.MessageTooLarge
		}
		return wire.None
	}
	w := newWindowRun(t, fb, n)
	w.produce(t, 0, 1)
	w.wg.Wait()
	release := fb.stallProduce()
	w.produce(t, 1, n)
	waitFor(t, func() bool { return w.inflight() == windowSize })
	release()
	w.wg.Wait()
	w.checkOnce(t)
	var acked []int
	for i, err := range w.errs {
		switch {
		case i == 1:
			if !errors.Is(err, wire.ErrMessageTooLarge) || errors.Is(err, ErrSequenceRestarted) {
				t.Fatalf("value 1: %v, want MESSAGE_TOO_LARGE", err)
			}
		case i >= 2 && i <= windowSize:
			if !errors.Is(err, ErrSequenceRestarted) || !errors.Is(err, wire.ErrOutOfOrderSequenceNumber) {
				t.Fatalf("value %d, sent behind value 1: %v, want ErrSequenceRestarted", i, err)
			}
		case err != nil:
			t.Fatalf("value %d: %v", i, err)
		default:
			acked = append(acked, i)
		}
	}
	stored := w.stored(t)
	if fmt.Sprint(stored) != fmt.Sprint(acked) {
		t.Fatalf("log holds %v, acknowledged %v", stored, acked)
	}
	bs := fb.rawBatches("t", 0)
	if b := bs[1]; b.ProducerEpoch() != 1 || b.BaseSequence() != 0 {
		t.Fatalf("first batch after the failure: epoch %d sequence %d, want 1 0", b.ProducerEpoch(), b.BaseSequence())
	}
}

// TestIdempotentWindowAnswersOutOfOrder: the native broker answers each
// request when it completes, so later batches can be acknowledged while an
// older one's answer is still due. The window is counted from the oldest
// unacknowledged batch, not by the requests in flight: with value 1's
// answer held back, the producer sends only the 4 values behind it and
// waits (their callbacks wait for value 1's, to run in produce order). The request timeout then drops the connection (value 1's answer
// is lost, as in a broker restart), and value 1's retry is still among the
// 5 batches the broker remembers: a duplicate, not out of sequence. Before
// this rule the producer kept sending, the broker forgot value 1, and its
// retry failed for good with OUT_OF_ORDER_SEQUENCE_NUMBER
// (TestIntegrationRestartMidStreamExactlyOnce/in_flight=5 on a loaded CI).
func TestIdempotentWindowAnswersOutOfOrder(t *testing.T) {
	const n = 30
	w := newWindowRun(t, newFakeBroker(t), n, RequestTimeout(time.Second))
	w.produce(t, 0, 1) // producer id and metadata first
	w.wg.Wait()
	w.fb.mu.Lock()
	w.fb.heldAnswers = 1
	w.fb.mu.Unlock()
	w.produce(t, 1, n)
	w.wg.Wait()
	w.checkExactlyOnce(t, n)
	w.checkCallbackOrder(t)
	w.fb.mu.Lock()
	dups := w.fb.duplicates
	w.fb.mu.Unlock()
	if dups < 1 {
		t.Fatalf("no retry recognized as a duplicate: the held answer was not exercised")
	}
}
