package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/record"
	"golang.org/x/sys/unix"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// segmentName returns the file name stem of the segment with base offset base:
// 20 zero-padded decimal digits, so names sort in offset order.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// segment is one .log file with its two indexes. The Log's lock guards every
// field except refs and the read-only data mapping, which FileRanges use
// after the lock is released.
//
// Descriptors: the active segment holds its .log and, only once a large
// append went direct, an O_DIRECT .log; indexes hold none (see index). A
// sealed segment holds none once no reader holds its .log (see
// Log.releaseSealedLocked): reads go through the mappings, which need no
// descriptor, and the rare fsync or stat opens the file by path. So a
// partition costs one descriptor (two while writing direct) however many
// segments it has, instead of three per segment plus one.
//
// Invariant: bytes [0, size) of the file are whole, valid batches with
// contiguous offsets [base, next).
type segment struct {
	base int64
	stem string // dir/<20 digits>
	// log is the .log opened read-write for the active segment; nil once
	// the segment is sealed and released.
	log  *os.File
	data []byte // read-only MAP_SHARED mapping; len(data) >= size
	size int64
	next int64

	idx, tidx *index
	active    bool
	// dw, when set, writes the appends of this active segment (see
	// directWriter); nil means plain pwrite through the page cache.
	dw *directWriter

	sinceIndex  int   // log bytes appended since the last offset index entry
	maxTs       int64 // largest MaxTimestamp seen, -1 when none
	maxTsOffset int64 // base offset of the batch that carried maxTs
	firstTs     time.Time

	refs atomic.Int32 // the Log's reference + one per live FileRange
}

// openSegment opens (or creates) the segment files for base. An active
// segment gets writable, preallocated indexes and a mapping reserved up to
// reserve bytes, so appends never remap while readers hold slices of it.
// The indexes' valid prefixes are computed against size = the file size;
// the caller decides whether to trust or rebuild them.
func openSegment(dir string, base int64, active bool, cfg *Config) (*segment, error) {
	return openSegmentAt(filepath.Join(dir, segmentName(base)), base, active, cfg)
}

// openSegmentAt is openSegment for files named stem+suffix; the cleaner uses
// it for the cleaned copy of a segment, which lives under another stem.
func openSegmentAt(stem string, base int64, active bool, cfg *Config) (*segment, error) {
	s := &segment{base: base, stem: stem, active: active, maxTs: -1, next: base}
	var err error
	flag := os.O_RDONLY
	if active {
		flag = os.O_RDWR | os.O_CREATE
	}
	if s.log, err = os.OpenFile(s.stem+logSuffix, flag, 0o644); err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", s.stem+logSuffix, err)
	}
	fi, err := s.log.Stat()
	if err != nil {
		s.log.Close()
		return nil, fmt.Errorf("segment: stat %s: %w", s.stem+logSuffix, err)
	}
	s.size = fi.Size()
	if s.size > maxSegmentBytes {
		s.log.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, above the 2 GiB segment limit", ErrCorrupt, s.stem+logSuffix, s.size)
	}
	reserve := s.size
	if active {
		reserve = max(reserve, cfg.SegmentBytes)
	}
	if err := s.mapData(reserve); err != nil {
		s.log.Close()
		return nil, err
	}
	if active && cfg.DirectWriteBytes > 0 {
		if s.dw, err = openDirect(s.stem+logSuffix, s.data[:s.size], cfg.DirectWriteBytes); err != nil {
			s.unmapData()
			s.log.Close()
			return nil, err
		}
	}
	if active && s.size == 0 {
		// A fresh segment must not inherit entries from index files left by
		// an earlier segment with the same base (one that was truncated away).
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if err := os.Truncate(s.stem+suf, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.closeDirect()
				s.unmapData()
				s.log.Close()
				return nil, fmt.Errorf("segment: reset index %s: %w", s.stem+suf, err)
			}
		}
	}
	if err := s.openIndexes(cfg); err != nil {
		s.closeDirect()
		s.unmapData()
		s.log.Close()
		return nil, err
	}
	if !active {
		// Only read through the mapping from here on.
		s.log.Close()
		s.log = nil
	}
	s.refs.Store(1)
	return s, nil
}

