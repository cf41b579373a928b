package engine

// Behavior: per-partition idempotent-producer state (Kafka's KIP-98 rule).
// For each producer id seen on a partition the leader keeps its epoch and
// the sequence ranges and offsets of its last 5 batches; docs/protocol.md
// ("Idempotent produce") has the decision table. The state lives under
// partition.mu, so a batch's check and its append are one atomic step.
//
// Crash safety: the state is not written anywhere of its own. When a
// partition is opened, rebuildProducers replays the headers of the batches
// in the log's last recoveryScanSegments segments (recovery has already cut
// any torn tail, so only batches below the recovered log end count). That
// bounds the scan by 2 × segment.bytes of headers, one page touched per
// batch. A producer whose last batch is older than those segments is
// unknown after a restart and its next batch is accepted whatever its
// sequence: a retry of a batch that old would be appended twice. A producer
// retries only the batches of its window (at most the last 5 it sent to the
// partition, the ones dedupe remembers), so this needs a whole segment of
// other writes between a batch's first attempt and its retry. Kafka closes the gap with producer-state snapshot
// files written at each roll; Spate does not have them yet.
//
// Producers idle for producerExpiration are forgotten by ApplyRetention, as
// Kafka's producer.id.expiration.ms does, so the map stays bounded.

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/record"
)

// cachedBatches is how many recent batches per producer are remembered for
// duplicate detection: Kafka's 5, the most requests a Kafka producer may
// have in flight per partition with idempotence on.
const cachedBatches = 5

// recoveryScanSegments is how many of the log's newest segments are
// replayed to rebuild the producer state on open.
const recoveryScanSegments = 2

// producerExpiration is how long a producer id is remembered after its last
// batch (Kafka's producer.id.expiration.ms default, one day).
const producerExpiration = 24 * time.Hour

// batchMeta is one remembered batch.
type batchMeta struct {
	firstSeq, lastSeq int32
	lastOffsetDelta   int32
	baseOffset        int64
}

// producerEntry is one producer's state on one partition.
type producerEntry struct {
	epoch int16
	// batches is a ring of the last n batches; the newest is at
	// (head+n-1) % cachedBatches.
	batches [cachedBatches]batchMeta
	head, n int
	// lastSeen is the wall-clock (ms) of the last append, or the batch's max
	// timestamp when rebuilt from the log; it drives expiration.
	lastSeen int64
}

func (pe *producerEntry) newest() *batchMeta {
	return &pe.batches[(pe.head+pe.n-1)%cachedBatches]
}

// add remembers a batch, dropping the oldest when the ring is full.
func (pe *producerEntry) add(m batchMeta) {
	if pe.n < cachedBatches {
		pe.n++
	} else {
		pe.head = (pe.head + 1) % cachedBatches
	}
	*pe.newest() = m
}

// producerStates maps producer id to its state. Guarded by partition.mu.
type producerStates map[int64]*producerEntry

// lastSequence is the sequence of a batch's last record: base + delta,
// wrapping from MaxInt32 to 0 as Kafka's sequences do.
func lastSequence(base, delta int32) int32 {
	if base > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - base) - 1
	}
	return base + delta
}

// nextSequence is the sequence expected after seq.
func nextSequence(seq int32) int32 {
	if seq == math.MaxInt32 {
		return 0
	}
	return seq + 1
}

// check decides a batch with a producer id against the state. It returns
// the remembered batch if b is a duplicate of it, nil if b is to be
// appended, or an error wrapping ErrOutOfOrderSequence or
// ErrInvalidProducerEpoch. The caller holds partition.mu.
func (ps producerStates) check(p *partition, b record.Batch) (*batchMeta, error) {
	pe := ps[b.ProducerID()]
	if pe == nil {
		return nil, nil // unknown producer: accepted, tracked from here
	}
	epoch, seq := b.ProducerEpoch(), b.BaseSequence()
	switch {
	case epoch < pe.epoch:
		return nil, fmt.Errorf("%w: %s-%d: producer %d sent epoch %d, the partition has epoch %d",
			ErrInvalidProducerEpoch, p.topic, p.id, b.ProducerID(), epoch, pe.epoch)
	case epoch > pe.epoch:
		if seq != 0 {
			return nil, fmt.Errorf("%w: %s-%d: producer %d starts epoch %d at sequence %d, want 0",
				ErrOutOfOrderSequence, p.topic, p.id, b.ProducerID(), epoch, seq)
		}
		return nil, nil
	}
	last := lastSequence(seq, b.LastOffsetDelta())
	for i := 0; i < pe.n; i++ {
		m := &pe.batches[(pe.head+i)%cachedBatches]
		if m.firstSeq == seq && m.lastSeq == last {
			return m, nil
		}
	}
	if want := nextSequence(pe.newest().lastSeq); seq != want {
		return nil, fmt.Errorf("%w: %s-%d: producer %d epoch %d sent sequence %d, expected %d",
			ErrOutOfOrderSequence, p.topic, p.id, b.ProducerID(), epoch, seq, want)
	}
	return nil, nil
}

