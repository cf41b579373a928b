package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// slowRead reads n bytes, pausing between small reads like a slow consumer.
func slowRead(t *testing.T, r io.Reader, n int, pause time.Duration) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, 1<<20)
	for len(out) < n {
		m, err := r.Read(buf[:min(len(buf), n-len(out))])
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", len(out), n, err)
		}
		out = append(out, buf[:m]...)
		time.Sleep(pause)
	}
	return out
}

func testFileRanges(t *testing.T, strategy FileWriteStrategy) {
	const size = 64 << 20
	tf := newTestFile(t, size)
	s := startServer(t, Config{FileWrite: strategy, MaxInFlightBytes: 256 << 20}, fileHandler{tf})
	c := dial(t, s)

	type req struct {
		pos int64
		n   int
	}
	reqs := []req{{0, 100}, {4095, 2}, {12345, 1 << 20}, {0, 0}, {0, size}, {size - 7, 7}}
	var buf []byte
	for _, r := range reqs {
		buf = append(buf, fileRequest(r.pos, r.n)...)
	}
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	// Let the socket buffer fill so the server meets EAGAIN mid-range.
	time.Sleep(200 * time.Millisecond)
	for _, r := range reqs {
		hdr := slowRead(t, c, 4, 0)
		if got := int(uint32(hdr[0])<<24 | uint32(hdr[1])<<16 | uint32(hdr[2])<<8 | uint32(hdr[3])); got != r.n {
			t.Fatalf("range %+v: header says %d bytes", r, got)
		}
		got := slowRead(t, c, r.n, 100*time.Microsecond)
		if !bytes.Equal(got, tf.data[r.pos:r.pos+int64(r.n)]) {
			t.Fatalf("range %+v: bytes differ", r)
		}
	}
	st := s.Stats()
	if st.WritableWaits == 0 {
		t.Fatalf("no write waited for the socket after EAGAIN: %+v", st)
	}
	if strategy == WriteSendfile && st.SendfileCalls == 0 {
		t.Fatalf("sendfile strategy made no sendfile call: %+v", st)
	}
	if strategy == WriteMmap && st.SendfileCalls != 0 {
		t.Fatalf("mmap strategy made %d sendfile calls", st.SendfileCalls)
	}
	eventually(t, "every range released", func() bool { return tf.released.Load() == tf.ranges.Load() })
	if tf.ranges.Load() != int64(len(reqs)) {
		t.Fatalf("%d ranges made for %d requests", tf.ranges.Load(), len(reqs))
	}
}

func TestFileRangeSendfile(t *testing.T) { testFileRanges(t, WriteSendfile) }
func TestFileRangeMmap(t *testing.T)     { testFileRanges(t, WriteMmap) }

// TestFileRangeWithoutDescriptor: under WriteSendfile a range that offers no
// descriptor (a sealed segment's) goes out by writev of its bytes.
func TestFileRangeWithoutDescriptor(t *testing.T) {
	tf := newTestFile(t, 1<<20)
	tf.noFile = true
	s := startServer(t, Config{FileWrite: WriteSendfile}, fileHandler{tf})
	c := dial(t, s)
	if _, err := c.Write(fileRequest(100, 300_000)); err != nil {
		t.Fatal(err)
	}
	if got := slowRead(t, c, 4+300_000, 0); !bytes.Equal(got[4:], tf.data[100:300_100]) {
		t.Fatal("range bytes differ")
	}
	if n := s.Stats().SendfileCalls; n != 0 {
		t.Fatalf("%d sendfile calls for a range with no descriptor", n)
	}
	eventually(t, "the range released", func() bool { return tf.released.Load() == 1 })
}

func TestFileRangeColdPagesGoToWorker(t *testing.T) {
	const size = 8 << 20
	for _, ordered := range []bool{true, false} {
		tf := newTestFile(t, size)
		if !tf.dropCache() {
			t.Skip("kernel kept the test file in the page cache after FADV_DONTNEED")
		}
		s := startServer(t, Config{Ordered: ordered}, fileHandler{tf})
		c := dial(t, s)
		c.Write(fileRequest(0, size))
		c.Write(fileRequest(100, 10))
		got := make(map[int][]byte)
		for range 2 {
			p, err := readFrame(c)
			if err != nil {
				t.Fatal(err)
			}
			if ordered && len(got) == 0 && len(p) != size {
				t.Fatalf("ordered: first reply has %d bytes, want the cold %d", len(p), size)
			}
			got[len(p)] = p
		}
		if !bytes.Equal(got[size], tf.data) || !bytes.Equal(got[10], tf.data[100:110]) {
			t.Fatalf("ordered=%v: cold ranges differ", ordered)
		}
		if st := s.Stats(); st.FaultedResponses == 0 {
			t.Fatalf("cold range was not sent to a fault-in worker: %+v", st)
		}
		if !residentBytes(tf.mm) {
			t.Fatalf("range not resident after the worker faulted it in")
		}
	}
}

