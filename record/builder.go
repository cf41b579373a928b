package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Header is one record header. Kafka header keys are non-null strings, so a
// nil Key is written as an empty key; a nil Value is written as null (length
// -1), distinct from an empty one.
type Header struct {
	Key   []byte
	Value []byte
}

// TimestampType says what a batch's timestamps mean (attribute bit 3).
type TimestampType int8

const (
	// CreateTime: each record carries the time its producer created it.
	CreateTime TimestampType = 0
	// LogAppendTime: the broker's append time, stored once as the batch's
	// MaxTimestamp, is the timestamp of every record in the batch.
	LogAppendTime TimestampType = 1
)

// NoProducer is the producer id, epoch and sequence value of a batch written
// by a producer that is neither idempotent nor transactional.
const NoProducer = -1

// NoPartitionLeaderEpoch is the leader epoch a producer writes; the partition
// leader stamps the real one with SetPartitionLeaderEpoch.
const NoPartitionLeaderEpoch = -1

// Options describe a batch to build. The zero value is a plain producer batch:
// no compression, CreateTime, no producer id (id, epoch and base sequence all
// -1), base timestamp taken from the first record.
type Options struct {
	Compression   Compression
	TimestampType TimestampType
	// AppendTime is written as MaxTimestamp when TimestampType is
	// LogAppendTime; it is ignored otherwise.
	AppendTime int64

	// UseBaseTimestamp makes BaseTimestamp the batch's base timestamp instead
	// of the first record's timestamp. Record timestamps are stored as deltas
	// from it, so any value works; a close one keeps the deltas short.
	UseBaseTimestamp bool
	BaseTimestamp    int64

	// HasProducer writes ProducerID, ProducerEpoch and BaseSequence; without
	// it all three are -1 (NoProducer).
	HasProducer   bool
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32

	Transactional bool
	// Control marks a batch of control records (transaction markers).
	Control bool
}

// ErrBuilder is wrapped by the errors Builder.Finish returns when the builder
// was misused or a batch would not fit the format (too large, no records).
var ErrBuilder = errors.New("record: cannot build batch")

// Builder encodes records into a RecordBatch v2. It appends into a buffer the
// caller provides and keeps only a scratch buffer of its own (the uncompressed
// records of a compressed batch), so a Builder reused across batches with a
// reused destination allocates nothing per record or per batch when
// uncompressed.
//
// Use: Reset(dst, opts), Append any number of records, Finish. The zero value
// is ready for Reset. A Builder is not safe for concurrent use.
type Builder struct {
	opts   Options
	buf    []byte // the caller's buffer; the batch starts at buf[start:]
	start  int
	raw    []byte // records before compression; owned and reused by the Builder
	count  int32
	baseTS int64
	maxTS  int64
	active bool
	err    error
}

// Reset starts a new batch that will be appended to dst (dst's existing bytes
// are kept, so several batches can go one after another in one buffer). From
// Reset to Finish the Builder owns dst and the caller must not touch it.
func (b *Builder) Reset(dst []byte, opts Options) {
	b.opts = opts
	b.start = len(dst)
	// The header is reserved now and written by Finish, once its lengths,
	// counts and CRC are known; every one of its bytes is overwritten then.
	b.buf = slices.Grow(dst, HeaderSize)[:len(dst)+HeaderSize]
	b.raw = b.raw[:0]
	b.count = 0
	b.baseTS, b.maxTS = opts.BaseTimestamp, math.MinInt64
	b.active = true
	b.err = nil
	if !opts.Compression.Valid() {
		b.err = fmt.Errorf("%w: unknown compression %d", ErrBuilder, int8(opts.Compression))
	}
	if opts.TimestampType != CreateTime && opts.TimestampType != LogAppendTime {
		b.err = fmt.Errorf("%w: unknown timestamp type %d", ErrBuilder, opts.TimestampType)
	}
}

// Append adds a record with the given timestamp (milliseconds), key, value and
// headers. A nil key or value is written as null, an empty non-nil one as
// empty. Append copies its arguments, which the caller may reuse at once.
// Errors (the record does not fit the format, Append without Reset) are
// reported by Finish.
func (b *Builder) Append(timestamp int64, key, value []byte, headers []Header) {
	if !b.active {
		b.err = fmt.Errorf("%w: Append without Reset", ErrBuilder)
		return
	}
	if b.err != nil {
		return
	}
	if b.count == math.MaxInt32 {
		b.err = fmt.Errorf("%w: more than %d records", ErrBuilder, math.MaxInt32)
		return
	}
	if b.count == 0 && !b.opts.UseBaseTimestamp {
		b.baseTS = timestamp
	}
	b.maxTS = max(b.maxTS, timestamp)
	tsDelta := timestamp - b.baseTS
	size := recordBodySize(tsDelta, b.count, key, value, headers)
	if size > math.MaxInt32 {
		b.err = fmt.Errorf("%w: record %d is %d bytes", ErrBuilder, b.count, size)
		return
	}
	if b.opts.Compression == None {
		b.buf = appendRecord(b.buf, int32(size), tsDelta, b.count, key, value, headers)
	} else {
		b.raw = appendRecord(b.raw, int32(size), tsDelta, b.count, key, value, headers)
	}
	b.count++
}

// SetProducerSequence changes the producer epoch and base sequence the
// header will carry (Options.HasProducer must be set). It is for a producer
// that learns a batch's place in its sequence only after the records were
// appended: Finish writes the header, so no byte is rewritten.
func (b *Builder) SetProducerSequence(epoch int16, baseSequence int32) {
	b.opts.ProducerEpoch, b.opts.BaseSequence = epoch, baseSequence
}