// release closes a sealed segment's descriptors, keeping its mappings. The
// caller holds the Log's lock and knows that nothing else holds a reference
// (no FileRange sends from s.log, no sync reads it). Close errors are
// dropped: close reports no write-back error that a later fsync, which
// opens the file by path, would not report.
func (s *segment) release() {
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
}

// datasync fdatasyncs the .log, opening it by path when released: an
// fdatasync through any descriptor covers what others wrote. A file gone
// from its path was deleted by retention or truncation while the syncer
// ran (renames only ever replace a segment's files): nothing to sync.
func (s *segment) datasync() error {
	f := s.log
	if f == nil {
		var err error
		f, err = os.Open(s.stem + logSuffix)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("segment: fdatasync %s: %w", s.stem+logSuffix, err)
		}
		defer f.Close()
	}
	synced, err := syncedLength(f)
	if err != nil {
		return err
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("segment: fdatasync %s: %w", s.stem+logSuffix, err)
	}
	return noteSynced(s.stem+logSuffix, synced)
}

func (s *segment) mapData(reserve int64) error {
	if reserve == 0 {
		return nil
	}
	m, err := unix.Mmap(int(s.log.Fd()), 0, int(reserve), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("segment: mmap %s: %w", s.stem+logSuffix, err)
	}
	s.data = m
	return nil
}

func (s *segment) unmapData() {
	if s.data != nil {
		unix.Munmap(s.data) // only fails for a bad address, which we never pass
		s.data = nil
	}
}

func (s *segment) openIndexes(cfg *Config) error {
	var err error
	s.idx, err = openIndex(s.stem+indexSuffix, offsetEntrySize, cfg.MaxIndexBytes, s.active, offsetEntryValidator(s.size))
	if err != nil {
		return err
	}
	// Relative offsets fit in uint32 by construction; the true bound is checked
	// again by the recovery sanity check once next is known.
	s.tidx, err = openIndex(s.stem+timeIndexSuffix, timeEntrySize, cfg.MaxIndexBytes, s.active, timeEntryValidator(1<<32))
	if err != nil {
		s.idx.close()
		return err
	}
	return nil
}

// incRef takes a reference for a FileRange; the caller holds the Log's lock,
// so the Log's own reference keeps refs above zero.
func (s *segment) incRef() { s.refs.Add(1) }

// decRef drops a reference; the last one unmaps and closes every file.
// Errors are dropped: the files are read-only by now or already synced, and
// whoever drops the last reference (often a FileRange) has no one to tell.
func (s *segment) decRef() {
	if s.refs.Add(-1) == 0 {
		s.closeDirect()
		s.unmapData()
		if s.log != nil {
			s.log.Close()
		}
		s.closeIndexes()
	}
}

// closeIndexes releases the index mappings; FileRanges never use them.
func (s *segment) closeIndexes() error {
	err := s.idx.close()
	if terr := s.tidx.close(); err == nil {
		err = terr
	}
	return err
}

// removeFiles unlinks the segment's files. Open descriptors and mappings held
// by FileRanges stay valid until released.
func (s *segment) removeFiles() error {
	forgetSynced(s.stem + logSuffix)
	var first error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(s.stem + suf); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = fmt.Errorf("segment: delete %s: %w", s.stem+suf, err)
		}
	}
	return first
}

// header returns the batch header at pos, framed by record.Parse against the
// valid size. It does not check the CRC.
func (s *segment) batchAt(pos int64) (record.Batch, error) {
	if pos >= s.size {
		return nil, record.ErrShort
	}
	return record.Parse(s.data[pos:s.size])
}

// Header readers over a slice of a segment's valid bytes. They trust the
// framing: callers only pass positions of batches inside [0, len(data)),
// which the segment invariant makes whole, valid batches.

func baseOffsetIn(data []byte, pos int64) int64 {
	return int64(binary.BigEndian.Uint64(data[pos:]))
}

// lastOffsetIn reads just the lastOffset of the batch at pos, for scans
// that must not touch the records.
func lastOffsetIn(data []byte, pos int64) int64 {
	return baseOffsetIn(data, pos) + int64(int32(binary.BigEndian.Uint32(data[pos+23:])))
}

func batchSizeIn(data []byte, pos int64) int64 {
	return int64(int32(binary.BigEndian.Uint32(data[pos+8:]))) + record.LogOverhead
}

