package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// OffsetForTimestamp returns the first offset at or after LogStartOffset whose
// batch has MaxTimestamp >= ts, or -1 when no batch does (Kafka ListOffsets).
// It finds the segment by its largest timestamp, then the time index floor
// entry, then scans batch headers forward.
func (l *Log) OffsetForTimestamp(ts int64) (int64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	for _, s := range l.mu.segs {
		if s.next <= l.mu.logStart || s.maxTs < ts {
			continue
		}
		pos := int64(0)
		if rel, ok := s.tidx.timeFloor(ts); ok {
			var err error
			if pos, err = s.locate(s.base + int64(rel)); err != nil {
				return 0, l.failLocked(err)
			}
		}
		for pos < s.size {
			b, err := s.batchAt(pos)
			if err != nil {
				return 0, fmt.Errorf("%w: %s at position %d: %w", ErrCorrupt, s.stem+logSuffix, pos, err)
			}
			if b.MaxTimestamp() >= ts && b.LastOffset() >= l.mu.logStart {
				return max(b.BaseOffset(), l.mu.logStart), nil
			}
			pos += int64(len(b))
		}
	}
	return -1, nil
}

// TruncateTo drops every batch at or after offset (follower truncation).
// Truncation is on batch boundaries: the batch containing offset goes too, so
// the new log end offset is that batch's base offset (<= offset). An offset at
// or past the log end removes no batch; one below LogStartOffset is an error
// wrapping ErrOffsetOutOfRange. Leader-epoch entries starting at or after the
// new end are dropped, and at or after offset when no batch goes.
//
// Pending WhenFlushed waiters for offsets at or after the new end fire with
// an error wrapping ErrOffsetOutOfRange: those offsets now name other data.
func (l *Log) TruncateTo(offset int64) error {
	l.mu.Lock()
	dropped, err := l.truncateLocked(offset)
	l.mu.Unlock()
	if len(dropped) > 0 {
		fireAll(dropped, fmt.Errorf("%w: offsets from %d truncated from %s", ErrOffsetOutOfRange, offset, l.dir))
	}
	return err
}

func (l *Log) truncateLocked(offset int64) ([]waiter, error) {
	if err := l.usableLocked(); err != nil {
		return nil, err
	}
	leo := l.leo.Load()
	if offset >= leo {
		// No batch goes, but a trailing checkpoint entry of an epoch that
		// wrote nothing may start here: a follower truncating to its log end
		// must lose it, or an older epoch's batch could not be assigned.
		if err := l.epochs.truncateFromEnd(offset); err != nil {
			return nil, l.failLocked(err)
		}
		return nil, nil
	}
	if offset < l.mu.logStart {
		return nil, fmt.Errorf("%w: truncate to %d below log start %d of %s", ErrOffsetOutOfRange, offset, l.mu.logStart, l.dir)
	}
	i := l.segIndexLocked(offset)
	s := l.mu.segs[i]
	pos, err := s.locate(offset)
	if err != nil {
		return nil, l.failLocked(err)
	}
	newEnd := s.baseOffsetAt(pos)
	for _, later := range l.mu.segs[i+1:] {
		if err := later.removeFiles(); err != nil {
			return nil, l.failLocked(err)
		}
		later.decRef()
	}
	clear(l.mu.segs[i+1:])
	l.mu.segs = l.mu.segs[:i+1]
	if err := l.truncateSegmentLocked(i, pos); err != nil {
		return nil, l.failLocked(err)
	}
	l.leo.Store(newEnd)
	l.mu.truncations++
	if l.flushed.Load() > newEnd {
		l.flushed.Store(newEnd)
	}
	// The old recovery point may lie in a segment just deleted and soon
	// rewritten with unsynced data: move it back before anything else happens.
	if err := writeOffsetFile(l.dir, recoveryPointFile, l.flushed.Load()); err != nil {
		return nil, l.failLocked(err)
	}
	l.mu.rpSegBase = l.mu.segs[l.segIndexLocked(l.flushed.Load())].base
	if err := syncDir(l.dir); err != nil {
		return nil, l.failLocked(err)
	}
	if err := l.epochs.truncateFromEnd(newEnd); err != nil {
		return nil, l.failLocked(err)
	}
	var dropped []waiter
	keep := l.mu.waiters[:0]
	for _, w := range l.mu.waiters {
		if w.offset >= newEnd {
			dropped = append(dropped, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(l.mu.waiters[len(keep):])
	l.mu.waiters = keep
	return dropped, nil
}

// truncateSegmentLocked cuts segs[i] at pos and reopens it as the active
// segment. When FileRanges still use the file, the prefix is copied to a new
// file renamed over the old one, so their bytes never vanish under them
// (a shrunk mapped file would fault on access); otherwise the file is cut in
// place.
func (l *Log) truncateSegmentLocked(i int, pos int64) error {
	old := l.mu.segs[i]
	path := old.stem + logSuffix
	if old.refs.Load() > 1 {
		if err := copyPrefix(old, pos); err != nil {
			return err
		}
	} else if err := os.Truncate(path, pos); err != nil {
		return fmt.Errorf("segment: truncate %s to %d: %w", path, pos, err)
	}
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if err := os.Truncate(old.stem+suf, 0); err != nil {
			return fmt.Errorf("segment: reset index %s: %w", old.stem+suf, err)
		}
	}
	old.decRef()
	s, err := openSegment(l.dir, old.base, true, &l.cfg)
	if err != nil {
		return err
	}
	l.mu.segs[i] = s
	end, bad, err := s.rebuildIndexes(false, true, l.cfg.IndexIntervalBytes)
	if err != nil {
		return err
	}
	if end != pos {
		return fmt.Errorf("%w: %s after truncation to %d: valid up to %d: %w", ErrCorrupt, path, pos, end, bad)
	}
	s.firstTs = time.Now()
	if b, err := s.batchAt(0); err == nil && b.MaxTimestamp() > 0 {
		s.firstTs = time.UnixMilli(b.MaxTimestamp())
	}
	return s.datasync()
}

// copyPrefix writes old's first n bytes to a temp file and renames it over
// old's log file (fsync, rename, fsync of the directory).
func copyPrefix(old *segment, n int64) error {
	path := old.stem + logSuffix
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("segment: create %s: %w", tmp, err)
	}
	_, err = f.Write(old.data[:n])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("segment: copy %d bytes of %s for truncation: %w", n, path, err)
	}
	return syncDir(filepath.Dir(old.stem))
}

