package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// Producer batches records per partition and sends them to the partition
// leaders. It is safe for concurrent use. See the package doc for the
// delivery guarantees.
type Producer struct {
	cl  *cluster
	cfg *config

	topicsMu sync.RWMutex
	topics   map[string]*topicProducer

	wake chan struct{} // capacity 1: wakes the sender

	// Buffered memory: bytes reserved by records not yet completed. Waiters
	// for room sleep on memFreed, which release closes and replaces.
	buffered   atomic.Int64
	memWaiters atomic.Int32
	memMu      sync.Mutex
	memFreed   chan struct{}

	// pending counts records produced and not yet completed; Flush waits
	// for it to reach zero.
	pending      atomic.Int64
	flushing     atomic.Int32
	flushMu      sync.Mutex
	flushWaiters []chan struct{}

	inflightMu sync.Mutex
	inflight   map[int32]int // produce requests in flight per broker

	// The producer id and epoch of an idempotent producer: written once by
	// initProducerID under idMu, then read without a lock after idReady.
	idMu       sync.Mutex
	idReady    atomic.Bool
	producerID int64
	idEpoch    int16

	// closeMu is read-held by every Produce call, so Close can wait for
	// the calls in progress (and no record is buffered after its flush).
	closeMu    sync.RWMutex
	closing    atomic.Bool
	closingCh  chan struct{} // closed when Close starts: wakes Produce calls waiting for room
	closed     chan struct{} // closed by Close once flushing is over
	senderDone chan struct{}
	batchPool  sync.Pool
}

// topicProducer holds the partitions of one topic.
type topicProducer struct {
	name   string
	parts  []*partitionProducer
	sticky atomic.Int32 // partition for keyless records under PartitionDefault
}

// partitionProducer is one partition's accumulator.
//
// Invariant: at most MaxInFlightPerPartition batches of a partition are in
// flight (inflight, default 1), all on one connection, and a batch that
// failed retriably goes back into the queue in its original place (by
// seq); so with one in flight batches reach the broker, and their
// callbacks run, in Produce order. With more, an idempotent producer keeps
// that order in the log and in callbacks, and numbers a new batch only
// while at most MaxInFlightPerPartition batches span from the oldest
// unanswered one to it (seq.go says how and why).
type partitionProducer struct {
	topic     *topicProducer
	partition int32

	mu       sync.Mutex
	open     *batch   // accepting records; nil when none
	queue    []*batch // closed, waiting to be sent, oldest first
	inflight int
	conn     *conn // where the batches in flight were sent
	retryAt  time.Time
	nextSeq  uint64 // numbers batches in the order they join the queue

	// Idempotence (see seq.go): the epoch this partition's batches carry,
	// the sequence the next record appended is predicted to get, and the
	// sequence the next batch sent gets; unacked holds the batches taken for
	// sending and not completed, in the order they were first taken, which
	// is the order they are numbered; taken counts first takes.
	epoch              int16
	createSeq, sendSeq int32
	unacked            []*batch
	taken              uint64
	// delivering is set while a goroutine runs callbacks of completed
	// batches taken from the head of unacked (completeInOrder).
	delivering bool
}

// batch is one record batch being built or sent. Batches are pooled with
// their buffers and slices, so a steady stream of Produce calls allocates
// nothing per record.
type batch struct {
	builder record.Builder
	buf     []byte // the finished batch once encoded is true
	encoded bool
	recs    []*Record
	cbs     []func(*Record, error)
	n       int // records in the batch (len(recs) unless built by ProduceBatch)
	// onBatch is the one callback of a batch built by ProduceBatch, whose
	// records are not *Records (recs and cbs stay empty).
	onBatch  func(BatchResult, error)
	reserved int64
	created  time.Time
	deadline time.Time // linger expiry
	seq      uint64    // the batch's place in its partition's order
	attempts int
	lastErr  error
	// epoch and baseSeq were written into the builder's options when the
	// batch was created (idempotent producer only); encode re-stamps the
	// header if the partition's epoch moved on since.
	epoch   int16
	baseSeq int32
	// window is the batch's place among its partition's first takes,
	// from 1 (idempotent producer; 0: not taken yet), see seq.go.
	window uint64
	// completed, with the base offset and error its callbacks get, is set
	// when an idempotent producer's batch completed before an older one:
	// its callbacks wait in unacked (completeInOrder).
	completed bool
	doneBase  int64
	doneErr   error
}

