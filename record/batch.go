package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the RecordBatch v2 header fields. See doc.go for the table.
const (
	offBaseOffset           = 0
	offBatchLength          = 8
	offPartitionLeaderEpoch = 12
	offMagic                = 16
	offCRC                  = 17
	offAttributes           = 21
	offLastOffsetDelta      = 23
	offBaseTimestamp        = 27
	offMaxTimestamp         = 35
	offProducerID           = 43
	offProducerEpoch        = 51
	offBaseSequence         = 53
	offRecordCount          = 57

	// HeaderSize is the size of the fixed RecordBatch v2 header; records follow it.
	HeaderSize = 61
	// LogOverhead is the part of the header not counted by batchLength:
	// baseOffset (8) and batchLength (4). A batch occupies LogOverhead+BatchLength bytes.
	LogOverhead = 12
	// Magic is the only batch format version Spate reads and writes.
	Magic = 2
)

// Attribute bits of a batch.
const (
	AttrCompressionMask    = 0x07
	AttrTimestampLogAppend = 0x08
	AttrTransactional      = 0x10
	AttrControl            = 0x20
	AttrDeleteHorizon      = 0x40
)

// Errors returned by Parse and Validate. They are distinct so callers can tell
// a short read (more bytes may still come) from a batch that can never be valid.
var (
	// ErrShort: fewer bytes than a header, or than the length the header declares.
	// On a log tail this is a torn write; on a socket it means "read more".
	ErrShort = errors.New("record: batch truncated")
	// ErrCorrupt: the bytes are complete but are not a valid batch
	// (bad length, magic, CRC or record count). Test with errors.Is.
	ErrCorrupt = errors.New("record: batch corrupt")
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of b, the function Kafka uses for batch CRCs.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// Batch is a zero-copy view of one encoded RecordBatch v2. It aliases the
// bytes it was made from: the caller owns them and must keep them unchanged
// while the view is used. The zero value is not valid; make one with Parse.
type Batch []byte

// Parse returns a view of the batch at the start of b, which must hold the
// whole batch (b may hold more after it). It checks only what is needed to
// frame the batch: the header is present, batchLength is sane and covers the
// header, the magic is 2, and b holds batchLength bytes. It returns ErrShort
// when b is too short and ErrCorrupt when the header can never frame a batch.
// Call Validate before trusting the contents.
func Parse(b []byte) (Batch, error) {
	if len(b) < HeaderSize {
		return nil, ErrShort
	}
	length := int32(binary.BigEndian.Uint32(b[offBatchLength:]))
	if length < HeaderSize-LogOverhead {
		return nil, fmt.Errorf("%w: batch length %d below header size", ErrCorrupt, length)
	}
	if b[offMagic] != Magic {
		return nil, fmt.Errorf("%w: magic %d, want %d", ErrCorrupt, int8(b[offMagic]), Magic)
	}
	total := int64(length) + LogOverhead
	if int64(len(b)) < total {
		return nil, ErrShort
	}
	return Batch(b[:total]), nil
}

// Size returns the whole encoded size of the batch in bytes.
func (b Batch) Size() int { return len(b) }

// BaseOffset returns the offset of the first record.
func (b Batch) BaseOffset() int64 { return int64(binary.BigEndian.Uint64(b[offBaseOffset:])) }

// BatchLength returns the batchLength field: the size minus LogOverhead.
func (b Batch) BatchLength() int32 { return int32(binary.BigEndian.Uint32(b[offBatchLength:])) }

// PartitionLeaderEpoch returns the leader epoch stamped by the broker that appended it.
func (b Batch) PartitionLeaderEpoch() int32 {
	return int32(binary.BigEndian.Uint32(b[offPartitionLeaderEpoch:]))
}

// Magic returns the format version byte.
func (b Batch) Magic() int8 { return int8(b[offMagic]) }

// CRC returns the stored CRC-32C of bytes [attributes, end).
func (b Batch) CRC() uint32 { return binary.BigEndian.Uint32(b[offCRC:]) }

// Attributes returns the attribute bits.
func (b Batch) Attributes() int16 { return int16(binary.BigEndian.Uint16(b[offAttributes:])) }

// Compression returns the codec of the records section.
func (b Batch) Compression() Compression { return Compression(b.Attributes() & AttrCompressionMask) }

// IsControl reports whether the batch holds control records (transaction markers).
func (b Batch) IsControl() bool { return b.Attributes()&AttrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (b Batch) IsTransactional() bool { return b.Attributes()&AttrTransactional != 0 }

// LastOffsetDelta returns the offset delta of the last record.
func (b Batch) LastOffsetDelta() int32 { return int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])) }