// ApplyRetention deletes the oldest segments (never the active one) while the
// log without them would still hold at least RetentionBytes, or while their
// newest batch is older than RetentionAge at now. A segment's age comes from
// its largest batch timestamp, or its file's modification time when no batch
// has a positive timestamp. The log start offset moves to the first kept
// segment. It returns how many segments it deleted.
func (l *Log) ApplyRetention(now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	var total int64
	for _, s := range l.mu.segs {
		total += s.size
	}
	deleted := 0
	for len(l.mu.segs)-deleted > 1 {
		s := l.mu.segs[deleted]
		bySize := l.cfg.RetentionBytes >= 0 && total-s.size >= l.cfg.RetentionBytes
		byAge := l.cfg.RetentionAge > 0 && now.Sub(segmentTime(s)) > l.cfg.RetentionAge
		if !bySize && !byAge {
			break
		}
		total -= s.size
		deleted++
	}
	if deleted == 0 {
		return 0, nil
	}
	if err := l.deleteOldestLocked(deleted); err != nil {
		return 0, l.failLocked(err)
	}
	return deleted, nil
}

func segmentTime(s *segment) time.Time {
	if s.maxTs > 0 {
		return time.UnixMilli(s.maxTs)
	}
	if fi, err := os.Stat(s.stem + logSuffix); err == nil {
		return fi.ModTime()
	}
	return time.Now() // unknown age: keep it
}

// deleteOldestLocked removes the first n segments and moves the log start.
func (l *Log) deleteOldestLocked(n int) error {
	for _, s := range l.mu.segs[:n] {
		if err := s.removeFiles(); err != nil {
			return err
		}
		s.decRef()
	}
	l.mu.segs = append(l.mu.segs[:0], l.mu.segs[n:]...)
	clear(l.mu.segs[len(l.mu.segs):cap(l.mu.segs)])
	l.mu.logStart = max(l.mu.logStart, l.mu.segs[0].base)
	if err := syncDir(l.dir); err != nil {
		return err
	}
	return l.epochs.truncateFromStart(l.mu.logStart)
}

