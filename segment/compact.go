package segment

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spate-io/spate/record"
)

// Log compaction (Kafka's cleanup.policy=compact). A pass builds a map from
// key hash to the latest offset of that key over the dirty part of the log
// (from the cleaner checkpoint up to the active segment), then rewrites the
// sealed segments in groups of adjacent ones (groupTargets), each group into
// one cleaned file named after its first segment, and swaps every group that
// lost a record or holds more than one segment in. doc.go ("Compaction") has
// the file protocol and what a crash leaves.

// Names of the cleaner's files; see doc.go.
const (
	cleanerCheckpointFile = "cleaner-offset-checkpoint"
	cleanedInfix          = ".cleaned" // <base>.cleaned.log: a copy being written
	swapInfix             = ".swap"    // <base>.swap.log: a copy committed, not yet renamed
)

// DefaultCompactMaxKeys bounds the cleaner's offset map when
// CompactOptions.MaxKeys is 0. A pass whose dirty section holds more distinct
// keys cleans only up to the batch where the map filled; the next pass goes on
// from there, as Kafka does when its dedupe buffer is full.
const DefaultCompactMaxKeys = 1 << 20

// CompactOptions tune one Compact pass.
type CompactOptions struct {
	// Now is the pass's clock: tombstone horizons and the compaction lag are
	// measured against it.
	Now time.Time
	// DeleteRetention is how long a tombstone (a record with a null value)
	// survives after the first pass that kept it (Kafka delete.retention.ms).
	DeleteRetention time.Duration
	// MinCompactionLag keeps segments whose newest batch is younger than this
	// out of the pass (Kafka min.compaction.lag.ms); 0 = no lag.
	MinCompactionLag time.Duration
	// MinDirtyRatio: the pass does nothing while dirty bytes / cleanable bytes
	// is below it (Kafka min.cleanable.dirty.ratio).
	MinDirtyRatio float64
	// MaxKeys bounds the offset map; 0 means DefaultCompactMaxKeys.
	MaxKeys int
}

// CompactResult says what one Compact pass did.
type CompactResult struct {
	DirtyRatio float64 // dirty / cleanable bytes when the pass started
	Segments   int     // segments rewritten and swapped in
	// SegmentsMerged counts those of Segments whose files went away because
	// they were cleaned into the file of an earlier segment of their group
	// (see groupTargets): the log has that many fewer segments.
	SegmentsMerged int
	BytesBefore    int64 // the rewritten segments' size before
	BytesAfter     int64 // and after
	RecordsRemoved int64
	FirstDirty     int64 // the cleaner checkpoint after the pass
	// MaxSwapPause is the longest the pass held the Log's lock exclusively
	// (to swap one cleaned group in): the longest it stalled appends.
	MaxSwapPause time.Duration
}

// cleanerState is the Log's compaction state; its mutex serializes passes.
// Lock order: cleanerState, then Log.mu.
type cleanerState struct {
	sync.Mutex
	loaded     bool
	firstDirty int64 // offsets below were cleaned by an earlier pass
	// nextHorizon is the earliest delete horizon (ms) of a tombstone the
	// last pass kept, 0 for none: from then on a pass runs whatever the
	// dirty ratio, so tombstones go on time on an idle log (KIP-534). It is
	// not persisted; after a restart they go with the next dirty pass.
	nextHorizon int64
}

// cleanTarget is one sealed segment the pass reads: its bytes were captured
// under the Log's lock and stay valid while the pass holds a reference.
type cleanTarget struct {
	seg  *segment
	data []byte
}

