package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrMalformedRequest wraps every request the handler cannot decode: a
// header cut short, bad tagged fields, or a body kmsg rejects. The
// connection that sent it is closed.
var ErrMalformedRequest = errors.New("kafka: malformed request")

// ErrUnsupportedRequest wraps a request whose api key or version Spate
// does not serve (ApiVersions excepted, which gets an answer). The
// connection that sent it is closed.
var ErrUnsupportedRequest = errors.New("kafka: unsupported api key or version")

// fixedHeaderLen is api_key, api_version, correlation_id and the client
// id's length: the bytes every request header starts with.
const fixedHeaderLen = 2 + 2 + 4 + 2

// requestHeader is the part of a request header the handler uses.
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      string // "" for a null client id

	// api is the key's index in served (set once the key is checked) and
	// start when its frame was read: for the metrics.
	api   int
	start time.Time
}

// parseFixedHeader reads the header up to and including the client id and
// returns the rest of the payload (tagged fields, if any, then the body).
func parseFixedHeader(payload []byte) (requestHeader, []byte, error) {
	if len(payload) < fixedHeaderLen {
		return requestHeader{}, nil, fmt.Errorf("%w: %d bytes cannot hold a request header", ErrMalformedRequest, len(payload))
	}
	h := requestHeader{
		key:           int16(binary.BigEndian.Uint16(payload[0:])),
		version:       int16(binary.BigEndian.Uint16(payload[2:])),
		correlationID: int32(binary.BigEndian.Uint32(payload[4:])),
	}
	n := int(int16(binary.BigEndian.Uint16(payload[8:])))
	rest := payload[fixedHeaderLen:]
	switch {
	case n == -1:
	case n < 0 || n > len(rest):
		return h, nil, fmt.Errorf("%w: key %d correlation id %d: client id length %d with %d bytes left",
			ErrMalformedRequest, h.key, h.correlationID, n, len(rest))
	default:
		h.clientID = string(rest[:n])
		rest = rest[n:]
	}
	return h, rest, nil
}

// skipTags skips a tagged-field section (flexible versions) and returns
// what follows it.
func skipTags(b []byte) ([]byte, error) {
	count, b, err := uvarint(b)
	if err != nil {
		return nil, fmt.Errorf("%w: tagged field count: %v", ErrMalformedRequest, err)
	}
	for ; count > 0; count-- {
		var size uint64
		if _, b, err = uvarint(b); err != nil {
			return nil, fmt.Errorf("%w: tag number: %v", ErrMalformedRequest, err)
		}
		if size, b, err = uvarint(b); err != nil {
			return nil, fmt.Errorf("%w: tag size: %v", ErrMalformedRequest, err)
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes with %d left", ErrMalformedRequest, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("truncated or overlong unsigned varint")
	}
	return v, b[n:], nil
}
