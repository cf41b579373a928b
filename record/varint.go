package record

import "fmt"

// Kafka record fields use the zigzag varints of protocol buffers: the signed
// value v is mapped to (v << 1) ^ (v >> 63) so that small negative numbers
// (the -1 of a null key) stay one byte, then written 7 bits at a time, least
// significant group first, with the high bit of each byte set when more bytes
// follow. A varint carries an int32 (at most 5 bytes), a varlong an int64 (at
// most 10 bytes).
const (
	// MaxVarintLen is the longest encoding of a varint (int32).
	MaxVarintLen = 5
	// MaxVarlongLen is the longest encoding of a varlong (int64).
	MaxVarlongLen = 10
)

// AppendVarint appends the zigzag varint encoding of v to dst and returns the
// extended slice.
func AppendVarint(dst []byte, v int32) []byte {
	return appendUvarint(dst, uint64(uint32((v<<1)^(v>>31))))
}

// AppendVarlong appends the zigzag varlong encoding of v to dst and returns
// the extended slice.
func AppendVarlong(dst []byte, v int64) []byte {
	return appendUvarint(dst, uint64((v<<1)^(v>>63)))
}

func appendUvarint(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// VarintLen returns the number of bytes AppendVarint writes for v.
func VarintLen(v int32) int { return uvarintLen(uint64(uint32((v << 1) ^ (v >> 31)))) }

// VarlongLen returns the number of bytes AppendVarlong writes for v.
func VarlongLen(v int64) int { return uvarintLen(uint64((v << 1) ^ (v >> 63))) }

func uvarintLen(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// Varint decodes a zigzag varint from the start of b and returns it with the
// number of bytes read. It returns an error wrapping ErrShort when b ends
// inside the varint, and one wrapping ErrCorrupt when the encoding is longer
// than MaxVarintLen bytes or its value does not fit in 32 bits. Non-minimal
// encodings (trailing 0x80 groups) are accepted, as Kafka accepts them.
func Varint(b []byte) (int32, int, error) {
	u, n, err := uvarint(b, MaxVarintLen)
	if err != nil {
		return 0, 0, fmt.Errorf("varint: %w", err)
	}
	if u > 0xffffffff {
		return 0, 0, fmt.Errorf("%w: varint overflows 32 bits", ErrCorrupt)
	}
	return int32(uint32(u)>>1) ^ -int32(u&1), n, nil
}

// Varlong decodes a zigzag varlong from the start of b and returns it with the
// number of bytes read. Errors are as for Varint, with MaxVarlongLen and 64
// bits.
func Varlong(b []byte) (int64, int, error) {
	u, n, err := uvarint(b, MaxVarlongLen)
	if err != nil {
		return 0, 0, fmt.Errorf("varlong: %w", err)
	}
	return int64(u>>1) ^ -int64(u&1), n, nil
}

// uvarint reads an unsigned varint of at most maxLen bytes. The tenth byte of
// a 64-bit value may only carry the top bit.
func uvarint(b []byte, maxLen int) (uint64, int, error) {
	var u uint64
	for i := 0; i < maxLen; i++ {
		if i >= len(b) {
			return 0, 0, ErrShort
		}
		c := b[i]
		if i == MaxVarlongLen-1 && c > 1 {
			return 0, 0, fmt.Errorf("%w: overflows 64 bits", ErrCorrupt)
		}
		u |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return u, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: longer than %d bytes", ErrCorrupt, maxLen)
}

// uvarintAt decodes the unsigned varint of at most maxLen bytes at b[i:]
// and returns it with the index after it, or a negative index when b ends
// inside it or it is malformed (uvarint says which; a varint, maxLen
// MaxVarintLen, must also fit in 32 bits, as Varint checks). i may be negative (a
// failed read before), which fails too, so a run of reads needs one check
// at the end. One- and two-byte encodings (every length of a record or
// value under 8 KiB) skip the general loop.
func uvarintAt(b []byte, i, maxLen int) (uint64, int) {
	if uint(i) >= uint(len(b)) {
		return 0, -1
	}
	if c := b[i]; c < 0x80 {
		return uint64(c), i + 1
	}
	if i+1 < len(b) && b[i+1] < 0x80 {
		return uint64(b[i]&0x7f) | uint64(b[i+1])<<7, i + 2
	}
	u, n, err := uvarint(b[i:], maxLen)
	if err != nil || maxLen == MaxVarintLen && u > 0xffffffff {
		return 0, -1
	}
	return u, i + n
}

// zigzag32 and zigzag64 undo the zigzag mapping of a varint and a varlong
// read by uvarintAt.
func zigzag32(u uint64) int32 { return int32(uint32(u)>>1) ^ -int32(u&1) }
func zigzag64(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