// Compact runs one compaction pass over the sealed segments; the active
// segment is never touched. Records keep their offsets; a batch keeps its
// base offset and offset range; a batch whose records all went is replaced by
// an empty batch (record.AppendEmpty) holding its range, merged with its
// neighbours in the same state, except that the last batch of such a run keeps
// its own empty batch when it carries a producer id, so its sequence survives.
// A record is removed when a later record in the mapped range has the same
// key hash, when its key is null (Kafka's cleaner drops those too), or when
// it is a tombstone whose batch's delete horizon has passed. The pass does
// nothing while the dirty ratio is below opt.MinDirtyRatio, unless a kept
// tombstone's horizon has passed since the last pass. Adjacent small segments
// are merged into one (see groupTargets), so a compacted log that keeps being
// written does not collect one tiny segment per SegmentBytes ever appended.
// Appends and reads go on during the pass: the Log's lock is held only to
// pick segments and to swap each cleaned group in.
//
// Key hashes are 64-bit (hash/maphash, seeded per pass): two keys colliding
// in one pass makes the older record of one of them look superseded. With n
// distinct keys in a pass the chance of any collision is about n²/2^65, 3e-8
// for a million keys. Kafka's cleaner takes the same kind of risk with its
// 128-bit MD5 map.
func (l *Log) Compact(opt CompactOptions) (CompactResult, error) {
	l.cleaner.Lock()
	defer l.cleaner.Unlock()
	if !l.cleaner.loaded {
		off, _, err := readOffsetFile(l.dir, cleanerCheckpointFile)
		if err != nil {
			return CompactResult{}, err
		}
		l.cleaner.firstDirty, l.cleaner.loaded = off, true
	}
	lagBound := time.Time{} // no lag: every sealed segment, whatever its timestamps
	if opt.MinCompactionLag > 0 {
		lagBound = opt.Now.Add(-opt.MinCompactionLag)
	}
	targets, firstDirty, ratio, err := l.cleanable(lagBound, l.cleaner.firstDirty)
	defer func() {
		for _, t := range targets {
			t.seg.decRef()
		}
	}()
	res := CompactResult{DirtyRatio: ratio, FirstDirty: firstDirty}
	due := l.cleaner.nextHorizon > 0 && opt.Now.UnixMilli() >= l.cleaner.nextHorizon
	if err != nil || len(targets) == 0 || (!due && (ratio == 0 || ratio < opt.MinDirtyRatio)) {
		return res, err
	}
	c := newCleaner(opt)
	end, err := c.buildMap(targets, firstDirty)
	if err != nil {
		return res, fmt.Errorf("segment: compact %s: %w", l.dir, err)
	}
	c.end = end
	n := 0 // segments that hold mapped offsets; later ones are left alone
	for n < len(targets) && targets[n].seg.base < end {
		n++
	}
	cfg := l.config()
	for _, g := range groupTargets(targets[:n], &cfg) {
		before, after, pause, err := l.cleanGroup(c, g)
		res.MaxSwapPause = max(res.MaxSwapPause, pause)
		if err != nil {
			return res, fmt.Errorf("segment: compact %s: %w", l.dir, err)
		}
		if after >= 0 {
			res.Segments += len(g)
			res.SegmentsMerged += len(g) - 1
			res.BytesBefore += before
			res.BytesAfter += after
		}
	}
	res.RecordsRemoved = c.removed
	l.cleaner.nextHorizon = c.minHorizon
	if err := writeOffsetFile(l.dir, cleanerCheckpointFile, end); err != nil {
		return res, err
	}
	l.cleaner.firstDirty, res.FirstDirty = end, end
	return res, nil
}

// cleanable picks the sealed segments a pass may read, takes a reference on
// each, and returns the first dirty offset (clamped to them) and the dirty
// ratio. Segments from the first one newer than lagBound on are left out;
// a zero lagBound leaves none out.
func (l *Log) cleanable(lagBound time.Time, firstDirty int64) ([]cleanTarget, int64, float64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.usableLocked(); err != nil {
		return nil, firstDirty, 0, err
	}
	segs := l.mu.segs[:len(l.mu.segs)-1]
	var targets []cleanTarget
	for _, s := range segs {
		if !lagBound.IsZero() && s.maxTs > 0 && time.UnixMilli(s.maxTs).After(lagBound) {
			break
		}
		targets = append(targets, cleanTarget{seg: s, data: s.valid()})
	}
	if len(targets) == 0 {
		return nil, firstDirty, 0, nil
	}
	for _, t := range targets {
		t.seg.incRef()
	}
	firstDirty = max(firstDirty, targets[0].seg.base)
	var total, dirty int64
	for _, t := range targets {
		s := t.seg
		total += s.size
		switch {
		case s.base >= firstDirty:
			dirty += s.size
		case s.next > firstDirty:
			pos, err := s.locate(firstDirty)
			if err != nil {
				return targets, firstDirty, 0, err
			}
			dirty += s.size - pos
		}
	}
	if total == 0 {
		return targets, firstDirty, 0, nil
	}
	return targets, firstDirty, float64(dirty) / float64(total), nil
}

