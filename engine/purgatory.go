package engine

// Behavior: the purgatory holds delayed operations (acks=all produces waiting
// for the high watermark, fetches waiting for min.bytes) keyed by partition.
// Each partition has a watcher list; a high-watermark move (an append, or a
// flush under flush.policy=always) wakes the list and every operation on it
// retries. Each operation also has a time.AfterFunc timer for its timeout;
// the runtime's timer heap does the bookkeeping, so no goroutine waits per
// parked operation. Close fails every parked operation with ErrShuttingDown.
//
// Completed operations leave the lists lazily: a wake drops them, and a
// registration purges the list when it has doubled since the last purge, so
// an idle partition with many expired long polls does not grow without bound.

import (
	"sync"
	"sync/atomic"
)

// delayed is a parked operation.
type delayed interface {
	// tryComplete completes the operation (runs its done) if its condition
	// now holds, and reports whether the operation is complete, by this call
	// or earlier.
	tryComplete() bool
	// fail completes the operation with err unless it is complete already.
	fail(err error)
	// isDone reports whether the operation has completed.
	isDone() bool
}

// watchers is one partition's list of parked operations.
type watchers struct {
	// n is len(mu.ops)+mu.inBatch, the operations parked here, so that wake
	// skips the lock when nobody waits. It stays above zero while a wake runs
	// a batch, so a later wake is never skipped while an operation might miss it.
	n  atomic.Int32
	mu struct {
		sync.Mutex
		ops       []delayed
		spare     []delayed // the other buffer of the double-buffered list
		waking    bool      // a wake is running a batch of ops outside the lock
		inBatch   int       // len of that batch
		again     bool      // another wake arrived meanwhile
		purgeSize int       // len(ops) after the last purge
		err       error     // set by failAll: ops put back after a wake fail with it
	}
}

// add parks op on this partition. The caller must call tryComplete after
// adding it to every partition it watches, so a wake that ran before the op
// was listed is not lost.
func (w *watchers) add(op delayed) {
	w.mu.Lock()
	if len(w.mu.ops) >= 2*w.mu.purgeSize+16 {
		w.mu.ops = purgeDone(w.mu.ops)
		w.mu.purgeSize = len(w.mu.ops)
	}
	w.mu.ops = append(w.mu.ops, op)
	w.storeN()
	w.mu.Unlock()
}

// wake retries every operation parked on the partition. Only one wake per
// partition runs the operations at a time; a wake that arrives meanwhile
// makes the running one go round again instead of waiting, so an appender
// never blocks on another partition's fetch re-read.
func (w *watchers) wake() {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	if w.mu.waking {
		w.mu.again = true
		w.mu.Unlock()
		return
	}
	w.mu.waking = true
	for {
		w.mu.again = false
		batch := w.mu.ops
		w.mu.ops = w.mu.spare[:0]
		w.mu.inBatch = len(batch)
		w.mu.Unlock()

		keep := batch[:0]
		for _, op := range batch {
			if !op.tryComplete() {
				keep = append(keep, op)
			}
		}
		clear(batch[len(keep):]) // let completed operations be collected

		w.mu.Lock()
		if err := w.mu.err; err != nil {
			// failAll ran while this batch was out of the list.
			w.mu.Unlock()
			for _, op := range keep {
				op.fail(err)
			}
			clear(keep)
			keep = keep[:0]
			w.mu.Lock()
		}
		merged := append(keep, w.mu.ops...)
		clear(w.mu.ops) // the spare must not pin operations
		w.mu.ops, w.mu.spare = merged, w.mu.ops[:0]
		w.mu.purgeSize = len(w.mu.ops)
		w.mu.inBatch = 0
		w.storeN()
		if !w.mu.again {
			break
		}
	}
	w.mu.waking = false
	w.mu.Unlock()
}

// failAll completes every operation parked here with err. Close calls it
// after setting the closing flag; operations registered later see the flag.
func (w *watchers) failAll(err error) {
	w.mu.Lock()
	w.mu.err = err
	ops := append([]delayed(nil), w.mu.ops...)
	w.mu.Unlock()
	for _, op := range ops {
		op.fail(err)
	}
	w.mu.Lock()
	w.mu.ops = purgeDone(w.mu.ops)
	w.storeN()
	w.mu.Unlock()
}

// storeN publishes the count of parked operations; call with mu held.
func (w *watchers) storeN() { w.n.Store(int32(len(w.mu.ops) + w.mu.inBatch)) }

// purgeDone drops completed operations in place.
func purgeDone(ops []delayed) []delayed {
	keep := ops[:0]
	for _, op := range ops {
		if !op.isDone() {
			keep = append(keep, op)
		}
	}
	clear(ops[len(keep):])
	return keep
}
