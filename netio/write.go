package netio

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// iovMax is Linux's UIO_MAXIOV, the most slices one writev(2) accepts.
const iovMax = 1024

// pendingWrite is a response on its way to the socket: chunks before
// chunk are out, and off bytes of chunks[chunk].
type pendingWrite struct {
	r     *Responder
	chunk int
	off   int
}

// advance moves the cursor n bytes on, past empty chunks too.
func (w *pendingWrite) advance(n int) {
	for w.chunk < len(w.r.chunks) {
		left := w.r.chunks[w.chunk].len() - w.off
		if n < left {
			w.off += n
			return
		}
		n -= left
		w.chunk++
		w.off = 0
	}
}

// send writes w's response from its cursor on, straight to the socket:
// runs of byte chunks (and, with WriteMmap, file ranges as mmap slices)
// with one writev(2), file ranges with sendfile(2) under WriteSendfile. It
// reports whether the response is out (or the connection broke, c.broken
// set). When the socket takes only part, the cursor keeps the rest by
// reference, nothing is copied, and the writable watcher is armed to wake
// the loop when the socket drains. Loop only.
func (c *conn) send(w *pendingWrite) bool {
	chunks := w.r.chunks
	sendfile := c.srv.cfg.FileWrite == WriteSendfile
	for w.chunk < len(chunks) {
		var n, want int
		var err error
		if f := chunks[w.chunk].File; sendable(f, sendfile) {
			want = f.Len() - w.off
			if want > 0 {
				off := f.Pos() + int64(w.off)
				c.srv.stats.sendfiles.Add(1)
				n, err = unix.Sendfile(c.fd, int(f.File().Fd()), &off, want)
				if err != nil && err != unix.EAGAIN {
					c.broken = fmt.Errorf("netio: connection %d: sendfile %s at %d: %w", c.info.ID, f.File().Name(), off, err)
					return true
				}
			}
		} else {
			iov := c.iov[:0]
			for j := w.chunk; j < len(chunks) && len(iov) < iovMax && !sendable(chunks[j].File, sendfile); j++ {
				b := chunkBytes(chunks[j])
				if j == w.chunk {
					b = b[w.off:]
				}
				iov = append(iov, b)
				want += len(b)
			}
			if want > 0 {
				n, err = unix.Writev(c.fd, iov)
			}
			clear(iov)
			c.iov = iov[:0]
			if err != nil && err != unix.EAGAIN {
				c.broken = fmt.Errorf("netio: connection %d: writev: %w", c.info.ID, err)
				return true
			}
		}
		n = max(n, 0) // -1 with EAGAIN
		c.srv.stats.directBytes.Add(int64(n))
		w.advance(n)
		if n < want {
			c.srv.stats.writableWaits.Add(1)
			if err := c.srv.writable.arm(c); err != nil {
				c.broken = err
				return true
			}
			return false
		}
	}
	return true
}

// sendable tells whether send uses sendfile(2) for f: under WriteSendfile,
// for a range that offers a descriptor (FileRange.File may be nil; its
// bytes then go by writev like WriteMmap's).
func sendable(f FileRange, sendfile bool) bool {
	return f != nil && sendfile && f.File() != nil
}

func chunkBytes(c Chunk) []byte {
	if c.File != nil {
		return c.File.Bytes()
	}
	return c.Buf.B
}

// pageAligned widens b to start on a page boundary, as mincore and madvise
// require. The extra bytes belong to the same mapping's first page.
func pageAligned(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	lead := int(uintptr(p) % uintptr(pageSize))
	return unsafe.Slice((*byte)(unsafe.Add(p, -lead)), len(b)+lead)
}

// mincoreVecs holds scratch vectors for residency checks; loops share it.
var mincoreVecs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// residentBytes reports whether every page of b is in the page cache.
// An error (not a mapping, say) counts as not resident: the worker path is
// always safe, only slower.
func residentBytes(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	a := pageAligned(b)
	pages := (len(a) + pageSize - 1) / pageSize
	vp := mincoreVecs.Get().(*[]byte)
	defer mincoreVecs.Put(vp)
	if cap(*vp) < pages {
		*vp = make([]byte, pages)
	}
	vec := (*vp)[:pages]
	if mincore(a, vec) != nil {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}

// resident reports whether all file ranges of r are in the page cache.
func (s *Server) resident(r *Responder) bool {
	for _, c := range r.chunks {
		if c.File != nil && !residentBytes(c.File.Bytes()) {
			return false
		}
	}
	return true
}

// faultIn sends r to a worker that reads its file pages in and then hands r
// back to its connection's loop. It never blocks the loop: when every
// worker is busy and the queue is full it starts a goroutine instead.
func (s *Server) faultIn(r *Responder) {
	s.stats.faulted.Add(1)
	select {
	case s.faultQueue <- r:
	default:
		go prefault(r)
	}
}

func (s *Server) faultWorker() {
	defer s.workers.Done()
	for r := range s.faultQueue {
		prefault(r)
	}
}

// pageSink keeps the page-touching reads from being optimised away.
var pageSink atomic.Uint64

// prefault reads one byte per page of every file range of r, after asking
// the kernel to read the ranges ahead, then returns r to its loop.
func prefault(r *Responder) {
	var sum byte
	for _, c := range r.chunks {
		if c.File == nil || c.File.Len() == 0 {
			continue
		}
		b := c.File.Bytes()
		// Advisory: a failure only loses the read-ahead, the touches below
		// still fault every page in.
		_ = unix.Madvise(pageAligned(b), unix.MADV_WILLNEED)
		for i := 0; i < len(b); i += pageSize {
			sum += b[i]
		}
		sum += b[len(b)-1]
	}
	pageSink.Add(uint64(sum))
	r.faulted = true
	r.conn.complete(r)
}

// mincore wraps mincore(2), which x/sys/unix does not export on Linux.
// b must start on a page boundary; vec needs one byte per page of b.
func mincore(b, vec []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE,
		uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
		uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return errno
	}
	return nil
}