// groupTargets splits targets, adjacent sealed segments in offset order, into
// runs that are each cleaned into one file (Kafka's
// LogCleaner.groupSegmentsBySize). A run grows while
//
//   - the segments' current sizes sum to at most cfg.SegmentBytes, so the
//     cleaned file, never larger than its sources, is no larger than a
//     segment the log rolls itself;
//   - its offsets, from the first base to the last segment's next, span at
//     most math.MaxInt32, so every relative offset fits the indexes;
//   - the indexes rebuilt over that many bytes fit MaxIndexBytes (see
//     maxIndexEntries). A full segment's worth of bytes does not guarantee
//     that: when MaxIndexBytes is small against SegmentBytes/IndexIntervalBytes
//     the log rolls on a full index before SegmentBytes, and a run of such
//     segments would need more entries than one index holds. A full time
//     index would also lose the final entry that carries the segment's
//     largest timestamp across a reopen;
//   - it holds fewer than maxGroupSegments segments.
//
// A segment that breaks a bound on its own (a batch larger than SegmentBytes)
// is a run of one, cleaned alone as before grouping existed.
func groupTargets(targets []cleanTarget, cfg *Config) [][]cleanTarget {
	var groups [][]cleanTarget
	var size int64
	for i, t := range targets {
		if i > 0 {
			g := groups[len(groups)-1]
			first, prev := g[0].seg, g[len(g)-1].seg
			sum := size + int64(len(t.data))
			if len(g) < maxGroupSegments && prev.next == t.seg.base && sum <= cfg.SegmentBytes &&
				t.seg.next-first.base <= math.MaxInt32 && maxIndexEntries(sum, cfg) <= indexCapacity(cfg) {
				groups[len(groups)-1] = append(g, t)
				size = sum
				continue
			}
		}
		groups = append(groups, []cleanTarget{t})
		size = int64(len(t.data))
	}
	return groups
}

// maxGroupSegments bounds how many segments one group merges. The swap
// deletes the files of all but the first under the Log's lock, so the
// longest stall of appends grows with the group: without a bound, merging
// 1000 small segments (the first pass over a log that piled them up) held
// the lock for 15.5-17.9 ms, with 64 for 2.3-2.8 ms (8.5 ms once, under
// load; perf/compaction.md). A longer run of small segments takes one more
// pass per factor of 64.
const maxGroupSegments = 64

// maxIndexEntries bounds the entries rebuildIndexes writes to either index of
// a segment of size bytes: an offset entry needs IndexIntervalBytes of log
// since the previous one (the time index gets at most one per offset entry),
// and seal adds one more time entry.
func maxIndexEntries(size int64, cfg *Config) int64 {
	return size/int64(cfg.IndexIntervalBytes) + 1
}

// indexCapacity is how many entries the smaller of a segment's two indexes
// holds when preallocated to MaxIndexBytes (the time index: its entries are
// the larger).
func indexCapacity(cfg *Config) int64 { return int64(cfg.MaxIndexBytes / timeEntrySize) }

// cleaner is one pass's offset map and scratch.
type cleaner struct {
	opt      CompactOptions
	maxKeys  int
	seed     maphash.Seed
	latest   map[uint64]int64 // key hash -> offset of the key's last record in [firstDirty, end)
	end      int64            // records at or past end were not mapped and are kept
	now      int64            // opt.Now in ms
	it       record.Iter
	out      []byte // the cleaned segment being assembled, flushed in chunks
	run      emptyRun
	removed  int64
	horizons int // batches of the current segment given a delete horizon
	// minHorizon is the earliest delete horizon of a tombstone kept so far
	// in the pass, 0 for none.
	minHorizon int64
	// batch is the batch being filtered; keep reads its delete horizon.
	batch    record.Batch
	keepFunc func(*record.Record) bool
}

func newCleaner(opt CompactOptions) *cleaner {
	c := &cleaner{opt: opt, maxKeys: opt.MaxKeys, seed: maphash.MakeSeed(), now: opt.Now.UnixMilli()}
	if c.maxKeys <= 0 {
		c.maxKeys = DefaultCompactMaxKeys
	}
	c.latest = make(map[uint64]int64, min(c.maxKeys, 1<<16))
	c.keepFunc = c.keep
	return c
}

