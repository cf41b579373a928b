package segment

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// directWriter writes an active segment's large appends with O_DIRECT, past
// the page cache, and its small ones through the page cache as whole blocks.
//
// Why: a buffered write must first get a page-cache page for every 4 KiB it
// adds, and on a VM whose host reclaims the guest's free memory (free page
// reporting) each such page costs a host fault. perf/bench.md §7-§8
// measured on such a VM: 3 GiB of 1 MiB writes took 6.2 s of system CPU buffered
// (513 MB/s) and 0.3 s with O_DIRECT (2.3-2.4 GB/s); the headline produce
// run (1 MiB batches of 100-byte records) went from 3.41-3.46 M to
// 9.59-9.67 M records/s, alternated. A 4 KiB O_DIRECT write waits
// ~50 µs for the device, far more than a buffered one, so small appends
// (below Config.DirectWriteBytes) keep going through the page cache.
//
// O_DIRECT needs block-aligned file positions, lengths and memory, while
// batches lie back to back at any position. So every write starts at the
// block holding the segment's end: the writer keeps that partial last block
// (tail), copies tail+batch into an aligned staging buffer, zero-pads it to a
// whole block and writes it there. The file therefore ends on a block
// boundary with up to block-1 zero bytes after the last batch; seal and Close
// cut them (trimPadding), and after a crash recovery cuts them as a torn
// tail (zeros never frame a batch).
//
// Mixing both kinds of write on one file stays coherent: a direct write first
// writes back and then drops any cached page it overlaps (the kernel does
// both), and a buffered write always covers whole blocks, so it never reads
// a block the direct path left only on disk. Readers of the mapping or of
// sendfile see the same bytes either way; pages dropped under them are read
// back from the device.
type directWriter struct {
	path string
	// f is the .log opened O_WRONLY|O_DIRECT at the first direct write, so
	// a segment that never writes direct (small appends, a tail being read)
	// holds no second descriptor.
	f     *os.File
	block int64 // alignment of positions, lengths and memory
	min   int   // appends of at least this many bytes go direct
	// directs counts direct writes, for tests; the Log's lock guards it.
	directs int
	// tail holds the file's bytes [end &^ (block-1), end), end = segment size.
	tail []byte
	// cached is set while the page holding the end was last written through
	// the page cache, so a small append can go there as it is: a write
	// into part of a cached page reads nothing from the device.
	cached bool
}

// openDirect prepares direct writes to path when the filesystem supports
// them (statx STATX_DIOALIGN) with an alignment the page-aligned staging
// buffers satisfy; otherwise it returns nil and no error, and the segment
// writes through the page cache. valid holds the file's bytes [0, size).
// The O_DIRECT descriptor is opened by the first direct write.
func openDirect(path string, valid []byte, minBytes int) (*directWriter, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_DIOALIGN, &stx); err != nil {
		return nil, nil
	}
	page := int64(os.Getpagesize())
	off, mem := int64(stx.Dio_offset_align), int64(stx.Dio_mem_align)
	if stx.Mask&unix.STATX_DIOALIGN == 0 || off == 0 || mem == 0 || page%off != 0 || page%mem != 0 {
		return nil, nil
	}
	// Whole pages, not the device's 512-byte sectors: a buffered write that
	// covers a page only in part would first read the page from the device.
	w := &directWriter{path: path, block: page, min: minBytes, tail: make([]byte, 0, page)}
	w.resetTail(valid)
	return w, nil
}

// resetTail sets the writer's state for a file whose bytes are valid: the
// partial last block becomes the tail, and the next write stages whole
// blocks (nothing is known of what the page cache holds of the end).
func (w *directWriter) resetTail(valid []byte) {
	size := int64(len(valid))
	w.tail = append(w.tail[:0], valid[size&^(w.block-1):]...)
	w.cached = false
}

// write places b at pos, the segment's end; buffered is the segment's
// ordinary descriptor. b goes direct when allowed and at least min bytes.
// On an error the file may hold part of b past pos.
func (w *directWriter) write(buffered *os.File, b []byte, pos int64, allowed bool) error {
	direct := allowed && len(b) >= w.min
	if !direct && w.cached {
		// The one-record-in-flight path: one pwrite of the batch, as
		// without a directWriter (staging it cost ~10% of p99 there).
		if _, err := buffered.WriteAt(b, pos); err != nil {
			return err
		}
		end := pos + int64(len(b))
		if from := end &^ (w.block - 1); from >= pos {
			w.tail = append(w.tail[:0], b[from-pos:]...)
		} else {
			w.tail = append(w.tail, b...)
		}
		return nil
	}
	start := pos - int64(len(w.tail))
	n := len(w.tail) + len(b)
	padded := int((int64(n) + w.block - 1) &^ (w.block - 1))
	buf := getStaging(padded)
	defer putStaging(buf)
	copy(buf, w.tail)
	copy(buf[len(w.tail):], b)
	clear(buf[n:padded])
	if direct && w.f == nil {
		f, err := os.OpenFile(w.path, os.O_WRONLY|unix.O_DIRECT, 0)
		switch {
		case err == nil:
			w.f = f
		case errors.Is(err, unix.EINVAL):
			w.min, direct = maxInt, false // the filesystem refuses O_DIRECT after all
		default:
			// Out of descriptors, say: this append goes through the page
			// cache, a later one tries again.
			direct = false
		}
	}
	var err error
	w.cached = !direct
	if direct {
		w.directs++
		_, err = w.f.WriteAt(buf[:padded], start)
		if errors.Is(err, unix.EINVAL) {
			// The kernel refused the alignment statx promised (a stacked
			// filesystem can): write through the page cache from now on.
			w.min, w.cached = maxInt, true
			_, err = buffered.WriteAt(buf[:padded], start)
		}
	} else {
		_, err = buffered.WriteAt(buf[:padded], start)
	}
	if err != nil {
		return err
	}
	end := pos + int64(len(b))
	w.tail = append(w.tail[:0], buf[end&^(w.block-1)-start:end-start]...)
	return nil
}

