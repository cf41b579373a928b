package segment

import (
	"slices"
	"sync"
	"time"
)

// waiter is one pending WhenFlushed callback: fn, or for Append's own wait a
// pooled channel (a func value would allocate per call).
type waiter struct {
	offset int64
	fn     func(error)
	ch     chan error
}

func (w waiter) fire(err error) {
	if w.ch != nil {
		w.ch <- err
		return
	}
	w.fn(err)
}

var flushChans = sync.Pool{New: func() any { return make(chan error, 1) }}

// WhenFlushed calls fn once FlushedOffset() > offset, or with a non-nil error
// when the log fails or closes first. fn runs on the log's syncer goroutine
// (or at once, on the caller's, when the condition already holds), so it must
// not block or call back into the log's flush methods.
//
// Under FlushAlways the syncer starts a sync for it right away, covering every
// append pending at that moment (group commit); under FlushInterval the next
// tick covers it; under FlushNever the next Flush, roll or Close does.
func (l *Log) WhenFlushed(offset int64, fn func(err error)) {
	l.whenFlushed(waiter{offset: offset, fn: fn}, l.cfg.Flush == FlushAlways)
}

func (l *Log) whenFlushed(w waiter, kick bool) {
	l.mu.Lock()
	err := l.usableLocked()
	if err == nil && l.flushed.Load() <= w.offset {
		l.mu.waiters = append(l.mu.waiters, w)
		l.mu.Unlock()
		if kick {
			l.kickSyncer()
		}
		return
	}
	l.mu.Unlock()
	w.fire(err)
}

// Flush makes every appended batch durable and returns when it is. Concurrent
// Flush and FlushAlways appends share one fdatasync.
func (l *Log) Flush() error {
	leo := l.leo.Load()
	if l.flushed.Load() >= leo {
		l.mu.RLock()
		err := l.usableLocked()
		l.mu.RUnlock()
		return err
	}
	return l.waitFlushed(leo - 1)
}

// waitFlushed blocks until offset is durable, kicking the syncer.
func (l *Log) waitFlushed(offset int64) error {
	ch := flushChans.Get().(chan error)
	l.whenFlushed(waiter{offset: offset, ch: ch}, true)
	err := <-ch
	flushChans.Put(ch)
	return err
}

func (l *Log) kickSyncer() {
	select {
	case l.kick <- struct{}{}:
	default: // a sync is already requested; it will cover this one too
	}
}

// rollSyncDelay is how long after a roll FlushNever waits before it
// fdatasyncs the sealed segment to move the recovery point. It matches the
// kernel's default dirty_expire_centisecs (30 s): by then writeback has
// normally put the pages on disk, so the sync is cheap, and a segment that
// retention deletes sooner is never forced to disk at all. Syncing right at
// the roll cut Append throughput at 1 MiB batches by about a third
// (perf/segment.md).
const rollSyncDelay = 30 * time.Second