// Count returns the number of records appended since Reset.
func (b *Builder) Count() int { return int(b.count) }

// Size returns the size the batch would have if finished now without
// compression: a producer closes a batch on this (batch.size).
func (b *Builder) Size() int { return len(b.buf) - b.start + len(b.raw) }

// Finish writes the header (lengths, lastOffsetDelta, timestamps, record count,
// compression and the CRC) and returns dst from Reset with the batch appended.
// Ownership of the returned slice passes to the caller; the Builder keeps no
// reference to it. Base offset 0 and leader epoch -1 are written for the
// broker to stamp. On error it returns dst as it was before Reset and an
// error wrapping ErrBuilder (or the codec's failure). Either way the Builder
// must be Reset before the next batch.
func (b *Builder) Finish() ([]byte, error) {
	if !b.active {
		return nil, fmt.Errorf("%w: Finish without Reset", ErrBuilder)
	}
	buf, start := b.buf, b.start
	b.active, b.buf, b.start = false, nil, 0
	if b.err != nil {
		return buf[:start], b.err
	}
	if b.count == 0 {
		return buf[:start], fmt.Errorf("%w: no records", ErrBuilder)
	}
	if b.opts.Compression != None {
		var err error
		if buf, err = appendCompressed(buf, b.raw, b.opts.Compression); err != nil {
			return buf[:start], fmt.Errorf("%w: %s compression of %d bytes: %w",
				ErrBuilder, b.opts.Compression, len(b.raw), err)
		}
	}
	length := len(buf) - start - LogOverhead
	if length > math.MaxInt32 {
		return buf[:start], fmt.Errorf("%w: batch length %d", ErrBuilder, length)
	}
	b.writeHeader(buf[start:])
	return buf, nil
}

// writeHeader fills the reserved header of batch, whose records are in place.
func (b *Builder) writeHeader(batch []byte) {
	o := &b.opts
	attrs := uint16(o.Compression)
	maxTS := b.maxTS
	if o.TimestampType == LogAppendTime {
		attrs |= AttrTimestampLogAppend
		maxTS = o.AppendTime
	}
	if o.Transactional {
		attrs |= AttrTransactional
	}
	if o.Control {
		attrs |= AttrControl
	}
	pid, epoch, seq := int64(NoProducer), int16(NoProducer), int32(NoProducer)
	if o.HasProducer {
		pid, epoch, seq = o.ProducerID, o.ProducerEpoch, o.BaseSequence
	}
	leaderEpoch := int32(NoPartitionLeaderEpoch)
	h, be := batch[:HeaderSize], binary.BigEndian
	be.PutUint64(h[offBaseOffset:], 0)
	be.PutUint32(h[offBatchLength:], uint32(len(batch)-LogOverhead))
	be.PutUint32(h[offPartitionLeaderEpoch:], uint32(leaderEpoch))
	h[offMagic] = Magic
	be.PutUint16(h[offAttributes:], attrs)
	be.PutUint32(h[offLastOffsetDelta:], uint32(b.count-1))
	be.PutUint64(h[offBaseTimestamp:], uint64(b.baseTS))
	be.PutUint64(h[offMaxTimestamp:], uint64(maxTS))
	be.PutUint64(h[offProducerID:], uint64(pid))
	be.PutUint16(h[offProducerEpoch:], uint16(epoch))
	be.PutUint32(h[offBaseSequence:], uint32(seq))
	be.PutUint32(h[offRecordCount:], uint32(b.count))
	// The CRC covers attributes through the last record byte: everything
	// after the CRC field, so it is computed last.
	be.PutUint32(h[offCRC:], Checksum(batch[offAttributes:]))
}

// recordBodySize returns the size of a record after its length varint. It is
// an int so that oversized keys and values are caught, not wrapped.
func recordBodySize(tsDelta int64, offsetDelta int32, key, value []byte, headers []Header) int {
	n := 1 + VarlongLen(tsDelta) + VarintLen(offsetDelta) +
		bytesSize(key) + bytesSize(value) + VarintLen(int32(len(headers)))
	for i := range headers {
		h := &headers[i]
		n += VarintLen(int32(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
	}
	return n
}

// bytesSize is the encoded size of a nullable byte string.
func bytesSize(p []byte) int {
	if p == nil {
		return 1 // varint -1
	}
	if len(p) > math.MaxInt32 {
		return len(p) // the caller sees the total exceed MaxInt32
	}
	return VarintLen(int32(len(p))) + len(p)
}

func appendRecord(dst []byte, size int32, tsDelta int64, offsetDelta int32, key, value []byte, headers []Header) []byte {
	dst = slices.Grow(dst, MaxVarintLen+int(size))
	dst = AppendVarint(dst, size)
	dst = append(dst, 0) // record attributes: unused by Kafka, always 0
	dst = AppendVarlong(dst, tsDelta)
	dst = AppendVarint(dst, offsetDelta)
	dst = appendNullableBytes(dst, key)
	dst = appendNullableBytes(dst, value)
	dst = AppendVarint(dst, int32(len(headers)))
	for i := range headers {
		h := &headers[i]
		dst = AppendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst
}

func appendNullableBytes(dst, p []byte) []byte {
	if p == nil {
		return AppendVarint(dst, -1)
	}
	dst = AppendVarint(dst, int32(len(p)))
	return append(dst, p...)
}
