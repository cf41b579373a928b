package record

import (
	"errors"
	"fmt"
)

// Record is one decoded record. Key, Value and Headers alias the batch (or
// the iterator's decompression buffer); Headers is also reused by the next
// call to Next. Copy what must outlive that. A nil Key or Value is a null
// one; an empty non-nil one is empty.
type Record struct {
	Offset    int64 // the batch's base offset plus the record's offset delta
	Timestamp int64 // milliseconds; the batch's MaxTimestamp under LogAppendTime
	Key       []byte
	Value     []byte
	Headers   []Header
}

// Iter walks the records of one batch:
//
//	var it record.Iter
//	if err := it.Reset(batch); err != nil { ... }
//	for it.Next() {
//		r := it.Record()
//	}
//	if err := it.Err(); err != nil { ... }
//
// It checks every length against the bytes that remain, so malformed input
// yields an error wrapping ErrCorrupt, never a panic or an out-of-bounds read.
// It does not check the CRC: call Batch.Validate for that. The zero value is
// ready for Reset; reusing one Iter across batches reuses its decompression
// buffer and header slice, so uncompressed iteration allocates nothing.
type Iter struct {
	batch      Batch
	data       []byte // records not yet decoded
	buf        []byte // decompression buffer, owned and reused by the Iter
	headers    []Header
	rec        Record
	index      int32 // records decoded so far
	count      int32 // records the header declares
	lastDelta  int32 // offset delta of the previous record
	appendTime bool
	err        error
	// Header fields every record needs, read once by Reset.
	baseOffset, baseTimestamp, maxTimestamp int64
	lastOffsetDelta                         int32
}

// Reset points the iterator at b, decompressing its records section if it is
// compressed. The batch must stay unchanged while its records are used. Reset
// returns (and Err later reports) an error wrapping ErrCorrupt when the codec
// is unknown, the records do not decompress, or the header's count is
// negative.
func (it *Iter) Reset(b Batch) error {
	*it = Iter{buf: it.buf[:0], headers: it.headers[:0], batch: b, lastDelta: -1,
		baseOffset: b.BaseOffset(), baseTimestamp: b.BaseTimestamp(), maxTimestamp: b.MaxTimestamp(),
		lastOffsetDelta: b.LastOffsetDelta()}
	it.count = b.RecordCount()
	it.appendTime = b.Attributes()&AttrTimestampLogAppend != 0
	if it.count < 0 {
		it.err = it.corrupt(fmt.Errorf("record count %d", it.count))
		return it.err
	}
	c := b.Compression()
	if c == None {
		it.data = b.Records()
		return nil
	}
	if !c.Valid() {
		it.err = it.corrupt(fmt.Errorf("unknown compression %d", int8(c)))
		return it.err
	}
	var err error
	it.buf, err = appendDecompressed(it.buf[:0], b.Records(), c)
	if err != nil {
		it.err = it.corrupt(fmt.Errorf("%s records do not decompress: %w", c, err))
		return it.err
	}
	it.data = it.buf
	return nil
}

// Next decodes the next record and reports whether there is one. It returns
// false at the end of the batch or on the first error; Err tells them apart.
func (it *Iter) Next() bool {
	if it.err != nil || it.batch == nil {
		return false
	}
	if it.index == it.count {
		if len(it.data) != 0 {
			it.err = it.corrupt(fmt.Errorf("%d bytes after the %d records the header declares", len(it.data), it.count))
		}
		return false
	}
	if !it.decodeFast() {
		if err := it.decode(); err != nil {
			it.err = it.corrupt(fmt.Errorf("record %d: %w", it.index, err))
			return false
		}
	}
	it.index++
	return true
}

// Record returns the record Next decoded. It is overwritten by the next call
// to Next.
func (it *Iter) Record() *Record { return &it.rec }

// Err returns the error that stopped iteration, or nil after a clean end.
func (it *Iter) Err() error { return it.err }

func (it *Iter) corrupt(err error) error {
	return fmt.Errorf("%w: batch at base offset %d: %w", ErrCorrupt, it.batch.BaseOffset(), err)
}

var errFieldLength = errors.New("field length out of range")

