package netio

import (
	"net"
	"os"
	"sync"

	"github.com/valyala/bytebufferpool"
)

// Handler serves frames. One Handler serves every connection of a Server.
type Handler interface {
	// ServeFrame runs on the connection's event loop with one complete frame
	// payload (the size prefix stripped). It must not block.
	//
	// Ownership: payload aliases gnet's inbound buffer and is valid only
	// until ServeFrame returns; copy what must outlive the call (a produce
	// path appends it to the log before returning, which is the one copy).
	//
	// The handler answers now or later, from any goroutine, through r:
	// exactly one call of r.Reply or r.NoReply per frame. r must not be used
	// after that call.
	ServeFrame(r *Responder, payload []byte)
}

// ConnObserver is optionally implemented by a Handler to learn about
// connections (metrics, per-connection state). Both methods run on the
// connection's event loop and must not block.
type ConnObserver interface {
	OnOpen(c ConnInfo)
	// OnClose runs once per opened connection; err is the reason the
	// connection closed, nil for a normal close. Replies still outstanding for
	// c are dropped when they arrive (their chunks released).
	OnClose(c ConnInfo, err error)
}

// ConnInfo identifies a connection.
type ConnInfo struct {
	// ID is unique per Server for its lifetime.
	ID         uint64
	LocalAddr  net.Addr
	RemoteAddr net.Addr
}

// RemoteHost is the peer's IP without the port (what Kafka's
// DescribeGroups shows as a member's host), or "" when unknown.
func (c ConnInfo) RemoteHost() string {
	if c.RemoteAddr == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(c.RemoteAddr.String()); err == nil {
		return host
	}
	return c.RemoteAddr.String()
}

// FileRange is a reference-counted byte range of a file that a response
// sends without copying it into user space. segment.FileRange satisfies it.
type FileRange interface {
	// File is the open file holding the range, for WriteSendfile; the
	// server only reads it. nil means the range offers no descriptor and
	// its Bytes are written instead.
	File() *os.File
	// Pos is the range's offset in File.
	Pos() int64
	// Len is the range's length in bytes.
	Len() int
	// Bytes is the range as a read-only mmap slice of length Len.
	Bytes() []byte
	// Release drops the response's reference. The server calls it exactly
	// once, after the whole range was written to the socket, or when the
	// connection closed first. Until then the server may still read Bytes or
	// File: a range the socket could not take at once is sent on later.
	Release()
}

// Chunk is one piece of a response: either Buf or File is set.
type Chunk struct {
	// Buf is owned by the server once passed to Reply; it is returned to
	// bytebufferpool after the write.
	Buf *bytebufferpool.ByteBuffer
	// File is released by the server as FileRange.Release documents.
	File FileRange
}

// BytesChunk is a Chunk of in-memory bytes; b must come from GetBuffer (or
// bytebufferpool.Get) because the server returns it to that pool.
func BytesChunk(b *bytebufferpool.ByteBuffer) Chunk { return Chunk{Buf: b} }

// FileChunk is a Chunk that sends a file range.
func FileChunk(f FileRange) Chunk { return Chunk{File: f} }

// GetBuffer returns an empty pooled buffer for building a response chunk.
func GetBuffer() *bytebufferpool.ByteBuffer { return bytebufferpool.Get() }

func (c Chunk) len() int {
	if c.File != nil {
		return c.File.Len()
	}
	return c.Buf.Len()
}

func (c Chunk) release() {
	if c.File != nil {
		c.File.Release()
		return
	}
	if c.Buf != nil {
		bytebufferpool.Put(c.Buf)
	}
}

// Responder answers one frame. It is pooled: after Reply or NoReply it
// belongs to the server again and the handler must drop it.
type Responder struct {
	conn *conn
	// seq is the frame's arrival number on its connection.
	seq uint64
	// reqBytes is the frame's size counted against MaxInFlightBytes.
	reqBytes int
	// respBytes is the sum of the chunks' lengths.
	respBytes int
	chunks    []Chunk
	// faulted is set by the page-fault worker once every file range of the
	// response is resident, so the loop writes it without checking again.
	faulted bool
	// closeReason, set by Close, closes the connection once this frame's
	// turn to be written comes.
	closeReason error
}

var responderPool = sync.Pool{New: func() any { return new(Responder) }}

// Conn identifies the connection the frame arrived on.
func (r *Responder) Conn() ConnInfo { return r.conn.info }

// Reply queues the response made of chunks, in order, for the connection.
// It may be called from any goroutine. The server owns the chunks from now
// on. If the connection has closed, the chunks are released at once.
func (r *Responder) Reply(chunks ...Chunk) {
	r.chunks = append(r.chunks[:0], chunks...)
	r.respBytes = 0
	for _, c := range chunks {
		r.respBytes += c.len()
	}
	r.conn.replyBytes.Add(int64(r.respBytes))
	r.conn.complete(r)
}

// NoReply ends the frame without a response (Kafka produce with acks=0).
// In ordered mode it frees the frame's place in the response order.
func (r *Responder) NoReply() {
	r.chunks = r.chunks[:0]
	r.respBytes = 0
	r.conn.complete(r)
}

// Close ends the frame without a response and closes its connection with
// reason once the responses before it have been written (in ordered mode;
// at once otherwise). It is for a peer that does not speak the protocol,
// where no error response can be framed. Any goroutine, like Reply.
func (r *Responder) Close(reason error) {
	r.chunks = r.chunks[:0]
	r.respBytes = 0
	r.closeReason = reason
	r.conn.complete(r)
}

func (r *Responder) releaseChunks() {
	for i, c := range r.chunks {
		c.release()
		r.chunks[i] = Chunk{}
	}
	r.chunks = r.chunks[:0]
}

func (r *Responder) hasFile() bool {
	for _, c := range r.chunks {
		if c.File != nil {
			return true
		}
	}
	return false
}

// recycle returns r to the pool; r's chunks must be released already.
func (r *Responder) recycle() {
	r.conn = nil
	r.faulted = false
	r.closeReason = nil
	responderPool.Put(r)
}
