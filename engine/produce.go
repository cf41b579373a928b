package engine

// Behavior: Produce validates every batch of one partition's request before
// appending any (whole batches, magic 2, size <= max.message.bytes, known
// codec, CRC-32C, record count, no control batch, a batch with a producer
// id alone), so a bad request appends nothing. A batch with a producer id
// is deduplicated by its sequence (producerstate.go): a retry of a batch
// already in the log appends nothing and is answered with the original
// base offset. Produce then stamps the partition leader epoch and appends
// each batch with segment's AppendNoWait: the one copy, caller's buffer to
// page cache, happens inside the call, so the caller may reuse Records once
// Produce returns. When done runs:
//
//	acks=0           after the append, inside Produce.
//	acks=1           after the append (inside Produce), or after the
//	                 fdatasync covering the batch under flush.policy=always
//	                 (from the syncer goroutine): acknowledged means durable
//	                 under the configured flush policy.
//	acks=-1 (all)    when the high watermark passes the batch's last offset;
//	                 inside Produce unless flush.policy=always, else parked in
//	                 the purgatory until the flush or until Timeout, which
//	                 answers ErrRequestTimedOut while the data stays in the log.
//
// With acks=0 done still runs; the caller decides not to answer. The steady
// state of acks=0/1 under flush.policy never or interval allocates nothing
// in the engine; flush.policy=always reuses pooled waiters, and a parked
// acks=all allocates its delayed operation and timer.

import (
	"cmp"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/record"
)

// ProduceRequest is one partition's part of a produce request.
type ProduceRequest struct {
	Topic     string
	Partition int32
	// Acks is 0 (no answer wanted), 1 (leader append) or -1 (all in-sync
	// replicas, i.e. the high watermark).
	Acks int16
	// Timeout bounds the wait of acks=-1 for the high watermark.
	Timeout time.Duration
	// Records holds one or more whole RecordBatch v2. It aliases the caller's
	// network buffer: the engine reads it and stamps base offset and leader
	// epoch into it in place only during the call, and keeps no reference.
	Records []byte

	// internal allows an internal topic (IsInternalTopic): the engine's
	// own writes set it, clients cannot.
	internal bool
}

// ProduceResult answers one ProduceRequest.
type ProduceResult struct {
	Topic     string
	Partition int32
	// Err is nil or wraps one of the sentinel errors.
	Err error
	// BaseOffset is the offset of the first record appended, or -1.
	BaseOffset int64
	// LogAppendTime is -1: batches keep their CreateTime.
	LogAppendTime int64
	// LogStartOffset is the partition's log start offset, or -1.
	LogStartOffset int64
}

// minRecordSize is the smallest encoded record: length, attributes,
// timestamp delta, offset delta, key length, value length and header count,
// one byte each. An uncompressed batch cannot hold more records than its
// records section has room for at this size.
const minRecordSize = 7

// Produce appends one partition's batches and calls done exactly once with
// the result, inside the call or later from another goroutine (see doc.go).
func (e *Engine) Produce(req ProduceRequest, done func(ProduceResult)) {
	res := ProduceResult{Topic: req.Topic, Partition: req.Partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		res.Err = fmt.Errorf("%w: acks=%d for %s-%d (want 0, 1 or -1)", ErrInvalidRequiredAcks, req.Acks, req.Topic, req.Partition)
		done(res)
		return
	}
	if err := e.enter(); err != nil {
		res.Err = err
		done(res)
		return
	}
	if e.offLoop(&req, res, done) {
		return
	}
	e.produceNow(req, res, done)
}

// produceNow appends req on the calling goroutine and answers it (now, or
// later once flushed or committed); enter has been called.
func (e *Engine) produceNow(req ProduceRequest, res ProduceResult, done func(ProduceResult)) {
	p, last, err := e.produce(&req, &res)
	if err != nil {
		res.Err = err
		e.answer(res, done)
		return
	}
	switch {
	case req.Acks == -1 && p.highWatermark() <= last:
		e.park(p, last, req.Timeout, res, done)
	case req.Acks == 1 && p.committedOnFlush:
		w := getFlushWaiter()
		w.e, w.p, w.res, w.done = e, p, res, done
		p.log.WhenFlushed(last, w.fire)
	default:
		e.answer(res, done)
	}
}

