package netio

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// errInboundOverflow closes a connection whose unread inbound bytes passed
// Config.MaxInboundBytes while its frames were held back.
var errInboundOverflow = errors.New("netio: inbound buffer over MaxInboundBytes")

// conn is the server's state for one gnet connection.
//
// Fields under "loop-owned" are touched only on the connection's event loop.
// mu guards the hand-off of completed Responders from other goroutines.
// Lock order: conn.mu, then nothing (no callback runs under it).
type conn struct {
	srv  *Server
	gc   gnet.Conn
	fd   int
	info ConnInfo
	// pass is the state of the event loop that owns the connection.
	pass *loopPass

	// wakers counts Wake calls under way outside mu; onClose waits for
	// them (see wake).
	wakers atomic.Int32

	// lastActive is Server.monoNow at the last loop pass; read by the ticker.
	lastActive atomic.Int64
	// outstanding counts frames served and not yet written or dropped; read
	// by the ticker so a connection with a parked request is not idle.
	outstanding atomic.Int64
	// replyBytes counts response bytes replied but not yet taken by the
	// loop, so the in-flight budget sees synchronous replies at once.
	replyBytes atomic.Int64

	// loop-owned
	nextSeq uint64
	// pendingBytes is request plus completed-response bytes not yet written.
	pendingBytes int
	// order holds, in ordered mode, one slot per outstanding frame in
	// arrival order; a nil slot is a frame not answered yet.
	order ring
	// headFaulting is set in ordered mode while the next response to write
	// is with a fault-in worker.
	headFaulting bool
	// tail is the response the socket has not taken whole yet (tail.r nil
	// when none). Invariant: while it is set nothing else is written and no
	// frame is served; the writable watcher wakes the loop to continue it.
	tail pendingWrite
	// blocked holds responses ready to write behind tail, oldest first
	// (in ordered mode later ones wait in order instead).
	blocked []*Responder
	// watched is set once the descriptor is in the writable watcher's set.
	watched bool
	// broken is the write error that must close the connection.
	broken error
	// closed is set once OnClose ran.
	closed bool
	spare  []*Responder
	iov    [][]byte

	mu struct {
		sync.Mutex
		// done holds Responders completed since the last loop pass.
		done []*Responder
		// processing is set while the loop drains done, so completions
		// made meanwhile (including synchronous ones) need no Wake.
		processing  bool
		wakePending bool
		closed      bool
	}
}

// complete hands r to the connection's loop. Any goroutine.
func (c *conn) complete(r *Responder) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		c.srv.drop(r)
		return
	}
	c.mu.done = append(c.mu.done, r)
	if c.mu.processing || c.mu.wakePending {
		c.mu.Unlock()
		return
	}
	c.mu.wakePending = true
	// While the owning loop is in a pass (most often: this very call runs
	// inside it, an append completing a parked fetch or produce of another
	// connection of the loop), the pass takes c before it returns, so the
	// eventfd write and the extra epoll round of a Wake are saved.
	if c.pass.deferIfActive(c) {
		c.mu.Unlock()
		return
	}
	c.wakers.Add(1) // under mu, before onClose can see mu.closed
	c.mu.Unlock()
	c.wake()
}

// wakeLoop runs a loop pass for c soon, for a socket that became writable.
// Any goroutine. Unlike complete it wakes even while the loop is in a
// pass, which may have armed the watcher after its last write attempt.
func (c *conn) wakeLoop() {
	c.mu.Lock()
	if c.mu.closed || c.mu.wakePending {
		c.mu.Unlock()
		return
	}
	c.mu.wakePending = true
	c.wakers.Add(1) // under mu, before onClose can see mu.closed
	c.mu.Unlock()
	c.wake()
}

