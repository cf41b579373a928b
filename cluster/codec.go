package cluster

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// The primitives below write and read the fields of records and images
// (formats in doc.go). Writers append to the caller's buffer; the reader
// keeps the first error and turns every later read into a no-op returning
// zero values, so a decoder reads all its fields and checks r.err once.

func appendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

func appendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendInt32s(dst []byte, vs []int32) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	for _, v := range vs {
		dst = appendInt32(dst, v)
	}
	return dst
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

// appendConfigs writes m in ascending key order, so equal maps encode to
// equal bytes and the reader can refuse duplicate keys.
func appendConfigs(dst []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = appendString(dst, m[k])
	}
	return dst
}

// reader decodes fields from buf with a sticky error. Lengths and counts are
// checked against the bytes left before anything is allocated, so a hostile
// length cannot make the decoder allocate more than the input's size.
type reader struct {
	buf  []byte
	off  int
	what string // the thing being decoded, for error messages
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d: %s", ErrCorrupt, r.what, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.buf) - r.off }

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.fail("%s needs %d bytes, %d left", field, n, r.left())
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) byte(field string) byte {
	b := r.take(1, field)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) int32(field string) int32 {
	b := r.take(4, field)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *reader) int64(field string) int64 {
	b := r.take(8, field)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

func (r *reader) id16(field string) (id [16]byte) {
	copy(id[:], r.take(16, field))
	return id
}

// count reads a uvarint element count and checks that count elements of at
// least minSize bytes each fit in what is left.
func (r *reader) count(field string, minSize int) int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		r.fail("%s: bad uvarint", field)
		return 0
	}
	r.off += n
	if v > uint64(r.left()/minSize) {
		r.fail("%s: count %d cannot fit in %d bytes", field, v, r.left())
		return 0
	}
	return int(v)
}

func (r *reader) string(field string) string {
	return string(r.take(r.count(field, 1), field))
}

func (r *reader) int32s(field string) []int32 {
	n := r.count(field, 4)
	if n == 0 {
		return nil
	}
	vs := make([]int32, n)
	for i := range vs {
		vs[i] = r.int32(field)
	}
	return vs
}

func (r *reader) strings(field string) []string {
	n := r.count(field, 1)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.string(field)
	}
	return ss
}

// configs reads a map written by appendConfigs; keys must ascend strictly.
func (r *reader) configs(field string) map[string]string {
	n := r.count(field, 2)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k, v := r.string(field+" key"), r.string(field+" value")
		if i > 0 && k <= prev {
			r.fail("%s: key %q after %q, want ascending unique keys", field, k, prev)
		}
		m[k], prev = v, k
	}
	return m
}

// end fails if bytes are left over: each format has exactly one encoding.
func (r *reader) end() {
	if r.err == nil && r.left() != 0 {
		r.fail("%d trailing bytes", r.left())
	}
}

func appendUvarint(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }
