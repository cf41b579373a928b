package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Log is one partition's log: an ordered list of segments, the last of which
// (the active segment) takes appends. All methods are safe for concurrent use.
//
// Lock order: Log.mu, then EpochCache.mu. The syncer goroutine never holds
// mu while it calls fdatasync.
type Log struct {
	dir    string
	cfg    Config // its limits change under mu (SetLimits): without mu, read config()
	epochs *EpochCache

	leo     atomic.Int64 // log end offset: the next offset to assign
	flushed atomic.Int64 // every offset below is durable
	syncs   atomic.Int64 // fdatasync calls on segment files, for tests and metrics
	// tailRead is monoNow() at the last Read at or past the active
	// segment's base: while the tail is read, appends stay in the page cache.
	tailRead atomic.Int64

	mu struct {
		sync.RWMutex
		segs     []*segment // ascending base offsets; the last is active
		logStart int64
		closed   bool
		failErr  error    // first I/O or consistency error; the log refuses all calls after it
		waiters  []waiter // WhenFlushed callbacks not yet covered
		dirDirty bool     // a segment file was created since the last directory fsync
		// rpSegBase is the base of the segment holding the last persisted
		// recovery point; truncations counts TruncateTo calls, so a sync
		// that raced one does not move the flushed offset.
		rpSegBase   int64
		truncations uint64
		// unreleased are sealed segments that still hold descriptors; see
		// releaseSealedLocked.
		unreleased []*segment
	}

	kick   chan struct{} // wakes the syncer; buffered 1, sends never block
	rolled chan struct{} // tells the syncer of a roll under FlushNever; buffered 1

	rollSyncDelay time.Duration // rollSyncDelay; shorter in tests
	tailWindow    time.Duration // tailReadWindow; shorter in tests
	stop          chan struct{} // closed by Close to end the syncer
	done          chan struct{} // closed by the syncer when it exits

	// syncer-owned scratch, reused so a sync allocates nothing.
	syncSegs []*segment
	syncFire []waiter

	cleaner cleanerState // compaction; see compact.go

	recovery Recovery // what Open repaired; read-only after Open
}

// Recovery is what Open repaired in a log stopped uncleanly: the bytes of
// torn or corrupt tail it cut and the later segments it dropped. Zero when
// nothing needed repair.
type Recovery struct {
	CutBytes        int64
	DroppedSegments int
}

// Recovery returns what Open repaired.
func (l *Log) Recovery() Recovery { return l.recovery }

// Open opens the log in dir, creating dir if missing, and recovers it: after a
// clean shutdown it trusts the indexes; otherwise it validates every batch
// from the segment holding the recovery point to the end, cuts a torn or
// corrupt tail (and every later segment) and rebuilds damaged indexes.
// Everything recovered is fdatasync'd before Open returns.
func Open(dir string, cfg Config) (*Log, error) { return open(dir, cfg, rollSyncDelay) }

func open(dir string, cfg Config, rollDelay time.Duration) (*Log, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("segment: create log dir %s: %w", dir, err)
	}
	l := &Log{
		dir: dir, cfg: cfg, rollSyncDelay: rollDelay, tailWindow: tailReadWindow,
		kick: make(chan struct{}, 1), rolled: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := l.load(); err != nil {
		for _, s := range l.mu.segs {
			s.decRef()
		}
		return nil, err
	}
	go l.syncer()
	return l, nil
}