// syncer is the log's one background goroutine. Each round fdatasyncs every
// segment written since the last round, so all appends that arrived while the
// previous fdatasync ran are covered by the next single one.
func (l *Log) syncer() {
	defer close(l.done)
	var tick <-chan time.Time
	if l.cfg.Flush == FlushInterval {
		t := time.NewTicker(l.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	rollTimer := time.NewTimer(l.rollSyncDelay)
	rollTimer.Stop()
	defer rollTimer.Stop()
	armed := false
	for {
		select {
		case <-l.stop:
			return
		case <-l.rolled:
			if !armed {
				rollTimer.Reset(l.rollSyncDelay)
				armed = true
			}
			continue
		case <-rollTimer.C:
			armed = false
		case <-l.kick:
		case <-tick:
		}
		l.syncRound()
	}
}

// syncRound runs one group commit.
func (l *Log) syncRound() {
	l.mu.Lock()
	if l.usableLocked() != nil {
		l.mu.Unlock()
		return
	}
	target := l.leo.Load()
	dirDirty := l.mu.dirDirty
	if target <= l.flushed.Load() && !dirDirty {
		l.mu.Unlock()
		return
	}
	l.mu.dirDirty = false
	gen := l.mu.truncations
	segs := l.syncSegs[:0]
	act := l.active()
	sealedFrom := len(segs)
	for _, s := range l.mu.segs[l.segIndexLocked(l.flushed.Load()):] {
		s.incRef()
		segs = append(segs, s)
		if s != act {
			sealedFrom = len(segs)
		}
	}
	targetSegBase := act.base
	l.mu.Unlock()

	err := l.syncSegments(segs, sealedFrom, dirDirty)

	l.mu.Lock()
	// A TruncateTo during the fdatasync made target meaningless: the offsets
	// it covered may be gone or rewritten.
	if err == nil && gen == l.mu.truncations {
		if targetSegBase > l.mu.rpSegBase {
			// Recovery validates from the segment holding the recovery point, so
			// the file needs rewriting only when the flushed offset changes
			// segment (once per roll, so holding the lock for it is cheap). It is
			// written before the waiters fire so that Flush implies it, except
			// on a full disk: the data is durable all the same, and a stale
			// recovery point only makes recovery validate more. The next round
			// tries again.
			err = writeOffsetFile(l.dir, recoveryPointFile, target)
			switch {
			case err == nil:
				l.mu.rpSegBase = targetSegBase
			case IsDiskFull(err):
				err = nil
			}
		}
		if err == nil {
			l.flushed.Store(max(l.flushed.Load(), target))
		}
	}
	if len(l.mu.unreleased) > 0 {
		l.releaseSealedLocked(segs)
	}
	fire := l.syncFire[:0]
	if err != nil {
		l.failLocked(err)
		fire = l.takeWaitersLocked(fire, true)
	} else {
		fire = l.takeWaitersLocked(fire, false)
	}
	failErr := l.mu.failErr
	l.mu.Unlock()
	for i, s := range segs {
		s.decRef()
		segs[i] = nil
	}
	l.syncSegs = segs[:0]
	for i, w := range fire {
		w.fire(failErr)
		fire[i] = waiter{}
	}
	l.syncFire = fire[:0]
}

// syncSegments fdatasyncs segs; segs[:sealedFrom] are sealed, so their
// indexes are final and synced too (recovery trusts them below the recovery
// point after a sanity check).
func (l *Log) syncSegments(segs []*segment, sealedFrom int, dirDirty bool) error {
	for i, s := range segs {
		if err := s.datasync(); err != nil {
			return err
		}
		l.syncs.Add(1)
		if i < sealedFrom {
			if err := s.idx.sync(); err != nil {
				return err
			}
			if err := s.tidx.sync(); err != nil {
				return err
			}
		}
	}
	if dirDirty {
		return syncDir(l.dir)
	}
	return nil
}

// takeWaitersLocked moves the waiters now covered (all of them when all is
// set) from the pending list to dst.
func (l *Log) takeWaitersLocked(dst []waiter, all bool) []waiter {
	flushed := l.flushed.Load()
	keep := l.mu.waiters[:0]
	for _, w := range l.mu.waiters {
		if all || w.offset < flushed {
			dst = append(dst, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(l.mu.waiters[len(keep):])
	l.mu.waiters = keep
	return dst
}

func fireAll(ws []waiter, err error) {
	for _, w := range ws {
		w.fire(err)
	}
}

// releaseSealedLocked closes the descriptors of the sealed segments that
// still hold them, where it can: a segment is released only while the
// log's reference is its only one (plus the current sync round's, when it
// is in round), so no FileRange can still send from its .log and no sync
// is reading the descriptors. The others wait for a later round; a segment
// no longer in the log is dropped from the list, its descriptors going
// with its last reference.
func (l *Log) releaseSealedLocked(round []*segment) {
	pending := l.mu.unreleased[:0]
	for _, s := range l.mu.unreleased {
		if !l.holdsLocked(s) {
			continue
		}
		refs := int32(1)
		if slices.Contains(round, s) {
			refs++
		}
		if s.refs.Load() == refs {
			s.release()
		} else {
			pending = append(pending, s)
		}
	}
	clear(l.mu.unreleased[len(pending):])
	l.mu.unreleased = pending
}

// holdsLocked reports whether s is one of the log's sealed segments.
func (l *Log) holdsLocked(s *segment) bool {
	return s != l.active() && l.mu.segs[l.segIndexLocked(s.base)] == s
}
