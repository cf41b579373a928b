package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spate-io/spate/wire"
)

// sendLoop is the producer's sender goroutine: it collects batches that are
// ready (full, lingered long enough, or flushed) from partitions with no
// batch in flight, groups them by leader into one Produce request per
// broker, and sends those. It sleeps until woken (a batch opened or closed,
// a response arrived) or until the next linger or retry deadline.
func (p *Producer) sendLoop() {
	defer close(p.senderDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	closed := p.closed
	for {
		next := p.drain()
		if p.closingDone() {
			return
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-p.wake:
		case <-timer.C:
		case <-closed:
			closed = nil // from now on closingDone is checked after every wake
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// closingDone reports that Close has finished flushing: nothing is left to send.
func (p *Producer) closingDone() bool {
	select {
	case <-p.closed:
		return p.pending.Load() == 0
	default:
		return false
	}
}

// produceReq is one Produce request being assembled for a broker.
type produceReq struct {
	leader  int32
	bytes   int // batch bytes so far (uncompressed sizes for unfinished batches)
	req     wire.ProduceRequest
	batches []*batch
	parts   []*partitionProducer
	// follow is the connection of batches in flight that some batch of
	// this request follows (MaxInFlightPerPartition > 1): the request must
	// go on it, or fail with it, never overtake them on another.
	follow *conn
}

// maxRequestBytes caps the batches of one produce request, so a drain
// over many partitions cannot build a frame the broker refuses (its
// socket.request.max.bytes is 100 MiB); a request always takes at least one
// batch, however large.
const maxRequestBytes = 16 << 20

// size is the batch's size on the wire, or its uncompressed bound before
// it is encoded.
func (b *batch) size() int {
	if b.encoded {
		return len(b.buf)
	}
	return b.builder.Size()
}

// drain sends every ready batch and returns when it should run again
// (zero: only when woken).
func (p *Producer) drain() (next time.Time) {
	now := time.Now()
	flush := p.flushing.Load() > 0 || p.closing.Load()
	wake := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var (
		reqs    []*produceReq
		expired []*batch
		expPart []*partitionProducer
	)
	// admit finds the request a batch of size bytes for leader rides in: one
	// of this drain's with room, or a new one if the broker has a free
	// in-flight slot. nil: wait for a response.
	admit := func(leader int32, size int) *produceReq {
		for _, r := range reqs {
			if r.leader == leader && r.bytes+size <= maxRequestBytes {
				return r
			}
		}
		if !p.takeInflight(leader) {
			return nil
		}
		r := &produceReq{leader: leader}
		reqs = append(reqs, r)
		return r
	}
	p.topicsMu.RLock()
	for _, tp := range p.topics {
		for _, pp := range tp.parts {
			at, exp := p.take(pp, now, flush, admit)
			if !at.IsZero() {
				wake(at)
			}
			if exp != nil {
				expired, expPart = append(expired, exp), append(expPart, pp)
			}
		}
	}
	p.topicsMu.RUnlock()
	// Callbacks run with no producer lock held: they may call Produce.
	for i, b := range expired {
		pp := expPart[i]
		p.finish(pp, b, -1, p.expiryErr(pp, b, now))
	}
	for _, r := range reqs {
		if r.follow != nil {
			p.sendRequest(r, r.follow)
			continue
		}
		if c := p.cl.liveConn(r.leader); c != nil {
			p.sendRequest(r, c)
			continue
		}
		// Dialling (and its backoff after failures) must not hold up the
		// other brokers' requests. Ordering is safe: every partition in r
		// has no other request in flight.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.dialTO)
			c, err := p.cl.connTo(ctx, r.leader)
			cancel()
			if err != nil {
				p.completeRequest(r, nil, err)
				return
			}
			p.sendRequest(r, c)
		}()
	}
	return next
}

// take moves the partition's next batch into the request admit gives it,
// marking the partition in flight, or returns when to look again (zero:
// when woken). A batch at the head of the queue past its delivery timeout,
// or one an idempotent producer may not resend (seq.go), is returned as
// expired, for the caller to fail outside the partition lock.
func (p *Producer) take(pp *partitionProducer, now time.Time, flush bool,
	admit func(leader int32, size int) *produceReq) (at time.Time, expired *batch) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if b := pp.open; b != nil {
		if flush || !now.Before(b.deadline) {
			pp.queue = append(pp.queue, b)
			pp.open = nil
			if pp.topic.sticky.Load() == pp.partition {
				pp.topic.rotateSticky(pp.partition)
			}
		} else if len(pp.queue) == 0 {
			return b.deadline, nil
		}
	}
	if pp.inflight >= p.cfg.partInFlight || len(pp.queue) == 0 {
		return time.Time{}, nil // the response wakes the sender
	}
	if now.Before(pp.retryAt) {
		return pp.retryAt, nil
	}
	b := pp.queue[0]
	if now.Sub(b.created) > p.cfg.deliveryTimeout || p.cfg.idempotent && pp.staleLocked(b) {
		pp.queue = pp.queue[:copy(pp.queue, pp.queue[1:])]
		// finish counts the batch it completes out of flight; a queued
		// one is not in flight (never sent, or counted out by retry).
		pp.inflight++
		if p.cfg.idempotent {
			pp.enterWindowLocked(b) // its callbacks wait for the older ones
		}
		return now, b
	}
	leader, ok := p.cl.leader(pp.topic.name, pp.partition)
	if !ok {
		p.cl.refreshSoon([]string{pp.topic.name})
		return now.Add(p.cfg.retryMin), nil
	}
	if pp.inflight > 0 && (pp.conn == nil || p.cl.liveConn(leader) != pp.conn) {
		// Another batch may follow the ones in flight only on their
		// connection, which keeps the order; on another one it could
		// overtake them (or be written while they fail with it).
		return time.Time{}, nil
	}
	if p.cfg.idempotent && !pp.windowRoomLocked(b, p.cfg.partInFlight) {
		return time.Time{}, nil // the oldest batch's answer wakes the sender
	}
	r := admit(leader, b.size())
	if r == nil {
		return time.Time{}, nil
	}
	pp.queue = pp.queue[:copy(pp.queue, pp.queue[1:])]
	if p.cfg.idempotent {
		pp.enterWindowLocked(b)
	}
	if pp.inflight > 0 {
		r.follow = pp.conn
	}
	pp.inflight++
	r.bytes += b.size()
	r.batches = append(r.batches, b)
	r.parts = append(r.parts, pp)
	if pp.inflight < p.cfg.partInFlight && len(pp.queue) > 0 {
		// A request carries one batch per partition: the next one that may
		// fly goes in the next drain's request, at once.
		return now, nil
	}
	return time.Time{}, nil
}

// expiryErr is the error of a batch take found expired: its delivery
// timeout, or else the error of its last attempt, which names the
// partition already (settle wraps it in ErrSequenceRestarted).
func (p *Producer) expiryErr(pp *partitionProducer, b *batch, now time.Time) error {
	switch {
	case now.Sub(b.created) <= p.cfg.deliveryTimeout:
		return b.lastErr
	case b.lastErr != nil:
		return partitionErr(pp.topic.name, pp.partition,
			fmt.Errorf("%w after %d attempts: %w", ErrDeliveryTimeout, b.attempts, b.lastErr))
	}
	return partitionErr(pp.topic.name, pp.partition, ErrDeliveryTimeout)
}

// takeInflight reserves a produce request slot on leader.
func (p *Producer) takeInflight(leader int32) bool {
	p.inflightMu.Lock()
	defer p.inflightMu.Unlock()
	if p.inflight[leader] >= p.cfg.maxInFlight {
		return false
	}
	p.inflight[leader]++
	return true
}

func (p *Producer) putInflight(leader int32) {
	p.inflightMu.Lock()
	p.inflight[leader]--
	p.inflightMu.Unlock()
}

// sendRequest encodes the batches and sends them on c. Failures before the
// request is on the connection fail every batch like a lost connection
// would.
func (p *Producer) sendRequest(r *produceReq, c *conn) {
	r.req.Version = c.produceVersion
	r.req.Acks = int16(p.cfg.acks)
	r.req.TimeoutMs = int32(p.cfg.reqTO / time.Millisecond)
	kept := r.batches[:0]
	keptParts := r.parts[:0]
	for i, b := range r.batches {
		pp := r.parts[i]
		if err := p.encode(pp, b); err != nil {
			p.finish(pp, b, -1, partitionErr(pp.topic.name, pp.partition, err))
			continue
		}
		kept, keptParts = append(kept, b), append(keptParts, pp)
		r.req.Topics = appendProducePartition(r.req.Topics, pp.topic.name, pp.partition, b.buf)
	}
	r.batches, r.parts = kept, keptParts
	if len(kept) == 0 {
		p.putInflight(r.leader)
		return
	}
	if p.cfg.acks == AcksNone {
		if err := c.sendNoReply(&r.req, func(err error) { p.completeRequest(r, nil, err) }); err != nil {
			p.completeRequest(r, nil, err)
		}
		return
	}
	err := c.send(&r.req, p.cfg.reqTO, func(f *frame, body []byte, err error) {
		resp := wire.ProduceResponse{Version: r.req.Version}
		if err == nil {
			err = resp.Decode(body)
			putFrame(f)
		}
		if err == nil {
			err = resp.ErrorCode.Err()
		}
		if err != nil {
			err = fmt.Errorf("client: produce to broker %d: %w", r.leader, err)
		}
		p.completeRequest(r, &resp, err)
	})
	if err != nil {
		p.completeRequest(r, nil, err)
		return
	}
	// Only now may later batches of these partitions follow on c: they
	// are queued on it behind this request.
	for _, pp := range r.parts {
		pp.mu.Lock()
		pp.conn = c
		pp.mu.Unlock()
	}
	if p.cfg.partInFlight > 1 {
		p.wakeSender()
	}
}

func appendProducePartition(ts []wire.ProduceTopic, topic string, partition int32, records []byte) []wire.ProduceTopic {
	for i := range ts {
		if ts[i].Name == topic {
			ts[i].Partitions = append(ts[i].Partitions, wire.ProducePartition{Partition: partition, Records: records})
			return ts
		}
	}
	return append(ts, wire.ProduceTopic{Name: topic,
		Partitions: []wire.ProducePartition{{Partition: partition, Records: records}}})
}

// completeRequest hands each batch of a request its outcome: err for all
// when the request failed as a whole, else its partition's result in resp
// (nil resp: AcksNone, success without offsets).
func (p *Producer) completeRequest(r *produceReq, resp *wire.ProduceResponse, err error) {
	p.putInflight(r.leader)
	for i, b := range r.batches {
		pp := r.parts[i]
		base, perr := int64(-1), err
		if err == nil && resp != nil {
			base, perr = partitionResult(resp, pp.topic.name, pp.partition)
		}
		if errors.Is(perr, wire.ErrDuplicateSequenceNumber) {
			// The broker has the batch but no longer its offset (Kafka
			// brokers answer so for a batch older than their cache).
			base, perr = -1, nil
		}
		if perr != nil {
			perr = partitionErr(pp.topic.name, pp.partition, perr)
		}
		p.finish(pp, b, base, perr)
	}
	p.wakeSender()
}

// requeueLocked puts a batch that failed retriably back into the queue at
// its original place: ahead of every batch created after it, so batches
// that failed together (a lost connection) are resent in order. pp.mu is
// held.
func (pp *partitionProducer) requeueLocked(b *batch) {
	i, _ := slices.BinarySearchFunc(pp.queue, b.seq, func(q *batch, seq uint64) int { return cmp.Compare(q.seq, seq) })
	pp.queue = slices.Insert(pp.queue, i, b)
}

// retry puts b, which failed with err, back into the queue if err allows a
// retry within the delivery timeout, and reports whether it did.
func (p *Producer) retry(pp *partitionProducer, b *batch, err error) bool {
	if time.Since(b.created) >= p.cfg.deliveryTimeout {
		return false
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	ok := retriable(err)
	if p.cfg.idempotent {
		ok = !pp.staleLocked(b) && (ok || pp.retryBehindLocked(b, err))
	}
	if !ok {
		return false
	}
	b.attempts++
	b.lastErr = err
	pp.requeueLocked(b)
	pp.inflight--
	pp.retryAt = time.Now().Add(backoff(p.cfg.retryMin, p.cfg.retryMax, b.attempts))
	return true
}

func partitionResult(resp *wire.ProduceResponse, topic string, partition int32) (int64, error) {
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Name != topic {
			continue
		}
		for _, pr := range t.Partitions {
			if pr.Partition == partition {
				return pr.BaseOffset, withMessage(pr.ErrorCode, pr.ErrorMessage)
			}
		}
	}
	return -1, fmt.Errorf("no result in the produce response: %w", wire.ErrUnknownServerError)
}

// finish completes a batch that left the partition's queue: on success or a
// final error its records' callbacks run (in order) and its memory is
// released; on a retriable error within the delivery timeout it goes back
// to the head of the queue to be resent after a backoff.
func (p *Producer) finish(pp *partitionProducer, b *batch, base int64, err error) {
	if err != nil && p.retry(pp, b, err) {
		if errors.Is(err, wire.ErrNotLeader) || errors.Is(err, wire.ErrUnknownTopicOrPartition) ||
			errors.Is(err, wire.ErrLeaderNotAvailable) || errors.Is(err, wire.ErrNetworkException) {
			p.cl.refreshSoon([]string{pp.topic.name})
		}
		return
	}
	if err != nil && retriable(err) && time.Since(b.created) >= p.cfg.deliveryTimeout && !errors.Is(err, ErrDeliveryTimeout) {
		err = fmt.Errorf("%w after %d attempts: %w", ErrDeliveryTimeout, b.attempts+1, err)
	}
	if !p.cfg.idempotent {
		p.deliver(pp, b, base, err)
		pp.mu.Lock()
		pp.inflight--
		pp.mu.Unlock()
		p.retire(b)
		return
	}
	// The broker may answer a later batch first (seq.go): callbacks run in
	// Produce order all the same, a batch's waiting for the older ones.
	next := pp.completeInOrder(b, base, pp.settle(b, err))
	pp.mu.Lock()
	pp.inflight--
	pp.mu.Unlock()
	for ; next != nil; next = pp.nextInOrder() {
		p.deliver(pp, next, next.doneBase, next.doneErr)
		p.retire(next)
	}
}

// deliver runs the callbacks of completed batch b: base offset base, or
// the error err.
func (p *Producer) deliver(pp *partitionProducer, b *batch, base int64, err error) {
	if b.onBatch != nil {
		b.onBatch(BatchResult{Topic: pp.topic.name, Partition: pp.partition, BaseOffset: base, Records: b.n, Bytes: len(b.buf)}, err)
	}
	for i, r := range b.recs {
		r.Partition = pp.partition
		if err == nil {
			r.Offset = -1
			if base >= 0 {
				r.Offset = base + int64(i)
			}
		}
		complete(r, b.cbs[i], err)
	}
	if err == nil {
		for _, h := range p.cl.hooks.produced {
			h.OnProduceBatchWritten(pp.topic.name, pp.partition, b.n, len(b.buf))
		}
	}
}

// retire returns a batch whose callbacks ran to the pool, with its buffer
// room, and counts its records done.
func (p *Producer) retire(b *batch) {
	n, reserved := b.n, b.reserved
	p.recycle(b)
	p.release(reserved)
	p.done(n)
}
