package netio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FrameHeaderSize is the length of the big-endian int32 size prefix that
// precedes every frame payload.
const FrameHeaderSize = 4

// ErrFrameTooLarge is returned by the framer when a size prefix exceeds
// Config.MaxFrameSize. The connection that sent it is closed.
var ErrFrameTooLarge = errors.New("netio: frame size exceeds MaxFrameSize")

// ErrNegativeFrameSize is returned by the framer when a size prefix is
// negative. The connection that sent it is closed.
var ErrNegativeFrameSize = errors.New("netio: negative frame size")

// inbound is the part of gnet.Conn the framer reads from. gnet.Conn satisfies
// it; tests and benchmarks drive the framer through small fakes.
type inbound interface {
	// Peek returns the next n buffered bytes without consuming them; they stay
	// valid until Discard.
	Peek(n int) ([]byte, error)
	// Discard consumes n bytes.
	Discard(n int) (int, error)
	// InboundBuffered is the number of bytes buffered and not yet consumed.
	InboundBuffered() int
}

// nextFrame returns the payload of the next complete frame in in, without
// consuming it, and the frame's total length including the size prefix.
// The caller consumes the frame with in.Discard(total) once it is done with
// payload; payload aliases in's buffer until then.
//
// It returns (nil, 0, nil) when the next frame is not complete yet. The size
// prefix is checked against maxFrameSize as soon as its 4 bytes are present,
// so an oversized frame is rejected before its body is awaited or buffered.
func nextFrame(in inbound, maxFrameSize int) (payload []byte, total int, err error) {
	buffered := in.InboundBuffered()
	if buffered < FrameHeaderSize {
		return nil, 0, nil
	}
	hdr, err := in.Peek(FrameHeaderSize)
	if err != nil {
		return nil, 0, fmt.Errorf("netio: peek frame header: %w", err)
	}
	size := int32(binary.BigEndian.Uint32(hdr))
	if size < 0 {
		return nil, 0, fmt.Errorf("%w: %d", ErrNegativeFrameSize, size)
	}
	if int64(size) > int64(maxFrameSize) {
		return nil, 0, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, maxFrameSize)
	}
	total = FrameHeaderSize + int(size)
	if buffered < total {
		return nil, 0, nil
	}
	frame, err := in.Peek(total)
	if err != nil {
		return nil, 0, fmt.Errorf("netio: peek frame of %d bytes: %w", total, err)
	}
	return frame[FrameHeaderSize:], total, nil
}

// AppendFrame appends payload to dst with its size prefix. It is the encoder
// matching the framer, used by tests, benchmarks and simple clients.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}