func (c *cleaner) hash(key []byte) uint64 { return maphash.Bytes(c.seed, key) }

// buildMap records the latest offset of every key from firstDirty on, batch by
// batch, until the map would exceed maxKeys. It returns the end of the mapped
// range (exclusive, a batch boundary).
func (c *cleaner) buildMap(targets []cleanTarget, firstDirty int64) (int64, error) {
	end := firstDirty
	for _, t := range targets {
		if t.seg.next <= firstDirty {
			continue
		}
		for pos := int64(0); pos < int64(len(t.data)); pos += batchSizeIn(t.data, pos) {
			if lastOffsetIn(t.data, pos) < firstDirty {
				continue
			}
			b, err := record.Parse(t.data[pos:])
			if err != nil {
				return end, fmt.Errorf("%s at position %d: %w", t.seg.stem+logSuffix, pos, err)
			}
			if len(c.latest)+int(b.RecordCount()) > c.maxKeys && len(c.latest) > 0 {
				return end, nil
			}
			if !b.IsControl() {
				if err := c.it.Reset(b); err != nil {
					return end, fmt.Errorf("%s: %w", t.seg.stem+logSuffix, err)
				}
				for c.it.Next() {
					if r := c.it.Record(); r.Key != nil && r.Offset >= firstDirty {
						c.latest[c.hash(r.Key)] = r.Offset
					}
				}
				if err := c.it.Err(); err != nil {
					return end, fmt.Errorf("%s: %w", t.seg.stem+logSuffix, err)
				}
			}
			end = b.NextOffset()
		}
	}
	return end, nil
}

// keep decides one record of c.batch; see Compact.
func (c *cleaner) keep(r *record.Record) bool {
	if r.Offset >= c.end {
		return true
	}
	if r.Key == nil {
		return false
	}
	if latest, ok := c.latest[c.hash(r.Key)]; ok && latest > r.Offset {
		return false
	}
	if r.Value != nil || !c.batch.HasDeleteHorizon() {
		return true
	}
	if h := c.batch.BaseTimestamp(); c.now < h {
		c.noteHorizon(h)
		return true
	}
	return false
}

func (c *cleaner) noteHorizon(h int64) {
	if c.minHorizon == 0 || h < c.minHorizon {
		c.minHorizon = h
	}
}

// classify reports how many records of b survive and whether a surviving
// tombstone needs a delete horizon stamped.
func (c *cleaner) classify(b record.Batch) (kept int, needHorizon bool, err error) {
	c.batch = b
	if err := c.it.Reset(b); err != nil {
		return 0, false, err
	}
	for c.it.Next() {
		if r := c.it.Record(); c.keep(r) {
			kept++
			needHorizon = needHorizon || (r.Value == nil && !b.HasDeleteHorizon())
		}
	}
	return kept, needHorizon, c.it.Err()
}

// filter appends the cleaned form of b to c.out.
func (c *cleaner) filter(b record.Batch) error {
	if b.BaseOffset() >= c.end || b.IsControl() {
		c.flushRun()
		c.out = append(c.out, b...)
		return nil
	}
	kept, needHorizon, err := c.classify(b)
	if err != nil {
		return err
	}
	c.removed += int64(b.RecordCount()) - int64(kept)
	switch {
	case kept == 0:
		c.run.add(b, &c.out)
	case kept == int(b.RecordCount()) && !needHorizon:
		c.flushRun()
		c.out = append(c.out, b...)
	default:
		c.flushRun()
		horizon := int64(0)
		if needHorizon {
			c.horizons++
			horizon = c.now + c.opt.DeleteRetention.Milliseconds()
			c.noteHorizon(horizon)
		}
		c.batch = b
		if c.out, _, err = record.AppendCompacted(c.out, b, &c.it, c.keepFunc, horizon); err != nil {
			return err
		}
	}
	return nil
}

func (c *cleaner) flushRun() { c.run.flush(&c.out) }

// emptyRun is a run of consecutive batches whose records were all removed,
// written as at most two empty batches. last is the run's newest batch.
type emptyRun struct {
	active bool
	base   int64
	maxTs  int64
	last   record.Batch
}

