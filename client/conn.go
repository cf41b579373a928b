package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/spate-io/spate/wire"
)

// frame is a response payload read off a connection. Its ownership passes
// to the response callback, which returns it with putFrame when done (a
// consumer keeps fetch frames until the next Poll, so records alias them).
type frame struct{ b []byte }

var framePool = sync.Pool{New: func() any { return new(frame) }}

// maxPooledFrame keeps one huge response from pinning its buffer forever.
const maxPooledFrame = 8 << 20

func getFrame(n int) *frame {
	f := framePool.Get().(*frame)
	if cap(f.b) < n {
		f.b = make([]byte, n)
	}
	f.b = f.b[:n]
	return f
}

func putFrame(f *frame) {
	if f == nil || cap(f.b) > maxPooledFrame {
		return
	}
	framePool.Put(f)
}

// onResponse receives the outcome of one request, exactly once: on the
// connection's read goroutine for a response (f owns body, and the callee
// must putFrame it or keep it), or on whichever goroutine failed the
// connection (f == nil, err != nil). It must not block.
type onResponse func(f *frame, body []byte, err error)

type pendingCall struct {
	cb       onResponse
	queued   time.Time
	deadline time.Time
}

// conn is one TCP connection to one broker. Requests are pipelined: send
// appends the encoded frame to a write buffer under mu and wakes the writer
// goroutine, which writes everything queued in one syscall, so many small
// requests share a write. The reader goroutine matches responses to
// requests by correlation id, in whatever order they arrive.
//
// Invariant: once failed, a conn never accepts a request again; every
// request it accepted gets its callback exactly once.
type conn struct {
	node  int32
	addr  string
	nc    net.Conn
	hooks *hooks
	max   int
	// speaks[k] reports whether the broker implements the version of API k
	// this client sends. Written once by the handshake before the conn is
	// handed out, read-only afterwards.
	speaks [maxAPIKey]bool
	// produceVersion is the highest Produce version both sides speak (1
	// brings error messages); written by the handshake like speaks.
	produceVersion int16

	mu struct {
		sync.Mutex
		wbuf []byte
		// onWritten runs once the bytes queued before it are written (nil)
		// or can no longer be (the error): acks=0 requests complete there.
		onWritten []func(error)
		pending   map[int32]pendingCall
		corr      int32
		err       error // non-nil once failed
	}
	wake chan struct{} // capacity 1: "wbuf has bytes"
	done chan struct{} // closed when failed
}

// dial connects to addr and performs the version handshake.
func dial(ctx context.Context, cfg *config, h *hooks, node int32, addr string) (*conn, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.dialTO)
	defer cancel()
	c, err := dialHandshake(ctx, cfg, h, node, addr)
	for _, x := range h.connect {
		x.OnBrokerConnect(node, addr, time.Since(start), err)
	}
	return c, err
}

func dialHandshake(ctx context.Context, cfg *config, h *hooks, node int32, addr string) (*conn, error) {
	nc, err := cfg.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, &ConnectError{Addr: addr, Err: err}
	}
	c := &conn{node: node, addr: addr, nc: nc, hooks: h, max: cfg.maxFrame,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.pending = make(map[int32]pendingCall)
	go c.writeLoop(cfg.reqTO)
	go c.readLoop()
	var resp wire.APIVersionsResponse
	if err := c.request(ctx, &wire.APIVersionsRequest{}, &resp, cfg.dialTO); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("client: handshake with broker %d at %s: %w", node, addr, err)
	}
	c.speaks = speaks(resp.APIs)
	c.produceVersion = highestVersion(resp.APIs, wire.ProduceKey)
	return c, nil
}

// highestVersion returns the highest version of API k that both this
// client and the broker speak, 0 when they share none (speaks refuses
// such requests).
func highestVersion(apis []wire.VersionRange, k wire.APIKey) int16 {
	for _, ours := range wire.SupportedVersions() {
		if ours.Key != k {
			continue
		}
		for _, theirs := range apis {
			if theirs.Key == k && theirs.MinVersion <= ours.MaxVersion && theirs.MaxVersion >= ours.MinVersion {
				return min(theirs.MaxVersion, ours.MaxVersion)
			}
		}
	}
	return 0
}

