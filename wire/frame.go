package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Framing constants.
const (
	// SizeLen is the length of the int32 size field in front of every frame.
	SizeLen = 4
	// RequestHeaderLen is api_key (2) + api_version (2) + correlation_id (4).
	RequestHeaderLen = 8
	// ResponseHeaderLen is correlation_id (4).
	ResponseHeaderLen = 4
	// DefaultMaxFrameSize bounds the size field (the bytes after it) of a frame
	// unless the reader configures another limit: 100 MiB, Kafka's default
	// socket.request.max.bytes, so any batch a Kafka client sends fits.
	DefaultMaxFrameSize = 100 << 20
	// MaxStringLen is the longest string the int16 length prefix can carry.
	MaxStringLen = 1<<15 - 1
)

// Errors of framing and decoding. They are distinct from "need more bytes",
// which the framing helpers report with ok == false and a nil error.
var (
	// ErrFrameTooLarge: the size field exceeds the reader's limit. The stream
	// cannot be resynchronised; the reader closes the connection.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrMalformed: the bytes are complete but can never decode: a negative
	// size, a length or count larger than the bytes left, trailing bytes, or a
	// payload shorter than its header. Test with errors.Is.
	ErrMalformed = errors.New("wire: malformed")
)

// FrameSize reads the size field at the start of b. It returns ok == false
// with a nil error while b holds fewer than SizeLen bytes ("need more"), and
// an error wrapping ErrMalformed for a negative size or ErrFrameTooLarge for
// a size above maxSize. It looks at the size field alone, so the caller can
// refuse a frame before it buffers or allocates anything for it. The whole
// frame occupies SizeLen+size bytes.
func FrameSize(b []byte, maxSize int) (size int, ok bool, err error) {
	if len(b) < SizeLen {
		return 0, false, nil
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 0 {
		return 0, false, fmt.Errorf("%w: negative frame size %d", ErrMalformed, n)
	}
	if int64(n) > int64(maxSize) {
		return 0, false, fmt.Errorf("%w: frame size %d above limit %d", ErrFrameTooLarge, n, maxSize)
	}
	return int(n), true, nil
}

// SplitFrame returns the payload of the first frame in b and the bytes after
// it. ok == false with a nil error means b does not yet hold the whole frame;
// errors are those of FrameSize. payload and rest alias b.
func SplitFrame(b []byte, maxSize int) (payload, rest []byte, ok bool, err error) {
	n, ok, err := FrameSize(b, maxSize)
	if !ok || len(b)-SizeLen < n {
		return nil, nil, false, err
	}
	return b[SizeLen : SizeLen+n], b[SizeLen+n:], true, nil
}

// RequestHeader is the start of every request payload.
type RequestHeader struct {
	Key           APIKey
	Version       int16
	CorrelationID int32
}

// ParseRequestHeader splits a request payload (a frame without its size
// field) into its header and body. body aliases payload. A payload shorter
// than RequestHeaderLen is malformed: no correlation id can be answered, so
// the broker closes the connection.
func ParseRequestHeader(payload []byte) (h RequestHeader, body []byte, err error) {
	if len(payload) < RequestHeaderLen {
		return h, nil, fmt.Errorf("%w: request payload of %d bytes is shorter than its %d-byte header",
			ErrMalformed, len(payload), RequestHeaderLen)
	}
	h.Key = APIKey(binary.BigEndian.Uint16(payload))
	h.Version = int16(binary.BigEndian.Uint16(payload[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(payload[4:]))
	return h, payload[RequestHeaderLen:], nil
}

// ParseResponseHeader splits a response payload into its correlation id and body.
func ParseResponseHeader(payload []byte) (correlationID int32, body []byte, err error) {
	if len(payload) < ResponseHeaderLen {
		return 0, nil, fmt.Errorf("%w: response payload of %d bytes is shorter than its %d-byte header",
			ErrMalformed, len(payload), ResponseHeaderLen)
	}
	return int32(binary.BigEndian.Uint32(payload)), payload[ResponseHeaderLen:], nil
}

// versioned is a request of an API with more than one version (Produce):
// its struct carries the version the header states.
type versioned interface{ version() int16 }

// AppendRequestFrame appends a whole request frame (size, header, body) for
// req to dst and returns the extended buffer. The header's version is 0,
// or the request's Version field for an API that has several.
func AppendRequestFrame(dst []byte, correlationID int32, req Request) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendInt16(dst, int16(req.APIKey()))
	var v int16
	if vr, ok := req.(versioned); ok {
		v = vr.version()
	}
	dst = appendInt16(dst, v)
	dst = appendInt32(dst, correlationID)
	dst = req.AppendTo(dst)
	return patchSize(dst, start, 0)
}

// AppendResponseFrame appends a whole response frame (size, correlation id,
// body) for resp to dst and returns the extended buffer.
func AppendResponseFrame(dst []byte, correlationID int32, resp Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendInt32(dst, correlationID)
	dst = resp.AppendTo(dst)
	return patchSize(dst, start, 0)
}

// AppendErrorResponse appends the error-only response frame: correlation id
// and an int16 error code, nothing else. The broker sends it for an unknown
// api key, an unsupported version (UnsupportedVersion) or a malformed body
// (InvalidRequest). Every response decoder in this package accepts this
// shorter form, because every response body starts with its error code.
func AppendErrorResponse(dst []byte, correlationID int32, code ErrorCode) []byte {
	dst = appendInt32(dst, SizeLen+2)
	dst = appendInt32(dst, correlationID)
	return appendInt16(dst, int16(code))
}

// AppendUnsupportedVersionResponse appends the broker's answer to a request
// whose key or version it does not implement (Decoder.Decode returned
// ErrUnsupportedVersion with header h). For ApiVersions it is a full
// version-0 ApiVersions response with error UnsupportedVersion and the
// supported list, so a newer client can still pick a version; for any other
// key it is the error-only response.
func AppendUnsupportedVersionResponse(dst []byte, h RequestHeader) []byte {
	if h.Key == APIVersionsKey {
		return AppendResponseFrame(dst, h.CorrelationID, &APIVersionsResponse{ErrorCode: UnsupportedVersion, APIs: supported})
	}
	return AppendErrorResponse(dst, h.CorrelationID, UnsupportedVersion)
}

// patchSize writes the size of the frame that starts at dst[start] (its
// bytes in dst plus extra bytes the caller sends from elsewhere).
func patchSize(dst []byte, start int, extra int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-SizeLen+extra))
	return dst
}