// tailReadWindow: appends go through the page cache until this long after
// the last read of the active segment. A consumer or follower that reads
// the tail wants the new bytes in memory: after a direct write it would
// read them back from the device instead (measured with spate bench e2e
// and 1 MiB batches: 2.27 M records/s with every large batch direct, 3.97 M
// through the page cache; perf/bench.md §8). Pure ingestion, and catch-up
// reads of older segments, keep the direct path.
const tailReadWindow = 10 * time.Second

// tailIdle reports whether no Read touched the active segment within
// Log.tailWindow (tailReadWindow outside tests).
func (l *Log) tailIdle() bool {
	last := l.tailRead.Load()
	return last == 0 || monoNow()-last > int64(l.tailWindow)
}

// monoNow is the monotonic time since the package was loaded, in ns; never 0
// after the first call, so a zero tailRead means "never read".
func monoNow() int64 { return int64(time.Since(monoEpoch)) + 1 }

var monoEpoch = time.Now()

// closeDirect drops the direct descriptor; the segment's own stays open.
// Close errors are dropped: a direct write's data is on the device when the
// write returns, so close has nothing left to report.
func (s *segment) closeDirect() {
	if s.dw != nil {
		s.dw.close()
		s.dw = nil
	}
}

// wroteDirect tells whether a write of n bytes that direct allowed went
// past the page cache: not when the segment has no directWriter, when the
// kernel refused the alignment (min is then maxInt), or when the O_DIRECT
// descriptor could not be opened (f is nil).
func (s *segment) wroteDirect(direct bool, n int) bool {
	return direct && s.dw != nil && s.dw.min <= n && s.dw.f != nil
}

// close closes the O_DIRECT descriptor if the first direct write opened it.
func (w *directWriter) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

const maxInt = int(^uint(0) >> 1)

// Staging buffers are page-aligned anonymous mappings, reused so their pages
// stay resident: a fresh buffer per write would cost the very page faults
// direct writes avoid. Only appends hold one, under their log's lock, so
// the free list stays as short as the number of concurrent appenders.
var staging struct {
	sync.Mutex
	free [][]byte
}

// maxFreeStaging bounds the idle buffers kept; more are unmapped on return.
const maxFreeStaging = 4

// stagingChunk rounds staging sizes up, so slightly larger batches reuse a
// buffer instead of mapping a new one.
const stagingChunk = 1 << 20

// getStaging returns a page-aligned buffer of at least n bytes.
func getStaging(n int) []byte {
	staging.Lock()
	for i, b := range staging.free {
		if cap(b) >= n {
			last := len(staging.free) - 1
			staging.free[i] = staging.free[last]
			staging.free = staging.free[:last]
			staging.Unlock()
			return b[:cap(b)]
		}
	}
	staging.Unlock()
	size := (n + stagingChunk - 1) / stagingChunk * stagingChunk
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		// Out of address space or memory: an ordinary slice still works for
		// buffered writes; a direct write from it fails with EINVAL and
		// falls back to the page cache.
		return make([]byte, size)
	}
	return b
}

// putStaging returns b to the free list, or unmaps it when the list is full.
func putStaging(b []byte) {
	staging.Lock()
	if len(staging.free) < maxFreeStaging {
		staging.free = append(staging.free, b)
		b = nil
	}
	staging.Unlock()
	if b != nil {
		_ = unix.Munmap(b) // fails only for a slice that was not mapped (make above): nothing to release
	}
}

// directPadding reports whether b, the bytes after a segment's last batch,
// can be padding left by a direct write: fewer than a page, all zero.
func directPadding(b []byte) bool {
	if len(b) >= os.Getpagesize() {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// trimPadding cuts the zero padding direct writes leave after the last batch.
func (s *segment) trimPadding() error {
	if s.dw == nil {
		return nil
	}
	if err := s.log.Truncate(s.size); err != nil {
		return fmt.Errorf("segment: trim %s to %d: %w", s.stem+logSuffix, s.size, err)
	}
	return nil
}