func (s *segment) baseOffsetAt(pos int64) int64 { return baseOffsetIn(s.data, pos) }

// valid returns the segment's valid bytes; the caller holds the Log's lock.
// The slice stays readable without the lock while a reference is held:
// bytes below size never change (truncation under a reference moves the
// file aside instead of cutting it).
func (s *segment) valid() []byte { return s.data[:s.size:s.size] }

// floor returns the index floor position for offset; the caller holds the
// Log's lock, since the index changes with appends and truncation.
func (s *segment) floor(offset int64) int64 { return s.idx.offsetFloor(uint32(offset - s.base)) }

// locate returns the position of the batch that contains offset, which must be
// in [base, next). Lookup = index floor entry + forward scan of headers.
func (s *segment) locate(offset int64) (int64, error) {
	return scanTo(s.valid(), s.floor(offset), offset, s.stem)
}

// scanTo walks batch headers in data from pos to the batch containing offset.
func scanTo(data []byte, pos, offset int64, stem string) (int64, error) {
	for pos+record.HeaderSize <= int64(len(data)) {
		if lastOffsetIn(data, pos) >= offset {
			return pos, nil
		}
		pos += batchSizeIn(data, pos)
	}
	return 0, fmt.Errorf("%w: offset %d not found in %s (size %d)", ErrCorrupt, offset, stem+logSuffix, len(data))
}

// indexBatch records b, which was just placed at pos, in the indexes.
// Both indexes get an entry every IndexIntervalBytes of log.
func (s *segment) indexBatch(b record.Batch, pos int64, interval int) error {
	if ts := b.MaxTimestamp(); ts > s.maxTs {
		s.maxTs, s.maxTsOffset = ts, b.BaseOffset()
	}
	s.sinceIndex += len(b)
	if s.sinceIndex < interval || pos == 0 {
		return nil
	}
	s.sinceIndex = 0
	if !s.idx.full() {
		var e [offsetEntrySize]byte
		putOffsetEntry(e[:], uint32(b.BaseOffset()-s.base), uint32(pos))
		if err := s.idx.appendEntry(e[:]); err != nil {
			return err
		}
	}
	return s.appendTimeEntry()
}

// appendTimeEntry records (maxTs, its batch) if maxTs grew since the last
// entry. Timestamps <= 0 are never indexed; see timeEntryValidator.
func (s *segment) appendTimeEntry() error {
	if s.maxTs <= 0 || s.tidx.full() {
		return nil
	}
	if last, _, ok := s.tidx.lastTime(); ok && last >= s.maxTs {
		return nil
	}
	var e [timeEntrySize]byte
	putTimeEntry(e[:], s.maxTs, uint32(s.maxTsOffset-s.base))
	return s.tidx.appendEntry(e[:])
}

// indexFull reports whether either index has no room for another entry,
// which forces a roll.
func (s *segment) indexFull() bool { return s.idx.full() || s.tidx.full() }

// seal ends the segment's active life: the time index gets its final entry
// (so maxTs survives a reopen), both indexes are written and trimmed and
// the .log loses the padding of direct writes.
//
// The steps that may need new space go first (the time entry, the pending
// index entries): when the disk is full seal fails before anything else
// has changed, and a later seal starts over.
func (s *segment) seal() error {
	if err := s.appendTimeEntry(); err != nil {
		return err
	}
	if _, err := s.writeIndexes(false); err != nil {
		return err
	}
	return s.finishSeal()
}

// writeIndexes writes both indexes' pending entries. With sparseOnFull a
// full disk drops them instead and reports dropped: entries are hints, a
// lookup scans further without them and recovery rebuilds them.
func (s *segment) writeIndexes(sparseOnFull bool) (dropped bool, err error) {
	for _, ix := range []*index{s.idx, s.tidx} {
		if err := ix.writePending(false); err != nil {
			if !sparseOnFull || !IsDiskFull(err) {
				return dropped, err
			}
			ix.forgetFrom(ix.written)
			dropped = true
		}
	}
	return dropped, nil
}

// finishSeal is seal after its writes: the steps that need no space.
func (s *segment) finishSeal() error {
	if err := s.trimPadding(); err != nil {
		return err
	}
	s.closeDirect()
	if err := s.idx.trim(); err != nil {
		return err
	}
	if err := s.tidx.trim(); err != nil {
		return err
	}
	s.active = false
	return nil
}