// NewProducer returns a producer. It connects lazily: the first Produce to
// a topic fetches its metadata.
func NewProducer(opts ...Opt) (*Producer, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	p := newProducer(cfg, newCluster(cfg, true)) // a produce to a new topic creates it, if the broker allows
	go p.sendLoop()
	return p, nil
}

func newProducer(cfg *config, cl *cluster) *Producer {
	p := &Producer{
		cl: cl, cfg: cfg,
		topics:     make(map[string]*topicProducer),
		wake:       make(chan struct{}, 1),
		memFreed:   make(chan struct{}),
		inflight:   make(map[int32]int),
		closingCh:  make(chan struct{}),
		closed:     make(chan struct{}),
		senderDone: make(chan struct{}),
	}
	size := cfg.batchSize + 1<<10
	p.batchPool.New = func() any { return &batch{buf: make([]byte, 0, size)} }
	return p
}

// Produce buffers r for sending and returns; cb (may be nil) is called
// exactly once with r and nil when r is acknowledged, or with the error
// that failed it. Callbacks run on a client goroutine (a connection's
// reader or the sender) in Produce order per partition (with more than
// one batch in flight, for an idempotent producer only: see
// MaxInFlightPerPartition); they must not
// block, since they hold up other responses, and so should not call a
// Produce that may wait for buffer room. Errors found before buffering (a closed
// producer, a full buffer under FailWhenBufferFull, ctx ending while
// waiting for room or metadata, a non-existent partition) call cb before
// Produce returns. Produce blocks only for buffer room, on the first
// record of a topic for its metadata, and on the producer's first record
// for its producer id (idempotent producers; concurrent first calls wait
// for the one that asks, up to DeliveryTimeout).
func (p *Producer) Produce(ctx context.Context, r *Record, cb func(*Record, error)) {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closing.Load() {
		complete(r, cb, ErrClosed)
		return
	}
	if err := record.CheckTopicName(r.Topic); err != nil {
		// The broker would refuse it too, but only after a retried
		// metadata round trip per attempt for the whole delivery timeout.
		complete(r, cb, fmt.Errorf("client: %w: %w", wire.ErrInvalidTopic, err))
		return
	}
	size := encodedSizeBound(r)
	if size > p.cfg.maxBufferedBytes || size > int64(p.cfg.maxFrame) {
		complete(r, cb, fmt.Errorf("client: topic %q record of about %d bytes: %w", r.Topic, size, ErrRecordTooLarge))
		return
	}
	tp, err := p.admit(ctx, r.Topic, size)
	if err != nil {
		complete(r, cb, err)
		return
	}
	pp, sticky, err := p.choose(tp, r)
	if err != nil {
		p.release(size)
		complete(r, cb, err)
		return
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	p.pending.Add(1)
	if pp.append(p, r, cb, size) && sticky {
		tp.rotateSticky(pp.partition)
	}
}

// admit reserves size bytes of buffer memory, gets the producer id (first
// use) and the topic's accumulators; on error nothing stays reserved.
func (p *Producer) admit(ctx context.Context, topic string, size int64) (*topicProducer, error) {
	if err := p.reserve(ctx, size); err != nil {
		return nil, fmt.Errorf("client: topic %q: %w", topic, err)
	}
	if err := p.initProducerID(ctx); err != nil {
		p.release(size)
		return nil, fmt.Errorf("client: topic %q: %w", topic, err)
	}
	tp, err := p.topicFor(ctx, topic)
	if err != nil {
		p.release(size)
		return nil, err
	}
	return tp, nil
}

func complete(r *Record, cb func(*Record, error), err error) {
	if cb != nil {
		cb(r, err)
	}
}

// ProduceSync produces records and waits for all of them to be
// acknowledged or failed. It returns nil or the errors of the failed
// records joined (errors.Is works on the result).
func (p *Producer) ProduceSync(ctx context.Context, records ...*Record) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	wg.Add(len(records))
	cb := func(r *Record, err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		wg.Done()
	}
	for _, r := range records {
		p.Produce(ctx, r, cb)
	}
	p.flushing.Add(1) // a caller waiting on records should not wait for linger
	p.wakeSender()
	wg.Wait()
	p.flushing.Add(-1)
	return errors.Join(errs...)
}

