package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var allCodecs = []Compression{None, Gzip, Snappy, LZ4, Zstd}

// testRecord is an owned copy of a Record, for comparing after the batch or
// iterator that produced it is gone.
type testRecord struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
}

func cloneBytes(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func ownRecord(r *Record) testRecord {
	tr := testRecord{Offset: r.Offset, Timestamp: r.Timestamp, Key: cloneBytes(r.Key), Value: cloneBytes(r.Value)}
	for _, h := range r.Headers {
		tr.Headers = append(tr.Headers, Header{Key: cloneBytes(h.Key), Value: cloneBytes(h.Value)})
	}
	return tr
}

// sameBytes compares byte strings where nil (null) and empty differ.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func diffRecords(want, got []testRecord) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := &want[i], &got[i]
		if w.Offset != g.Offset || w.Timestamp != g.Timestamp {
			return fmt.Errorf("record %d: offset %d timestamp %d, want %d %d", i, g.Offset, g.Timestamp, w.Offset, w.Timestamp)
		}
		if !sameBytes(w.Key, g.Key) || !sameBytes(w.Value, g.Value) {
			return fmt.Errorf("record %d: key %q value %.40q (nil %v %v), want %q %.40q (nil %v %v)", i,
				g.Key, g.Value, g.Key == nil, g.Value == nil, w.Key, w.Value, w.Key == nil, w.Value == nil)
		}
		if len(w.Headers) != len(g.Headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range w.Headers {
			wh, gh := w.Headers[j], g.Headers[j]
			// A nil header key is written as an empty one: keys are not nullable.
			if !bytes.Equal(wh.Key, gh.Key) || gh.Key == nil || !sameBytes(wh.Value, gh.Value) {
				return fmt.Errorf("record %d header %d: %q=%q, want %q=%q", i, j, gh.Key, gh.Value, wh.Key, wh.Value)
			}
		}
	}
	return nil
}

func build(t testing.TB, opts Options, recs []testRecord) Batch {
	t.Helper()
	var bd Builder
	bd.Reset(nil, opts)
	for i := range recs {
		r := &recs[i]
		bd.Append(r.Timestamp, r.Key, r.Value, r.Headers)
	}
	raw, err := bd.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	b, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse of a built batch: %v", err)
	}
	if len(b) != len(raw) {
		t.Fatalf("Parse framed %d of %d bytes", len(b), len(raw))
	}
	if err := b.Validate(); err != nil {
		t.Fatalf("Validate of a built batch: %v", err)
	}
	return b
}

func readAll(b Batch) ([]testRecord, error) {
	var it Iter
	if err := it.Reset(b); err != nil {
		return nil, err
	}
	var out []testRecord
	for it.Next() {
		out = append(out, ownRecord(it.Record()))
	}
	return out, it.Err()
}

// reseal recomputes the CRC of a batch edited in a test.
func reseal(b []byte) {
	binary.BigEndian.PutUint32(b[offCRC:], Checksum(b[offAttributes:]))
}