func (r *emptyRun) add(b record.Batch, out *[]byte) {
	if r.active && b.LastOffset()-r.base > math.MaxInt32 {
		r.flush(out) // an empty batch's range must fit lastOffsetDelta
	}
	if !r.active {
		r.active, r.base, r.maxTs = true, b.BaseOffset(), b.MaxTimestamp()
	}
	r.maxTs = max(r.maxTs, b.MaxTimestamp())
	r.last = b
}

func (r *emptyRun) flush(out *[]byte) {
	if !r.active {
		return
	}
	r.active = false
	l, epoch, none := r.last, r.last.PartitionLeaderEpoch(), int64(record.NoProducer)
	if l.ProducerID() < 0 {
		*out = record.AppendEmpty(*out, r.base, int32(l.LastOffset()-r.base), r.maxTs, epoch, none, -1, -1)
		return
	}
	// The producer's batch keeps its exact range and fields, so rebuilding
	// producer state from the log still finds its last sequence.
	if l.BaseOffset() > r.base {
		*out = record.AppendEmpty(*out, r.base, int32(l.BaseOffset()-1-r.base), r.maxTs, epoch, none, -1, -1)
	}
	*out = record.AppendEmpty(*out, l.BaseOffset(), l.LastOffsetDelta(), r.maxTs, epoch,
		l.ProducerID(), l.ProducerEpoch(), l.BaseSequence())
}

// cleanChunk is how many cleaned bytes are gathered before one write.
const cleanChunk = 1 << 20

// cleanGroup writes the cleaned copy of the group g (adjacent segments, see
// groupTargets) into one file named after g's first segment and swaps it in
// for all of them. It returns the group's size before and after, after = -1
// when it was left alone (a segment of it changed or went away during the
// pass, or it is one segment with nothing to remove), and how long the swap
// held the Log's lock.
func (l *Log) cleanGroup(c *cleaner, g []cleanTarget) (before, after int64, pause time.Duration, err error) {
	base := g[0].seg.base
	stem := filepath.Join(l.dir, segmentName(base))
	removedBefore := c.removed
	size, err := c.writeCleaned(g, stem+cleanedInfix+logSuffix)
	// Merging several segments into one is worth a rewrite by itself.
	if err == nil && len(g) == 1 && c.removed == removedBefore && c.horizons == 0 {
		err = errNothingCleaned
	}
	if err == nil {
		err = l.indexCleaned(stem, base)
	}
	if err != nil {
		removeCleaned(stem)
		if errors.Is(err, errNothingCleaned) {
			return 0, -1, 0, nil
		}
		return 0, -1, 0, err
	}
	swapped, pause, err := l.swapIn(stem, g)
	if !swapped {
		removeCleaned(stem)
		return 0, -1, pause, err
	}
	if err != nil {
		return 0, -1, pause, err
	}
	if err := syncDir(l.dir); err != nil {
		return 0, -1, pause, err
	}
	for _, t := range g {
		before += int64(len(t.data))
	}
	return before, size, pause, nil
}

// errNothingCleaned: the copy would equal the segment (no record removed, no
// delete horizon stamped), so it is dropped instead of swapped in.
var errNothingCleaned = errors.New("nothing to clean")