// decodeFast reads one record from it.data into it.rec when it has no
// headers and is well formed, which is the common case, and reports
// whether it did. Otherwise it leaves the Iter untouched and decode, which
// handles headers and names what is wrong, takes the record. It accepts
// exactly what decode accepts: the same checks, done on indexes into one
// slice instead of through fieldReader, which cost a call and a sticky
// error test per field (the iterator was about half of a consumer's CPU).
func (it *Iter) decodeFast() bool {
	b := it.data
	u, i := uvarintAt(b, 0, MaxVarintLen)
	length := zigzag32(u)
	if i < 0 || length < 1 || int(length) > len(b)-i {
		return false
	}
	end := i + int(length)
	b = b[:end]
	// A header count of zero is the record's last byte; checking it here
	// saves decoding it, and bounds the fields before it to b[:end-1].
	if b[end-1] != 0 {
		return false
	}
	b = b[:end-1]
	u, i = uvarintAt(b, i+1, MaxVarlongLen) // skip the unused attributes byte
	tsDelta := zigzag64(u)
	u, i = uvarintAt(b, i, MaxVarintLen)
	offsetDelta := zigzag32(u)
	// The key, then the value: a varint length (-1 for null) and the bytes,
	// capped so an append by the caller cannot overwrite what follows.
	var kv [2][]byte
	for f := range kv {
		u, i = uvarintAt(b, i, MaxVarintLen)
		n := zigzag32(u)
		if i < 0 || n < -1 || int(n) > len(b)-i {
			return false
		}
		if n >= 0 {
			kv[f] = b[i : i+int(n) : i+int(n)]
			i += int(n)
		}
	}
	if i != end-1 || offsetDelta <= it.lastDelta || offsetDelta > it.lastOffsetDelta {
		return false
	}
	it.data = it.data[end:]
	it.lastDelta = offsetDelta
	ts := it.baseTimestamp + tsDelta
	if it.appendTime {
		ts = it.maxTimestamp
	}
	it.rec = Record{
		Offset:    it.baseOffset + int64(offsetDelta),
		Timestamp: ts,
		Key:       kv[0],
		Value:     kv[1],
		Headers:   it.headers[:0],
	}
	return true
}

// decode reads one record from it.data into it.rec.
func (it *Iter) decode() error {
	length, n, err := Varint(it.data)
	if err != nil {
		return fmt.Errorf("length: %w", err)
	}
	if length < 1 || int(length) > len(it.data)-n {
		return fmt.Errorf("length %d with %d bytes left: %w", length, len(it.data)-n, errFieldLength)
	}
	r := fieldReader{b: it.data[n+1 : n+int(length)]} // skip the unused attributes byte
	it.data = it.data[n+int(length):]

	tsDelta := r.varlong()
	offsetDelta := r.varint()
	key := r.nullableBytes()
	value := r.nullableBytes()
	headerCount := r.varint()
	if r.err != nil {
		return r.err
	}
	// Each header takes at least two bytes, so a count beyond half the bytes
	// left is a lie; checking first bounds the header slice's growth.
	if headerCount < 0 || int(headerCount) > len(r.b)/2 {
		return fmt.Errorf("header count %d with %d bytes left: %w", headerCount, len(r.b), errFieldLength)
	}
	headers := it.headers[:0]
	for range headerCount {
		hk := r.nullableBytes()
		hv := r.nullableBytes()
		if r.err != nil {
			return fmt.Errorf("header %d: %w", len(headers), r.err)
		}
		if hk == nil {
			return fmt.Errorf("header %d: null key: %w", len(headers), errFieldLength)
		}
		headers = append(headers, Header{Key: hk, Value: hv})
	}
	it.headers = headers
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes left inside the record's length %d: %w", len(r.b), length, errFieldLength)
	}
	if offsetDelta <= it.lastDelta || offsetDelta > it.batch.LastOffsetDelta() {
		return fmt.Errorf("offset delta %d after %d, last offset delta %d: %w",
			offsetDelta, it.lastDelta, it.batch.LastOffsetDelta(), errFieldLength)
	}
	it.lastDelta = offsetDelta
	ts := it.batch.BaseTimestamp() + tsDelta
	if it.appendTime {
		ts = it.batch.MaxTimestamp()
	}
	it.rec = Record{
		Offset:    it.batch.BaseOffset() + int64(offsetDelta),
		Timestamp: ts,
		Key:       key,
		Value:     value,
		Headers:   headers,
	}
	return nil
}

// fieldReader decodes record fields with a sticky error, checked once after a
// group of fields: after an error every read returns a zero value.
type fieldReader struct {
	b   []byte
	err error
}

func (r *fieldReader) varint() int32 {
	if r.err != nil {
		return 0
	}
	v, n, err := Varint(r.b)
	if err != nil {
		r.err = err
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fieldReader) varlong() int64 {
	if r.err != nil {
		return 0
	}
	v, n, err := Varlong(r.b)
	if err != nil {
		r.err = err
		return 0
	}
	r.b = r.b[n:]
	return v
}

// nullableBytes reads a varint length and that many bytes; length -1 is null.
func (r *fieldReader) nullableBytes() []byte {
	n := r.varint()
	if r.err != nil || n == -1 {
		return nil
	}
	if n < -1 || int(n) > len(r.b) {
		r.err = fmt.Errorf("length %d with %d bytes left: %w", n, len(r.b), errFieldLength)
		return nil
	}
	p := r.b[:n:n] // capped so an append by the caller cannot overwrite the next field
	r.b = r.b[n:]
	return p
}