func textValue(rng *rand.Rand, n int) []byte {
	const alphabet = "abcdefghijklmnop"
	v := make([]byte, n)
	for i := range v {
		v[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return v
}

// shapes are record sets that exercise the encodings' corners.
func shapes() map[string][]testRecord {
	rng := rand.New(rand.NewPCG(1, 2))
	randomBig := make([]byte, 1<<20)
	for i := range randomBig {
		randomBig[i] = byte(rng.Uint32())
	}
	many := make([]testRecord, 5000)
	for i := range many {
		many[i] = testRecord{Timestamp: 1_700_000_000_000 + int64(i%7), Key: []byte(fmt.Sprint("k", i)), Value: textValue(rng, 100)}
	}
	return map[string][]testRecord{
		"null key and value":   {{Timestamp: 5}},
		"empty key and value":  {{Timestamp: 5, Key: []byte{}, Value: []byte{}}},
		"null key empty value": {{Timestamp: 5, Value: []byte{}}, {Timestamp: 6, Key: []byte{}}},
		"headers": {{
			Timestamp: 1_700_000_000_000, Key: []byte("k"), Value: []byte("v"),
			Headers: []Header{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("null"), Value: nil},
				{Key: []byte("empty"), Value: []byte{}}, {Key: []byte{}, Value: []byte("empty key")}},
		}, {Timestamp: 1_700_000_000_001, Headers: []Header{}}},
		"timestamps out of order": {{Timestamp: 100}, {Timestamp: -50}, {Timestamp: math.MaxInt32 * 4}, {Timestamp: 99}},
		"random 1MiB value":       {{Timestamp: 1, Key: []byte("big"), Value: randomBig}},
		"text 1MiB value":         {{Timestamp: 1, Value: textValue(rng, 1<<20)}, {Timestamp: 2, Value: []byte("small")}},
		"many":                    many,
	}
}

func TestRoundTrip(t *testing.T) {
	for name, recs := range shapes() {
		for _, codec := range allCodecs {
			t.Run(fmt.Sprintf("shape=%s/codec=%s", name, codec), func(t *testing.T) {
				b := build(t, Options{Compression: codec}, recs)
				if got := b.Compression(); got != codec {
					t.Fatalf("Compression() = %s, want %s", got, codec)
				}
				if int(b.RecordCount()) != len(recs) || int(b.LastOffsetDelta()) != len(recs)-1 {
					t.Fatalf("count %d last delta %d for %d records", b.RecordCount(), b.LastOffsetDelta(), len(recs))
				}
				maxTS := int64(math.MinInt64)
				want := make([]testRecord, len(recs))
				for i, r := range recs {
					maxTS = max(maxTS, r.Timestamp)
					want[i] = r
					want[i].Offset = int64(i)
				}
				if b.BaseTimestamp() != recs[0].Timestamp || b.MaxTimestamp() != maxTS {
					t.Fatalf("base/max timestamp %d/%d, want %d/%d", b.BaseTimestamp(), b.MaxTimestamp(), recs[0].Timestamp, maxTS)
				}
				got, err := readAll(b)
				if err != nil {
					t.Fatalf("iterating: %v", err)
				}
				if err := diffRecords(want, got); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestBuilderOptions(t *testing.T) {
	recs := []testRecord{{Timestamp: 1000, Value: []byte("a")}, {Timestamp: 3000, Value: []byte("b")}}
	t.Run("defaults", func(t *testing.T) {
		b := build(t, Options{}, recs)
		if b.ProducerID() != -1 || b.ProducerEpoch() != -1 || b.BaseSequence() != -1 {
			t.Fatalf("producer %d/%d/%d, want -1/-1/-1", b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
		}
		if b.PartitionLeaderEpoch() != -1 || b.BaseOffset() != 0 || b.Attributes() != 0 {
			t.Fatalf("leader epoch %d base offset %d attributes %#x, want -1 0 0", b.PartitionLeaderEpoch(), b.BaseOffset(), b.Attributes())
		}
	})
	t.Run("producer and flags", func(t *testing.T) {
		b := build(t, Options{Compression: LZ4, HasProducer: true, ProducerID: 77, ProducerEpoch: 3, BaseSequence: 41,
			Transactional: true, Control: true}, recs)
		if b.ProducerID() != 77 || b.ProducerEpoch() != 3 || b.BaseSequence() != 41 {
			t.Fatalf("producer %d/%d/%d, want 77/3/41", b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
		}
		if !b.IsTransactional() || !b.IsControl() || b.Compression() != LZ4 {
			t.Fatalf("attributes %#x, want transactional, control and lz4", b.Attributes())
		}
	})
	t.Run("sequence set after the records", func(t *testing.T) {
		var bd Builder
		bd.Reset(nil, Options{HasProducer: true, ProducerID: 5, ProducerEpoch: 1, BaseSequence: 0})
		bd.Append(1000, nil, []byte("a"), nil)
		bd.SetProducerSequence(2, 300)
		raw, err := bd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("Validate after SetProducerSequence: %v", err)
		}
		if b.ProducerID() != 5 || b.ProducerEpoch() != 2 || b.BaseSequence() != 300 {
			t.Fatalf("producer %d/%d/%d, want 5/2/300", b.ProducerID(), b.ProducerEpoch(), b.BaseSequence())
		}
	})
	t.Run("base timestamp", func(t *testing.T) {
		b := build(t, Options{UseBaseTimestamp: true, BaseTimestamp: 500}, recs)
		got, err := readAll(b)
		if err != nil {
			t.Fatal(err)
		}
		if b.BaseTimestamp() != 500 || got[0].Timestamp != 1000 || got[1].Timestamp != 3000 {
			t.Fatalf("base %d, timestamps %d %d; want 500, 1000 3000", b.BaseTimestamp(), got[0].Timestamp, got[1].Timestamp)
		}
	})
	t.Run("log append time", func(t *testing.T) {
		b := build(t, Options{TimestampType: LogAppendTime, AppendTime: 9999}, recs)
		got, err := readAll(b)
		if err != nil {
			t.Fatal(err)
		}
		if b.Attributes()&AttrTimestampLogAppend == 0 || b.MaxTimestamp() != 9999 {
			t.Fatalf("attributes %#x max timestamp %d, want log append time 9999", b.Attributes(), b.MaxTimestamp())
		}
		for _, r := range got {
			if r.Timestamp != 9999 {
				t.Fatalf("record timestamp %d under LogAppendTime, want the batch's 9999", r.Timestamp)
			}
		}
	})
}

func TestBuilderReuseAppendsAfterExistingBytes(t *testing.T) {
	var bd Builder
	buf := []byte("prefix")
	for i, codec := range allCodecs {
		bd.Reset(buf, Options{Compression: codec})
		bd.Append(int64(i), nil, []byte(fmt.Sprint("batch", i)), nil)
		var err error
		if buf, err = bd.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.HasPrefix(buf, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", buf[:6])
	}
	rest := buf[6:]
	for i, codec := range allCodecs {
		b, err := Parse(rest)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		got, err := readAll(b)
		if err != nil || len(got) != 1 || string(got[0].Value) != fmt.Sprint("batch", i) || b.Compression() != codec {
			t.Fatalf("batch %d: %v records, err %v, codec %s", i, got, err, b.Compression())
		}
		rest = rest[b.Size():]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes after the last batch", len(rest))
	}
}

func TestBuilderErrors(t *testing.T) {
	var bd Builder
	if _, err := bd.Finish(); !errors.Is(err, ErrBuilder) {
		t.Fatalf("Finish without Reset: %v", err)
	}
	bd.Reset([]byte("keep"), Options{})
	out, err := bd.Finish()
	if !errors.Is(err, ErrBuilder) || string(out) != "keep" {
		t.Fatalf("empty batch: %q, %v; want the buffer back and ErrBuilder", out, err)
	}
	bd.Append(1, nil, nil, nil)
	if _, err := bd.Finish(); !errors.Is(err, ErrBuilder) {
		t.Fatalf("Append after Finish: %v", err)
	}
	bd.Reset(nil, Options{Compression: 6})
	bd.Append(1, nil, nil, nil)
	if _, err := bd.Finish(); !errors.Is(err, ErrBuilder) {
		t.Fatalf("unknown codec: %v", err)
	}
}

// Every single-bit flip in the CRC-covered range [attributes, end) and in the
// CRC itself must fail Validate.
func TestValidateCatchesEveryBitFlip(t *testing.T) {
	recs := []testRecord{{Timestamp: 7, Key: []byte("key"), Value: []byte("value"), Headers: []Header{{Key: []byte("h"), Value: []byte("v")}}},
		{Timestamp: 8, Value: []byte("second")}}
	for _, codec := range allCodecs {
		t.Run("codec="+codec.String(), func(t *testing.T) {
			b := build(t, Options{Compression: codec}, recs)
			for i := offCRC; i < len(b); i++ {
				for bit := range 8 {
					b[i] ^= 1 << bit
					err := b.Validate()
					b[i] ^= 1 << bit
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("flip of bit %d at byte %d: Validate = %v, want ErrCorrupt", bit, i, err)
					}
				}
			}
			if err := b.Validate(); err != nil {
				t.Fatalf("after restoring every bit: %v", err)
			}
		})
	}
}

// The broker stamps base offset and leader epoch in place; the CRC does not
// cover them, so the batch must stay valid and its records move to the new offsets.
func TestStampingKeepsBatchValid(t *testing.T) {
	recs := []testRecord{{Timestamp: 1, Value: []byte("a")}, {Timestamp: 2, Value: []byte("b")}, {Timestamp: 3, Value: []byte("c")}}
	for _, codec := range allCodecs {
		b := build(t, Options{Compression: codec}, recs)
		crc := b.CRC()
		for _, base := range []int64{0, 1, 1 << 40, math.MaxInt64 - 2} {
			b.SetBaseOffset(base)
			b.SetPartitionLeaderEpoch(int32(base))
			if err := b.Validate(); err != nil {
				t.Fatalf("%s: after stamping offset %d: %v", codec, base, err)
			}
			if b.CRC() != crc || b.BaseOffset() != base || b.PartitionLeaderEpoch() != int32(base) || b.NextOffset() != base+3 {
				t.Fatalf("%s: stamp %d: crc %#x (was %#x) base %d epoch %d next %d", codec, base, b.CRC(), crc, b.BaseOffset(), b.PartitionLeaderEpoch(), b.NextOffset())
			}
			got, err := readAll(b)
			if err != nil {
				t.Fatalf("%s: %v", codec, err)
			}
			for i, r := range got {
				if r.Offset != base+int64(i) {
					t.Fatalf("%s: record %d at offset %d, want %d", codec, i, r.Offset, base+int64(i))
				}
			}
		}
	}
}