// TestFileRangeClientGone: the client asks for ranges and disconnects
// without reading; every range is released and nothing stays outstanding.
func TestFileRangeClientGone(t *testing.T) {
	tf := newTestFile(t, 32<<20)
	for _, ordered := range []bool{false, true} {
		s := startServer(t, Config{Ordered: ordered, MaxInFlightBytes: 256 << 20}, fileHandler{tf})
		c := dial(t, s)
		for range 4 {
			c.Write(fileRequest(0, 32<<20))
		}
		eventually(t, "ranges handed out", func() bool { return tf.ranges.Load() > 0 })
		c.Close()
		eventually(t, "ranges released", func() bool {
			return tf.released.Load() == tf.ranges.Load() && s.outstanding.Load() == 0
		})
	}
}

// TestManyChunks sends responses of more chunks than one writev(2) takes,
// both straight to the socket and queued behind a large response.
func TestManyChunks(t *testing.T) {
	tf := newTestFile(t, 1<<20)
	const n = 3000
	manyReply := func(r *Responder) {
		chunks := make([]Chunk, 0, n+1)
		var want []byte
		for i := range n {
			if i%3 == 0 {
				chunks = append(chunks, FileChunk(tf.rangeOf(int64(i), 5)))
				want = append(want, tf.data[i:i+5]...)
				continue
			}
			b := GetBuffer()
			b.B = append(b.B, byte(i), byte(i>>8))
			chunks = append(chunks, BytesChunk(b))
			want = append(want, b.B...)
		}
		hdr := GetBuffer()
		hdr.B = AppendFrame(hdr.B, nil)
		hdr.B[3] = byte(len(want))
		hdr.B[2] = byte(len(want) >> 8)
		r.Reply(append([]Chunk{BytesChunk(hdr)}, chunks...)...)
	}
	var want []byte
	for i := range n {
		if i%3 == 0 {
			want = append(want, tf.data[i:i+5]...)
		} else {
			want = append(want, byte(i), byte(i>>8))
		}
	}
	for _, strategy := range []FileWriteStrategy{WriteMmap, WriteSendfile} {
		h := handlerFunc(func(r *Responder, p []byte) {
			if string(p) == "big" {
				r.Reply(replyFrame(make([]byte, 16<<20)))
				return
			}
			manyReply(r)
		})
		s := startServer(t, Config{FileWrite: strategy}, h)
		c := dial(t, s)
		c.Write(AppendFrame(nil, []byte("many")))
		if got, err := readFrame(c); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("strategy %d: direct many-chunk reply: err %v, equal %v", strategy, err, bytes.Equal(got, want))
		}
		c.Write(AppendFrame(AppendFrame(nil, []byte("big")), []byte("many")))
		time.Sleep(100 * time.Millisecond)
		if _, err := readFrame(c); err != nil {
			t.Fatal(err)
		}
		if got, err := readFrame(c); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("strategy %d: queued many-chunk reply: err %v, equal %v", strategy, err, bytes.Equal(got, want))
		}
	}
}