// rebuildIndexes scans the segment from position 0, optionally validating
// every batch (CRC, framing, contiguous offsets from base), and rewrites both
// indexes. It returns the end of the valid prefix and, when that is short of
// the file size, why (bad); the caller truncates the file there. err is an
// I/O error writing the indexes, which must not cut any data. With
// sparseOnFull, a full disk is not an error: the indexes keep the entries
// written so far (lookups past them scan further), so a log on a full disk
// can still be recovered and served.
func (s *segment) rebuildIndexes(validate, sparseOnFull bool, interval int) (validEnd int64, bad, err error) {
	if err := s.idx.reset(); err != nil {
		return 0, nil, err
	}
	if err := s.tidx.reset(); err != nil {
		return 0, nil, err
	}
	s.sinceIndex, s.maxTs, s.maxTsOffset, s.next = 0, -1, s.base, s.base
	var pos int64
	indexing := true
	for pos < s.size {
		b, perr := s.batchAt(pos)
		if perr == nil && validate {
			// ValidateStored: compaction leaves batches with fewer records
			// than their offset range (see package record).
			perr = b.ValidateStored()
		}
		if perr == nil && b.BaseOffset() != s.next {
			perr = fmt.Errorf("%w: base offset %d, want %d", record.ErrCorrupt, b.BaseOffset(), s.next)
		}
		if perr != nil {
			return pos, fmt.Errorf("segment: %s at position %d: %w", s.stem+logSuffix, pos, perr), nil
		}
		if indexing && !s.indexFull() {
			if err := s.indexBatch(b, pos, interval); err != nil {
				if !sparseOnFull || !IsDiskFull(err) {
					return pos, nil, err
				}
				s.idx.forgetFrom(s.idx.written)
				s.tidx.forgetFrom(s.tidx.written)
				indexing = false
			}
		}
		if ts := b.MaxTimestamp(); ts > s.maxTs {
			s.maxTs, s.maxTsOffset = ts, b.BaseOffset()
		}
		s.next = b.NextOffset()
		pos += int64(len(b))
	}
	return pos, nil, nil
}

// indexesSane is the cheap check (Kafka's sanityCheck) for segments recovery
// does not rescan: the first and last offset entries point at batch headers
// with the offsets they claim, the last time entry lies below next, and an
// index is not empty for a segment big enough to need entries (a deleted
// index). Entries in between are only checked for order by countEntries:
// checking each would cost one random read per entry at startup.
func (s *segment) indexesSane(interval int) bool {
	if s.idx.n == 0 && s.size > 2*int64(interval) {
		return false
	}
	for _, i := range []int{0, s.idx.n - 1} {
		if s.idx.n == 0 {
			break
		}
		rel, pos := offsetEntry(s.idx.entry(i))
		b, err := s.batchAt(int64(pos))
		if err != nil || b.BaseOffset() != s.base+int64(rel) {
			return false
		}
	}
	if _, rel, ok := s.tidx.lastTime(); ok && s.base+int64(rel) >= s.next {
		return false
	}
	return true
}

// scanTail walks the batch headers from the last offset index entry to the
// end of the file and sets next (and maxTs for that tail). It reports whether
// the file ends exactly on a batch boundary.
func (s *segment) scanTail() bool {
	pos := int64(0)
	if s.idx.n > 0 {
		_, p := offsetEntry(s.idx.entry(s.idx.n - 1))
		pos = int64(p)
	}
	if ts, rel, ok := s.tidx.lastTime(); ok {
		s.maxTs, s.maxTsOffset = ts, s.base+int64(rel)
	}
	s.next = s.base
	first := true
	for pos < s.size {
		b, err := s.batchAt(pos)
		if err != nil || (!first && b.BaseOffset() != s.next) || (pos == 0 && b.BaseOffset() != s.base) {
			return false
		}
		first = false
		if ts := b.MaxTimestamp(); ts > s.maxTs {
			s.maxTs, s.maxTsOffset = ts, b.BaseOffset()
		}
		s.sinceIndex += len(b)
		s.next = b.NextOffset()
		pos += int64(len(b))
	}
	return pos == s.size
}