// LastOffset returns BaseOffset()+LastOffsetDelta().
func (b Batch) LastOffset() int64 { return b.BaseOffset() + int64(b.LastOffsetDelta()) }

// NextOffset returns the offset after the last record.
func (b Batch) NextOffset() int64 { return b.LastOffset() + 1 }

// BaseTimestamp returns the timestamp of the first record, in milliseconds.
func (b Batch) BaseTimestamp() int64 { return int64(binary.BigEndian.Uint64(b[offBaseTimestamp:])) }

// MaxTimestamp returns the largest record timestamp, in milliseconds.
func (b Batch) MaxTimestamp() int64 { return int64(binary.BigEndian.Uint64(b[offMaxTimestamp:])) }

// ProducerID returns the idempotent producer id, or -1.
func (b Batch) ProducerID() int64 { return int64(binary.BigEndian.Uint64(b[offProducerID:])) }

// ProducerEpoch returns the idempotent producer epoch, or -1.
func (b Batch) ProducerEpoch() int16 { return int16(binary.BigEndian.Uint16(b[offProducerEpoch:])) }

// BaseSequence returns the idempotent sequence of the first record, or -1.
func (b Batch) BaseSequence() int32 { return int32(binary.BigEndian.Uint32(b[offBaseSequence:])) }

// RecordCount returns the number of records the header declares.
func (b Batch) RecordCount() int32 { return int32(binary.BigEndian.Uint32(b[offRecordCount:])) }

// Records returns the records section (compressed if Compression() != None).
// It aliases the batch.
func (b Batch) Records() []byte { return b[HeaderSize:] }

// Validate checks what a broker must check before it stores a batch that came
// off the network or off a disk it does not trust: the CRC-32C over
// [attributes, end) and a record count of LastOffsetDelta+1 (at least one
// record). It does not decompress.
// It returns an error wrapping ErrCorrupt.
func (b Batch) Validate() error {
	if got, want := Checksum(b[offAttributes:]), b.CRC(); got != want {
		return fmt.Errorf("%w: crc 0x%08x, header says 0x%08x", ErrCorrupt, got, want)
	}
	n := b.RecordCount()
	if n <= 0 {
		return fmt.Errorf("%w: record count %d", ErrCorrupt, n)
	}
	if int64(b.LastOffsetDelta())+1 != int64(n) {
		return fmt.Errorf("%w: record count %d but last offset delta %d", ErrCorrupt, n, b.LastOffsetDelta())
	}
	return nil
}

// SetBaseOffset stamps the base offset in place. The CRC does not cover it,
// so the batch stays valid.
func (b Batch) SetBaseOffset(offset int64) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch stamps the leader epoch in place. The CRC does not
// cover it, so the batch stays valid.
func (b Batch) SetPartitionLeaderEpoch(epoch int32) {
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], uint32(epoch))
}

// Compression is the codec of a batch's records section (attribute bits 0-2).
type Compression int8

// The codecs Kafka defines, with their attribute values.
const (
	None   Compression = 0
	Gzip   Compression = 1
	Snappy Compression = 2
	LZ4    Compression = 3
	Zstd   Compression = 4
)

// String returns the Kafka name of the codec.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int8(c))
}

// ValidateStored checks a batch read back from a log, which log compaction
// may have thinned: the CRC-32C over [attributes, end) and a record count in
// [0, LastOffsetDelta+1]. Compaction keeps a batch's offset range (its
// lastOffsetDelta) while dropping records, and keeps a batch with no records
// at all where it must hold an offset range or a producer's last sequence, so
// Validate's count == lastOffsetDelta+1 does not hold for stored batches.
// Readers of fetched or recovered batches use this; a broker taking a batch
// from a producer uses Validate. It returns an error wrapping ErrCorrupt.
func (b Batch) ValidateStored() error {
	if got, want := Checksum(b[offAttributes:]), b.CRC(); got != want {
		return fmt.Errorf("%w: crc 0x%08x, header says 0x%08x", ErrCorrupt, got, want)
	}
	n, last := b.RecordCount(), b.LastOffsetDelta()
	if n < 0 || last < 0 || int64(n) > int64(last)+1 {
		return fmt.Errorf("%w: record count %d with last offset delta %d", ErrCorrupt, n, last)
	}
	return nil
}

// HasDeleteHorizon reports whether log compaction stored a delete horizon in
// BaseTimestamp (attribute bit 6): the time after which its tombstones may go.
func (b Batch) HasDeleteHorizon() bool { return b.Attributes()&AttrDeleteHorizon != 0 }