// wake calls gnet's Conn.Wake, counted in wakers and with mu released: the
// loop the eventfd write wakes often runs on the same CPU at once and
// takes mu first thing, so a Wake under mu made it block on the lock and
// hand the CPU back (two context switches and two futex calls per wake in
// a trace of the RF=3 acks=all round trip). onClose waits until no wake is
// under way before gnet closes the loop's eventfd, which a late Wake would
// otherwise write to, closed or reused. Wake only enqueues and signals the
// eventfd; it does not block. An error means the engine is shutting down;
// its close of this connection drops everything in done.
func (c *conn) wake() {
	c.srv.stats.loopWakes.Add(1)
	_ = c.gc.Wake(nil)
	c.wakers.Add(-1)
}

// onTraffic is the loop pass: continue a response the socket could not take
// whole, write completed responses, then serve frames while the socket
// takes everything and the in-flight budget allows, until no completion is
// left.
func (c *conn) onTraffic() gnet.Action {
	c.lastActive.Store(c.srv.monoNow())
	for {
		c.mu.Lock()
		c.mu.processing = true
		c.mu.wakePending = false
		batch := c.mu.done
		c.mu.done = c.spare
		c.mu.Unlock()

		c.flushTail()
		for i, r := range batch {
			batch[i] = nil
			if !c.closed {
				c.completed(r)
			} else {
				c.srv.drop(r)
			}
		}
		c.spare = batch[:0]
		if c.closed || c.broken != nil {
			return gnet.Close
		}
		if err := c.serveFrames(); err != nil {
			c.broken = err
			return gnet.Close
		}
		if c.closed || c.broken != nil {
			return gnet.Close
		}

		c.mu.Lock()
		if len(c.mu.done) == 0 {
			c.mu.processing = false
			c.mu.Unlock()
			return gnet.None
		}
		c.mu.Unlock()
	}
}

// serveFrames hands complete frames to the handler until the inbound buffer
// holds no complete frame or the in-flight budget is spent.
func (c *conn) serveFrames() error {
	cfg := &c.srv.cfg
	// Every way the budget frees up (a reply, the socket draining) runs a
	// loop pass that comes back here, so a held-back frame needs no timer.
	for !c.srv.draining.Load() && !c.closed && c.tail.r == nil {
		if c.pendingBytes+int(c.replyBytes.Load()) >= cfg.MaxInFlightBytes {
			break
		}
		payload, total, err := nextFrame(c.gc, cfg.MaxFrameSize)
		if err != nil {
			return fmt.Errorf("netio: connection %d from %v: %w", c.info.ID, c.info.RemoteAddr, err)
		}
		if total == 0 {
			break
		}
		r := responderPool.Get().(*Responder)
		r.conn = c
		r.seq = c.nextSeq
		r.reqBytes = total
		c.nextSeq++
		c.pendingBytes += total
		c.outstanding.Add(1)
		c.srv.outstanding.Add(1)
		if c.srv.cfg.Ordered {
			c.order.push(nil)
		}
		c.srv.handler.ServeFrame(r, payload)
		if _, err := c.gc.Discard(total); err != nil {
			return fmt.Errorf("netio: connection %d: discard frame of %d bytes: %w", c.info.ID, total, err)
		}
	}
	if in := c.gc.InboundBuffered(); in > cfg.MaxInboundBytes {
		return fmt.Errorf("netio: connection %d from %v: %d bytes: %w", c.info.ID, c.info.RemoteAddr, in, errInboundOverflow)
	}
	return nil
}

// completed takes a Responder off the done queue. Loop only.
func (c *conn) completed(r *Responder) {
	if r.faulted {
		// Back from a fault-in worker; its bytes were counted when it first
		// completed, and in ordered mode it already left the order ring.
		c.writeAndFinish(r)
		if c.srv.cfg.Ordered {
			c.headFaulting = false
			c.flushOrdered()
		}
		return
	}
	c.pendingBytes += r.respBytes
	c.replyBytes.Add(-int64(r.respBytes))
	if !c.srv.cfg.Ordered {
		c.writeOrFault(r)
		return
	}
	c.order.set(r.seq-c.order.baseSeq, r)
	c.flushOrdered()
}