// answer runs done and ends the request's stay in the engine.
func (e *Engine) answer(res ProduceResult, done func(ProduceResult)) {
	done(res)
	e.leave()
}

// produce does the synchronous part: lookup, validation, append, wake. It
// fills res.BaseOffset and res.LogStartOffset and returns the partition and
// the last offset appended.
func (e *Engine) produce(req *ProduceRequest, res *ProduceResult) (*partition, int64, error) {
	if !req.internal {
		if err := refuseInternal("produce to", req.Topic); err != nil {
			return nil, 0, err
		}
	}
	p, err := e.lookup(req.Topic, req.Partition)
	if errors.Is(err, ErrUnknownTopicOrPartition) && e.cfg.AutoCreateTopics {
		if err = e.autoCreate(req.Topic); err == nil {
			p, err = e.lookup(req.Topic, req.Partition)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	if req.Acks == -1 {
		if err := p.checkProduce(); err != nil {
			return nil, 0, err
		}
	}
	if err := p.validate(req.Records); err != nil {
		return nil, 0, err
	}
	if err := e.logDir.admit(len(req.Records), p.topic, p.id); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	base, last, err := p.append(req.Records)
	p.noteAppend(time.Since(start))
	if err != nil {
		if errors.Is(err, ErrDiskFull) {
			e.logDir.markFull(err)
		}
		return nil, 0, err
	}
	res.BaseOffset = base
	res.LogStartOffset = p.log.LogStartOffset()
	p.appended()
	if p.committedOnFlush {
		p.log.WhenFlushed(last, p.onFlushed)
	} else {
		p.watchers.wake()
	}
	return p, last, nil
}

// validate checks every batch in records; see the Behavior comment.
func (p *partition) validate(records []byte) error {
	if len(records) == 0 {
		return fmt.Errorf("%w: %s-%d: no record batch", ErrCorruptMessage, p.topic, p.id)
	}
	cfg := p.config()
	for pos := 0; pos < len(records); {
		b, err := record.Parse(records[pos:])
		if err != nil {
			// ErrShort too: a produce request carries whole batches only.
			return fmt.Errorf("%w: %s-%d: batch at byte %d: %w", ErrCorruptMessage, p.topic, p.id, pos, err)
		}
		if b.Size() > int(cfg.MaxMessageBytes) {
			return fmt.Errorf("%w: %s-%d: batch at byte %d: %d bytes > max.message.bytes %d",
				ErrMessageTooLarge, p.topic, p.id, pos, b.Size(), cfg.MaxMessageBytes)
		}
		if err := b.Validate(); err != nil {
			return fmt.Errorf("%w: %s-%d: batch at byte %d: %w", ErrCorruptMessage, p.topic, p.id, pos, err)
		}
		if c := b.Compression(); c > record.Zstd {
			return fmt.Errorf("%w: %s-%d: batch at byte %d: %v", ErrUnsupportedCompression, p.topic, p.id, pos, c)
		}
		if b.IsControl() {
			return fmt.Errorf("%w: %s-%d: batch at byte %d is a control batch; clients may not write them", ErrInvalidRecord, p.topic, p.id, pos)
		}
		if b.Compression() == record.None && int64(b.RecordCount())*minRecordSize > int64(len(b.Records())) {
			return fmt.Errorf("%w: %s-%d: batch at byte %d claims %d records in %d bytes",
				ErrCorruptMessage, p.topic, p.id, pos, b.RecordCount(), len(b.Records()))
		}
		if err := p.validateProducer(b, pos, len(records)); err != nil {
			return err
		}
		if cfg.compacted() {
			if err := p.validateKeys(b, pos); err != nil {
				return err
			}
		}
		pos += b.Size()
	}
	return nil
}

// validateProducer checks the producer fields of the batch at byte pos of a
// request of n record bytes. A batch with a producer id must come alone
// (Kafka's rule for produce v3+), so its sequence check and append are one
// all-or-nothing step, and must carry a real epoch and sequence.
func (p *partition) validateProducer(b record.Batch, pos, n int) error {
	if b.ProducerID() < 0 {
		return nil
	}
	switch {
	case pos != 0 || b.Size() != n:
		return fmt.Errorf("%w: %s-%d: batch at byte %d has producer id %d but is not the request's only batch for the partition",
			ErrInvalidRecord, p.topic, p.id, pos, b.ProducerID())
	case b.ProducerEpoch() < 0 || b.BaseSequence() < 0:
		return fmt.Errorf("%w: %s-%d: batch of producer %d has epoch %d and base sequence %d; both must be >= 0",
			ErrInvalidRecord, p.topic, p.id, b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
	}
	return nil
}

// append stamps and appends already validated batches under the partition
// lock, so one request's batches are contiguous in the log. If a later batch
// fails to append, the earlier ones stay (the log refuses further appends
// anyway after an I/O error). A batch with a producer id (alone in records,
// see validateProducer) is checked against the producer state first: a
// duplicate appends nothing and returns the original offsets.
func (p *partition) append(records []byte) (base, last int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return 0, 0, fmt.Errorf("%w: %s-%d is closed", ErrUnknownTopicOrPartition, p.topic, p.id)
	}
	// Checked again under mu: the role may have changed since lookup, and a
	// batch must carry the epoch of a leadership this broker still holds.
	if err := p.leaderErr(); err != nil {
		return 0, 0, err
	}
	epoch := p.role.Load().LeaderEpoch
	if b, _ := record.Parse(records); b.ProducerID() >= 0 {
		return p.appendIdempotentLocked(b, epoch)
	}
	base = -1
	for pos := 0; pos < len(records); {
		b, _ := record.Parse(records[pos:]) // validated: cannot fail
		b.SetPartitionLeaderEpoch(epoch)
		off, err := p.log.AppendNoWait(b)
		if err != nil {
			return 0, 0, p.storageErr("append", p.log.LogEndOffset(), err)
		}
		if base < 0 {
			base = off
		}
		last = b.LastOffset()
		pos += b.Size()
	}
	return base, last, nil
}

// appendIdempotentLocked appends one batch of an idempotent producer, or
// answers a duplicate with the batch it repeats; p.mu is held.
func (p *partition) appendIdempotentLocked(b record.Batch, epoch int32) (base, last int64, err error) {
	dup, err := p.producers.check(p, b)
	if err != nil {
		return 0, 0, err
	}
	if dup != nil {
		return dup.baseOffset, dup.baseOffset + int64(dup.lastOffsetDelta), nil
	}
	b.SetPartitionLeaderEpoch(epoch)
	base, err = p.log.AppendNoWait(b)
	if err != nil {
		return 0, 0, p.storageErr("append", p.log.LogEndOffset(), err)
	}
	p.producers.record(b, base, time.Now().UnixMilli())
	return base, b.LastOffset(), nil
}

// autoCreate creates an unknown topic with the defaults (AutoCreateTopics):
// locally, or in cluster mode through Config.CreateTopicHook.
func (e *Engine) autoCreate(name string) error {
	if err := cmp.Or(ValidateTopicName(name), refuseReserved("auto-create", name)); err != nil {
		return err
	}
	if e.cfg.Clustered || e.cfg.CreateTopicHook != nil {
		if _, ok := (*e.topics.Load())[name]; ok {
			return nil // it exists: the partition asked for does not
		}
		// admin is not held: the hook returns once the topic has been
		// applied here, which takes admin.
		return e.createThroughHook(name, e.cfg.DefaultPartitions, nil)
	}
	e.admin.Lock()
	defer e.admin.Unlock()
	if _, ok := (*e.topics.Load())[name]; ok {
		return nil // another request created it meanwhile
	}
	if _, ok := e.admin.deleting[name]; ok {
		return fmt.Errorf("%w: topic %q is being deleted", ErrUnknownTopicOrPartition, name)
	}
	return e.createLocked(name, e.cfg.DefaultPartitions, e.cfg.Topic, nil)
}

// flushWaiter answers an acks=0/1 produce once its batch is fdatasync'd.
// fire is bound once per pooled waiter, so WhenFlushed gets a func value
// without a fresh allocation per request.
type flushWaiter struct {
	e    *Engine
	p    *partition
	res  ProduceResult
	done func(ProduceResult)
	fire func(error)
}

// flushWaiterPool has no New: New would refer to onFlushed, which refers
// to the pool (an initialization cycle); getFlushWaiter fills the gap.
var flushWaiterPool sync.Pool

func getFlushWaiter() *flushWaiter {
	if w, ok := flushWaiterPool.Get().(*flushWaiter); ok {
		return w
	}
	w := &flushWaiter{}
	w.fire = w.onFlushed
	return w
}

func (w *flushWaiter) onFlushed(err error) {
	e, res, done := w.e, w.res, w.done
	if err != nil {
		res.Err = w.p.storageErr("sync", res.BaseOffset, err)
		res.BaseOffset = -1
	}
	*w = flushWaiter{fire: w.fire}
	flushWaiterPool.Put(w)
	e.answer(res, done)
}

// delayedProduce is an acks=all produce waiting for the high watermark.
type delayedProduce struct {
	e         *Engine
	p         *partition
	last      int64
	res       ProduceResult
	done      func(ProduceResult)
	completed atomic.Bool
	timer     *time.Timer
}

// park puts an acks=all produce in the purgatory of its partition.
func (e *Engine) park(p *partition, last int64, timeout time.Duration, res ProduceResult, done func(ProduceResult)) {
	d := &delayedProduce{e: e, p: p, last: last, res: res, done: done}
	d.timer = time.AfterFunc(max(timeout, 0), d.expire)
	p.watchers.add(d)
	if e.closing.Load() {
		d.fail(ErrShuttingDown)
		return
	}
	d.tryComplete()
}

func (d *delayedProduce) isDone() bool { return d.completed.Load() }

func (d *delayedProduce) tryComplete() bool {
	switch {
	case d.completed.Load():
		return true
	case d.p.closed.Load():
		d.finish(fmt.Errorf("%w: %s-%d was closed while acks=all waited", ErrUnknownTopicOrPartition, d.p.topic, d.p.id))
	case d.p.leaderErr() != nil:
		// Leadership moved while the batch waited: whether it survives is
		// now the new leader's log's business (Kafka answers the same).
		d.finish(fmt.Errorf("acks=all of %s-%d up to offset %d: %w", d.p.topic, d.p.id, d.last, d.p.leaderErr()))
	default:
		done, err := d.p.commitState(d.last)
		if !done {
			return false
		}
		d.finish(err)
	}
	return true
}

func (d *delayedProduce) expire() {
	d.complete(false, fmt.Errorf("%w: %s-%d: high watermark did not pass offset %d (the batch may still be in the log)",
		ErrRequestTimedOut, d.p.topic, d.p.id, d.last))
}

func (d *delayedProduce) fail(err error) { d.finish(err) }

func (d *delayedProduce) finish(err error) { d.complete(true, err) }

// complete answers once, whoever gets here first. The timer's own callback
// passes stopTimer=false: it may run before park has stored d.timer.
func (d *delayedProduce) complete(stopTimer bool, err error) {
	if !d.completed.CompareAndSwap(false, true) {
		return
	}
	if stopTimer {
		d.timer.Stop()
	}
	res := d.res
	if err != nil {
		res.Err = err
		res.BaseOffset = -1
	}
	d.e.answer(res, d.done)
}
