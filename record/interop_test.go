package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests hold record/ to franz-go, an independent Kafka client: what
// Spate builds franz-go must read, and what franz-go builds Spate must read.
// franz-go's own compressor and decompressor are used, so each codec's framing
// is checked against what a real Kafka client writes and accepts.

// interopRecords are JSON-like events (see benchValues): compressible, so
// that every codec, zstd included, produces a compressed block rather than
// falling back to stored bytes.
func interopRecords() []testRecord {
	vals := benchValues(2300)
	recs := []testRecord{
		{Timestamp: 1_700_000_000_000, Key: []byte("k0"), Value: []byte("v0")},
		{Timestamp: 1_700_000_000_005},
		{Timestamp: 1_699_999_999_990, Key: []byte{}, Value: []byte{}},
		{Timestamp: 1_700_000_000_007, Value: bytes.Join(vals[300:], nil),
			Headers: []Header{{Key: []byte("trace"), Value: []byte("abc")}, {Key: []byte("null"), Value: nil}, {Key: []byte("e"), Value: []byte{}}}},
	}
	for i := range 300 {
		recs = append(recs, testRecord{Timestamp: 1_700_000_001_000 + int64(i), Key: []byte(fmt.Sprint("key-", i)), Value: vals[i]})
	}
	for i := range recs {
		recs[i].Offset = int64(i)
	}
	return recs
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func TestFranzGoReadsSpateBatches(t *testing.T) {
	recs := interopRecords()
	for _, codec := range allCodecs {
		t.Run("codec="+codec.String(), func(t *testing.T) {
			opts := Options{Compression: codec, HasProducer: true, ProducerID: 12, ProducerEpoch: 2, BaseSequence: 100}
			b := build(t, opts, recs)
			b.SetBaseOffset(5000)
			b.SetPartitionLeaderEpoch(9)

			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(b); err != nil {
				t.Fatalf("kmsg ReadFrom: %v", err)
			}
			if rb.FirstOffset != 5000 || rb.PartitionLeaderEpoch != 9 || rb.Magic != 2 || int(rb.Length) != len(b)-12 {
				t.Fatalf("kmsg header: offset %d epoch %d magic %d length %d", rb.FirstOffset, rb.PartitionLeaderEpoch, rb.Magic, rb.Length)
			}
			if uint32(rb.CRC) != crc32.Checksum(b[21:], castagnoli) {
				t.Fatalf("kmsg CRC %#x does not match CRC-32C of bytes 21..end", uint32(rb.CRC))
			}
			if rb.Attributes&7 != int16(codec) || rb.NumRecords != int32(len(recs)) || rb.LastOffsetDelta != int32(len(recs)-1) {
				t.Fatalf("kmsg: attributes %#x records %d last delta %d", rb.Attributes, rb.NumRecords, rb.LastOffsetDelta)
			}
			if rb.ProducerID != 12 || rb.ProducerEpoch != 2 || rb.FirstSequence != 100 {
				t.Fatalf("kmsg producer %d/%d/%d", rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence)
			}
			if rb.FirstTimestamp != recs[0].Timestamp || rb.MaxTimestamp != 1_700_000_001_299 {
				t.Fatalf("kmsg timestamps first %d max %d", rb.FirstTimestamp, rb.MaxTimestamp)
			}
			raw, err := kgo.DefaultDecompressor().Decompress(rb.Records, kgo.CompressionCodecType(codec))
			if err != nil {
				t.Fatalf("franz-go cannot decompress %s records: %v", codec, err)
			}
			got := kmsgRecords(t, raw, rb)
			if err := diffRecords(recs, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// kmsgRecords decodes a records section with kmsg.Record, splitting it by the
// records' length prefixes.
func kmsgRecords(t *testing.T, raw []byte, rb kmsg.RecordBatch) []testRecord {
	t.Helper()
	var out []testRecord
	for i := range int(rb.NumRecords) {
		length, n := binary.Varint(raw)
		if n <= 0 || int(length) > len(raw)-n {
			t.Fatalf("record %d: bad length prefix", i)
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(raw[:n+int(length)]); err != nil {
			t.Fatalf("record %d: kmsg ReadFrom: %v", i, err)
		}
		raw = raw[n+int(length):]
		if kr.OffsetDelta != int32(i) {
			t.Fatalf("record %d: offset delta %d", i, kr.OffsetDelta)
		}
		tr := testRecord{Offset: int64(kr.OffsetDelta), Timestamp: rb.FirstTimestamp + kr.TimestampDelta64, Key: kr.Key, Value: kr.Value}
		for _, h := range kr.Headers {
			tr.Headers = append(tr.Headers, Header{Key: []byte(h.Key), Value: h.Value})
		}
		out = append(out, tr)
	}
	if len(raw) != 0 {
		t.Fatalf("%d bytes after the records", len(raw))
	}
	return out
}

// franzBatch encodes recs the way franz-go's producer does: kmsg records,
// compressed by franz-go's default compressor, in a kmsg.RecordBatch.
func franzBatch(t *testing.T, codec Compression, recs []testRecord) []byte {
	t.Helper()
	var raw []byte
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.Timestamp - recs[0].Timestamp, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: string(h.Key), Value: h.Value})
		}
		body := kr.AppendTo(nil) // Length 0 encodes as one byte
		kr.Length = int32(len(body) - 1)
		raw = kr.AppendTo(raw)
	}
	records := raw
	if codec != None {
		var kc kgo.CompressionCodec
		switch codec {
		case Gzip:
			kc = kgo.GzipCompression()
		case Snappy:
			kc = kgo.SnappyCompression()
		case LZ4:
			kc = kgo.Lz4Compression()
		case Zstd:
			kc = kgo.ZstdCompression()
		}
		comp, err := kgo.DefaultCompressor(kc)
		if err != nil {
			t.Fatal(err)
		}
		out, used := comp.Compress(new(bytes.Buffer), raw)
		if used != kgo.CompressionCodecType(codec) {
			t.Fatalf("franz-go compressed with codec %d, want %d", used, codec)
		}
		if len(out) >= len(raw) {
			t.Fatalf("franz-go %s output %d bytes for %d: the records do not exercise the codec", codec, len(out), len(raw))
		}
		records = bytes.Clone(out)
	}
	maxTS := recs[0].Timestamp
	for _, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
	}
	rb := kmsg.RecordBatch{
		FirstOffset: 0, Length: int32(49 + len(records)), PartitionLeaderEpoch: -1, Magic: 2,
		Attributes: int16(codec), LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: recs[0].Timestamp, MaxTimestamp: maxTS,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: records,
	}
	enc := rb.AppendTo(nil)
	rb.CRC = int32(crc32.Checksum(enc[21:], castagnoli))
	return rb.AppendTo(nil)
}

func TestSpateReadsFranzGoBatches(t *testing.T) {
	recs := interopRecords()
	for _, codec := range allCodecs {
		t.Run("codec="+codec.String(), func(t *testing.T) {
			b, err := Parse(franzBatch(t, codec, recs))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := b.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if b.Compression() != codec || int(b.RecordCount()) != len(recs) {
				t.Fatalf("codec %s count %d", b.Compression(), b.RecordCount())
			}
			got, err := readAll(b)
			if err != nil {
				t.Fatalf("iterating a franz-go %s batch: %v", codec, err)
			}
			if err := diffRecords(recs, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Kafka's Java producer frames snappy with xerial's stream format; the reader
// must take it as well as the raw block Spate and franz-go write.
func TestReadsXerialSnappy(t *testing.T) {
	recs := interopRecords()
	raw := franzBatch(t, None, recs)[HeaderSize:]
	if len(raw) <= 32<<10 {
		t.Fatalf("records are %d bytes: the test needs several xerial blocks", len(raw))
	}
	b := xerialBatch(int32(len(recs)), recs[0].Timestamp, raw)
	framed := b.Records()
	got, err := readAll(b)
	if err != nil {
		t.Fatalf("xerial snappy: %v", err)
	}
	if err := diffRecords(recs, got); err != nil {
		t.Fatal(err)
	}
	if _, err := kgo.DefaultDecompressor().Decompress(framed, kgo.CodecSnappy); err != nil {
		t.Fatalf("franz-go rejects the test's xerial framing, so the test is wrong: %v", err)
	}
}

// xerialBatch wraps uncompressed records in a snappy batch framed the way the
// Java producer frames it.
func xerialBatch(count int32, baseTimestamp int64, records []byte) Batch {
	framed := append([]byte{}, xerialMagic...)
	framed = binary.BigEndian.AppendUint32(framed, 1)  // version
	framed = binary.BigEndian.AppendUint32(framed, 1)  // minimum compatible version
	for chunk := range slices.Chunk(records, 32<<10) { // the Java writer's block size
		block := snappy.Encode(nil, chunk)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
		framed = append(framed, block...)
	}
	b := rawBatch(count, framed)
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(Snappy))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(baseTimestamp))
	reseal(b)
	return b
}
