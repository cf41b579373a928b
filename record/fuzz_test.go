package record

import (
	"errors"
	"testing"
)

// FuzzBatch feeds arbitrary bytes to Parse, Validate and Iter. None may panic;
// each error must be ErrShort or ErrCorrupt. A batch that iterates cleanly
// and validates once its CRC is recomputed (so that mutations of the records
// reach the round trip instead of dying at the CRC) must round-trip through
// Builder to the same records.
func FuzzBatch(f *testing.F) {
	recs := []testRecord{
		{Timestamp: 1_700_000_000_000, Key: []byte("k"), Value: []byte("value"),
			Headers: []Header{{Key: []byte("h"), Value: []byte("v")}, {Key: []byte("n")}}},
		{Timestamp: 1_699_999_999_999, Value: []byte{}},
		{Timestamp: 1_700_000_000_100, Key: []byte{}},
	}
	for _, codec := range allCodecs {
		b := build(f, Options{Compression: codec}, recs)
		f.Add([]byte(b))
		truncated := append([]byte{}, b[:len(b)-3]...)
		f.Add(truncated)
		flipped := append([]byte{}, b...)
		flipped[len(flipped)/2] ^= 0x10
		f.Add(flipped)
	}
	f.Add([]byte(build(f, Options{TimestampType: LogAppendTime, AppendTime: 42, HasProducer: true, ProducerID: 1}, recs)))
	f.Add([]byte(rawBatch(1, rec([]byte{0}, AppendVarlong(nil, 0), vi(0), vi(-2)))))
	f.Add([]byte(rawBatch(2, nil)))
	var plain []byte
	for i, r := range recs {
		plain = appendRecord(plain, int32(recordBodySize(r.Timestamp, int32(i), r.Key, r.Value, r.Headers)),
			r.Timestamp, int32(i), r.Key, r.Value, r.Headers)
	}
	f.Add([]byte(xerialBatch(int32(len(recs)), 0, plain)))
	f.Add(make([]byte, HeaderSize))

	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Parse error %v is neither ErrShort nor ErrCorrupt", err)
			}
			return
		}
		if err := b.Validate(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Validate error %v is not ErrCorrupt", err)
		}
		got, err := readAll(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("iteration error %v is not ErrCorrupt", err)
			}
			return
		}
		sealed := append(Batch{}, b...)
		reseal(sealed)
		if sealed.Validate() != nil {
			return
		}
		rebuilt := build(t, optionsOf(b), got)
		rebuilt.SetBaseOffset(b.BaseOffset())
		again, err := readAll(rebuilt)
		if err != nil {
			t.Fatalf("rebuilt batch does not iterate: %v", err)
		}
		if err := diffRecords(got, again); err != nil {
			t.Fatalf("round trip through Builder: %v", err)
		}
	})
}

// optionsOf returns the Options that rebuild b's header.
func optionsOf(b Batch) Options {
	o := Options{
		Compression:      b.Compression(),
		UseBaseTimestamp: true,
		BaseTimestamp:    b.BaseTimestamp(),
		HasProducer:      true,
		ProducerID:       b.ProducerID(),
		ProducerEpoch:    b.ProducerEpoch(),
		BaseSequence:     b.BaseSequence(),
		Transactional:    b.IsTransactional(),
		Control:          b.IsControl(),
	}
	if b.Attributes()&AttrTimestampLogAppend != 0 {
		o.TimestampType, o.AppendTime = LogAppendTime, b.MaxTimestamp()
	}
	return o
}

// FuzzDecodeFast: on any record bytes, decodeFast either declines, leaving
// the Iter as it was, or decodes exactly what decode decodes from them.
func FuzzDecodeFast(f *testing.F) {
	for _, r := range []testRecord{
		{Timestamp: 1_700_000_000_000, Value: make([]byte, 100)},
		{Timestamp: 1_700_000_000_001, Key: []byte("key"), Value: make([]byte, 5000)},
		{Timestamp: 1_699_999_999_000, Key: []byte{}},
		{Timestamp: 1_700_000_000_000, Value: []byte("v"), Headers: []Header{{Key: []byte("h")}}},
	} {
		f.Add(appendRecord(nil, int32(recordBodySize(r.Timestamp-1_700_000_000_000, 1, r.Key, r.Value, r.Headers)),
			r.Timestamp-1_700_000_000_000, 1, r.Key, r.Value, r.Headers), int32(0), false)
	}
	header := build(f, Options{BaseTimestamp: 1_700_000_000_000, UseBaseTimestamp: true},
		[]testRecord{{Timestamp: 1_700_000_000_000}, {Timestamp: 1_700_000_000_000}, {Timestamp: 1_700_000_000_000}})
	f.Fuzz(func(t *testing.T, data []byte, lastDelta int32, appendTime bool) {
		lastDelta = max(-1, min(lastDelta, 2))
		var fast, slow Iter
		for _, it := range []*Iter{&fast, &slow} {
			if err := it.Reset(header); err != nil {
				t.Fatal(err)
			}
			it.data, it.lastDelta, it.appendTime = data, lastDelta, appendTime
		}
		if !fast.decodeFast() {
			if len(fast.data) != len(data) || fast.lastDelta != lastDelta {
				t.Fatalf("decodeFast declined but moved the Iter: %d of %d bytes left, last delta %d", len(fast.data), len(data), fast.lastDelta)
			}
			return
		}
		if err := slow.decode(); err != nil {
			t.Fatalf("decodeFast accepted a record decode rejects: %v", err)
		}
		a, b := fast.rec, slow.rec
		if a.Offset != b.Offset || a.Timestamp != b.Timestamp || !sameBytes(a.Key, b.Key) || !sameBytes(a.Value, b.Value) ||
			len(a.Headers) != len(b.Headers) || len(fast.data) != len(slow.data) || fast.lastDelta != slow.lastDelta {
			t.Fatalf("decodeFast %+v (%d bytes left) != decode %+v (%d bytes left)", a, len(fast.data), b, len(slow.data))
		}
	})
}
