package netio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"testing"
)

// memInbound is an inbound over a byte slice, standing in for gnet's buffers.
type memInbound struct{ buf []byte }

func (m *memInbound) Peek(n int) ([]byte, error) {
	if n > len(m.buf) {
		return nil, io.ErrShortBuffer
	}
	return m.buf[:n], nil
}

func (m *memInbound) Discard(n int) (int, error) {
	m.buf = m.buf[n:]
	return n, nil
}

func (m *memInbound) InboundBuffered() int { return len(m.buf) }

// drain takes every complete frame out of in, copying payloads.
func drain(t testing.TB, in *memInbound, max int) [][]byte {
	var out [][]byte
	for {
		p, total, err := nextFrame(in, max)
		if err != nil {
			t.Fatalf("nextFrame: %v", err)
		}
		if total == 0 {
			return out
		}
		out = append(out, append([]byte(nil), p...))
		in.Discard(total)
	}
}

func testPayloads() [][]byte {
	return [][]byte{
		[]byte("hello"),
		{},
		bytes.Repeat([]byte{0xAB}, 300),
		{1},
		[]byte("the last frame"),
	}
}

// TestFramerEveryCut splits a stream of frames at every byte offset, and at
// every pair of offsets, and checks the framer returns exactly the frames.
func TestFramerEveryCut(t *testing.T) {
	want := testPayloads()
	var stream []byte
	for _, p := range want {
		stream = AppendFrame(stream, p)
	}
	check := func(got [][]byte, cuts ...int) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("cuts %v: got %d frames, want %d", cuts, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("cuts %v: frame %d = %q, want %q", cuts, i, got[i], want[i])
			}
		}
	}
	for a := 0; a <= len(stream); a++ {
		in := &memInbound{}
		in.buf = append(in.buf, stream[:a]...)
		got := drain(t, in, 1<<20)
		in.buf = append(in.buf, stream[a:]...)
		got = append(got, drain(t, in, 1<<20)...)
		check(got, a)
		if in.InboundBuffered() != 0 {
			t.Fatalf("cut %d: %d bytes left over", a, in.InboundBuffered())
		}
	}
	for a := 0; a <= len(stream); a += 3 {
		for b := a; b <= len(stream); b++ {
			in := &memInbound{}
			var got [][]byte
			for _, part := range [][]byte{stream[:a], stream[a:b], stream[b:]} {
				in.buf = append(in.buf, part...)
				got = append(got, drain(t, in, 1<<20)...)
			}
			check(got, a, b)
		}
	}
}

func TestFramerRejectsSizeBeforeBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int32
		want error
	}{
		{"oversized", 1025, ErrFrameTooLarge},
		{"negative", -1, ErrNegativeFrameSize},
		{"min int32", -1 << 31, ErrNegativeFrameSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &memInbound{buf: binary.BigEndian.AppendUint32(nil, uint32(tc.size))}
			// Three header bytes are not enough to judge.
			short := &memInbound{buf: in.buf[:3]}
			if _, total, err := nextFrame(short, 1024); err != nil || total != 0 {
				t.Fatalf("3 header bytes: total %d err %v, want wait", total, err)
			}
			// Four are: the error comes without any body byte.
			if _, _, err := nextFrame(in, 1024); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	in := &memInbound{buf: AppendFrame(nil, make([]byte, 1024))}
	if _, total, err := nextFrame(in, 1024); err != nil || total != 1028 {
		t.Fatalf("frame of exactly MaxFrameSize: total %d err %v", total, err)
	}
}

// FuzzFramer feeds arbitrary bytes in arbitrary pieces: the framer must not
// panic, and what it returns must re-encode to a prefix of the input.
func FuzzFramer(f *testing.F) {
	var stream []byte
	for _, p := range testPayloads() {
		stream = AppendFrame(stream, p)
	}
	f.Add(stream, uint8(7))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1}, uint8(1))
	f.Add([]byte{0, 0, 0x10, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		const max = 4096
		n := int(step%32) + 1
		in := &memInbound{}
		var re []byte
		for off := 0; off < len(data); off += n {
			in.buf = append(in.buf, data[off:min(off+n, len(data))]...)
			for {
				p, total, err := nextFrame(in, max)
				if err != nil {
					if !errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrNegativeFrameSize) {
						t.Fatalf("unexpected error kind: %v", err)
					}
					return
				}
				if total == 0 {
					break
				}
				if total != len(p)+FrameHeaderSize || len(p) > max {
					t.Fatalf("total %d for payload of %d", total, len(p))
				}
				re = AppendFrame(re, p)
				in.Discard(total)
			}
		}
		if !bytes.HasPrefix(data, re) {
			t.Fatalf("decoded frames do not re-encode to a prefix of the input")
		}
	})
}

func BenchmarkFramer(b *testing.B) {
	for _, size := range []int{16, 512, 16 << 10} {
		var stream []byte
		frames := 0
		for len(stream) < 1<<20 {
			stream = AppendFrame(stream, make([]byte, size))
			frames++
		}
		b.Run("payload="+byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stream)))
			in := &memInbound{}
			for b.Loop() {
				in.buf = stream
				n := 0
				for {
					_, total, err := nextFrame(in, DefaultMaxFrameSize)
					if err != nil {
						b.Fatal(err)
					}
					if total == 0 {
						break
					}
					in.Discard(total)
					n++
				}
				if n != frames {
					b.Fatalf("decoded %d frames, want %d", n, frames)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*frames), "ns/frame")
		})
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
