package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	offsetEntrySize = 8  // relative offset uint32 + position uint32
	timeEntrySize   = 12 // timestamp int64 + relative offset uint32
)

// index is a memory-mapped file of fixed-size entries: the sparse offset
// index or the time index of one segment. The active segment's indexes are
// preallocated to MaxIndexBytes; lookups read the read-only mapping, and the
// file is trimmed to its entries on roll and close.
//
// Entries are written with pwrite, not through the mapping: a write fault on
// a fresh page of the preallocated file blocked for milliseconds on this
// machine (ext4 page_mkwrite joins the running journal transaction), inside
// Append; pwrite into the page cache does not (perf/segment.md).
// Entries past n are zero (preallocated) or garbage after a crash, which is why
// n is derived from the content (see countEntries) and never trusted blindly.
//
// An index holds no file descriptor (a partition holds only its active
// .log): new entries collect in pending, and a page's worth of them (or a
// trim or sync) is written with one open, pwrite and close. Lookups read
// entries below written from the mapping and the rest from pending. Entries
// still pending when the process dies are lost, which costs nothing: after
// a crash recovery rebuilds the active segment's indexes from its batches.
//
// Not safe for concurrent use: the Log's lock guards it.
type index struct {
	path      string
	mm        []byte // the mapping; len(mm) is the capacity in bytes
	n         int    // valid entries
	written   int    // entries [0, written) are in the file, [written, n) in pending
	pending   []byte
	entrySize int
}

// pendingBytes is how many bytes of entries an index collects before it
// writes them: one page, 512 offset entries, so one open and pwrite per
// 2 MiB of log at the default index interval of 4 KiB.
var pendingBytes = os.Getpagesize()

// openIndex maps the index at path, creating it if missing. A writable index
// is extended to maxBytes; a read-only one is mapped at its file size. valid
// decides, entry by entry, how long the valid prefix is.
func openIndex(path string, entrySize, maxBytes int, writable bool, valid func(prev, e []byte) bool) (*index, error) {
	flag := os.O_RDONLY | os.O_CREATE // a missing index is rebuilt, not fatal
	if writable {
		flag = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("segment: open index %s: %w", path, err)
	}
	// The mapping outlives the descriptor; close errors are dropped, as
	// nothing was written through it but a truncate.
	defer f.Close()
	ix := &index{path: path, entrySize: entrySize}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("segment: stat index %s: %w", path, err)
	}
	size := int(fi.Size())
	fresh := size == 0
	if writable {
		size = maxBytes / entrySize * entrySize
		if err := f.Truncate(int64(size)); err != nil {
			return nil, fmt.Errorf("segment: preallocate index %s: %w", path, err)
		}
	}
	size = size / entrySize * entrySize
	if size > 0 {
		ix.mm, err = unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return nil, fmt.Errorf("segment: mmap index %s: %w", path, err)
		}
	}
	if !fresh {
		// Reading a fresh file's preallocated hole would only fault in zero
		// pages, which costs milliseconds on a roll (measured, perf/segment.md).
		ix.n = ix.countEntries(valid, dataEnd(f, size))
		ix.written = ix.n
	}
	return ix, nil
}

// dataEnd returns where f's first hole starts (lseek SEEK_HOLE), at most
// size. Entries are written from the start with pwrite, so none lies past
// it, and reading the mapping there must be avoided: on tmpfs a read fault
// on a hole of a shared mapping allocates a page, and with the filesystem
// full that fault is a SIGBUS, which kills the process (issue 15: every
// restart on a full tmpfs crashed in offsetEntry). A filesystem that does
// not report holes (ext4, xfs and tmpfs do) gives the file size, which is
// what was scanned before.
//
// Why not fallocate the index before mapping it instead: that reserves
// MaxIndexBytes (10 MiB by default) twice per active segment on disk, 80 GB
// for 4,000 partitions, to hold what is mostly never written.
func dataEnd(f *os.File, size int) int {
	off, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_HOLE)
	if err != nil || off > int64(size) {
		return size
	}
	return int(off)
}

// countEntries returns the length of the valid prefix within the first end
// bytes.
func (ix *index) countEntries(valid func(prev, e []byte) bool, end int) int {
	var prev []byte
	n, limit := 0, min(ix.capacity(), end/ix.entrySize)
	for n < limit {
		e := ix.mm[n*ix.entrySize : (n+1)*ix.entrySize]
		if !valid(prev, e) {
			break
		}
		prev = e
		n++
	}
	return n
}

func (ix *index) capacity() int { return len(ix.mm) / ix.entrySize }
func (ix *index) full() bool    { return ix.n >= ix.capacity() }

// entry returns entry i < n, from the mapping or from pending.
func (ix *index) entry(i int) []byte {
	if i < ix.written {
		return ix.mm[i*ix.entrySize : (i+1)*ix.entrySize]
	}
	at := (i - ix.written) * ix.entrySize
	return ix.pending[at : at+ix.entrySize]
}

// appendEntry adds entry n; the caller checked !full().
func (ix *index) appendEntry(e []byte) error {
	ix.pending = append(ix.pending, e...)
	ix.n++
	if len(ix.pending) < pendingBytes {
		return nil
	}
	return ix.writePending(false)
}