// flushOrdered writes responses from the head of the order ring while the
// head is complete.
func (c *conn) flushOrdered() {
	for !c.headFaulting && c.tail.r == nil && !c.closed && c.broken == nil && c.order.len() > 0 {
		r := c.order.front()
		if r == nil {
			return
		}
		c.order.pop()
		if !c.writeOrFault(r) {
			c.headFaulting = true
			return
		}
	}
}

// writeOrFault writes r unless one of its file ranges is not in the page
// cache; then r goes to a fault-in worker and writeOrFault reports false.
func (c *conn) writeOrFault(r *Responder) bool {
	if r.hasFile() && !c.srv.resident(r) {
		c.srv.faultIn(r)
		return false
	}
	c.writeAndFinish(r)
	return true
}

// writeAndFinish writes r, or queues it behind the tail, and finishes it
// once it is out.
func (c *conn) writeAndFinish(r *Responder) {
	if c.tail.r != nil {
		c.blocked = append(c.blocked, r)
		return
	}
	if len(r.chunks) > 0 && !c.closed && c.broken == nil {
		c.tail = pendingWrite{r: r}
		if !c.send(&c.tail) {
			return
		}
		c.tail = pendingWrite{}
	}
	c.finish(r)
}

// flushTail continues the tail and, once it is out, writes the responses
// that waited behind it. Loop only.
func (c *conn) flushTail() {
	if c.tail.r == nil || c.closed || c.broken != nil || !c.send(&c.tail) {
		return
	}
	r := c.tail.r
	c.tail = pendingWrite{}
	c.finish(r)
	for len(c.blocked) > 0 && c.tail.r == nil {
		next := c.blocked[0]
		c.blocked[0] = nil
		c.blocked = c.blocked[1:]
		c.writeAndFinish(next)
	}
	if c.srv.cfg.Ordered {
		c.flushOrdered()
	}
}

// finish ends r after its bytes are out: its budget and chunks go back.
func (c *conn) finish(r *Responder) {
	if r.closeReason != nil && c.broken == nil {
		c.broken = r.closeReason
	}
	c.pendingBytes -= r.reqBytes + r.respBytes
	c.outstanding.Add(-1)
	c.srv.drop(r)
}

// onClose drops every response the connection still holds. Loop only; runs
// once. Responders still with the handler or a worker are dropped by
// complete when they arrive.
func (c *conn) onClose() {
	c.closed = true
	c.mu.Lock()
	c.mu.closed = true
	done := c.mu.done
	c.mu.done = nil
	c.mu.Unlock()
	for c.wakers.Load() > 0 {
		runtime.Gosched() // a Wake between two atomic adds: see wake
	}
	for _, r := range done {
		c.srv.drop(r)
	}
	if c.tail.r != nil {
		c.srv.drop(c.tail.r)
		c.tail = pendingWrite{}
	}
	for i, r := range c.blocked {
		c.srv.drop(r)
		c.blocked[i] = nil
	}
	c.blocked = nil
	c.srv.writable.forget(c)
	for c.order.len() > 0 {
		if r := c.order.front(); r != nil {
			c.srv.drop(r)
		}
		c.order.pop()
	}
}

// ring is a growable FIFO of Responder slots addressed by sequence number.
type ring struct {
	buf []*Responder
	// head indexes the oldest slot; n slots are in use.
	head, n int
	// baseSeq is the sequence number of the oldest slot.
	baseSeq uint64
}

func (q *ring) len() int { return q.n }

func (q *ring) push(r *Responder) {
	if q.n == len(q.buf) {
		grown := make([]*Responder, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
}

// set fills slot i (0 is the oldest).
func (q *ring) set(i uint64, r *Responder) { q.buf[(q.head+int(i))%len(q.buf)] = r }

func (q *ring) front() *Responder { return q.buf[q.head] }

func (q *ring) pop() {
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.baseSeq++
}
