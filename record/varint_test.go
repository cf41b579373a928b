package record

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestVarintRoundTrip(t *testing.T) {
	values := []int32{0, 1, -1, 2, -2, 63, -64, 64, -65, 8191, -8192, 8192,
		1 << 20, -(1 << 20), math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1}
	for _, v := range values {
		enc := AppendVarint(nil, v)
		if len(enc) != VarintLen(v) {
			t.Errorf("VarintLen(%d) = %d, encoding has %d bytes", v, VarintLen(v), len(enc))
		}
		// Kafka's zigzag varint is protobuf's sint encoding, which is also
		// what encoding/binary writes: an independent reference.
		if ref := binary.AppendVarint(nil, int64(v)); string(ref) != string(enc) {
			t.Errorf("AppendVarint(%d) = %x, encoding/binary gives %x", v, enc, ref)
		}
		got, n, err := Varint(append(enc, 0xAA))
		if err != nil || got != v || n != len(enc) {
			t.Errorf("Varint(%x) = %d, %d, %v; want %d, %d, nil", enc, got, n, err, v, len(enc))
		}
	}
}

func TestVarlongRoundTrip(t *testing.T) {
	values := []int64{0, 1, -1, 300, -300, math.MaxInt32, math.MinInt32, 1 << 40, -(1 << 40),
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for _, v := range values {
		enc := AppendVarlong(nil, v)
		if len(enc) != VarlongLen(v) {
			t.Errorf("VarlongLen(%d) = %d, encoding has %d bytes", v, VarlongLen(v), len(enc))
		}
		if ref := binary.AppendVarint(nil, v); string(ref) != string(enc) {
			t.Errorf("AppendVarlong(%d) = %x, encoding/binary gives %x", v, enc, ref)
		}
		got, n, err := Varlong(enc)
		if err != nil || got != v || n != len(enc) {
			t.Errorf("Varlong(%x) = %d, %d, %v; want %d, %d, nil", enc, got, n, err, v, len(enc))
		}
	}
}

func TestVarintErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		long    bool // decode as varlong
		wantErr error
	}{
		{"empty", nil, false, ErrShort},
		{"cut after continuation", []byte{0x80}, false, ErrShort},
		{"cut varlong", []byte{0xff, 0xff, 0xff}, true, ErrShort},
		{"six byte varint", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, false, ErrCorrupt},
		{"varint above 32 bits", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, false, ErrCorrupt},
		{"eleven byte varlong", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, true, ErrCorrupt},
		{"varlong above 64 bits", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, true, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.long {
				_, _, err = Varlong(tt.in)
			} else {
				_, _, err = Varint(tt.in)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("decoding %x: error %v, want %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

// A non-minimal encoding (a trailing 0x80 group) decodes: Kafka's Java reader
// accepts it, so rejecting it would refuse batches Kafka stores.
func TestVarintNonMinimal(t *testing.T) {
	v, n, err := Varint([]byte{0x82, 0x80, 0x00})
	if err != nil || v != 1 || n != 3 {
		t.Fatalf("Varint(82 80 00) = %d, %d, %v; want 1, 3, nil", v, n, err)
	}
}
