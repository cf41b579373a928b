package netio

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startServer starts a server on 127.0.0.1:0 and stops it at test end.
func startServer(t testing.TB, cfg Config, h Handler) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := NewServer(cfg, h)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

func dial(t testing.TB, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial %v: %v", s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readFrame reads one size-prefixed frame.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, fmt.Errorf("frame body of %d bytes: %w", len(p), err)
	}
	return p, nil
}

// replyFrame builds a response that is one frame holding payload.
func replyFrame(payload []byte) Chunk {
	b := GetBuffer()
	b.B = AppendFrame(b.B, payload)
	return BytesChunk(b)
}

// echoHandler answers every frame at once with the same payload.
type echoHandler struct{}

func (echoHandler) ServeFrame(r *Responder, payload []byte) { r.Reply(replyFrame(payload)) }

// asyncHandler copies each payload and answers it from another goroutine
// after a random delay of up to maxDelay; payload "noreply" gets NoReply.
type asyncHandler struct {
	maxDelay time.Duration
	served   atomic.Int64
}

func (h *asyncHandler) ServeFrame(r *Responder, payload []byte) {
	h.served.Add(1)
	p := append([]byte(nil), payload...)
	delay := time.Duration(rand.Int64N(int64(h.maxDelay) + 1))
	go func() {
		time.Sleep(delay)
		if string(p) == "noreply" {
			r.NoReply()
			return
		}
		r.Reply(replyFrame(p))
	}()
}

// observer records connection opens and closes.
type observer struct {
	mu     sync.Mutex
	opens  int
	closes []error
}

func (o *observer) OnOpen(ConnInfo) { o.mu.Lock(); o.opens++; o.mu.Unlock() }
func (o *observer) OnClose(_ ConnInfo, err error) {
	o.mu.Lock()
	o.closes = append(o.closes, err)
	o.mu.Unlock()
}

func (o *observer) closed() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.closes) }

// testFile is a temp file of pseudo-random bytes mapped read-only.
type testFile struct {
	f        *os.File
	data     []byte
	mm       []byte
	ranges   atomic.Int64 // FileRanges handed out
	released atomic.Int64
	// noFile makes the ranges offer no descriptor, as a sealed segment's do.
	noFile bool
}

func newTestFile(t testing.TB, size int) *testFile {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "range-*.log")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %s: %v", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync %s: %v", f.Name(), err)
	}
	mm, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %s: %v", f.Name(), err)
	}
	tf := &testFile{f: f, data: data, mm: mm}
	t.Cleanup(func() {
		unix.Munmap(mm)
		f.Close()
	})
	return tf
}

// rangeOf returns a FileRange over [pos, pos+n).
func (tf *testFile) rangeOf(pos int64, n int) FileRange {
	tf.ranges.Add(1)
	return &testRange{tf: tf, pos: pos, n: n}
}

// dropCache evicts the file from the page cache, or reports false if the
// kernel kept it resident.
func (tf *testFile) dropCache() bool {
	if err := unix.Fadvise(int(tf.f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return false
	}
	return !residentBytes(tf.mm)
}

type testRange struct {
	tf       *testFile
	pos      int64
	n        int
	released atomic.Bool
}

func (r *testRange) File() *os.File {
	if r.tf.noFile {
		return nil
	}
	return r.tf.f
}
func (r *testRange) Pos() int64    { return r.pos }
func (r *testRange) Len() int      { return r.n }
func (r *testRange) Bytes() []byte { return r.tf.mm[r.pos : r.pos+int64(r.n)] }
func (r *testRange) Release() {
	if r.released.Swap(true) {
		panic("FileRange released twice")
	}
	r.tf.released.Add(1)
}

// fileHandler answers a payload of (int64 pos, int32 len) with a frame
// holding that file range: a 4-byte size header chunk, then the range.
type fileHandler struct{ tf *testFile }

func (h fileHandler) ServeFrame(r *Responder, payload []byte) {
	pos := int64(binary.BigEndian.Uint64(payload))
	n := int(binary.BigEndian.Uint32(payload[8:]))
	hdr := GetBuffer()
	hdr.B = binary.BigEndian.AppendUint32(hdr.B, uint32(n))
	r.Reply(BytesChunk(hdr), FileChunk(h.tf.rangeOf(pos, n)))
}

func fileRequest(pos int64, n int) []byte {
	p := binary.BigEndian.AppendUint64(nil, uint64(pos))
	return AppendFrame(nil, binary.BigEndian.AppendUint32(p, uint32(n)))
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