func (l *Log) load() error {
	bases, err := l.listSegments()
	if err != nil {
		return err
	}
	clean := fileExists(filepath.Join(l.dir, cleanShutdownFile))
	rp, _, err := readOffsetFile(l.dir, recoveryPointFile)
	if err != nil {
		return err
	}
	logStart, _, err := readOffsetFile(l.dir, logStartFile)
	if err != nil {
		return err
	}
	if len(bases) == 0 {
		base := max(logStart, 0)
		path := filepath.Join(l.dir, segmentName(base)+logSuffix)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("segment: create %s: %w", path, err)
		}
		f.Close()
		bases = []int64{base}
	}
	if err := l.recover(bases, clean, rp); err != nil {
		return err
	}
	if clean {
		// From here on a crash is an unclean stop.
		if err := os.Remove(filepath.Join(l.dir, cleanShutdownFile)); err != nil {
			return fmt.Errorf("segment: remove %s: %w", filepath.Join(l.dir, cleanShutdownFile), err)
		}
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	leo := l.active().next
	l.leo.Store(leo)
	l.flushed.Store(leo)
	l.mu.rpSegBase = l.active().base
	// On a full disk the old recovery point stays: it is safe (recovery
	// validates from further back), and the log must open to serve reads.
	if err := writeOffsetFile(l.dir, recoveryPointFile, leo); err != nil && !IsDiskFull(err) {
		return err
	}
	l.mu.logStart = min(max(logStart, l.mu.segs[0].base), leo)
	l.epochs, err = loadEpochCache(l.dir, &l.leo)
	return err
}

