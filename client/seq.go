package client

// Idempotence: the producer asks a broker for a producer id once, on its
// first Produce, and stamps every batch with it, the partition's epoch and
// a per-partition sequence number (the sequence of the batch's first record;
// records count from 0 per partition and wrap from MaxInt32 to 0). The
// broker drops a batch whose sequence range it already has and answers
// with the original offset, so a retry after a lost acknowledgement cannot
// write twice (see docs/protocol.md, "Idempotent produce").
//
// Sequence assignment. A batch's sequence is predicted when it is created
// (createSeq, advanced per record appended, so the builder writes it into
// the header with no extra pass) and confirmed when it is first encoded for
// sending (sendSeq, advanced by the batch's record count). A retry resends
// the encoded bytes, sequence included. A batch that fails before it is
// ever sent uses no sequence, and the prediction is recomputed. The two
// agree unless a batch failed for good after it was sent: the broker may or may not have it, so the
// next batch's sequence cannot follow it safely. Then the partition bumps
// its epoch and starts again at sequence 0 (Kafka's KIP-360 does the same
// through the broker), and batches created before the bump are re-stamped
// when they are encoded: new epoch and sequence in the header, CRC-32C
// recomputed. That extra CRC pass happens only after a failure.
//
// Several batches in flight (MaxInFlightPerPartition up to
// maxIdempotentInFlight). Batches are encoded, so numbered, in the order
// they are sent, and a partition's batches in flight are all on one
// connection, whose requests the broker appends in order. The partition
// keeps the batches taken for sending and not yet completed in unacked,
// oldest first.
//
// The window is counted from the oldest batch in unacked, not by the
// requests in flight: a new batch is taken only while, with it, at most
// MaxInFlightPerPartition batches were numbered from that oldest one on.
// The native broker answers a request when it is done, not in request
// order (one waiting on another partition's fsync under acks=all is
// overtaken), so later batches can be acknowledged while an older one's
// answer is still due. Counting requests, the producer went on numbering
// new batches; the broker, which remembers a producer's last 5 per
// partition (engine's cachedBatches), forgot the old one, and when its
// answer was lost (a broker restart) its retry was refused as out of
// sequence and failed for good (TestIdempotentWindowAnswersOutOfOrder).
// Counted from the oldest, every retry is among the 5 the broker holds.
// For the same reason a batch answered before an older one stays in
// unacked, its outcome kept, until the older ones complete: callbacks run
// in Produce order (completeInOrder), as a Kafka producer's do.
//
// When batch k fails retriably, the broker refuses k+1.. with
// OUT_OF_ORDER_SEQUENCE_NUMBER (it has a gap); such a refusal is retriable
// while an older batch of the same epoch is unacked, and the batch goes
// back to the queue at its place, behind k, to be resent with the same
// bytes. An out-of-sequence answer for the oldest unacked batch has no
// such cause and fails it for good. Kafka's producer does the same
// (KAFKA-5494).
//
// When a sent batch fails for good, the other sent batches of its epoch
// cannot be renumbered: the broker may hold them, and a new number would
// write them twice. So each keeps its fate: an acknowledgement still
// counts, and an error that would have been retried fails it with
// ErrSequenceRestarted instead. Batches not sent yet get the new epoch,
// as above.
//
// The epoch is per partition: the broker keeps state per (partition,
// producer id), so one partition's failure does not disturb another's
// sequence. An epoch bumped 32,767 times on one partition would wrap and be
// refused with INVALID_PRODUCER_EPOCH; a producer that fails that often
// should be recreated (a new producer gets a new id).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// maxIdempotentInFlight is the most batches of a partition an idempotent
// producer may have in flight: the batches the broker remembers per
// producer (engine's cachedBatches, Kafka's 5), so that any of them can be
// retried and recognized.
const maxIdempotentInFlight = 5

// Byte offsets in the RecordBatch v2 header (record's doc.go has the table).
const (
	batchCRCOffset           = 17
	batchAttributesOffset    = 21 // the CRC covers everything from here on
	batchProducerEpochOffset = 51
	batchBaseSequenceOffset  = 53
)

// addSeq advances a sequence by n records, wrapping from MaxInt32 to 0 as
// Kafka's sequences do.
func addSeq(seq int32, n int) int32 {
	return int32((int64(seq) + int64(n)) % (math.MaxInt32 + 1))
}

// initProducerID gets the producer id on first use, retrying retriable
// failures until ctx or DeliveryTimeout ends. Concurrent first Produce
// calls wait for the one that asks.
func (p *Producer) initProducerID(ctx context.Context) error {
	if !p.cfg.idempotent || p.idReady.Load() {
		return nil
	}
	p.idMu.Lock()
	defer p.idMu.Unlock()
	if p.idReady.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.deliveryTimeout)
	defer cancel()
	var resp wire.InitProducerIDResponse
	err := p.cl.retry(ctx, func() error {
		c, err := p.cl.anyConn(ctx)
		if err != nil {
			return err
		}
		if err := c.request(ctx, &wire.InitProducerIDRequest{}, &resp, p.cfg.reqTO); err != nil {
			return err
		}
		return resp.ErrorCode.Err()
	})
	if err != nil {
		return fmt.Errorf("init producer id: %w", err)
	}
	p.producerID, p.idEpoch = resp.ProducerID, resp.ProducerEpoch
	p.idReady.Store(true)
	return nil
}

