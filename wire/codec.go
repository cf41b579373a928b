package wire

import (
	"encoding/binary"
	"fmt"
)

// reader decodes a body with a sticky error: after the first failure every
// read returns a zero value and the error is checked once, at the end, by
// done. It never reads out of bounds and never allocates for a length or
// count it has not checked against the bytes left.
type reader struct {
	b     []byte
	off   int
	err   error
	names *names // nil: names are copied (allocating); see names
}

func (r *reader) reset(b []byte, n *names) {
	r.b, r.off, r.err, r.names = b, 0, nil, n
}

func (r *reader) remaining() int { return len(r.b) - r.off }

// need reports whether n more bytes are available, failing the reader if not.
func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n > r.remaining() {
		r.err = fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left", ErrMalformed, what, n, r.off, r.remaining())
		return false
	}
	return true
}

func (r *reader) int8(what string) int8 {
	if !r.need(1, what) {
		return 0
	}
	v := int8(r.b[r.off])
	r.off++
	return v
}

func (r *reader) bool(what string) bool { return r.int8(what) != 0 }

func (r *reader) int16(what string) int16 {
	if !r.need(2, what) {
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	return v
}

func (r *reader) int32(what string) int32 {
	if !r.need(4, what) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v
}

func (r *reader) int64(what string) int64 {
	if !r.need(8, what) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

// rawString returns the bytes of an int16-length string, aliasing the body.
// Length -1 (null) reads as empty.
func (r *reader) rawString(what string) []byte {
	n := int(r.int16(what))
	if n < -1 {
		r.fail("%w: %s has length %d", ErrMalformed, what, n)
		return nil
	}
	if n <= 0 || !r.need(n, what) {
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// string returns an owned copy of an int16-length string.
func (r *reader) string(what string) string { return string(r.rawString(what)) }

// name returns a topic name. With an intern table it does not allocate once
// the name has been seen; the result is an ordinary immutable string either way.
func (r *reader) name(what string) string {
	b := r.rawString(what)
	if r.names == nil {
		return string(b)
	}
	return r.names.get(b)
}

// bytes returns an int32-length byte field aliasing the body; -1 (null) reads as nil.
func (r *reader) bytes(what string) []byte {
	n := int(r.int32(what))
	if n < -1 {
		r.fail("%w: %s has length %d", ErrMalformed, what, n)
		return nil
	}
	if n < 0 || !r.need(n, what) {
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// count reads an int32 array count. minElem is the smallest encoding of one
// element: the count is refused unless count*minElem bytes remain, so a huge
// count in a small frame fails before anything is allocated. -1 (null) reads
// as 0; null reports it.
func (r *reader) count(what string, minElem int) (n int, null bool) {
	c := r.int32(what)
	if r.err != nil {
		return 0, false
	}
	if c == -1 {
		return 0, true
	}
	if c < 0 || int64(c)*int64(minElem) > int64(r.remaining()) {
		r.fail("%w: %s count %d does not fit the %d bytes left", ErrMalformed, what, c, r.remaining())
		return 0, false
	}
	return int(c), false
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// done returns the sticky error, or ErrMalformed if bytes are left over:
// a body must be consumed exactly, so a version mismatch cannot go unnoticed.
func (r *reader) done(what string) error {
	if r.err == nil && r.remaining() != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, r.remaining())
	}
	if r.err != nil {
		return fmt.Errorf("wire: decode %s: %w", what, r.err)
	}
	return nil
}

// resize returns s with length n, reusing its capacity (and the elements'
// own slices) when it can. Elements are not cleared: decoders overwrite
// every field.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return append(s[:cap(s)], make([]T, n-cap(s))...)
}

// names interns topic names so that decoding a request that names a topic
// seen before does not allocate. It is bounded, so a client that sends many
// distinct names costs at most maxNamesBytes of memory per table; beyond
// that names are copied (one allocation each). Not safe for concurrent use.
type names struct {
	m     map[string]string
	bytes int
}

const (
	maxNames      = 1024
	maxNamesBytes = 64 << 10
)

func (n *names) get(b []byte) string {
	if s, ok := n.m[string(b)]; ok { // the compiler does not allocate for this conversion
		return s
	}
	s := string(b)
	if n.m == nil {
		n.m = make(map[string]string)
	}
	if len(n.m) < maxNames && n.bytes+len(s) <= maxNamesBytes {
		n.m[s] = s
		n.bytes += len(s)
	}
	return s
}

func appendInt8(dst []byte, v int8) []byte   { return append(dst, byte(v)) }
func appendInt16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }
func appendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }
func appendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendString writes an int16-length string. Strings longer than
// MaxStringLen cannot be encoded; that is a caller bug (names are validated
// long before, messages are truncated by appendMessage), so it panics rather
// than send a different string.
func appendString(dst []byte, s string) []byte {
	if len(s) > MaxStringLen {
		panic(fmt.Sprintf("wire: string of %d bytes exceeds MaxStringLen", len(s)))
	}
	dst = appendInt16(dst, int16(len(s)))
	return append(dst, s...)
}

// appendMessage writes a free-text message: empty is sent as null, and a
// message too long for the length prefix is cut (it is for humans).
func appendMessage(dst []byte, s string) []byte {
	if s == "" {
		return appendInt16(dst, -1)
	}
	if len(s) > MaxStringLen {
		s = s[:MaxStringLen]
	}
	return appendString(dst, s)
}

// appendBytes writes an int32-length byte field: nil as null (-1).
func appendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return appendInt32(dst, -1)
	}
	dst = appendInt32(dst, int32(len(b)))
	return append(dst, b...)
}

func appendCount(dst []byte, n int) []byte { return appendInt32(dst, int32(n)) }

func appendInt32s(dst []byte, vs []int32) []byte {
	dst = appendCount(dst, len(vs))
	for _, v := range vs {
		dst = appendInt32(dst, v)
	}
	return dst
}

func (r *reader) int32s(dst []int32, what string) []int32 {
	n, _ := r.count(what, 4)
	dst = resize(dst, n)
	for i := range dst {
		dst[i] = r.int32(what)
	}
	return dst
}
