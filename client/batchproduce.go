package client

import (
	"context"
	"fmt"

	"github.com/spate-io/spate/record"
)

// BatchResult is the outcome of a ProduceBatch.
type BatchResult struct {
	Topic     string
	Partition int32
	// BaseOffset is the offset of the batch's first record; its records
	// have consecutive offsets. -1 when unknown: AcksNone, or a retry the
	// broker recognised as a duplicate of a batch older than its cache.
	BaseOffset int64
	Records    int
	Bytes      int // the batch's size on the wire
}

// ProduceBatch is the bulk path of Produce: fill appends records straight
// into the builder of a new record batch for topic's partition, and cb
// (may be nil) is called once for the whole batch when it is acknowledged
// or failed. There is no *Record, no per-record callback and no partition
// choice, so a producer that already knows its partition pays only the
// encoding per record (perf/bench.md measures the difference).
//
// The batch is queued behind everything produced to the partition before
// it (the open batch is closed first) and sent as one batch, whatever
// BatchSize says: fill decides its size and should keep it under the
// broker's message.max.bytes; a batch larger than MaxResponseSize fails
// with ErrRecordTooLarge. fill runs on the calling goroutine without a
// producer lock held, and must not call the producer. Buffer room for
// BatchSize bytes is reserved before fill runs (Produce's rules for
// waiting apply) and adjusted to the batch's size after. Ordering,
// retries, idempotence and the delivery timeout are those of Produce; an
// empty batch fails with ErrInvalidOption.
func (p *Producer) ProduceBatch(ctx context.Context, topic string, partition int32, fill func(b *record.Builder), cb func(BatchResult, error)) {
	fail := func(err error) {
		if cb != nil {
			cb(BatchResult{Topic: topic, Partition: partition, BaseOffset: -1}, err)
		}
	}
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closing.Load() {
		fail(ErrClosed)
		return
	}
	reserved := int64(p.cfg.batchSize)
	tp, err := p.admit(ctx, topic, reserved)
	if err != nil {
		fail(err)
		return
	}
	if partition < 0 || int(partition) >= len(tp.parts) {
		p.release(reserved)
		fail(partitionErr(topic, partition, fmt.Errorf("topic has %d partitions: %w", len(tp.parts), ErrNoPartitions)))
		return
	}
	b := p.emptyBatch()
	fill(&b.builder)
	size := int64(b.builder.Size())
	switch n := b.builder.Count(); {
	case n == 0:
		err = fmt.Errorf("client: topic %q partition %d: a batch without records: %w", topic, partition, ErrInvalidOption)
	case size > int64(p.cfg.maxFrame):
		err = fmt.Errorf("client: topic %q partition %d: batch of %d bytes: %w", topic, partition, size, ErrRecordTooLarge)
	}
	if err != nil {
		p.release(reserved)
		p.recycle(b)
		fail(err)
		return
	}
	// The reservation becomes the batch's size: past the budget when fill
	// went beyond BatchSize, as one large record may.
	if size >= reserved {
		p.buffered.Add(size - reserved)
	} else {
		p.release(reserved - size)
	}
	b.n, b.reserved, b.onBatch = b.builder.Count(), size, cb
	p.pending.Add(int64(b.n))
	pp := tp.parts[partition]
	pp.mu.Lock()
	if pp.open != nil {
		pp.queue = append(pp.queue, pp.open)
		pp.open = nil
	}
	p.stampSequence(pp, b)
	b.seq = pp.nextSeq
	pp.nextSeq++
	pp.createSeq = addSeq(pp.createSeq, b.n)
	pp.queue = append(pp.queue, b)
	pp.mu.Unlock()
	p.wakeSender()
}
