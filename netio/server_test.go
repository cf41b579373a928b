package netio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestAddrReportsBoundPort(t *testing.T) {
	s := startServer(t, Config{}, echoHandler{})
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok || a.Port == 0 || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("Addr() = %v, want 127.0.0.1 with a real port", s.Addr())
	}
}

func TestEcho(t *testing.T) {
	obs := &struct {
		echoHandler
		*observer
	}{observer: &observer{}}
	s := startServer(t, Config{}, obs)
	c := dial(t, s)
	for _, p := range [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("xyz"), 100000)} {
		if _, err := c.Write(AppendFrame(nil, p)); err != nil {
			t.Fatal(err)
		}
		got, err := readFrame(c)
		if err != nil {
			t.Fatalf("read echo of %d bytes: %v", len(p), err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("echo of %d bytes differs", len(p))
		}
	}
	c.Close()
	eventually(t, "OnClose", func() bool { return obs.closed() == 1 })
	if obs.opens != 1 {
		t.Fatalf("OnOpen ran %d times, want 1", obs.opens)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if err := obs.closes[0]; err != nil {
		t.Fatalf("OnClose err = %v after the peer hung up, want nil", err)
	}
}

// TestPipelining writes 10k frames per connection in large writes while
// another goroutine reads, so frames arrive split and batched arbitrarily;
// several connections run at once over two event loops.
func TestPipelining(t *testing.T) {
	s := startServer(t, Config{NumEventLoop: 2}, echoHandler{})
	const conns, n = 4, 10000
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		c := dial(t, s)
		go func() {
			var buf []byte
			for i := range n {
				buf = AppendFrame(buf, []byte(strconv.Itoa(i)))
				if len(buf) > 7777 {
					c.Write(buf)
					buf = buf[:0]
				}
			}
			c.Write(buf)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				got, err := readFrame(c)
				if err != nil {
					errs <- fmt.Errorf("frame %d: %w", i, err)
					return
				}
				if string(got) != strconv.Itoa(i) {
					errs <- fmt.Errorf("frame %d = %q", i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// sendIDs writes n frames carrying their index (and "noreply" for every
// tenth) and returns how many replies to expect.
func sendIDs(t *testing.T, c net.Conn, n int) int {
	var buf []byte
	want := 0
	for i := range n {
		if i%10 == 9 {
			buf = AppendFrame(buf, []byte("noreply"))
			continue
		}
		buf = AppendFrame(buf, []byte(strconv.Itoa(i)))
		want++
	}
	go c.Write(buf)
	return want
}

func TestOrderedRepliesFromGoroutines(t *testing.T) {
	h := &asyncHandler{maxDelay: 5 * time.Millisecond}
	s := startServer(t, Config{Ordered: true}, h)
	c := dial(t, s)
	want := sendIDs(t, c, 2000)
	last := -1
	for range want {
		got, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := strconv.Atoi(string(got))
		if err != nil {
			t.Fatalf("bad reply %q", got)
		}
		if id <= last {
			t.Fatalf("reply %d after %d: out of order", id, last)
		}
		last = id
	}
}

func TestUnorderedRepliesFromGoroutines(t *testing.T) {
	h := &asyncHandler{maxDelay: 5 * time.Millisecond}
	s := startServer(t, Config{Ordered: false}, h)
	c := dial(t, s)
	want := sendIDs(t, c, 2000)
	seen := make(map[int]bool)
	inversions := 0
	last := -1
	for range want {
		got, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := strconv.Atoi(string(got))
		if err != nil || id%10 == 9 || seen[id] {
			t.Fatalf("bad or repeated reply %q", got)
		}
		seen[id] = true
		if id < last {
			inversions++
		}
		last = id
	}
	// Random delays up to 5ms over 2000 requests reorder some replies; if
	// none were, the unordered path is secretly ordered.
	if inversions == 0 {
		t.Fatalf("no reply arrived out of order")
	}
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	obs := &struct {
		echoHandler
		*observer
	}{observer: &observer{}}
	s := startServer(t, Config{MaxFrameSize: 1024}, obs)
	good, bad := dial(t, s), dial(t, s)
	for _, size := range []uint32{1025, 0x80000000} {
		bad = dial(t, s)
		bad.Write(binary.BigEndian.AppendUint32(nil, size))
		bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bad.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("size %#x: read = %v, want EOF", size, err)
		}
	}
	good.Write(AppendFrame(nil, []byte("still here")))
	if got, err := readFrame(good); err != nil || string(got) != "still here" {
		t.Fatalf("other connection: %q, %v", got, err)
	}
	eventually(t, "two closes", func() bool { return obs.closed() >= 2 })
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for _, err := range obs.closes {
		if !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrNegativeFrameSize) {
			t.Fatalf("OnClose err = %v, want a frame size error", err)
		}
	}
}

func TestRandomBytes(t *testing.T) {
	s := startServer(t, Config{MaxFrameSize: 1 << 16}, echoHandler{})
	good := dial(t, s)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		c := dial(t, s)
		junk := make([]byte, rng.IntN(4096))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		c.Write(junk)
		c.Close()
	}
	good.Write(AppendFrame(nil, []byte("ok")))
	if got, err := readFrame(good); err != nil || string(got) != "ok" {
		t.Fatalf("after junk connections: %q, %v", got, err)
	}
}

func TestDisconnectMidFrameAndMidResponse(t *testing.T) {
	h := &asyncHandler{maxDelay: 20 * time.Millisecond}
	s := startServer(t, Config{}, h)
	// Mid-frame: half a frame, then gone.
	c := dial(t, s)
	c.Write(AppendFrame(nil, make([]byte, 100))[:50])
	c.Close()
	// Mid-request: replies arrive after the connection closed.
	c = dial(t, s)
	sendIDs(t, c, 500)
	eventually(t, "frames served", func() bool { return h.served.Load() >= 100 })
	c.Close()
	eventually(t, "outstanding replies dropped", func() bool { return s.outstanding.Load() == 0 })

	good := dial(t, s)
	good.Write(AppendFrame(nil, []byte("7")))
	if got, err := readFrame(good); err != nil || string(got) != "7" {
		t.Fatalf("other connection: %q, %v", got, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = time.Second
	s := startServer(t, Config{IdleTimeout: idle}, echoHandler{})
	// The server starts the idle clock when it accepts, which can come
	// before dial returns to this goroutine: start the test's clock first.
	start := time.Now()
	c := dial(t, s)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read = %v, want EOF from idle close", err)
	}
	if took := time.Since(start); took < idle || took > 3*idle {
		t.Fatalf("idle close after %v, want about %v", took, idle)
	}
	// A connection with traffic more often than the timeout stays open.
	busy := dial(t, s)
	for range 6 {
		busy.Write(AppendFrame(nil, []byte("ping")))
		if _, err := readFrame(busy); err != nil {
			t.Fatalf("busy connection closed: %v", err)
		}
		time.Sleep(idle / 4)
	}
}

func TestGracefulStopWritesInFlightReplies(t *testing.T) {
	h := &asyncHandler{maxDelay: 300 * time.Millisecond}
	cfg := Config{Addr: "127.0.0.1:0", Ordered: true}
	s, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := sendIDs(t, c, 100)
	eventually(t, "all frames served", func() bool { return h.served.Load() == 100 })

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	for i := range want {
		if _, err := readFrame(c); err != nil {
			t.Fatalf("reply %d of %d lost in Stop: %v", i, want, err)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after Stop read = %v, want EOF", err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatalf("dial after Stop succeeded")
	}
}

func TestGracefulStopTimesOut(t *testing.T) {
	held := make(chan *Responder, 1)
	h := handlerFunc(func(r *Responder, _ []byte) { held <- r })
	s, err := NewServer(Config{Addr: "127.0.0.1:0"}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(AppendFrame(nil, []byte("never answered")))
	r := <-held
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want deadline exceeded", err)
	}
	// A reply after Stop is dropped, not written to a dead connection.
	r.Reply(replyFrame([]byte("late")))
	if s.outstanding.Load() != 0 {
		t.Fatalf("late reply not dropped")
	}
}

type handlerFunc func(r *Responder, payload []byte)

func (f handlerFunc) ServeFrame(r *Responder, payload []byte) { f(r, payload) }

// TestBackpressureHeldRequests: with requests unanswered, a connection stops
// being served once MaxInFlightBytes of requests are outstanding, and
// resumes as replies come back.
func TestBackpressureHeldRequests(t *testing.T) {
	var mu sync.Mutex
	var held []*Responder
	h := handlerFunc(func(r *Responder, _ []byte) { mu.Lock(); held = append(held, r); mu.Unlock() })
	s := startServer(t, Config{MaxInFlightBytes: 64 << 10, MaxFrameSize: 1 << 20}, h)
	c := dial(t, s)
	const frames, size = 64, 8 << 10
	var buf []byte
	for range frames {
		buf = AppendFrame(buf, make([]byte, size))
	}
	go c.Write(buf)
	heldCount := func() int { mu.Lock(); defer mu.Unlock(); return len(held) }
	limit := (64<<10)/(size+4) + 1
	eventually(t, "budget filled", func() bool { return heldCount() == limit })
	time.Sleep(50 * time.Millisecond)
	if n := heldCount(); n != limit {
		t.Fatalf("served %d frames over a budget of %d", n, limit)
	}
	replied := 0
	go func() {
		for range frames {
			if _, err := readFrame(c); err != nil {
				return
			}
		}
	}()
	for replied < frames {
		mu.Lock()
		batch := held
		held = nil
		mu.Unlock()
		for _, r := range batch {
			r.Reply(replyFrame(nil))
			replied++
		}
		if replied < frames {
			eventually(t, "more frames after replies", func() bool { return heldCount() > 0 })
		}
	}
}

// TestSlowConsumer: a client that does not read stops being served once
// MaxInFlightBytes of responses queue up, and is served again once it
// reads; if it keeps writing meanwhile, it is closed at MaxInboundBytes.
func TestSlowConsumer(t *testing.T) {
	const respSize = 256 << 10
	var mu sync.Mutex
	count := 0
	h := &struct {
		handlerFunc
		*observer
	}{handlerFunc(func(r *Responder, _ []byte) {
		mu.Lock()
		count++
		mu.Unlock()
		r.Reply(replyFrame(make([]byte, respSize)))
	}), &observer{}}
	s := startServer(t, Config{MaxInFlightBytes: 1 << 20, MaxFrameSize: 64 << 10}, h)
	c := dial(t, s)
	const frames = 64
	var buf []byte
	for range frames {
		buf = AppendFrame(buf, []byte("give me 256KiB"))
	}
	c.Write(buf)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	n := count
	mu.Unlock()
	// Socket buffers absorb some MiB on loopback; the rest must wait.
	if n >= frames {
		t.Fatalf("served all %d frames to a client that reads nothing", n)
	}
	for i := range frames {
		if _, err := readFrame(c); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}

	// Same again, but the client keeps sending: closed past MaxInboundBytes
	// (2*64KiB), because gnet cannot stop reading the socket.
	c2 := dial(t, s)
	big := AppendFrame(nil, make([]byte, 60<<10))
	var werr error
	for i := 0; i < 4096 && werr == nil; i++ {
		c2.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, werr = c2.Write(big)
	}
	if werr == nil {
		t.Fatalf("server kept reading 240 MiB from a client that reads nothing")
	}
	eventually(t, "close of the flooding connection", func() bool { return h.closed() == 1 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if !errors.Is(h.closes[0], errInboundOverflow) {
		t.Fatalf("OnClose err = %v, want errInboundOverflow", h.closes[0])
	}
}

func TestStartFailsOnBusyPortAndStopIsIdempotent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := NewServer(Config{Addr: ln.Addr().String()}, echoHandler{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Fatalf("Start on %v, a port in use, succeeded", ln.Addr())
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after failed Start: %v", err)
	}

	s = startServer(t, Config{}, echoHandler{})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("first Stop: %v", err)
	}
	// startServer's cleanup stops it a second time.
}

func TestConfigRejectsBadValues(t *testing.T) {
	if _, err := NewServer(Config{}, echoHandler{}); err == nil {
		t.Fatalf("empty Addr accepted")
	}
	if _, err := NewServer(Config{Addr: "127.0.0.1:0", MaxFrameSize: 1 << 20, MaxInboundBytes: 1 << 10}, echoHandler{}); err == nil {
		t.Fatalf("MaxInboundBytes below MaxFrameSize accepted")
	}
}