// maxAPIKey bounds the API keys a connection tracks; higher keys are
// treated as not spoken.
const maxAPIKey = 64

// speaks reports, per API key, whether the broker's advertised range
// overlaps the version this client sends. Every API is at version 0 today;
// when one gains a version this is where the highest common one is picked.
// A broker that lacks an API only fails requests of that API (see send), so
// an older broker keeps serving a newer client for everything it knows.
func speaks(apis []wire.VersionRange) (out [maxAPIKey]bool) {
	for _, want := range wire.SupportedVersions() {
		for _, a := range apis {
			if a.Key == want.Key && a.Key >= 0 && int(a.Key) < maxAPIKey &&
				a.MinVersion <= want.MaxVersion && a.MaxVersion >= want.MinVersion {
				out[a.Key] = true
			}
		}
	}
	out[wire.APIVersionsKey] = true
	return out
}

// send queues req; cb gets its response, or the error that ends the wait:
// timeout bounds it. It returns an error (and does not call cb) when the
// connection has already failed.
func (c *conn) send(req wire.Request, timeout time.Duration, cb onResponse) error {
	return c.enqueue(req, timeout, cb, nil)
}

// sendNoReply queues req, which gets no response (acks=0); onWritten runs
// once req is written to the socket (nil) or the connection failed first.
// Completing there, not when queued, lets the producer's buffer limit pace
// an acks=0 producer to the speed of the socket, and Close deliver what was
// produced. It returns an error (and does not call onWritten) when the
// connection has already failed.
func (c *conn) sendNoReply(req wire.Request, onWritten func(error)) error {
	return c.enqueue(req, 0, nil, onWritten)
}

// enqueue appends req to the write buffer with exactly one of cb (a
// response is awaited) and onWritten (none is).
func (c *conn) enqueue(req wire.Request, timeout time.Duration, cb onResponse, onWritten func(error)) error {
	if k := req.APIKey(); k != wire.APIVersionsKey && (k < 0 || int(k) >= maxAPIKey || !c.speaks[k]) {
		return fmt.Errorf("client: broker %d at %s does not speak %s: %w", c.node, c.addr, k, wire.ErrUnsupportedVersion)
	}
	c.mu.Lock()
	if err := c.mu.err; err != nil {
		c.mu.Unlock()
		return err
	}
	c.mu.corr++
	corr := c.mu.corr
	if cb != nil {
		now := time.Now()
		c.mu.pending[corr] = pendingCall{cb: cb, queued: now, deadline: now.Add(timeout)}
	} else {
		c.mu.onWritten = append(c.mu.onWritten, onWritten)
	}
	c.mu.wbuf = wire.AppendRequestFrame(c.mu.wbuf, corr, req)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// request sends req and decodes its response into resp, waiting at most
// timeout or until ctx ends. resp owns what it decodes: the response frame
// is left to the garbage collector rather than returned to the frame pool,
// because byte fields of resp (JoinGroup metadata, SyncGroup assignments,
// DescribeGroups member data) alias it. request serves metadata, admin and
// group calls; the fetch path, which recycles frames, uses send directly.
func (c *conn) request(ctx context.Context, req wire.Request, resp wire.Response, timeout time.Duration) error {
	type result struct {
		body []byte
		err  error
	}
	ch := make(chan result, 1)
	err := c.send(req, timeout, func(_ *frame, body []byte, err error) { ch <- result{body, err} })
	if err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		return resp.Decode(r.body)
	case <-ctx.Done():
		return fmt.Errorf("client: %s to broker %d: %w", req.APIKey(), c.node, ctx.Err())
	}
}