// writeCleaned filters every batch of the group g, in order, into path and
// fsyncs it. A run of emptied batches may span the group's segment
// boundaries: the output is one segment.
func (c *cleaner) writeCleaned(g []cleanTarget, path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	c.out, c.horizons = c.out[:0], 0
	var written int64
	flush := func() error {
		if _, err := f.Write(c.out); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		written += int64(len(c.out))
		c.out = c.out[:0]
		return nil
	}
	for _, t := range g {
		for pos := int64(0); pos < int64(len(t.data)); {
			b, err := record.Parse(t.data[pos:])
			if err != nil {
				return 0, fmt.Errorf("%s at position %d: %w", t.seg.stem+logSuffix, pos, err)
			}
			if err := c.filter(b); err != nil {
				return 0, fmt.Errorf("%s at position %d: %w", t.seg.stem+logSuffix, pos, err)
			}
			pos += int64(len(b))
			if len(c.out) >= cleanChunk {
				if err := flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	c.flushRun()
	if err := flush(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("fsync %s: %w", path, err)
	}
	return written, nil
}

// indexCleaned builds and syncs the indexes of the cleaned copy at stem,
// checking every batch it wrote on the way, then renames the indexes to
// their .swap names: harmless before the log's own rename, since Open deletes
// index .swap files that have no .swap log.
func (l *Log) indexCleaned(stem string, base int64) error {
	cfg := l.config()
	s, err := openSegmentAt(stem+cleanedInfix, base, true, &cfg)
	if err != nil {
		return err
	}
	defer s.decRef()
	end, bad, err := s.rebuildIndexes(true, false, l.cfg.IndexIntervalBytes)
	if err == nil && bad != nil {
		err = fmt.Errorf("%w: cleaned copy valid only up to %d of %d bytes: %w", ErrCorrupt, end, s.size, bad)
	}
	if err == nil {
		err = l.sealIndexes(s, false)
	}
	if err != nil {
		return err
	}
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if err := os.Rename(stem+cleanedInfix+suf, stem+swapInfix+suf); err != nil {
			return fmt.Errorf("rename %s: %w", stem+cleanedInfix+suf, err)
		}
	}
	return syncDir(l.dir)
}

// swapIn replaces the group g, under the Log's lock, by the cleaned copy at
// stem (named after g's first segment). swapped is false, with no error, when
// g is no longer a run of sealed segments of the log (retention or truncation
// got there first) or the log closed. Renaming <stem>.cleaned.log to
// <stem>.swap.log is the commit point; a failure after it fails the log,
// since the files may be half-renamed or half-deleted.
func (l *Log) swapIn(stem string, g []cleanTarget) (swapped bool, pause time.Duration, err error) {
	var replaced []*segment
	l.mu.Lock()
	start := time.Now()
	defer func() {
		pause = time.Since(start)
		l.mu.Unlock()
		// The Log's references go after the unlock: closing the last
		// descriptor of an unlinked file frees its blocks, work the
		// appends need not wait for.
		for _, s := range replaced {
			s.decRef() // FileRanges still holding it keep its unlinked file
		}
	}()
	if l.usableLocked() != nil {
		return false, 0, nil
	}
	i := l.segIndexLocked(g[0].seg.base)
	j := i + len(g) // segs[i:j] must be g, and segs[j] exists: g holds no active segment
	if j >= len(l.mu.segs) {
		return false, 0, nil
	}
	for k, t := range g {
		if l.mu.segs[i+k] != t.seg {
			return false, 0, nil
		}
	}
	if err := os.Rename(stem+cleanedInfix+logSuffix, stem+swapInfix+logSuffix); err != nil {
		return false, 0, fmt.Errorf("segment: commit cleaned %s: %w", stem+logSuffix, err)
	}
	if len(g) > 1 {
		// The commit must be durable before the first merged file goes, or
		// a crash could keep the deletions and lose the rename: a gap.
		if err := syncDir(l.dir); err != nil {
			return true, 0, l.failLocked(err)
		}
		for _, t := range g[1:] {
			// Unlinked only: FileRanges holding the segment keep reading it.
			if err := t.seg.removeFiles(); err != nil {
				return true, 0, l.failLocked(err)
			}
		}
	}
	if err := finishSwap(l.dir, stem); err != nil {
		return true, 0, l.failLocked(err)
	}
	last := g[len(g)-1].seg
	s, err := openSegment(l.dir, g[0].seg.base, false, &l.cfg)
	if err != nil {
		return true, 0, l.failLocked(err)
	}
	s.next = last.next
	if ts, rel, ok := s.tidx.lastTime(); ok {
		s.maxTs, s.maxTsOffset = ts, s.base+int64(rel)
	}
	l.mu.segs[i] = s
	l.mu.segs = slices.Delete(l.mu.segs, i+1, j)
	for _, t := range g {
		replaced = append(replaced, t.seg)
	}
	return true, 0, nil
}

// finishSwap moves a committed copy's files to their final names: the
// indexes first and, once that is durable, the log, so that while
// <stem>.swap.log exists every index .swap file belongs to it. The first
// directory fsync also makes durable the deletion of the segments merged
// into the copy, so none of them can outlive <stem>.swap.log.
func finishSwap(dir, stem string) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		err := os.Rename(stem+swapInfix+suf, stem+suf)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("segment: rename %s: %w", stem+swapInfix+suf, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Rename(stem+swapInfix+logSuffix, stem+logSuffix); err != nil {
		return fmt.Errorf("segment: rename %s: %w", stem+swapInfix+logSuffix, err)
	}
	return noteSyncedFile(stem + logSuffix)
}

// removeCleaned deletes whatever a failed or abandoned clean left at stem.
// Errors are dropped: Open deletes the same files.
func removeCleaned(stem string) {
	for _, infix := range []string{cleanedInfix, swapInfix} {
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if infix == swapInfix && suf == logSuffix {
				continue // a committed copy is never abandoned
			}
			os.Remove(stem + infix + suf)
		}
	}
}

// recoverCleaning runs at Open, before segments are listed: a committed copy
// (<B>.swap.log) is finished, every other cleaner file deleted. Finishing
// first deletes every segment the copy replaced, the ones with a base above
// B and below the copy's end offset (those of its group after the first),
// then renames the copy's files (finishSwap). Each step can be repeated, so a
// crash during this recovery leaves a state the next Open recovers the same
// way.
func recoverCleaning(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("segment: list %s: %w", dir, err)
	}
	changed := false
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), swapInfix+logSuffix)
		if !ok {
			continue
		}
		stem := filepath.Join(dir, name)
		base, err := strconv.ParseInt(name, 10, 64)
		if err != nil || len(name) != 20 || base < 0 {
			return fmt.Errorf("%w: committed cleaned copy %s is not named after a base offset", ErrCorrupt, stem+swapInfix+logSuffix)
		}
		end, err := committedEnd(stem+swapInfix+logSuffix, base)
		if err != nil {
			return err
		}
		if err := removeMerged(dir, entries, base, end); err != nil {
			return err
		}
		if err := finishSwap(dir, stem); err != nil {
			return err
		}
		changed = true
	}
	if entries, err = os.ReadDir(dir); err != nil {
		return fmt.Errorf("segment: list %s: %w", dir, err)
	}
	for _, e := range entries {
		if name := e.Name(); strings.Contains(name, cleanedInfix+".") || strings.Contains(name, swapInfix+".") {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("segment: remove leftover %s: %w", filepath.Join(dir, name), err)
			}
			changed = true
		}
	}
	if changed {
		return syncDir(dir)
	}
	return nil
}