// listSegments returns the base offsets of the .log files in dir, ascending,
// and removes leftovers: temp files and indexes without a log.
func (l *Log) listSegments() ([]int64, error) {
	if err := recoverCleaning(l.dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("segment: list %s: %w", l.dir, err)
	}
	logs := map[string]bool{}
	var bases []int64
	for _, e := range entries {
		if stem, ok := strings.CutSuffix(e.Name(), logSuffix); ok && len(stem) == 20 {
			if base, err := strconv.ParseInt(stem, 10, 64); err == nil && base >= 0 {
				bases = append(bases, base)
				logs[stem] = true
			}
		}
	}
	for _, e := range entries {
		name := e.Name()
		stem, isIdx := strings.CutSuffix(name, indexSuffix)
		if !isIdx {
			stem, isIdx = strings.CutSuffix(name, timeIndexSuffix)
		}
		if (isIdx && len(stem) == 20 && !logs[stem]) || strings.HasSuffix(name, tmpSuffix) {
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
				return nil, fmt.Errorf("segment: remove leftover %s: %w", filepath.Join(l.dir, name), err)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// recover opens every segment and repairs what needs repair; see Open.
func (l *Log) recover(bases []int64, clean bool, rp int64) error {
	for _, base := range bases {
		s, err := openSegment(l.dir, base, false, &l.cfg)
		if err != nil {
			return err
		}
		l.mu.segs = append(l.mu.segs, s)
	}
	segs := l.mu.segs
	for i := range len(segs) - 1 {
		segs[i].next = segs[i+1].base
	}
	last := len(segs) - 1
	first := last // first segment to validate batch by batch
	if !clean {
		first = sort.Search(len(segs), func(i int) bool { return segs[i].base > rp }) - 1
		first = min(max(first, 0), last)
	} else if segs[last].scanTail() {
		first = len(segs) // nothing to validate
	}
	for i := 0; i < min(first, len(segs)); i++ {
		s := segs[i]
		if ts, rel, ok := s.tidx.lastTime(); ok {
			s.maxTs, s.maxTsOffset = ts, s.base+int64(rel)
		}
		// Below the recovery point the batches were synced but the indexes may
		// not have been, or were deleted. When in doubt, validate from here on.
		if !s.indexesSane(l.cfg.IndexIntervalBytes) {
			first = i
			break
		}
	}
	for i := first; i < len(segs); i++ {
		if i > 0 && segs[i].base != segs[i-1].next {
			// A gap or overlap: nothing from here on can be served in order.
			if err := l.dropAfter(i - 1); err != nil {
				return err
			}
			break
		}
		cut, err := l.validate(segs[i])
		if err != nil {
			return err
		}
		if cut {
			if err := l.dropAfter(i); err != nil {
				return err
			}
			break
		}
	}
	return l.reopenActive()
}

// validate checks every batch of s (CRC, framing, contiguous offsets from
// its base) and rebuilds its indexes. It reports cut=true when the segment
// ended early: its file is truncated there and later segments must go.
func (l *Log) validate(s *segment) (cut bool, err error) {
	if err := l.writableIndexes(s); err != nil {
		return false, err
	}
	end, _, err := s.rebuildIndexes(true, true, l.cfg.IndexIntervalBytes)
	if err != nil {
		return false, err
	}
	if end < s.size {
		// Zeros short of a page after the last batch are the padding of a
		// direct write whose trim a power loss undid, not a torn tail: the
		// segments after this one are still whole.
		cut = !directPadding(s.data[end:s.size])
		if err := os.Truncate(s.stem+logSuffix, end); err != nil {
			return false, fmt.Errorf("segment: cut corrupt tail of %s at %d: %w", s.stem+logSuffix, end, err)
		}
		l.recovery.CutBytes += s.size - end
		s.size = end
	}
	return cut, l.sealIndexes(s, true)
}

// dropAfter deletes every segment after segs[i].
func (l *Log) dropAfter(i int) error {
	for _, s := range l.mu.segs[i+1:] {
		l.recovery.DroppedSegments++
		if err := s.removeFiles(); err != nil {
			return err
		}
		s.decRef()
	}
	l.mu.segs = l.mu.segs[:i+1]
	return syncDir(l.dir)
}

// writableIndexes reopens s's indexes read-write so recovery can rebuild them.
func (l *Log) writableIndexes(s *segment) error {
	if err := s.closeIndexes(); err != nil {
		return err
	}
	s.active = true
	if err := s.openIndexes(&l.cfg); err != nil {
		return err
	}
	return nil
}

// sealIndexes trims rebuilt indexes and makes them durable. With
// sparseOnFull a full disk may cost the final time entry, which only makes
// the segment's largest timestamp read lower after a later clean reopen
// (the indexes are sparse anyway: see rebuildIndexes).
func (l *Log) sealIndexes(s *segment, sparseOnFull bool) error {
	if err := s.appendTimeEntry(); err != nil && (!sparseOnFull || !IsDiskFull(err)) {
		return err
	}
	if _, err := s.writeIndexes(sparseOnFull); err != nil {
		return err
	}
	if err := s.finishSeal(); err != nil {
		return err
	}
	if err := s.idx.sync(); err != nil {
		return err
	}
	if err := s.tidx.sync(); err != nil {
		return err
	}
	s.release() // recovery holds the only reference
	return nil
}

// reopenActive reopens the last segment for appends and syncs it, so the
// recovered state is durable before the first new append.
func (l *Log) reopenActive() error {
	last := len(l.mu.segs) - 1
	old := l.mu.segs[last]
	s, err := openSegment(l.dir, old.base, true, &l.cfg)
	if err != nil {
		return err
	}
	old.decRef()
	l.mu.segs[last] = s
	if !s.scanTail() {
		return fmt.Errorf("%w: %s does not end on a batch boundary after recovery", ErrCorrupt, s.stem+logSuffix)
	}
	s.firstTs = time.Now()
	if b, err := s.batchAt(0); err == nil && b.MaxTimestamp() > 0 {
		s.firstTs = time.UnixMilli(b.MaxTimestamp())
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("segment: fsync %s: %w", s.stem+logSuffix, err)
	}
	return noteSyncedFile(s.stem + logSuffix)
}

func (l *Log) active() *segment { return l.mu.segs[len(l.mu.segs)-1] }

// usableLocked returns the error every call gets once the log is closed or failed.
func (l *Log) usableLocked() error {
	if l.mu.failErr != nil {
		return l.mu.failErr
	}
	if l.mu.closed {
		return ErrClosed
	}
	return nil
}

// failLocked records the first fatal error; the log refuses every later call.
func (l *Log) failLocked(err error) error {
	if l.mu.failErr == nil {
		l.mu.failErr = fmt.Errorf("segment: log %s failed, refusing further calls: %w", l.dir, err)
	}
	return l.mu.failErr
}

// Err returns the error that failed the log (see ErrCorrupt), or nil while
// it serves. A closed log is not failed; a full disk does not fail a log.
func (l *Log) Err() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.failErr
}

// LogStartOffset returns the first offset a Read may ask for.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mu.logStart
}

// Size returns the bytes of batches in the log's segment files, indexes not
// counted (Kafka's DescribeLogDirs partition size).
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.mu.segs {
		n += s.size
	}
	return n
}

