package segment

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spate-io/spate/record"
	"golang.org/x/sys/unix"
)

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// writeFault, when a test sets it, runs before every write of log or index
// bytes by an append, with the file's path; an error it returns stands for
// the write's own. It gives one chosen write a full disk, which a real
// filesystem cannot do on cue.
var writeFault func(path string) error

// faultAt asks writeFault about the file stem+suffix; the name is built
// only when a test has set it (the append path allocates nothing).
func faultAt(stem, suffix string) error {
	if writeFault == nil {
		return nil
	}
	return writeFault(stem + suffix)
}

// Append stamps b's base offset in place (in the caller's buffer) to the log
// end offset and writes b with one pwrite: through the page cache, or past
// it with O_DIRECT for batches of at least Config.DirectWriteBytes. It
// returns the assigned base offset. Under FlushAlways it returns only once
// an fdatasync covers b; concurrent appenders share one. The caller has
// validated b (record.Batch.Validate).
func (l *Log) Append(b record.Batch) (int64, error) {
	base, err := l.append(b, false)
	if err != nil || l.cfg.Flush != FlushAlways {
		return base, err
	}
	return base, l.waitFlushed(b.LastOffset())
}

// AppendNoWait is Append without the wait for fdatasync under FlushAlways:
// for callers that must never block on the disk (a gnet event loop). It still
// starts the sync; pair it with WhenFlushed(b.LastOffset(), ...) to learn
// when b is durable.
func (l *Log) AppendNoWait(b record.Batch) (int64, error) {
	base, err := l.append(b, false)
	if err == nil && l.cfg.Flush == FlushAlways {
		l.kickSyncer()
	}
	return base, err
}

// AppendVerbatim appends a batch that already carries its offsets (the
// follower path). b.BaseOffset() must equal LogEndOffset(), else it returns
// an error wrapping ErrOffsetMismatch. It never waits for fdatasync.
func (l *Log) AppendVerbatim(b record.Batch) error {
	_, err := l.append(b, true)
	if err == nil && l.cfg.Flush == FlushAlways {
		l.kickSyncer()
	}
	return err
}

func (l *Log) append(b record.Batch, verbatim bool) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	leo := l.leo.Load()
	if verbatim {
		if b.BaseOffset() != leo {
			return 0, fmt.Errorf("%w: batch base %d, log end %d in %s", ErrOffsetMismatch, b.BaseOffset(), leo, l.dir)
		}
	} else {
		b.SetBaseOffset(leo)
	}
	if int64(len(b)) > maxSegmentBytes {
		return 0, fmt.Errorf("segment: batch of %d bytes at offset %d is above the 2 GiB segment limit", len(b), leo)
	}
	s := l.active()
	if l.shouldRollLocked(s, len(b)) {
		var err error
		if s, err = l.rollLocked(); err != nil {
			return 0, l.failUnlessFullLocked(fmt.Errorf("segment: roll %s at offset %d: %w", l.dir, leo, err))
		}
	}
	if s.size+int64(len(b)) > int64(len(s.data)) {
		// Only an empty segment gets here (a batch bigger than SegmentBytes):
		// no FileRange can hold a slice of its mapping, so remapping is safe.
		s.unmapData()
		if err := s.mapData(int64(len(b))); err != nil {
			return 0, l.failLocked(err)
		}
	}
	pos := s.size
	if l.cfg.BeforeWrite != nil {
		l.cfg.BeforeWrite()
	}
	undo := s.undoPoint()
	if err := l.writeBatch(s, b, pos); err != nil {
		// The file may now hold part of b past size: cut off, or left for
		// recovery to cut when the log fails.
		return 0, l.abortAppendLocked(s, undo, fmt.Errorf("segment: write %s at %d: %w", s.stem+logSuffix, pos, err))
	}
	if pos == 0 {
		s.firstTs = time.Now()
	}
	s.size += int64(len(b))
	s.next = b.NextOffset()
	if err := s.indexBatch(b, pos, l.cfg.IndexIntervalBytes); err != nil {
		// b is written but not yet counted: leo moves only once the index
		// entries are in, so no reader ever sees an offset an undo takes back.
		return 0, l.abortAppendLocked(s, undo, err)
	}
	l.leo.Store(s.next)
	return leo, nil
}

// abortAppendLocked ends an append whose write of a batch into s failed
// with err; undo is s's state from before the write. A full disk does not
// fail the log: s's file is cut back to where the batch began and its state
// restored, so the log is exactly as before the call, and the error wraps
// ErrDiskFull. Any other error fails the log (recovery cuts whatever part of
// the batch reached the file).
func (l *Log) abortAppendLocked(s *segment, undo appendUndo, err error) error {
	if !IsDiskFull(err) {
		return l.failLocked(err)
	}
	if rerr := s.restore(undo); rerr != nil {
		return l.failLocked(errors.Join(err, rerr))
	}
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}

// failUnlessFullLocked fails the log with err, unless err is a full disk
// met by a step that changed nothing (a roll that could not create or seal
// a segment): then it returns err wrapping ErrDiskFull and the log goes on.
func (l *Log) failUnlessFullLocked(err error) error {
	if IsDiskFull(err) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return l.failLocked(err)
}