// committedEnd returns the offset after the last batch of the committed copy
// at path, whose first batch has offset base. Only the batch headers are
// read (one pread each): every batch was validated and the file fsynced
// before the commit rename. A copy whose headers do not chain is ErrCorrupt,
// and Open fails: the segments it replaced may be gone already, so there is
// nothing to fall back to.
func committedEnd(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("segment: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("segment: stat %s: %w", path, err)
	}
	next := base
	var h [record.HeaderSize]byte
	for pos := int64(0); pos < fi.Size(); {
		if _, err := f.ReadAt(h[:], pos); err != nil {
			return 0, fmt.Errorf("%w: committed cleaned copy %s: header at position %d: %w", ErrCorrupt, path, pos, err)
		}
		const magicAt = 16 // after baseOffset, batchLength, partitionLeaderEpoch
		n := batchSizeIn(h[:], 0)
		if n < record.HeaderSize || pos+n > fi.Size() || h[magicAt] != record.Magic || baseOffsetIn(h[:], 0) != next {
			return 0, fmt.Errorf("%w: committed cleaned copy %s: bad batch header at position %d (want base offset %d)",
				ErrCorrupt, path, pos, next)
		}
		next = lastOffsetIn(h[:], 0) + 1
		pos += n
	}
	return next, nil
}

// removeMerged deletes the files of every segment in entries whose base
// offset lies in (base, end): those a committed copy at base replaced.
func removeMerged(dir string, entries []os.DirEntry, base, end int64) error {
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), logSuffix)
		if !ok {
			if stem, ok = strings.CutSuffix(e.Name(), indexSuffix); !ok {
				stem, ok = strings.CutSuffix(e.Name(), timeIndexSuffix)
			}
		}
		if !ok || len(stem) != 20 {
			continue
		}
		if b, err := strconv.ParseInt(stem, 10, 64); err != nil || b <= base || b >= end {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("segment: delete %s, merged into %s: %w", path, segmentName(base)+swapInfix+logSuffix, err)
		}
	}
	return nil
}