// dialSmallWindow connects with a 4 KiB receive buffer, set before connect
// so the advertised window stays small: the server's socket fills at once.
func dialSmallWindow(t *testing.T, s *Server) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial %v: %v", s.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSlowReaderGetsEveryByteWithoutGnetCopy: a reader with a tiny receive
// window that stops reading, then reads slowly, gets several large file
// responses whole and in order; meanwhile another connection on the same
// event loop keeps being answered; and every response byte was written by
// netio's own writev/sendfile, none handed to gnet's outbound buffer.
func TestSlowReaderGetsEveryByteWithoutGnetCopy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ordered  bool
		strategy FileWriteStrategy
	}{
		{"ordered,mmap", true, WriteMmap},
		{"ordered,sendfile", true, WriteSendfile},
		{"unordered,mmap", false, WriteMmap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 8 << 20
			tf := newTestFile(t, size)
			s := startServer(t, Config{NumEventLoop: 1, Ordered: tc.ordered, FileWrite: tc.strategy}, fileHandler{tf})
			slow := dialSmallWindow(t, s)
			other := dial(t, s)

			type req struct {
				pos int64
				n   int
			}
			reqs := []req{{0, 4 << 20}, {12345, 3 << 20}, {3, 100}, {1 << 20, size - 1<<20}, {size - 10, 10}}
			var buf []byte
			wantBytes := int64(0)
			for _, r := range reqs {
				buf = append(buf, fileRequest(r.pos, r.n)...)
				wantBytes += 4 + int64(r.n)
			}
			if _, err := slow.Write(buf); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the slow reader's socket to fill", func() bool { return s.Stats().WritableWaits > 0 })

			// The slow reader reads nothing now; the shared loop must still
			// answer the other connection.
			for i := range 50 {
				pos, n := int64(i*4099), 1000+i
				other.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := other.Write(fileRequest(pos, n)); err != nil {
					t.Fatal(err)
				}
				p, err := readFrame(other)
				if err != nil {
					t.Fatalf("other connection, request %d, while the slow reader stalls: %v", i, err)
				}
				if !bytes.Equal(p, tf.data[pos:pos+int64(n)]) {
					t.Fatalf("other connection, request %d: bytes differ", i)
				}
				wantBytes += 4 + int64(n)
			}

			for i, r := range reqs {
				hdr := slowRead(t, slow, 4, 0)
				if got := int(binary.BigEndian.Uint32(hdr)); got != r.n {
					t.Fatalf("range %+v: header says %d bytes", r, got)
				}
				pause := time.Duration(0) // the 4 KiB window keeps the rest slow
				if i == 0 {
					pause = 20 * time.Microsecond
				}
				got := slowRead(t, slow, r.n, pause)
				if !bytes.Equal(got, tf.data[r.pos:r.pos+int64(r.n)]) {
					t.Fatalf("range %+v: bytes differ", r)
				}
			}
			eventually(t, "every range released", func() bool { return tf.released.Load() == tf.ranges.Load() })
			if st := s.Stats(); st.DirectBytes != wantBytes {
				t.Fatalf("netio wrote %d response bytes itself, want all %d (the rest went through gnet): %+v",
					st.DirectBytes, wantBytes, st)
			}
		})
	}
}

// heldFileHandler keeps each file request's Responder until the test
// answers it, so responses complete in an order the test picks.
type heldFileHandler struct {
	tf   *testFile
	mu   sync.Mutex
	held []heldFileRequest
}

type heldFileRequest struct {
	r   *Responder
	pos int64
	n   int
}

func (h *heldFileHandler) ServeFrame(r *Responder, payload []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, heldFileRequest{r, int64(binary.BigEndian.Uint64(payload)), int(binary.BigEndian.Uint32(payload[8:]))})
}

func (h *heldFileHandler) served() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.held) }

func (h *heldFileHandler) answer(i int) {
	h.mu.Lock()
	q := h.held[i]
	h.mu.Unlock()
	hdr := GetBuffer()
	hdr.B = binary.BigEndian.AppendUint32(hdr.B, uint32(q.n))
	q.r.Reply(BytesChunk(hdr), FileChunk(h.tf.rangeOf(q.pos, q.n)))
}

// TestResponsesCompletedBehindATail: responses that complete while an
// earlier one waits for the socket to drain go out after it, whole: in
// completion order without Ordered, in request order with it.
func TestResponsesCompletedBehindATail(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			const size = 4 << 20
			tf := newTestFile(t, size)
			h := &heldFileHandler{tf: tf}
			s := startServer(t, Config{Ordered: ordered}, h)
			c := dialSmallWindow(t, s)
			sizes := []int{size, 1000, 200_000, 7, 3 << 20}
			var buf []byte
			for i, n := range sizes {
				buf = append(buf, fileRequest(int64(i*101), n)...)
			}
			if _, err := c.Write(buf); err != nil {
				t.Fatal(err)
			}
			eventually(t, "every request served", func() bool { return h.served() == len(sizes) })
			h.answer(0)
			eventually(t, "the first response to fill the socket", func() bool { return s.Stats().WritableWaits > 0 })
			// The rest complete while the first waits, last request first.
			for i := len(sizes) - 1; i >= 1; i-- {
				h.answer(i)
			}
			want := []int{0, 4, 3, 2, 1}
			if ordered {
				want = []int{0, 1, 2, 3, 4}
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for _, i := range want {
				p, err := readFrame(c)
				if err != nil {
					t.Fatalf("response to request %d: %v", i, err)
				}
				pos := int64(i * 101)
				if !bytes.Equal(p, tf.data[pos:pos+int64(sizes[i])]) {
					t.Fatalf("response of %d bytes is not request %d's range of %d bytes", len(p), i, sizes[i])
				}
			}
			eventually(t, "every range released", func() bool { return tf.released.Load() == int64(len(sizes)) })
		})
	}
}
