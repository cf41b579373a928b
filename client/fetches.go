package client

import (
	"time"

	"github.com/spate-io/spate/record"
)

// Fetches is what one Poll returned: records and errors per partition. Its
// records alias the fetched responses and are valid until the next Poll.
type Fetches struct {
	parts []FetchPartition
}

// FetchPartition is one partition's share of a Poll.
type FetchPartition struct {
	Topic     string
	Partition int32
	// HighWatermark and LogStartOffset are the broker's view when it
	// answered; -1 (zero) when Err is set.
	HighWatermark  int64
	LogStartOffset int64
	// Err is a partition error that stopped fetching it (for example
	// OFFSET_OUT_OF_RANGE under ResetError); errors.Is works with wire.Err....
	Err error

	batches []byte // whole, validated batches
	from    int64  // records below this offset were not asked for
}

// Partitions returns the partitions of the Poll. The caller must not
// modify the slice.
func (fs Fetches) Partitions() []FetchPartition { return fs.parts }

// Errors returns the partition errors of the Poll.
func (fs Fetches) Errors() []error {
	var errs []error
	for _, p := range fs.parts {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// Records returns an iterator over every record of the Poll, partition by
// partition, each partition's in offset order.
func (fs Fetches) Records() RecordIter { return RecordIter{parts: fs.parts, pi: -1} }

// EachRecord calls fn for every record; the *Record is reused between calls.
// It returns the first batch decoding error.
func (fs Fetches) EachRecord(fn func(*Record)) error {
	it := fs.Records()
	for it.Next() {
		fn(it.Record())
	}
	return it.Err()
}

// RecordIter walks the records of a Poll without allocating per record:
//
//	it := fetches.Records()
//	for it.Next() {
//		r := it.Record()
//	}
//	if err := it.Err(); err != nil { ... }
//
// The Record it returns is overwritten by the next Next, and its Key, Value
// and Headers alias the fetched buffer (or the decompression buffer, which
// the next batch reuses): valid until the next Poll at most.
type RecordIter struct {
	parts   []FetchPartition
	pi      int
	rest    []byte // batches of parts[pi] not yet started
	it      record.Iter
	inBatch bool
	rec     Record
	err     error
}

// Next moves to the next record and reports whether there is one. It skips
// records below the offset the fetch asked for (a fetch starts at the
// batch that contains it) and control batches.
func (r *RecordIter) Next() bool {
	for r.err == nil {
		if r.inBatch {
			if r.it.Next() {
				rec := r.it.Record()
				p := &r.parts[r.pi]
				if rec.Offset < p.from {
					continue
				}
				// Field by field: a composite literal built the whole
				// Record on the stack and copied it, per record.
				out := &r.rec
				out.Topic, out.Partition = p.Topic, p.Partition
				out.Key, out.Value, out.Headers = rec.Key, rec.Value, rec.Headers
				out.Timestamp = time.UnixMilli(rec.Timestamp)
				out.Offset = rec.Offset
				return true
			}
			if err := r.it.Err(); err != nil {
				p := &r.parts[r.pi]
				r.err = partitionErr(p.Topic, p.Partition, err)
				return false
			}
			r.inBatch = false
		}
		if len(r.rest) == 0 {
			if r.pi+1 >= len(r.parts) {
				return false
			}
			r.pi++
			r.rest = r.parts[r.pi].batches
			continue
		}
		b, err := record.Parse(r.rest)
		if err != nil { // the consumer validated these batches; this cannot be short
			p := &r.parts[r.pi]
			r.err = partitionErr(p.Topic, p.Partition, err)
			return false
		}
		r.rest = r.rest[b.Size():]
		if b.IsControl() || b.NextOffset() <= r.parts[r.pi].from {
			continue
		}
		if err := r.it.Reset(b); err != nil {
			p := &r.parts[r.pi]
			r.err = partitionErr(p.Topic, p.Partition, err)
			return false
		}
		r.inBatch = true
	}
	return false
}

// Record returns the record Next moved to.
func (r *RecordIter) Record() *Record { return &r.rec }

// Err returns the error that stopped the iteration (a batch that does not
// decompress or decode), or nil.
func (r *RecordIter) Err() error { return r.err }