// writeBatch writes b at pos of the active segment s. Direct writes are
// allowed while nobody reads the tail (tailReadWindow) and, under a
// WritePolicy, when it says so for b's size; large writes are then timed
// for the policy.
func (l *Log) writeBatch(s *segment, b []byte, pos int64) error {
	wp := l.cfg.WritePolicy
	if wp == nil || len(b) < wp.threshold {
		return s.write(b, pos, l.tailIdle())
	}
	direct := wp.useDirect(len(b)) && l.tailIdle()
	start := time.Now()
	err := s.write(b, pos, direct)
	if err == nil {
		now := time.Now()
		wp.observe(s.wroteDirect(direct, len(b)), len(b), now.Sub(start), now)
	}
	return err
}

// write places b at pos, the end of the segment's valid bytes; direct
// allows O_DIRECT for b (when the segment has a directWriter and b is large).
func (s *segment) write(b []byte, pos int64, direct bool) error {
	if err := faultAt(s.stem, logSuffix); err != nil {
		return err
	}
	if s.dw != nil {
		return s.dw.write(s.log, b, pos, direct)
	}
	_, err := s.log.WriteAt(b, pos)
	return err
}

func (l *Log) shouldRollLocked(s *segment, n int) bool {
	if s.size == 0 {
		return false
	}
	// The mapping bound matters once SetLimits raised SegmentBytes above
	// what the active segment reserved: remapping a segment that
	// FileRanges may hold slices of is not safe, rolling is.
	return s.size+int64(n) > min(l.cfg.SegmentBytes, int64(len(s.data))) ||
		s.indexFull() ||
		(l.cfg.SegmentAge > 0 && time.Since(s.firstTs) > l.cfg.SegmentAge)
}

// AppendMayBlock reports whether an append of n bytes would wait on the
// device rather than copy into the page cache: it would be written with
// O_DIRECT, or roll a new segment (file creation, index preallocation, the
// sealed segment's index trim). A caller on an event loop hands such an
// append to another goroutine. The answer may be stale by the time the
// append runs; it is a hint, not a promise.
func (l *Log) AppendMayBlock(n int) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.usableLocked() != nil {
		return false // the append fails at once
	}
	s := l.active()
	if s.dw != nil && n >= s.dw.min && l.tailIdle() && l.cfg.WritePolicy.wouldUseDirect(n) {
		return true
	}
	return l.shouldRollLocked(s, n)
}

// Roll seals the active segment and starts a new one at the log end offset.
// It does nothing when the active segment is empty.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if l.active().size == 0 {
		return nil
	}
	if _, err := l.rollLocked(); err != nil {
		return l.failUnlessFullLocked(fmt.Errorf("segment: roll %s: %w", l.dir, err))
	}
	return nil
}

// rollLocked seals the active segment and creates the next one. The new
// files' directory entry and the sealed segment are made durable by the
// syncer's next round: at once under FlushAlways (the next append kicks it),
// at the next tick under FlushInterval, and rollSyncDelay later under
// FlushNever, so the recovery point keeps up with rolls whatever the policy.
//
// The new segment is created before the old one is sealed, and sealing
// writes (its pending index entries) before it changes anything, so a full
// disk at either step leaves the old segment active and whole: the roll is
// simply tried again by the next append.
func (l *Log) rollLocked() (*segment, error) {
	old := l.active()
	s, err := openSegment(l.dir, old.next, true, &l.cfg)
	if err != nil {
		return nil, err
	}
	if s.size != 0 {
		s.decRef()
		return nil, fmt.Errorf("%w: new segment %s already holds %d bytes", ErrCorrupt, s.stem+logSuffix, s.size)
	}
	if err := old.seal(); err != nil {
		// The new files are empty: drop them, so the directory is as before.
		s.decRef()
		return nil, errors.Join(err, s.removeFiles())
	}
	l.mu.unreleased = append(l.mu.unreleased, old)
	s.firstTs = time.Now()
	l.mu.segs = append(l.mu.segs, s)
	l.mu.dirDirty = true
	l.releaseSealedLocked(nil)
	if l.cfg.Flush == FlushNever {
		select {
		case l.rolled <- struct{}{}:
		default: // the syncer already has a roll pending
		}
	}
	return s, nil
}

// appendUndo is what an append changes in a segment's state, saved before
// the write so that a write refused for lack of space can be taken back.
type appendUndo struct {
	size, next, maxTs, maxTsOffset int64
	sinceIndex, idxEntries         int
	timeEntries                    int
	firstTs                        time.Time
}

func (s *segment) undoPoint() appendUndo {
	return appendUndo{size: s.size, next: s.next, maxTs: s.maxTs, maxTsOffset: s.maxTsOffset,
		sinceIndex: s.sinceIndex, idxEntries: s.idx.n, timeEntries: s.tidx.n, firstTs: s.firstTs}
}

// restore cuts the file back to u.size and puts back the state of u,
// forgetting the index entries added since (see index.forgetFrom). Cutting
// a file never needs space.
func (s *segment) restore(u appendUndo) error {
	if err := s.log.Truncate(u.size); err != nil {
		return fmt.Errorf("segment: cut %s back to %d after a failed append: %w", s.stem+logSuffix, u.size, err)
	}
	s.size, s.next, s.maxTs, s.maxTsOffset = u.size, u.next, u.maxTs, u.maxTsOffset
	s.sinceIndex, s.firstTs = u.sinceIndex, u.firstTs
	s.idx.forgetFrom(u.idxEntries)
	s.tidx.forgetFrom(u.timeEntries)
	if s.dw != nil {
		s.dw.resetTail(s.data[:s.size])
	}
	return nil
}
