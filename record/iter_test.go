package record

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// rawBatch frames hand-written records as an uncompressed batch with a valid
// CRC, so that only the records can be wrong.
func rawBatch(count int32, records []byte) Batch {
	b := make([]byte, HeaderSize, HeaderSize+len(records))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint32(b[offPartitionLeaderEpoch:], 0xffffffff)
	b[offMagic] = Magic
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(count-1))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
	reseal(b)
	return Batch(b)
}

// rec encodes one record from already-encoded fields, prefixing their length.
func rec(fields ...[]byte) []byte {
	var body []byte
	for _, f := range fields {
		body = append(body, f...)
	}
	return append(AppendVarint(nil, int32(len(body))), body...)
}

func vi(v int32) []byte { return AppendVarint(nil, v) }

func TestIterRejectsMalformedRecords(t *testing.T) {
	attr, ts0 := []byte{0}, AppendVarlong(nil, 0)
	good := func(delta int32) []byte { return rec(attr, ts0, vi(delta), vi(-1), vi(1), []byte("v"), vi(0)) }
	tests := []struct {
		name    string
		count   int32
		records []byte
		want    string
	}{
		{"fewer records than the count", 2, good(0), "record 1: length"},
		{"more records than the count", 1, append(good(0), good(1)...), "bytes after the 1 records"},
		{"record length beyond the batch", 1, append(vi(100), 0, 0, 0), "length 100 with 3 bytes left"},
		{"negative record length", 1, append(vi(-3), 0), "length -3"},
		{"zero record length", 1, vi(0), "length 0"},
		{"key length beyond the record", 1, rec(attr, ts0, vi(0), vi(50), []byte("k")), "length 50 with 1 bytes left"},
		{"key length below -1", 1, rec(attr, ts0, vi(0), vi(-2), vi(-1), vi(0)), "length -2"},
		{"varint overflow", 1, rec(attr, ts0, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), "longer than 5 bytes"},
		{"varlong overflow", 1, rec(attr, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), "overflows 64 bits"},
		{"negative header count", 1, rec(attr, ts0, vi(0), vi(-1), vi(-1), vi(-1)), "header count -1"},
		{"header count beyond the bytes", 1, rec(attr, ts0, vi(0), vi(-1), vi(-1), vi(1_000_000), []byte{0, 0}), "header count 1000000"},
		{"null header key", 1, rec(attr, ts0, vi(0), vi(-1), vi(-1), vi(1), vi(-1), vi(-1)), "null key"},
		{"header value beyond the record", 1, rec(attr, ts0, vi(0), vi(-1), vi(-1), vi(1), vi(0), vi(9)), "header 0: length 9"},
		{"bytes left inside a record", 1, rec(attr, ts0, vi(0), vi(-1), vi(-1), vi(0), []byte{7}), "1 bytes left inside"},
		{"offset delta repeats", 2, append(good(0), good(0)...), "offset delta 0 after 0"},
		{"offset delta beyond last", 1, good(1), "offset delta 1 after -1"},
		{"negative offset delta", 1, good(-1), "offset delta -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := rawBatch(tt.count, tt.records)
			if _, err := Parse(b); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err := readAll(b)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func TestIterRejectsBadCompression(t *testing.T) {
	for _, codec := range []Compression{Gzip, Snappy, LZ4, Zstd, 5, 7} {
		b := rawBatch(1, []byte("this is not compressed data at all"))
		binary.BigEndian.PutUint16(b[offAttributes:], uint16(codec))
		reseal(b)
		_, err := readAll(b)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("codec %s over garbage: error %v, want ErrCorrupt", codec, err)
		}
	}
}

func TestIterNegativeCount(t *testing.T) {
	b := rawBatch(1, nil)
	binary.BigEndian.PutUint32(b[offRecordCount:], 0x80000000)
	var it Iter
	if err := it.Reset(b); !errors.Is(err, ErrCorrupt) || it.Next() || !errors.Is(it.Err(), ErrCorrupt) {
		t.Fatalf("negative count: Reset %v, Err %v; want ErrCorrupt from both and no records", err, it.Err())
	}
}

// The zero Iter yields nothing, and a reused Iter forgets the previous batch.
func TestIterReuse(t *testing.T) {
	var it Iter
	if it.Next() || it.Err() != nil {
		t.Fatalf("zero Iter: Next true or Err %v", it.Err())
	}
	bad := rawBatch(1, vi(0))
	if err := it.Reset(bad); err != nil {
		t.Fatal(err)
	}
	if it.Next() || it.Err() == nil {
		t.Fatal("malformed batch iterated without error")
	}
	good := build(t, Options{Compression: Zstd}, []testRecord{{Timestamp: 1, Value: []byte("x")}})
	if err := it.Reset(good); err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Record().Value) != "x" || it.Next() || it.Err() != nil {
		t.Fatalf("reused Iter: err %v", it.Err())
	}
}

func TestParse(t *testing.T) {
	b := build(t, Options{}, []testRecord{{Timestamp: 1, Value: []byte("v")}})
	if _, err := Parse(b[:HeaderSize-1]); !errors.Is(err, ErrShort) {
		t.Errorf("short header: %v", err)
	}
	if _, err := Parse(b[:len(b)-1]); !errors.Is(err, ErrShort) {
		t.Errorf("short records: %v", err)
	}
	bad := append(Batch{}, b...)
	bad[offMagic] = 1
	if _, err := Parse(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("magic 1: %v", err)
	}
	bad = append(Batch{}, b...)
	binary.BigEndian.PutUint32(bad[offBatchLength:], 10)
	if _, err := Parse(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("length below the header: %v", err)
	}
}

// TestIterLongFields: a batch whose later records need three-byte varints
// (offset deltas from 8192, timestamp deltas past 8 s, values of 8 KiB and
// more) and mixes header-less records, which decodeFast takes, with
// headered ones, which go to decode, reads back exactly as built.
func TestIterLongFields(t *testing.T) {
	const n = 10_000
	recs := make([]testRecord, n)
	for i := range recs {
		r := testRecord{Offset: int64(i), Timestamp: 1_700_000_000_000 + int64(i)*37, Value: []byte{byte(i)}}
		switch i % 7 {
		case 0:
			r.Key = []byte("key")
		case 3:
			r.Headers = []Header{{Key: []byte("h"), Value: []byte{byte(i)}}}
		}
		if i%1000 == 999 {
			r.Value = make([]byte, 9000+i)
		}
		recs[i] = r
	}
	for _, codec := range []Compression{None, LZ4} {
		got, err := readAll(build(t, Options{Compression: codec}, recs))
		if err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		if err := diffRecords(recs, got); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
	}
}