// LogEndOffset returns the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// FlushedOffset returns the recovery point: every offset below it is durable.
func (l *Log) FlushedOffset() int64 { return l.flushed.Load() }

// Syncs returns how many fdatasync calls the log has made on segment files;
// it shows group commit at work.
func (l *Log) Syncs() int64 { return l.syncs.Load() }

// Epochs returns the leader-epoch cache persisted next to the segments.
func (l *Log) Epochs() *EpochCache { return l.epochs }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Close flushes every segment, trims the active indexes, persists the
// recovery point and writes the clean-shutdown marker. Waiters still pending
// get ErrClosed. Later calls return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.mu.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.mu.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done

	l.mu.Lock()
	err := l.mu.failErr
	if err == nil {
		err = l.closeCleanLocked()
	}
	covered := l.takeWaitersLocked(nil, false)
	rest := l.takeWaitersLocked(nil, true)
	for _, s := range l.mu.segs {
		s.decRef()
	}
	l.mu.segs = nil
	l.mu.Unlock()
	fireAll(covered, nil)
	fireAll(rest, ErrClosed)
	return err
}

func (l *Log) closeCleanLocked() error {
	act := l.active()
	// Before the fdatasyncs, so the clean marker never covers a padded file.
	if err := act.trimPadding(); err != nil {
		return err
	}
	for _, s := range l.mu.segs[l.segIndexLocked(l.flushed.Load()):] {
		if err := s.datasync(); err != nil {
			return err
		}
	}
	// On a full disk the close still succeeds, since every batch is durable
	// by now. If the active segment's last time entry or pending index
	// entries find no room, they are dropped and the clean marker is not
	// written: the next Open recovers the active segment as after a crash,
	// rebuilding its indexes, which costs time, not data. The clean marker
	// itself and the recovery point may find no room either; a stale
	// recovery point is harmless (recovery only validates more).
	teErr := act.appendTimeEntry()
	if teErr != nil && !IsDiskFull(teErr) {
		return teErr
	}
	dropped, err := act.writeIndexes(true)
	if err != nil {
		return err
	}
	for _, ix := range []*index{act.idx, act.tidx} {
		if err := ix.trim(); err != nil {
			return err
		}
		if err := ix.sync(); err != nil {
			return err
		}
	}
	leo := l.leo.Load()
	l.flushed.Store(leo)
	if err := writeOffsetFile(l.dir, recoveryPointFile, leo); err != nil && !IsDiskFull(err) {
		return err
	}
	if dropped || teErr != nil {
		return nil
	}
	if err := writeFileAtomic(l.dir, cleanShutdownFile, nil); err != nil && !IsDiskFull(err) {
		return err
	}
	return nil
}

// Delete closes the log and removes its directory. On a log that is
// already closed it returns ErrClosed and removes nothing; a failed log is
// still removed, since its data is what the caller wants gone.
func (l *Log) Delete() error {
	if err := l.Close(); errors.Is(err, ErrClosed) {
		return err
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("segment: delete log dir %s: %w", l.dir, err)
	}
	return nil
}

// segIndexLocked returns the index of the segment holding offset (the last
// segment with base <= offset; 0 when offset is below every base).
func (l *Log) segIndexLocked(offset int64) int {
	segs := l.mu.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
	return max(i, 0)
}
