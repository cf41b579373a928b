package record

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
)

// benchRecordCounts: a small producer batch, a typical one, and ~1 MiB of
// 100-byte records (Kafka's default max.message.bytes).
var benchRecordCounts = []int{10, 1000, 9500}

// benchValues returns n 100-byte JSON-like event values: repeated field names
// around random ids, numbers and words, so that they compress roughly the way
// real event payloads do (matches for the LZ codecs, skewed bytes for the
// entropy coders), rather than the trivial gains of constant bytes.
func benchValues(n int) [][]byte {
	rng := rand.New(rand.NewPCG(5, 6))
	events := []string{"click", "view", "purchase", "scroll", "signup"}
	vals := make([][]byte, n)
	for i := range vals {
		v := fmt.Appendf(nil, `{"id":%d,"user":"u%06d","event":"%s","ts":%d,"score":%.3f,"tag":"`,
			rng.Int64N(1e12), rng.IntN(1e6), events[rng.IntN(len(events))], 1_700_000_000_000+rng.Int64N(1e6), rng.Float64())
		for len(v) < 98 {
			v = append(v, byte('a'+rng.IntN(26)))
		}
		vals[i] = append(v[:98], '"', '}')
	}
	return vals
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range benchRecordCounts {
		vals := benchValues(n)
		for _, codec := range allCodecs {
			b.Run(fmt.Sprintf("records=%d,value=100B,codec=%s", n, codec), func(b *testing.B) {
				var bd Builder
				opts := Options{Compression: codec}
				var buf []byte
				size := 0
				buildOnce := func() {
					bd.Reset(buf[:0], opts)
					for i, v := range vals {
						bd.Append(1_700_000_000_000+int64(i), nil, v, nil)
					}
					size = bd.Size()
					var err error
					if buf, err = bd.Finish(); err != nil {
						b.Fatal(err)
					}
				}
				buildOnce() // grows buf and the Builder's scratch: steady state is what we measure
				b.ReportAllocs()
				for b.Loop() {
					buildOnce()
				}
				// Throughput counts uncompressed batch bytes for every codec.
				b.SetBytes(int64(size))
				b.ReportMetric(float64(len(buf)), "batch-bytes")
			})
		}
	}
}

func BenchmarkIterate(b *testing.B) {
	for _, n := range benchRecordCounts {
		vals := benchValues(n)
		recs := make([]testRecord, n)
		for i := range recs {
			recs[i] = testRecord{Timestamp: 1_700_000_000_000 + int64(i), Value: vals[i]}
		}
		plainSize := len(build(b, Options{}, recs))
		for _, codec := range allCodecs {
			b.Run(fmt.Sprintf("records=%d,value=100B,codec=%s", n, codec), func(b *testing.B) {
				batch := build(b, Options{Compression: codec}, recs)
				var it Iter
				iterateOnce := func() {
					if err := it.Reset(batch); err != nil {
						b.Fatal(err)
					}
					total := 0
					for it.Next() {
						total += len(it.Record().Value)
					}
					if it.Err() != nil || total != 100*n {
						b.Fatalf("read %d value bytes, err %v", total, it.Err())
					}
				}
				iterateOnce() // grows the decompression buffer: steady state is what we measure
				b.SetBytes(int64(plainSize))
				b.ReportAllocs()
				for b.Loop() {
					iterateOnce()
				}
			})
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	vals := benchValues(10_000)
	var bd Builder
	bd.Reset(nil, Options{})
	for i := 0; bd.Size() < 1<<20; i++ {
		bd.Append(int64(i), nil, vals[i], nil)
	}
	raw, err := bd.Finish()
	if err != nil {
		b.Fatal(err)
	}
	batch, err := Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("size=1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		for b.Loop() {
			if err := batch.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnappyEncode backs the choice of s2.EncodeSnappy over
// snappy.Encode (s2's slower "better" mode) in appendCompressed.
func BenchmarkSnappyEncode(b *testing.B) {
	var src []byte
	for _, v := range benchValues(9500) {
		src = append(src, v...)
	}
	for _, mode := range []struct {
		name   string
		encode func(dst, src []byte) []byte
	}{{"fast", s2.EncodeSnappy}, {"better", snappy.Encode}} {
		b.Run("mode="+mode.name, func(b *testing.B) {
			dst := make([]byte, s2.MaxEncodedLen(len(src)))
			out := mode.encode(dst, src)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				out = mode.encode(dst, src)
			}
			b.ReportMetric(float64(len(out)), "out-bytes")
		})
	}
}