// Flush sends everything buffered at once (ignoring Linger) and waits until
// no record is buffered or in flight, or until ctx ends. Records produced
// concurrently with Flush are waited for too.
func (p *Producer) Flush(ctx context.Context) error {
	p.flushing.Add(1)
	defer p.flushing.Add(-1)
	p.wakeSender()
	p.flushMu.Lock()
	if p.pending.Load() == 0 {
		p.flushMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	p.flushWaiters = append(p.flushWaiters, ch)
	p.flushMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("client: flush with %d records pending: %w", p.pending.Load(), ctx.Err())
	}
}

// Close stops accepting records (Produce fails with ErrClosed), flushes
// what is buffered — every record is acknowledged or failed, within
// DeliveryTimeout — and closes the connections.
func (p *Producer) Close() error {
	if p.closing.Swap(true) {
		<-p.senderDone
		return nil
	}
	close(p.closingCh)
	p.closeMu.Lock() // wait for Produce calls in progress; later ones see closing
	p.closeMu.Unlock()
	err := p.Flush(context.Background())
	close(p.closed)
	<-p.senderDone
	p.cl.close()
	return err
}

// reserve takes n bytes of buffer memory, waiting for room unless the
// producer fails fast. A record alone may always be buffered, so one
// larger than the rest of the budget cannot deadlock.
func (p *Producer) reserve(ctx context.Context, n int64) error {
	limit := p.cfg.maxBufferedBytes
	for {
		cur := p.buffered.Load()
		if cur+n <= limit || cur == 0 {
			if p.buffered.CompareAndSwap(cur, cur+n) {
				return nil
			}
			continue
		}
		if p.cfg.failWhenFull {
			return fmt.Errorf("%d of %d bytes buffered: %w", cur, limit, ErrBufferFull)
		}
		p.memMu.Lock()
		ch := p.memFreed
		p.memWaiters.Add(1)
		p.memMu.Unlock()
		// Re-check after registering: a release that ran before the
		// registration saw no waiter and closed nothing.
		if c := p.buffered.Load(); c+n <= limit || c == 0 {
			p.memWaiters.Add(-1)
			continue
		}
		select {
		case <-ch:
			p.memWaiters.Add(-1)
		case <-ctx.Done():
			p.memWaiters.Add(-1)
			return fmt.Errorf("waiting for buffer room (%d of %d bytes buffered): %w", cur, limit, ctx.Err())
		case <-p.closingCh:
			p.memWaiters.Add(-1)
			return ErrClosed
		}
	}
}

func (p *Producer) release(n int64) {
	p.buffered.Add(-n)
	if p.memWaiters.Load() > 0 {
		p.memMu.Lock()
		close(p.memFreed)
		p.memFreed = make(chan struct{})
		p.memMu.Unlock()
	}
}

// done records that n records completed, waking flushers when none is left.
func (p *Producer) done(n int) {
	if p.pending.Add(-int64(n)) != 0 {
		return
	}
	p.flushMu.Lock()
	if p.pending.Load() == 0 {
		for _, ch := range p.flushWaiters {
			close(ch)
		}
		p.flushWaiters = p.flushWaiters[:0]
	}
	p.flushMu.Unlock()
}

// topicFor returns the topic's accumulators, fetching its metadata first
// if it is new. The partition count is taken once; partitions added later
// are not produced to until the producer is recreated.
func (p *Producer) topicFor(ctx context.Context, name string) (*topicProducer, error) {
	p.topicsMu.RLock()
	tp := p.topics[name]
	p.topicsMu.RUnlock()
	if tp != nil {
		return tp, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.deliveryTimeout)
	defer cancel()
	tm, err := p.cl.waitTopic(ctx, name)
	if err != nil {
		return nil, err
	}
	p.topicsMu.Lock()
	defer p.topicsMu.Unlock()
	if tp = p.topics[name]; tp != nil {
		return tp, nil
	}
	tp = &topicProducer{name: name, parts: make([]*partitionProducer, len(tm.partitions))}
	for i := range tp.parts {
		tp.parts[i] = &partitionProducer{topic: tp, partition: int32(i), epoch: p.idEpoch}
	}
	tp.sticky.Store(int32(rand.IntN(len(tp.parts))))
	p.topics[name] = tp
	return tp, nil
}