// stampSequence gives batch b, about to join pp's batches, the
// partition's epoch and the sequence its first record is predicted to get
// (see the top of this file); pp.mu is held.
func (p *Producer) stampSequence(pp *partitionProducer, b *batch) {
	if !p.cfg.idempotent {
		return
	}
	b.epoch, b.baseSeq = pp.epoch, pp.createSeq
	b.builder.SetProducerSequence(b.epoch, b.baseSeq)
}

// assignSequence confirms the sequence of batch b, just encoded for its
// first send, re-stamping it if the partition's epoch moved on since it was
// created.
func (pp *partitionProducer) assignSequence(b *batch) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if b.epoch != pp.epoch || b.baseSeq != pp.sendSeq {
		b.epoch, b.baseSeq = pp.epoch, pp.sendSeq
		restamp(b.buf, b.epoch, b.baseSeq)
	}
	pp.sendSeq = addSeq(pp.sendSeq, b.n)
}

// windowRoomLocked reports whether batch b may be taken for sending within
// a window of n batches: a retry always may (it was in the window when
// first taken); a new batch only if, with it, the batches from the oldest
// unacknowledged one to the newest number at most n (see the top of this
// file). pp.mu is held.
func (pp *partitionProducer) windowRoomLocked(b *batch, n int) bool {
	return b.window > 0 || len(pp.unacked) == 0 || pp.taken-pp.unacked[0].window+1 < uint64(n)
}

// enterWindowLocked records b's first take: it joins unacked, which it
// leaves when its callbacks run (nextInOrder). pp.mu is held.
func (pp *partitionProducer) enterWindowLocked(b *batch) {
	if b.window > 0 {
		return
	}
	pp.taken++
	b.window = pp.taken
	pp.unacked = append(pp.unacked, b)
}

// retryBehindLocked reports whether batch b, refused with err, is to be resent
// because it is out of sequence only behind an older batch of its epoch
// still unacknowledged (see the top of this file); pp.mu is held.
func (pp *partitionProducer) retryBehindLocked(b *batch, err error) bool {
	if !errors.Is(err, wire.ErrOutOfOrderSequenceNumber) || b.epoch != pp.epoch {
		return false
	}
	for _, older := range pp.unacked {
		if older == b {
			return false
		}
		if older.epoch == b.epoch && !older.completed {
			return true
		}
	}
	return false
}

// staleLocked reports whether sent batch b may no longer be resent:
// another batch failed for good and bumped the epoch since b was
// numbered; pp.mu is held.
func (pp *partitionProducer) staleLocked(b *batch) bool {
	return b.encoded && b.epoch != pp.epoch
}

// settle updates the partition's sequence state for batch b, completing
// with err, and returns the error its records get (see the top of this
// file). A batch that fails before it was ever sent used no sequence: its
// records took predicted sequences they will not use, so the prediction
// for new batches is recomputed. A sent batch that fails for good starts
// the partition over: a new epoch, sequence 0 for the next batch sent,
// and the records already buffered (to be re-stamped) counted so that
// batches created from now on are predicted right; unless another batch
// did so since b was numbered, and b fails with ErrSequenceRestarted.
func (pp *partitionProducer) settle(b *batch, err error) error {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	switch {
	case err == nil:
	case !b.encoded:
		pp.resyncLocked()
	case pp.staleLocked(b):
		err = fmt.Errorf("%w: %w", ErrSequenceRestarted, err)
	default:
		pp.epoch++
		pp.sendSeq = 0
		pp.resyncLocked()
	}
	return err
}

// completeInOrder records that batch b (in unacked) completed at base
// with err, the error settle gave it, and returns the batch whose
// callbacks the caller runs now, or nil: none while an older batch is
// still due, or while another goroutine runs the partition's callbacks
// (it takes b in its turn). A caller given a batch runs its callbacks,
// then asks nextInOrder for the next one until nil, so one goroutine at a
// time runs them, in Produce order.
func (pp *partitionProducer) completeInOrder(b *batch, base int64, err error) *batch {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	b.completed, b.doneBase, b.doneErr = true, base, err
	if pp.delivering {
		return nil
	}
	return pp.popCompletedLocked()
}

// nextInOrder returns the next batch whose callbacks the caller, given one
// by completeInOrder, is to run, or nil when there is none for now.
func (pp *partitionProducer) nextInOrder() *batch {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.popCompletedLocked()
}

// popCompletedLocked takes the oldest batch of unacked if it completed,
// and records whether a goroutine is now running callbacks; pp.mu is held.
func (pp *partitionProducer) popCompletedLocked() *batch {
	if len(pp.unacked) == 0 || !pp.unacked[0].completed {
		pp.delivering = false
		return nil
	}
	b := pp.unacked[0]
	pp.unacked = slices.Delete(pp.unacked, 0, 1)
	pp.delivering = true
	return b
}

// resyncLocked predicts createSeq as sendSeq plus the records buffered in
// unsent batches; pp.mu is held.
func (pp *partitionProducer) resyncLocked() {
	unsent := 0
	for _, b := range pp.queue {
		if !b.encoded { // a sent batch waiting for its retry keeps its number
			unsent += b.n
		}
	}
	if pp.open != nil {
		unsent += pp.open.n
	}
	pp.createSeq = addSeq(pp.sendSeq, unsent)
}

// restamp writes epoch and sequence into a finished batch and reseals its CRC.
func restamp(batch []byte, epoch int16, seq int32) {
	be := binary.BigEndian
	be.PutUint16(batch[batchProducerEpochOffset:], uint16(epoch))
	be.PutUint32(batch[batchBaseSequenceOffset:], uint32(seq))
	be.PutUint32(batch[batchCRCOffset:], record.Checksum(batch[batchAttributesOffset:]))
}
