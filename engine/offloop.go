package engine

// Behavior: Produce is called on a network event loop, which serves many
// connections and must never wait on the disk. Most appends copy into the
// page cache in microseconds and run right there, inside the call. An append
// that may wait on the device runs instead on a goroutine of its partition,
// in arrival order, and done is called from that goroutine:
//
//   - segment.Log.AppendMayBlock says so: an O_DIRECT write, or a roll to
//     a new segment;
//   - the records are handOffBytes or more: on two cores, reading the next
//     request while another goroutine copies this one into the page cache
//     beat appending on the loop, copy included (measured below);
//   - the partition's last appends were slow (slowAppend or more: dirty-page
//     throttling, a slow or failing device); such a partition stays off the
//     loop for slowHold after the last slow append;
//   - the partition already has appends queued or running: a later request
//     must not overtake them (an idempotent producer's sequences, a
//     connection's request order);
//   - the topic is unknown and would be auto-created (topics.json is
//     fsync'd): the request, and every later one for the same topic until it
//     is done, goes to the engine's creator goroutine.
//
// The first slow append of a partition is only detected once it has run, so
// it alone still holds its loop; the ones after it do not.
//
// An off-loop request needs its records after Produce returns, while
// Records aliases the network buffer for the call only, so its records are
// copied once into a pooled buffer. That copy is made only on this path,
// where the write it saves the loop from costs far more than the copy.

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

const (
	// handOffBytes: requests this large go off the loop even when the page
	// cache takes them. spate bench produce, 100-byte records, acks=1, fresh
	// brokers, 3 alternated pairs of 4 s on the 2-vCPU VM of perf/: 1 MiB
	// batches 6.47 / 6.88 / 8.71 M records/s handed off against 5.94 / 5.05
	// / 7.47 M on the loop; 256 KiB 7.38 / 6.63 / 7.26 against 7.02 / 7.01
	// / 6.78 M; 64 KiB a tie (5.17 / 6.05 / 5.78 against 5.81 / 5.86 /
	// 5.41 M), so smaller requests stay on the loop with no copy.
	handOffBytes = 256 << 10
	// slowAppend: an append that took this long makes its partition's
	// appends go off the loop. A 1 MiB copy into the page cache takes
	// 0.2-1.7 ms on the VMs of perf/ (5 GB/s to 600 MB/s).
	slowAppend = 2 * time.Millisecond
	// slowHold: how long after its last slow append a partition's appends
	// stay off the loop.
	slowHold = time.Second
)

// queuedAppend is one produce request waiting for an off-loop append.
type queuedAppend struct {
	req  ProduceRequest // Records points into buf
	buf  *bytebufferpool.ByteBuffer
	res  ProduceResult
	done func(ProduceResult)
}

// appendQueue runs one partition's off-loop appends in arrival order.
type appendQueue struct {
	// queued counts requests queued or running; 0 lets the loop append.
	queued atomic.Int32
	// slowUntil (mono ns, see monoNow) keeps appends off the loop until then.
	slowUntil atomic.Int64
	fifo      fifo
}

// fifo is a queue of requests drained by one goroutine at a time.
type fifo struct {
	mu      sync.Mutex
	pending []*queuedAppend
	running bool // a goroutine is draining pending
}

// push adds q and reports whether the caller must start a drain.
func (f *fifo) push(q *queuedAppend) (start bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, q)
	start = !f.running
	f.running = true
	return start
}

// pop takes the oldest request; when none is left it ends the drain and
// returns nil.
func (f *fifo) pop() *queuedAppend {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pending) == 0 {
		f.running = false
		return nil
	}
	q := f.pending[0]
	f.pending[0] = nil
	f.pending = f.pending[1:]
	return q
}

// monoNow is nanoseconds on the monotonic clock, never 0.
func monoNow() int64 { return int64(time.Since(monoEpoch)) + 1 }

var monoEpoch = time.Now()

// onLoop reports whether an append of n bytes to p may run on the caller's
// goroutine. It is the hot path's only extra cost: two atomic loads and
// AppendMayBlock's read lock.
func (p *partition) onLoop(n int) bool {
	if n >= handOffBytes || p.appends.queued.Load() != 0 {
		return false
	}
	if until := p.appends.slowUntil.Load(); until != 0 && monoNow() < until {
		return false
	}
	return !p.log.AppendMayBlock(n)
}

