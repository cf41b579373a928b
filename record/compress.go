package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedSize bounds the size of a records section after
// decompression. A few hundred bytes of zstd or gzip can claim gigabytes; this
// cap keeps a hostile batch from growing the heap. It is far above any batch a
// producer builds (Kafka's default batch.size is 16 KiB, max.message.bytes
// about 1 MiB), so honest batches never meet it.
const MaxDecompressedSize = 64 << 20

var errDecompressedTooBig = fmt.Errorf("decompressed records exceed %d bytes", MaxDecompressedSize)

// Valid reports whether c is a codec Kafka defines.
func (c Compression) Valid() bool { return c >= None && c <= Zstd }

// appendCompressed appends src compressed with c to dst.
func appendCompressed(dst, src []byte, c Compression) ([]byte, error) {
	switch c {
	case None:
		return append(dst, src...), nil
	case Gzip:
		return appendGzip(dst, src)
	case Snappy:
		// Kafka's Java producer frames snappy the xerial way; every reader
		// (Java, franz-go, librdkafka) also takes a plain snappy block, which
		// needs no framing, so that is what Spate writes. s2.EncodeSnappy
		// writes that block format; snappy.Encode is s2's "better" mode: on
		// 950,000 bytes of bench values it took 2.72 ms against 1.18 ms for
		// 10% less output (385,476 vs 428,813 bytes; min of 3 of
		// `go test -run '^$' -bench SnappyEncode -cpu 1 -count 3 ./record`,
		// AMD EPYC, go1.26.8, linux 6.18) — the wrong trade for a codec
		// chosen for speed. franz-go makes the same choice.
		dst = slices.Grow(dst, s2.MaxEncodedLen(len(src)))
		out := s2.EncodeSnappy(dst[len(dst):cap(dst)], src)
		return dst[:len(dst)+len(out)], nil
	case LZ4:
		return appendLZ4(dst, src)
	case Zstd:
		return zstdEncoder.EncodeAll(src, dst), nil
	}
	return nil, fmt.Errorf("%w: unknown compression %d", ErrCorrupt, int8(c))
}

// appendDecompressed appends src decompressed with c to dst, refusing output
// beyond MaxDecompressedSize. Snappy input may be a raw block or xerial framed.
func appendDecompressed(dst, src []byte, c Compression) ([]byte, error) {
	switch c {
	case None:
		return append(dst, src...), nil
	case Gzip:
		return appendGunzip(dst, src)
	case Snappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return appendXerial(dst, src)
		}
		return appendSnappyBlock(dst, src)
	case LZ4:
		return appendUnLZ4(dst, src)
	case Zstd:
		out, err := zstdDecoder.DecodeAll(src, dst)
		if err != nil {
			return dst, err
		}
		if len(out)-len(dst) > MaxDecompressedSize {
			return dst, errDecompressedTooBig
		}
		return out, nil
	}
	return dst, fmt.Errorf("unknown compression %d", int8(c))
}

// appendWriter is an io.Writer that appends to a slice. It lives inside the
// pooled codec states so that handing it to a writer does not allocate.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// The stream codecs keep sizeable state (gzip's deflate tables, lz4's block
// buffers), so writers and readers are pooled and reset instead of rebuilt.
type gzipState struct {
	w   *gzip.Writer
	out appendWriter
}

var gzipWriters = sync.Pool{New: func() any { return &gzipState{w: gzip.NewWriter(nil)} }}

func appendGzip(dst, src []byte) ([]byte, error) {
	s := gzipWriters.Get().(*gzipState)
	defer gzipWriters.Put(s)
	s.out.b = dst
	s.w.Reset(&s.out)
	_, err := s.w.Write(src)
	if err == nil {
		err = s.w.Close()
	}
	out := s.out.b
	s.out.b = nil
	return out, err
}

type lz4State struct {
	w   *lz4.Writer
	out appendWriter
}