// record remembers an appended (or replayed) batch at baseOffset. A newer
// epoch replaces the producer's state; an older one is ignored (a replay of
// a log a fenced producer wrote to before its successor).
func (ps producerStates) record(b record.Batch, baseOffset, seen int64) {
	id, epoch := b.ProducerID(), b.ProducerEpoch()
	pe := ps[id]
	switch {
	case pe == nil:
		pe = &producerEntry{epoch: epoch}
		ps[id] = pe
	case epoch < pe.epoch:
		return
	case epoch > pe.epoch:
		*pe = producerEntry{epoch: epoch}
	}
	seq := b.BaseSequence()
	pe.add(batchMeta{firstSeq: seq, lastSeq: lastSequence(seq, b.LastOffsetDelta()),
		lastOffsetDelta: b.LastOffsetDelta(), baseOffset: baseOffset})
	pe.lastSeen = seen
}

// expire forgets producers last seen before cutoff (ms).
func (ps producerStates) expire(cutoff int64) {
	for id, pe := range ps {
		if pe.lastSeen < cutoff {
			delete(ps, id)
		}
	}
}

// rebuildProducers replays the batch headers of the log's last
// recoveryScanSegments segments into p.producers. It runs before the
// partition is published, or after a follower's truncation under p.mu.
func (p *partition) rebuildProducers() error {
	from, err := p.scanStart()
	if err != nil {
		return err
	}
	end := p.log.LogEndOffset()
	for off := from; off < end; {
		r, err := p.log.Read(off, 1<<20, end)
		if err != nil {
			return p.storageErr("rebuild producer state of", off, err)
		}
		if r.Len() == 0 {
			r.Release()
			break
		}
		data := r.Bytes()
		for pos := 0; pos+record.HeaderSize <= len(data); {
			b := record.Batch(data[pos:])
			size := int(b.BatchLength()) + record.LogOverhead
			if size < record.HeaderSize || pos+size > len(data) {
				// Recovery validated these bytes; this is a bug or a disk
				// changing under us, not something to replay.
				r.Release()
				return fmt.Errorf("%w: rebuild producer state of %s-%d: batch at offset %d claims %d bytes",
					ErrStorage, p.topic, p.id, b.BaseOffset(), size)
			}
			if b.ProducerID() >= 0 && !b.IsControl() {
				p.producers.record(b, b.BaseOffset(), b.MaxTimestamp())
			}
			pos += size
		}
		off = r.NextOffset()
		r.Release()
	}
	return nil
}

// scanStart is the base offset of the oldest of the last
// recoveryScanSegments segments, read from the segment file names
// (<base offset, 20 digits>.log, see segment's doc), and never below the
// log start offset.
func (p *partition) scanStart() (int64, error) {
	entries, err := os.ReadDir(p.log.Dir())
	if err != nil {
		return 0, fmt.Errorf("%w: list segments of %s-%d: %w", ErrStorage, p.topic, p.id, err)
	}
	var bases []int64
	for _, ent := range entries {
		stem, ok := strings.CutSuffix(ent.Name(), ".log")
		if !ok {
			continue
		}
		if base, err := strconv.ParseInt(stem, 10, 64); err == nil {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	start := p.log.LogStartOffset()
	if len(bases) >= recoveryScanSegments {
		start = max(start, bases[len(bases)-recoveryScanSegments])
	}
	return start, nil
}