// DeleteRecordsBefore moves the log start offset up to offset (Kafka
// DeleteRecords) and persists it; segments wholly below it are deleted.
// Offsets above LogEndOffset are an error wrapping ErrOffsetOutOfRange; an
// offset at or below the current start is a no-op. On a full disk it
// returns an error wrapping ErrDiskFull, having deleted what segments it
// could, and the log goes on.
//
// The segments go before the new start is persisted, so a full disk gets
// their space first. A crash in between leaves the start at the first kept
// segment's base (at most offset): records the unanswered call meant to
// hide may show again; none that it kept is lost.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if leo := l.leo.Load(); offset > leo {
		return fmt.Errorf("%w: delete records before %d past log end %d of %s", ErrOffsetOutOfRange, offset, leo, l.dir)
	}
	if offset <= l.mu.logStart {
		return nil
	}
	n := 0
	for n+1 < len(l.mu.segs) && l.mu.segs[n+1].base <= offset {
		n++
	}
	if n > 0 {
		if err := l.deleteOldestLocked(n); err != nil {
			return l.failLocked(err)
		}
	}
	if err := writeOffsetFile(l.dir, logStartFile, offset); err != nil {
		if IsDiskFull(err) {
			return fmt.Errorf("%w: delete records before %d in %s: %w", ErrDiskFull, offset, l.dir, err)
		}
		return l.failLocked(err)
	}
	l.mu.logStart = offset
	return l.epochs.truncateFromStart(offset)
}

// TruncateFullyAndStartAt empties the log and makes it start and end at
// offset (Kafka's truncateFullyAndStartAt): a follower whose log ends
// below its leader's log start can never fetch what it lacks, so it drops
// everything and copies the leader's log from there. Every segment is
// deleted, the leader-epoch checkpoint is cleared (the batches fetched
// next assign their epochs again), and pending WhenFlushed waiters fire
// with an error wrapping ErrOffsetOutOfRange. offset must not be negative.
//
// Crash safety: the new log start is persisted first and the checkpoint
// cleared before any segment goes, so a crash part way reopens either the
// old log with its start at its end (nothing readable; the follower asks
// again) or, with no segment left, an empty log at offset (Open creates
// the segment at the persisted start).
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: start %s at offset %d", ErrOffsetOutOfRange, l.dir, offset)
	}
	l.mu.Lock()
	dropped, err := l.restartLocked(offset)
	l.mu.Unlock()
	if len(dropped) > 0 {
		fireAll(dropped, fmt.Errorf("%w: %s emptied to start at %d", ErrOffsetOutOfRange, l.dir, offset))
	}
	return err
}

func (l *Log) restartLocked(offset int64) ([]waiter, error) {
	if err := l.usableLocked(); err != nil {
		return nil, err
	}
	if err := writeOffsetFile(l.dir, logStartFile, offset); err != nil {
		if IsDiskFull(err) {
			return nil, fmt.Errorf("%w: start %s at %d: %w", ErrDiskFull, l.dir, offset, err)
		}
		return nil, l.failLocked(err)
	}
	if err := l.epochs.clear(); err != nil {
		return nil, l.failLocked(err)
	}
	for _, s := range l.mu.segs {
		if err := s.removeFiles(); err != nil {
			return nil, l.failLocked(err)
		}
		s.decRef()
	}
	clear(l.mu.segs)
	l.mu.segs = l.mu.segs[:0]
	if err := syncDir(l.dir); err != nil {
		return nil, l.failLocked(err)
	}
	s, err := openSegment(l.dir, offset, true, &l.cfg)
	if err != nil {
		return nil, l.failLocked(err)
	}
	s.firstTs = time.Now()
	l.mu.segs = append(l.mu.segs, s)
	l.mu.logStart = offset
	l.leo.Store(offset)
	l.flushed.Store(offset)
	l.mu.truncations++
	l.mu.rpSegBase = offset
	if err := writeOffsetFile(l.dir, recoveryPointFile, offset); err != nil {
		return nil, l.failLocked(err)
	}
	if err := syncDir(l.dir); err != nil {
		return nil, l.failLocked(err)
	}
	dropped := l.mu.waiters
	l.mu.waiters = nil
	return dropped, nil
}

// config returns a copy of the log's config for code that runs without mu
// (compaction): SetLimits changes it under mu.
func (l *Log) config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg
}

// SetLimits applies the roll and retention limits of c (SegmentBytes,
// SegmentAge, RetentionBytes, RetentionAge) to the open log: the next
// append and retention pass use them, as after a restart with c. The other
// fields of c are fixed at Open and ignored here. A SegmentBytes out of
// range is an error and changes nothing.
func (l *Log) SetLimits(c Config) error {
	if c.SegmentBytes <= 0 || c.SegmentBytes > maxSegmentBytes {
		return fmt.Errorf("segment: %s: SegmentBytes %d must be in (0, 2 GiB)", l.dir, c.SegmentBytes)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg.SegmentBytes, l.cfg.SegmentAge = c.SegmentBytes, c.SegmentAge
	l.cfg.RetentionBytes, l.cfg.RetentionAge = c.RetentionBytes, c.RetentionAge
	return nil
}
