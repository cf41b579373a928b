package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestFrameSize(t *testing.T) {
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name    string
		b       []byte
		max     int
		size    int
		ok      bool
		wantErr error
	}{
		{"empty", nil, 100, 0, false, nil},
		{"three bytes", []byte{0, 0, 0}, 100, 0, false, nil},
		{"zero", be(0), 100, 0, true, nil},
		{"at limit", be(100), 100, 100, true, nil},
		{"over limit", be(101), 100, 0, false, ErrFrameTooLarge},
		{"default limit", be(DefaultMaxFrameSize + 1), DefaultMaxFrameSize, 0, false, ErrFrameTooLarge},
		{"negative", be(0xffffffff), 100, 0, false, ErrMalformed},
		{"min int32", be(0x80000000), DefaultMaxFrameSize, 0, false, ErrMalformed},
		{"max int32 no body", be(0x7fffffff), DefaultMaxFrameSize, 0, false, ErrFrameTooLarge},
	} {
		size, ok, err := FrameSize(tc.b, tc.max)
		if size != tc.size || ok != tc.ok || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("%s: FrameSize = %d, %v, %v; want %d, %v, %v", tc.name, size, ok, err, tc.size, tc.ok, tc.wantErr)
		}
	}
}

// TestFrameCutAtEveryByte feeds every prefix of a stream of frames to
// SplitFrame: each prefix shorter than a whole frame is "need more" with no
// error, and the whole frame splits exactly.
func TestFrameCutAtEveryByte(t *testing.T) {
	var stream []byte
	var want [][]byte
	reqs := requestCases()
	for _, name := range sortedKeys(reqs) {
		start := len(stream)
		stream = AppendRequestFrame(stream, int32(len(want)), reqs[name])
		want = append(want, stream[start+SizeLen:])
	}
	stream = AppendErrorResponse(stream, 1, InvalidRequest)
	want = append(want, stream[len(stream)-6:])

	var got [][]byte
	rest := stream
	for len(rest) > 0 {
		_, _, ok, _ := SplitFrame(rest, DefaultMaxFrameSize)
		if !ok {
			t.Fatalf("frame %d does not split", len(got))
		}
		whole := SizeLen + int(binary.BigEndian.Uint32(rest))
		for cut := 0; cut < whole; cut++ {
			p, r, ok, err := SplitFrame(rest[:cut:cut], DefaultMaxFrameSize)
			if ok || err != nil || p != nil || r != nil {
				t.Fatalf("frame %d cut at %d/%d: ok=%v err=%v", len(got), cut, whole, ok, err)
			}
		}
		p, r, ok, err := SplitFrame(rest[:whole:whole], DefaultMaxFrameSize)
		if !ok || err != nil || len(r) != 0 {
			t.Fatalf("frame %d whole: ok=%v err=%v rest=%d", len(got), ok, err, len(r))
		}
		got = append(got, p)
		rest = rest[whole:]
	}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
	// The same stream split greedily, as several frames arriving in one read.
	n := 0
	for rest = stream; len(rest) > 0; n++ {
		var ok bool
		_, rest, ok, _ = SplitFrame(rest, DefaultMaxFrameSize)
		if !ok {
			t.Fatal("greedy split stalled")
		}
	}
	if n != len(want) {
		t.Fatalf("greedy split found %d frames, want %d", n, len(want))
	}
}

func TestSplitFrameLimit(t *testing.T) {
	frame := AppendRequestFrame(nil, 1, requestCases()["Produce"])
	// The limit applies to the size field alone: a 4-byte prefix is enough.
	if _, _, ok, err := SplitFrame(frame[:SizeLen], len(frame)-SizeLen-1); ok || !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("over-limit frame: ok=%v err=%v", ok, err)
	}
	if _, _, ok, err := SplitFrame(frame, len(frame)-SizeLen); !ok || err != nil {
		t.Fatalf("at-limit frame: ok=%v err=%v", ok, err)
	}
}

func TestParseHeaders(t *testing.T) {
	if _, _, err := ParseRequestHeader(make([]byte, RequestHeaderLen-1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short request header: %v", err)
	}
	if _, _, err := ParseResponseHeader(make([]byte, ResponseHeaderLen-1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short response header: %v", err)
	}
	h, body, err := ParseRequestHeader([]byte{0xff, 0xfe, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 9})
	if err != nil || h != (RequestHeader{Key: -2, Version: -32768, CorrelationID: -1}) || !bytes.Equal(body, []byte{9}) {
		t.Fatalf("ParseRequestHeader = %+v %x %v", h, body, err)
	}
}