// AppendCompacted appends to dst a copy of b that holds only the records keep
// accepts, for log compaction. The copy keeps b's baseOffset, lastOffsetDelta
// (so its offset range is unchanged), partitionLeaderEpoch, attributes,
// codec, MaxTimestamp and producer fields; each kept record keeps its offset
// and timestamp. recordCount becomes the number kept, which is why stored
// batches are checked with ValidateStored. When deleteHorizon > 0 and b has
// none yet, the copy stores it (AttrDeleteHorizon, BaseTimestamp =
// deleteHorizon, timestamp deltas re-based on it), as Kafka's cleaner does
// (KIP-534). it is scratch for decoding b; keep sees each record once, in
// offset order, and must not retain r. kept is 0 when keep accepted nothing;
// dst is then returned unchanged, since a batch of no records is written with
// AppendEmpty. Errors wrap ErrCorrupt (b's records do not decode) or the
// codec's failure.
func AppendCompacted(dst []byte, b Batch, it *Iter, keep func(r *Record) bool, deleteHorizon int64) (
	out []byte, kept int, err error) {
	if err := it.Reset(b); err != nil {
		return dst, 0, err
	}
	baseTS := b.BaseTimestamp()
	attrs := uint16(b.Attributes())
	if deleteHorizon > 0 && !b.HasDeleteHorizon() {
		baseTS = deleteHorizon
		attrs |= AttrDeleteHorizon
	}
	start := len(dst)
	out = append(dst, b[:HeaderSize]...)
	var raw []byte // uncompressed records of a compressed batch
	for it.Next() {
		r := it.Record()
		if !keep(r) {
			continue
		}
		tsDelta := r.Timestamp - baseTS
		offsetDelta := int32(r.Offset - b.BaseOffset())
		size := recordBodySize(tsDelta, offsetDelta, r.Key, r.Value, r.Headers)
		if b.Compression() == None {
			out = appendRecord(out, int32(size), tsDelta, offsetDelta, r.Key, r.Value, r.Headers)
		} else {
			raw = appendRecord(raw, int32(size), tsDelta, offsetDelta, r.Key, r.Value, r.Headers)
		}
		kept++
	}
	if err := it.Err(); err != nil {
		return dst, 0, err
	}
	if kept == 0 {
		return dst, 0, nil
	}
	if b.Compression() != None {
		if out, err = appendCompressed(out, raw, b.Compression()); err != nil {
			return dst, 0, fmt.Errorf("record: %s compression of batch at base offset %d: %w", b.Compression(), b.BaseOffset(), err)
		}
	}
	h, be := out[start:start+HeaderSize], binary.BigEndian
	be.PutUint32(h[offBatchLength:], uint32(len(out)-start-LogOverhead))
	be.PutUint16(h[offAttributes:], attrs)
	be.PutUint64(h[offBaseTimestamp:], uint64(baseTS))
	be.PutUint32(h[offRecordCount:], uint32(kept))
	be.PutUint32(h[offCRC:], Checksum(out[start+offAttributes:]))
	return out, kept, nil
}

// AppendEmpty appends to dst a batch of no records that covers offsets
// [base, base+lastOffsetDelta], for log compaction: it holds an offset range
// whose records were all removed, so offsets stay contiguous from batch to
// batch. It is uncompressed, with CreateTime timestamps both maxTimestamp,
// leader epoch epoch and the given producer fields (NoProducer for none).
func AppendEmpty(dst []byte, base int64, lastOffsetDelta int32, maxTimestamp int64, epoch int32,
	producerID int64, producerEpoch int16, baseSequence int32) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	h, be := dst[start:], binary.BigEndian
	be.PutUint64(h[offBaseOffset:], uint64(base))
	be.PutUint32(h[offBatchLength:], HeaderSize-LogOverhead)
	be.PutUint32(h[offPartitionLeaderEpoch:], uint32(epoch))
	h[offMagic] = Magic
	be.PutUint32(h[offLastOffsetDelta:], uint32(lastOffsetDelta))
	be.PutUint64(h[offBaseTimestamp:], uint64(maxTimestamp))
	be.PutUint64(h[offMaxTimestamp:], uint64(maxTimestamp))
	be.PutUint64(h[offProducerID:], uint64(producerID))
	be.PutUint16(h[offProducerEpoch:], uint16(producerEpoch))
	be.PutUint32(h[offBaseSequence:], uint32(baseSequence))
	be.PutUint32(h[offCRC:], Checksum(h[offAttributes:]))
	return dst
}