// choose picks r's partition; sticky reports a keyless record placed by the
// sticky partitioner.
func (p *Producer) choose(tp *topicProducer, r *Record) (pp *partitionProducer, sticky bool, err error) {
	n := int32(len(tp.parts))
	switch {
	case p.cfg.partitioning == PartitionManual:
		if r.Partition < 0 || r.Partition >= n {
			return nil, false, partitionErr(tp.name, r.Partition,
				fmt.Errorf("topic has %d partitions: %w", n, ErrNoPartitions))
		}
		return tp.parts[r.Partition], false, nil
	case r.Key != nil:
		return tp.parts[KeyPartition(r.Key, n)], false, nil
	default:
		return tp.parts[tp.sticky.Load()], true, nil
	}
}

// rotateSticky moves keyless records off partition from, whose batch just
// closed, to another partition picked at random (Kafka's sticky
// partitioner: whole batches instead of one record per partition).
func (tp *topicProducer) rotateSticky(from int32) {
	n := int32(len(tp.parts))
	if n == 1 {
		return
	}
	next := (from + 1 + rand.Int32N(n-1)) % n
	tp.sticky.CompareAndSwap(from, next)
}

// append adds r to the partition's open batch, closing it first if r does
// not fit and after if it is full. It reports whether a batch was closed.
func (pp *partitionProducer) append(p *Producer, r *Record, cb func(*Record, error), size int64) (closed bool) {
	limit := p.cfg.batchSize
	pp.mu.Lock()
	b := pp.open
	if b != nil && b.builder.Size()+int(size) > limit {
		pp.queue = append(pp.queue, b)
		b, closed = nil, true
	}
	opened := b == nil
	if opened {
		b = p.newBatch(pp)
		pp.open = b
	}
	b.builder.Append(r.Timestamp.UnixMilli(), r.Key, r.Value, r.Headers)
	pp.createSeq = addSeq(pp.createSeq, 1)
	b.recs = append(b.recs, r)
	b.cbs = append(b.cbs, cb)
	b.n++
	b.reserved += size
	if b.builder.Size() >= limit {
		pp.queue = append(pp.queue, b)
		pp.open = nil
		closed = true
	}
	pp.mu.Unlock()
	// The sender needs to know about a new linger deadline or a full batch;
	// a record added to an already open batch changes neither.
	if closed || opened {
		p.wakeSender()
	}
	return closed
}

// newBatch starts pp's next batch; pp.mu is held.
func (p *Producer) newBatch(pp *partitionProducer) *batch {
	b := p.emptyBatch()
	p.stampSequence(pp, b)
	b.seq = pp.nextSeq
	pp.nextSeq++
	return b
}

// emptyBatch takes a batch from the pool, its builder reset. An idempotent
// batch's epoch and sequence are set by stampSequence.
func (p *Producer) emptyBatch() *batch {
	b := p.batchPool.Get().(*batch)
	b.builder.Reset(b.buf[:0], record.Options{Compression: p.cfg.compression,
		HasProducer: p.cfg.idempotent, ProducerID: p.producerID})
	b.created = time.Now()
	b.deadline = b.created.Add(p.cfg.linger)
	return b
}

// recycle returns a completed batch to the pool.
func (p *Producer) recycle(b *batch) {
	clear(b.recs)
	clear(b.cbs)
	b.recs, b.cbs, b.n, b.onBatch = b.recs[:0], b.cbs[:0], 0, nil
	b.encoded, b.reserved, b.attempts, b.lastErr, b.window = false, 0, 0, nil, 0
	b.completed, b.doneErr = false, nil
	if cap(b.buf) > 4*(p.cfg.batchSize+1<<10) && cap(b.buf) > maxPooledFrame {
		return // one huge record grew it; do not keep that much per pooled batch
	}
	b.buf = b.buf[:0]
	p.batchPool.Put(b)
}

// encode finishes pp's batch b once; a retry resends the same bytes, so an
// idempotent batch keeps its sequence across retries. Batches are encoded
// in the order they are sent.
func (p *Producer) encode(pp *partitionProducer, b *batch) error {
	if b.encoded {
		return nil
	}
	buf, err := b.builder.Finish()
	if err != nil {
		return err
	}
	b.buf, b.encoded = buf, true
	if p.cfg.idempotent {
		pp.assignSequence(b)
	}
	return nil
}

func (p *Producer) wakeSender() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}