// writePending writes the pending entries to the file, then fsyncs it when
// sync is set. With nothing pending it changes no field, so the syncer may
// fsync a sealed index without the Log's lock while readers hold it.
func (ix *index) writePending(sync bool) error {
	if len(ix.pending) == 0 && !sync {
		return nil
	}
	f, err := os.OpenFile(ix.path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) && len(ix.pending) == 0 {
		// Retention or truncation deleted the segment while the syncer ran
		// (renames only ever replace a segment's files): nothing to sync.
		return nil
	}
	if err != nil {
		return fmt.Errorf("segment: write index %s: %w", ix.path, err)
	}
	if len(ix.pending) > 0 {
		err = faultAt(ix.path, "")
	}
	if err == nil {
		_, err = f.WriteAt(ix.pending, int64(ix.written*ix.entrySize))
	}
	if err != nil {
		err = fmt.Errorf("segment: write index %s entries %d to %d: %w", ix.path, ix.written, ix.n, err)
	} else if sync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("segment: fsync index %s: %w", ix.path, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("segment: close index %s: %w", ix.path, cerr)
	}
	if err != nil {
		return err
	}
	if len(ix.pending) > 0 {
		ix.written = ix.n
		ix.pending = ix.pending[:0]
	}
	return nil
}

// forgetFrom drops the entries from n on (an append taken back, or pending
// entries a full disk has no room for: entries are hints, lookups scan
// further without them). Entries already written there stay in the file
// past the valid prefix until the next ones overwrite them; an offset
// entry there even names the position and offset the next batch gets.
func (ix *index) forgetFrom(n int) {
	ix.n = n
	ix.written = min(ix.written, n)
	ix.pending = ix.pending[:(n-ix.written)*ix.entrySize]
}

// reset drops every entry. The file is cut to zero and preallocated again,
// so no old entry can be counted after a crash.
func (ix *index) reset() error {
	size := int64(len(ix.mm))
	if err := os.Truncate(ix.path, 0); err != nil {
		return fmt.Errorf("segment: reset index %s: %w", ix.path, err)
	}
	if err := os.Truncate(ix.path, size); err != nil {
		return fmt.Errorf("segment: reset index %s: %w", ix.path, err)
	}
	ix.n, ix.written, ix.pending = 0, 0, ix.pending[:0]
	return nil
}

// trim writes the pending entries and shrinks the file to its entries, so
// a clean reopen maps no slack. The mapping keeps its size; bytes past the
// file end are never touched.
func (ix *index) trim() error {
	if err := ix.writePending(false); err != nil {
		return err
	}
	if err := os.Truncate(ix.path, int64(ix.n*ix.entrySize)); err != nil {
		return fmt.Errorf("segment: trim index %s: %w", ix.path, err)
	}
	return nil
}

// sync makes the entries and the trimmed size durable.
func (ix *index) sync() error {
	return ix.writePending(true)
}

func (ix *index) close() error {
	if ix.mm == nil {
		return nil
	}
	err := unix.Munmap(ix.mm)
	ix.mm = nil
	if err != nil {
		return fmt.Errorf("segment: close index %s: %w", ix.path, err)
	}
	return nil
}

// Offset index entries.

func offsetEntry(e []byte) (rel uint32, pos uint32) {
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
}

func putOffsetEntry(e []byte, rel, pos uint32) {
	binary.BigEndian.PutUint32(e, rel)
	binary.BigEndian.PutUint32(e[4:], pos)
}

// offsetFloor returns the position of the last indexed batch whose relative
// offset is <= rel, or 0 (the segment start) when there is none.
func (ix *index) offsetFloor(rel uint32) int64 {
	lo, hi := 0, ix.n // find the first entry with relative offset > rel
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r, _ := offsetEntry(ix.entry(mid)); r <= rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0
	}
	_, pos := offsetEntry(ix.entry(lo - 1))
	return int64(pos)
}

// offsetEntryValidator accepts offset entries while relative offsets and
// positions strictly increase and positions stay inside [1, size). A zero
// entry (preallocated space) always ends the prefix, because the batch at
// position 0 is never indexed.
func offsetEntryValidator(size int64) func(prev, e []byte) bool {
	return func(prev, e []byte) bool {
		rel, pos := offsetEntry(e)
		if pos == 0 || int64(pos) >= size {
			return false
		}
		if prev == nil {
			return true
		}
		prel, ppos := offsetEntry(prev)
		return rel > prel && pos > ppos
	}
}

// Time index entries.

func timeEntry(e []byte) (ts int64, rel uint32) {
	return int64(binary.BigEndian.Uint64(e)), binary.BigEndian.Uint32(e[8:])
}

func putTimeEntry(e []byte, ts int64, rel uint32) {
	binary.BigEndian.PutUint64(e, uint64(ts))
	binary.BigEndian.PutUint32(e[8:], rel)
}

// timeEntryValidator accepts entries with strictly increasing positive
// timestamps and non-decreasing relative offsets below maxRel. Timestamps <= 0
// are never indexed, so a zero entry ends the prefix.
func timeEntryValidator(maxRel int64) func(prev, e []byte) bool {
	return func(prev, e []byte) bool {
		ts, rel := timeEntry(e)
		if ts <= 0 || int64(rel) >= maxRel {
			return false
		}
		if prev == nil {
			return true
		}
		pts, prel := timeEntry(prev)
		return ts > pts && rel >= prel
	}
}

// timeFloor returns the relative offset of the last entry with timestamp < ts,
// and false when there is none. Every batch before that entry's batch has a
// MaxTimestamp < ts, so a search for ts may start there.
func (ix *index) timeFloor(ts int64) (uint32, bool) {
	lo, hi := 0, ix.n // first entry with timestamp >= ts
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if t, _ := timeEntry(ix.entry(mid)); t < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, false
	}
	_, rel := timeEntry(ix.entry(lo - 1))
	return rel, true
}

// lastTime returns the newest time entry, or ok=false.
func (ix *index) lastTime() (ts int64, rel uint32, ok bool) {
	if ix.n == 0 {
		return 0, 0, false
	}
	ts, rel = timeEntry(ix.entry(ix.n - 1))
	return ts, rel, true
}

func roundUpPage(n int) int {
	p := os.Getpagesize()
	return (n + p - 1) / p * p
}