// noteAppend records how long an append took; a slow one sends the
// partition's next appends off the loop for slowHold.
func (p *partition) noteAppend(took time.Duration) {
	if took >= slowAppend {
		p.appends.slowUntil.Store(monoNow() + int64(slowHold))
	}
}

var queuedPool = sync.Pool{New: func() any { return new(queuedAppend) }}

// queueCopy wraps req, with its records copied, for a worker.
func queueCopy(req *ProduceRequest, res ProduceResult, done func(ProduceResult)) *queuedAppend {
	buf := bytebufferpool.Get()
	buf.B = append(buf.B[:0], req.Records...)
	q := queuedPool.Get().(*queuedAppend)
	*q = queuedAppend{req: *req, buf: buf, res: res, done: done}
	q.req.Records = buf.B
	return q
}

// enqueue adds q to p's queue and starts a drain when none runs.
func (e *Engine) enqueue(p *partition, q *queuedAppend) {
	p.appends.queued.Add(1)
	if p.appends.fifo.push(q) {
		go e.drain(p)
	}
}

// drain appends p's queued requests in order until none is left.
func (e *Engine) drain(p *partition) {
	for q := p.appends.fifo.pop(); q != nil; q = p.appends.fifo.pop() {
		e.runQueued(q)
		p.appends.queued.Add(-1)
	}
}

// runQueued appends q now, on the calling goroutine, and frees its copy:
// the engine keeps no reference to Records once produce returns.
func (e *Engine) runQueued(q *queuedAppend) {
	e.produceNow(q.req, q.res, q.done)
	bytebufferpool.Put(q.buf)
	*q = queuedAppend{}
	queuedPool.Put(q)
}

// creator runs produce requests for topics that auto-creation will create,
// in arrival order. topics counts the queued requests per topic, so that a
// later request for the same topic queues behind them instead of
// overtaking them once the topic exists.
type creator struct {
	queued atomic.Int32 // requests queued or running, over all topics
	fifo   fifo
	mu     struct {
		sync.Mutex
		topics map[string]int
	}
}

// creating reports whether requests for topic wait in the creator.
func (e *Engine) creating(topic string) bool {
	if e.creator.queued.Load() == 0 {
		return false
	}
	c := &e.creator
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.topics[topic] > 0
}

func (e *Engine) enqueueCreate(q *queuedAppend) {
	c := &e.creator
	c.queued.Add(1)
	c.mu.Lock()
	if c.mu.topics == nil {
		c.mu.topics = map[string]int{}
	}
	c.mu.topics[q.req.Topic]++
	c.mu.Unlock()
	if c.fifo.push(q) {
		go e.drainCreates()
	}
}

// drainCreates produces the creator's requests in order: produce
// auto-creates the topic. A request whose partition has off-loop appends of
// its own queues behind them.
func (e *Engine) drainCreates() {
	c := &e.creator
	for q := c.fifo.pop(); q != nil; q = c.fifo.pop() {
		topic := q.req.Topic
		if p, err := e.lookup(topic, q.req.Partition); err == nil && p.appends.queued.Load() != 0 {
			e.enqueue(p, q)
		} else {
			e.runQueued(q)
		}
		c.mu.Lock()
		if c.mu.topics[topic]--; c.mu.topics[topic] == 0 {
			delete(c.mu.topics, topic)
		}
		c.mu.Unlock()
		c.queued.Add(-1)
	}
}

// offLoop hands req to a worker when its append may wait on the disk (see
// the Behavior comment) and reports whether it did.
func (e *Engine) offLoop(req *ProduceRequest, res ProduceResult, done func(ProduceResult)) bool {
	p, err := e.lookup(req.Topic, req.Partition)
	switch {
	case e.creating(req.Topic):
		e.enqueueCreate(queueCopy(req, res, done))
		return true
	case err == nil:
		if p.onLoop(len(req.Records)) {
			return false
		}
		e.enqueue(p, queueCopy(req, res, done))
		return true
	case errors.Is(err, ErrUnknownTopicOrPartition) && e.cfg.AutoCreateTopics && !req.internal &&
		ValidateTopicName(req.Topic) == nil && (*e.topics.Load())[req.Topic] == nil:
		e.enqueueCreate(queueCopy(req, res, done))
		return true
	}
	return false // produce answers the error at once
}