// writeLoop writes whatever is queued, and every tick fails the connection
// if a request has outlived its deadline: a late response would otherwise
// let a retried produce overtake the original.
func (c *conn) writeLoop(reqTO time.Duration) {
	tick := time.NewTicker(max(reqTO/20, 10*time.Millisecond))
	defer tick.Stop()
	var spare []byte
	var spareFns []func(error)
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
			c.expire()
			continue
		case <-c.wake:
		}
		c.mu.Lock()
		buf, fns := c.mu.wbuf, c.mu.onWritten
		c.mu.wbuf, c.mu.onWritten = spare[:0], spareFns[:0]
		c.mu.Unlock()
		if len(buf) == 0 {
			spare, spareFns = buf, fns
			continue
		}
		start := time.Now()
		n, err := c.nc.Write(buf)
		for _, h := range c.hooks.write {
			h.OnBrokerWrite(c.node, n, time.Since(start), err)
		}
		if err != nil {
			err = fmt.Errorf("client: write to broker %d at %s: %v: %w", c.node, c.addr, err, wire.ErrNetworkException)
			c.fail(err)
			for _, fn := range fns {
				fn(err)
			}
			return
		}
		for i, fn := range fns {
			fn(nil)
			fns[i] = nil
		}
		spareFns = fns
		if cap(buf) > maxPooledFrame {
			buf = nil
		}
		spare = buf
	}
}

func (c *conn) expire() {
	now := time.Now()
	c.mu.Lock()
	expired := false
	for _, p := range c.mu.pending {
		if now.After(p.deadline) {
			expired = true
			break
		}
	}
	c.mu.Unlock()
	if expired {
		c.fail(fmt.Errorf("client: broker %d at %s: no response within the request timeout: %w",
			c.node, c.addr, wire.ErrRequestTimedOut))
	}
}

func (c *conn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var size [wire.SizeLen]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			c.fail(fmt.Errorf("client: read from broker %d at %s: %v: %w", c.node, c.addr, err, wire.ErrNetworkException))
			return
		}
		n, _, err := wire.FrameSize(size[:], c.max)
		if err != nil {
			c.fail(fmt.Errorf("client: response from broker %d at %s: %w", c.node, c.addr, err))
			return
		}
		f := getFrame(n)
		if _, err := io.ReadFull(br, f.b); err != nil {
			putFrame(f)
			c.fail(fmt.Errorf("client: read from broker %d at %s: %v: %w", c.node, c.addr, err, wire.ErrNetworkException))
			return
		}
		corr, body, err := wire.ParseResponseHeader(f.b)
		if err != nil {
			putFrame(f)
			c.fail(fmt.Errorf("client: response from broker %d at %s: %w", c.node, c.addr, err))
			return
		}
		c.mu.Lock()
		p, ok := c.mu.pending[corr]
		delete(c.mu.pending, corr)
		c.mu.Unlock()
		if !ok {
			putFrame(f)
			c.fail(fmt.Errorf("client: broker %d at %s answered unknown correlation id %d: %w",
				c.node, c.addr, corr, wire.ErrMalformed))
			return
		}
		for _, h := range c.hooks.read {
			h.OnBrokerRead(c.node, n+wire.SizeLen, time.Since(p.queued), nil)
		}
		p.cb(f, body, nil)
	}
}

// fail closes the connection and fails every pending request with err. It
// is idempotent; the first error wins.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.mu.err != nil {
		c.mu.Unlock()
		return
	}
	c.mu.err = err
	pending := c.mu.pending
	c.mu.pending = nil
	unwritten := c.mu.onWritten
	c.mu.onWritten = nil
	c.mu.Unlock()
	close(c.done)
	c.nc.Close()
	for _, h := range c.hooks.disconnect {
		h.OnBrokerDisconnect(c.node, c.addr, err)
	}
	for _, p := range pending {
		p.cb(nil, nil, err)
	}
	for _, fn := range unwritten {
		fn(err)
	}
}

// dead reports whether the connection has failed.
func (c *conn) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeErr is the error a connection closed on purpose fails with.
func closeErr(node int32) error {
	return fmt.Errorf("client: connection to broker %d: %w", node, ErrClosed)
}
