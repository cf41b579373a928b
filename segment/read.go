package segment

import (
	"fmt"
	"os"
	"sync"

	"github.com/spate-io/spate/record"
)

// FileRange is a run of whole batches inside one segment file, handed to the
// network layer for sendfile(2) or writev of the mapping. It holds a
// reference on its segment: the file descriptor and mapping stay valid until
// Release, even if retention or truncation removes the segment meanwhile.
type FileRange struct {
	seg *segment
	// file is the segment's .log descriptor when the range was made, or nil
	// for a released segment; the range's reference keeps it open.
	file        *os.File
	data        []byte // the segment's valid bytes when the range was made
	pos         int64
	n           int
	first, next int64
	released    bool
}

var rangePool = sync.Pool{New: func() any { return new(FileRange) }}

func newRange() *FileRange {
	r := rangePool.Get().(*FileRange)
	*r = FileRange{}
	return r
}

// File returns the segment file, for sendfile(2); nil when Len() == 0 or
// when the range lies in a sealed segment that keeps no descriptor: send
// Bytes() then. Do not close it or change its offset: it is shared.
//
// Why sealed segments give no descriptor: keeping one open per sealed
// segment made descriptors grow with data; opening one per range costs an
// open and a close per fetch; and the broker's default path, writev of the
// mapping, beat sendfile on loopback (perf/netio.md) and needs none.
func (r *FileRange) File() *os.File { return r.file }

// Pos returns the file position of the range's first byte.
func (r *FileRange) Pos() int64 { return r.pos }

// Len returns the range's size in bytes; 0 means nothing to send.
func (r *FileRange) Len() int { return r.n }

// Bytes returns the range as a read-only slice of the segment's mapping, no
// copy. Writing to it faults. It is valid until Release.
func (r *FileRange) Bytes() []byte {
	if r.seg == nil {
		return nil
	}
	return r.data[r.pos : r.pos+int64(r.n) : r.pos+int64(r.n)]
}

// FirstOffset returns the base offset of the first batch (when Len() > 0).
func (r *FileRange) FirstOffset() int64 { return r.first }

// NextOffset returns the offset after the last batch (when Len() > 0); the
// next Read continues there.
func (r *FileRange) NextOffset() int64 { return r.next }

// Release drops the range's reference and recycles r. A second Release right
// after the first is a no-op, but r must not be used at all once released: a
// later Read may hand the same *FileRange out again.
func (r *FileRange) Release() {
	if r.released {
		return
	}
	r.released = true
	if r.seg != nil {
		r.seg.decRef()
		r.seg, r.file, r.data = nil, nil, nil
	}
	rangePool.Put(r)
}

// Read returns the batches starting with the one that contains offset, in one
// segment: whole batches only, each with LastOffset() < upTo (the high
// watermark, exclusive), adding batches while the total stays within maxBytes
// but always at least one if any qualifies (KIP-74). It never crosses a
// segment boundary; the caller reads again from NextOffset().
//
// offset == LogEndOffset(), or no batch below upTo, gives a range with
// Len() == 0. offset below LogStartOffset() or above LogEndOffset() gives an
// error wrapping ErrOffsetOutOfRange. The caller must Release the range.
//
// The lock is held only to find the segment, take a reference and read the
// index; the header scan runs without it, so a Read that faults in cold pages
// never holds up appends.
func (l *Log) Read(offset int64, maxBytes int, upTo int64) (*FileRange, error) {
	l.mu.RLock()
	if err := l.usableLocked(); err != nil {
		l.mu.RUnlock()
		return nil, err
	}
	leo := l.leo.Load()
	if offset < l.mu.logStart || offset > leo {
		start := l.mu.logStart
		l.mu.RUnlock()
		return nil, fmt.Errorf("%w: offset %d outside [%d, %d] of %s", ErrOffsetOutOfRange, offset, start, leo, l.dir)
	}
	if offset >= l.active().base {
		l.tailRead.Store(monoNow())
	}
	r := newRange()
	if offset == leo || offset >= upTo {
		l.mu.RUnlock()
		return r, nil
	}
	s := l.mu.segs[l.segIndexLocked(offset)]
	if offset >= s.next {
		// Only possible past the last batch of a segment whose successor
		// starts later, which recovery never leaves behind.
		l.mu.RUnlock()
		r.Release()
		return nil, fmt.Errorf("%w: offset %d in no segment of %s", ErrCorrupt, offset, l.dir)
	}
	data, pos, file := s.valid(), s.floor(offset), s.log
	s.incRef()
	l.mu.RUnlock()

	pos, err := scanTo(data, pos, offset, s.stem)
	if err != nil {
		s.decRef()
		r.Release()
		return nil, err
	}
	end, lastStart := pos, pos
	for end+record.HeaderSize <= int64(len(data)) {
		if lastOffsetIn(data, end) >= upTo {
			break
		}
		size := batchSizeIn(data, end)
		if end > pos && end+size-pos > int64(maxBytes) {
			break
		}
		lastStart = end
		end += size
	}
	if end == pos {
		s.decRef()
		return r, nil
	}
	r.seg, r.file, r.data, r.pos, r.n = s, file, data, pos, int(end-pos)
	r.first = baseOffsetIn(data, pos)
	r.next = lastOffsetIn(data, lastStart) + 1
	return r, nil
}