var lz4Writers = sync.Pool{New: func() any {
	w := lz4.NewWriter(nil)
	// 64 KiB blocks are what Kafka's Java producer writes; the 4 MiB default
	// would pin 4 MiB of buffers in every pooled writer.
	if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
		panic(fmt.Sprintf("record: lz4 options: %v", err)) // static options; cannot fail
	}
	return &lz4State{w: w}
}}

func appendLZ4(dst, src []byte) ([]byte, error) {
	s := lz4Writers.Get().(*lz4State)
	defer lz4Writers.Put(s)
	s.out.b = dst
	s.w.Reset(&s.out)
	_, err := s.w.Write(src)
	if err == nil {
		err = s.w.Close()
	}
	out := s.out.b
	s.out.b = nil
	return out, err
}

type gunzipState struct {
	r   gzip.Reader
	src bytes.Reader
}

var gzipReaders = sync.Pool{New: func() any { return new(gunzipState) }}

func appendGunzip(dst, src []byte) ([]byte, error) {
	s := gzipReaders.Get().(*gunzipState)
	defer gzipReaders.Put(s)
	s.src.Reset(src)
	if err := s.r.Reset(&s.src); err != nil {
		return dst, err
	}
	return appendBounded(dst, &s.r)
}

type unlz4State struct {
	r   *lz4.Reader
	src bytes.Reader
}

var lz4Readers = sync.Pool{New: func() any { return &unlz4State{r: lz4.NewReader(nil)} }}

func appendUnLZ4(dst, src []byte) ([]byte, error) {
	s := lz4Readers.Get().(*unlz4State)
	defer lz4Readers.Put(s)
	s.src.Reset(src)
	s.r.Reset(&s.src)
	return appendBounded(dst, s.r)
}

// appendBounded reads r to its end into dst, failing once more than
// MaxDecompressedSize bytes have been read.
func appendBounded(dst []byte, r io.Reader) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst)-start > MaxDecompressedSize {
			return dst[:start], errDecompressedTooBig
		}
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(4096, len(dst)-start))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst[:start], err
		}
	}
}

// xerialMagic opens a snappy stream framed by the Java snappy-java library
// (xerial): 8 magic bytes, a 4-byte version and a 4-byte minimum compatible
// version, then blocks, each a big-endian uint32 length and a raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

var errXerial = errors.New("malformed xerial snappy framing")

func appendXerial(dst, src []byte) ([]byte, error) {
	start := len(dst)
	if len(src) < xerialHeaderSize {
		return dst, errXerial
	}
	src = src[xerialHeaderSize:]
	for len(src) > 0 {
		if len(src) < 4 {
			return dst[:start], errXerial
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst[:start], errXerial
		}
		var err error
		if dst, err = appendSnappyBlock(dst, src[:n]); err != nil {
			return dst[:start], err
		}
		if len(dst)-start > MaxDecompressedSize {
			return dst[:start], errDecompressedTooBig
		}
		src = src[n:]
	}
	return dst, nil
}

func appendSnappyBlock(dst, block []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, err
	}
	if n > MaxDecompressedSize {
		return dst, errDecompressedTooBig
	}
	dst = slices.Grow(dst, n)
	// With room for the decoded length, Decode writes into dst's spare
	// capacity rather than allocating.
	out, err := snappy.Decode(dst[len(dst):cap(dst)], block)
	if err != nil {
		return dst, err
	}
	return dst[:len(dst)+len(out)], nil
}

// One zstd encoder and decoder serve the process: EncodeAll and DecodeAll are
// safe for concurrent use and keep their own pools of per-call state, so no
// batch pays for building a new one.
var (
	zstdEncoder = mustZstdEncoder()
	zstdDecoder = mustZstdDecoder()
)

func mustZstdEncoder() *zstd.Encoder {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		panic(fmt.Sprintf("record: zstd encoder: %v", err)) // static options; cannot fail
	}
	return enc
}

func mustZstdDecoder() *zstd.Decoder {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxDecompressedSize))
	if err != nil {
		panic(fmt.Sprintf("record: zstd decoder: %v", err)) // static options; cannot fail
	}
	return dec
}
