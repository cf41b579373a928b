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

// write puts one response on the socket without interleaving it with any
// other. Loop only. The chunks stay owned by the caller, which releases them
// after write returns: every byte is then either on the socket or copied
// into gnet's outbound buffer.
func (c *conn) write(chunks []Chunk) {
	if c.gc.OutboundBuffered() == 0 {
		c.writeDirect(chunks)
		return
	}
	// gnet already holds queued bytes: queue behind them so the byte order
	// on the socket is the response order.
	c.queue(chunks, 0, 0)
}

// writeDirect writes chunks straight to the socket: runs of byte chunks
// (and, with WriteMmap, file ranges as mmap slices) with one writev(2),
// file ranges with sendfile(2) under WriteSendfile. At the first short write
// (the socket buffer is full) the rest goes to gnet's buffer, which keeps
// the order.
func (c *conn) writeDirect(chunks []Chunk) {
	sendfile := c.srv.cfg.FileWrite == WriteSendfile
	for i := 0; i < len(chunks); {
		if f := chunks[i].File; sendable(f, sendfile) {
			want := f.Len()
			off := f.Pos()
			c.srv.stats.sendfiles.Add(1)
			n, err := unix.Sendfile(c.fd, int(f.File().Fd()), &off, want)
			if err != nil && err != unix.EAGAIN {
				c.broken = fmt.Errorf("netio: connection %d: sendfile %s at %d: %w", c.info.ID, f.File().Name(), f.Pos(), err)
				return
			}
			if n < want {
				c.queue(chunks, i, max(n, 0))
				return
			}
			i++
			continue
		}
		iov := c.iov[:0]
		want := 0
		j := i
		for ; j < len(chunks) && j-i < iovMax && !sendable(chunks[j].File, sendfile); j++ {
			b := chunkBytes(chunks[j])
			iov = append(iov, b)
			want += len(b)
		}
		n, err := unix.Writev(c.fd, iov)
		clear(iov)
		c.iov = iov[:0]
		if err != nil && err != unix.EAGAIN {
			c.broken = fmt.Errorf("netio: connection %d: writev: %w", c.info.ID, err)
			return
		}
		if n < want {
			c.queue(chunks, i, max(n, 0))
			return
		}
		i = j
	}
}

// sendable tells whether writeDirect sends f with sendfile(2): under
// WriteSendfile, for a range that offers a descriptor (FileRange.File may
// be nil; its bytes then go by writev like WriteMmap's).
func sendable(f FileRange, sendfile bool) bool {
	return f != nil && sendfile && f.File() != nil
}

// queue hands chunks[i:], minus the first skip bytes, to gnet's Writev,
// which writes what the socket takes and copies the rest into its outbound
// buffer. File ranges go as their read-only mmap slices.
func (c *conn) queue(chunks []Chunk, i, skip int) {
	iov := c.iov[:0]
	for ; i < len(chunks); i++ {
		b := chunkBytes(chunks[i])
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		iov = append(iov, b[skip:])
		skip = 0
	}
	if len(iov) > 0 {
		c.srv.stats.queued.Add(1)
	}
	// gnet passes the slices to writev(2) as they are when its buffer is
	// empty, and Linux refuses more than iovMax of them with EINVAL.
	for b := iov; len(b) > 0; b = b[min(iovMax, len(b)):] {
		if _, err := c.gc.Writev(b[:min(iovMax, len(b))]); err != nil {
			// gnet has closed the connection already (OnClose ran).
			c.broken = fmt.Errorf("netio: connection %d: queue response: %w", c.info.ID, err)
			break
		}
	}
	clear(iov)
	c.iov = iov[:0]
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
