// Package record is Spate's batch format: Kafka's RecordBatch v2 (magic 2),
// byte for byte, so that Kafka clients' batches are stored as they arrive and
// served back unchanged. It builds batches (Builder), frames and checks them
// (Parse, Batch.Validate), stamps them (Batch.SetBaseOffset,
// Batch.SetPartitionLeaderEpoch), and iterates their records (Iter), with the
// Kafka compression codecs. It does no I/O.
//
// # Batch header
//
// All integers in the header are big-endian and signed. Offsets are from the
// start of the batch; the header is HeaderSize (61) bytes.
//
//	offset size field                 meaning
//	     0    8 baseOffset            offset of the first record; stamped by the partition leader
//	     8    4 batchLength           bytes after this field: total size - LogOverhead (12)
//	    12    4 partitionLeaderEpoch  leader epoch of the appending leader; -1 from producers
//	    16    1 magic                 format version, always 2
//	    17    4 crc                   CRC-32C (Castagnoli) of bytes [21, end), as uint32
//	    21    2 attributes            bit flags, below
//	    23    4 lastOffsetDelta       offset delta of the last record (recordCount-1 from a producer)
//	    27    8 baseTimestamp         ms; record timestamps are deltas from it
//	    35    8 maxTimestamp          ms; largest record timestamp, or the append time (LogAppendTime)
//	    43    8 producerId            idempotent/transactional producer id, or -1
//	    51    2 producerEpoch         its epoch, or -1
//	    53    4 baseSequence          sequence number of the first record, or -1
//	    57    4 recordCount           number of records that follow
//	    61    - records               recordCount records, compressed as one block if attributes say so
//
// # Attributes
//
//	bits 0-2  compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (5-7 invalid)
//	bit  3    timestamp type: 0 CreateTime, 1 LogAppendTime
//	bit  4    transactional
//	bit  5    control batch (transaction markers)
//	bit  6    delete horizon set in baseTimestamp (set by log compaction)
//	bits 7-15 unused, 0
//
// # Record
//
// Records use zigzag varints (varint: int32 in at most 5 bytes; varlong:
// int64 in at most 10), see AppendVarint. A byte string is a varint length and
// that many bytes; length -1 is null, distinct from an empty string.
//
//	field           type              meaning
//	length          varint            bytes of the record after this field
//	attributes      int8              unused, 0
//	timestampDelta  varlong           timestamp - baseTimestamp
//	offsetDelta     varint            offset - baseOffset
//	key             varint + bytes    nullable
//	value           varint + bytes    nullable
//	headerCount     varint            number of headers, >= 0
//	headers         headerCount times:
//	  headerKey     varint + bytes    not nullable (a string in Kafka)
//	  headerValue   varint + bytes    nullable
//
// Under LogAppendTime every record's timestamp is the batch's maxTimestamp;
// the deltas are kept but not used.
//
// # What the CRC covers
//
// The CRC-32C covers everything from attributes (offset 21) to the end of the
// batch: attributes, lastOffsetDelta, both timestamps, the producer fields,
// recordCount and every record byte (compressed bytes when compressed). It
// does not cover baseOffset, batchLength, partitionLeaderEpoch or magic, which
// come before it. That is what lets a partition leader stamp baseOffset and
// partitionLeaderEpoch in place without recomputing it, and why batchLength
// is checked against the bytes available (Parse) rather than trusted.
//
// # Validation
//
// Parse frames a batch: header present, batchLength at least the header,
// magic 2, all bytes present (ErrShort otherwise, so a reader knows to read
// more or that a log tail is torn). Batch.Validate checks the CRC and that
// recordCount = lastOffsetDelta+1 >= 1, what a broker checks on produce.
// Batch.ValidateStored is the check for batches read back from a log:
// the CRC and 0 <= recordCount <= lastOffsetDelta+1, because compaction
// keeps a batch's offset range while dropping records from it (or all of
// them). Consumers and log recovery use it; producers' batches get Validate.
// Iter checks each record as it decodes it: lengths within the record and the
// record within the batch, varints not overlong, offset deltas strictly
// increasing and at most lastOffsetDelta, exactly recordCount records and no
// bytes after them. All of these fail with errors wrapping ErrCorrupt.
//
// # Compression
//
// A compressed batch keeps the header uncompressed and replaces the records
// section with one compressed block of all the records. Codecs and the forms
// written and read:
//
//	gzip    RFC 1952 gzip stream (klauspost/compress/gzip).
//	snappy  written as one raw snappy block (as franz-go and librdkafka do).
//	        Read as a raw block or in the xerial framing the Java producer
//	        writes: magic 82 'SNAPPY' 00, int32 version, int32 compatible
//	        version, then blocks of [int32 length][raw snappy block].
//	lz4     LZ4 frame format (pierrec/lz4/v4) with 64 KiB blocks, as Kafka's
//	        Java producer writes it.
//	zstd    one zstd frame (klauspost/compress/zstd).
//
// Decompression is capped at MaxDecompressedSize, so a small hostile batch
// cannot claim gigabytes. Compressor and decompressor state is pooled (one
// shared zstd encoder and decoder, sync.Pools for gzip and lz4), so building
// or reading a compressed batch does not build a codec each time.
//
// # Buffers
//
// Batch, Record and Header are views: they alias the bytes they came from and
// are valid while those bytes are unchanged. Builder appends to a buffer the
// caller owns and hands back; Iter owns its decompression buffer and reuses it
// on the next Reset, so records of a compressed batch are valid until then.
package record
