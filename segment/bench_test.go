package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Benchmarks bound the disk they use: 64 MiB segments, 256 MiB retained,
// retention applied outside the timer whenever a segment's worth was written.
const (
	benchSegmentBytes   = 64 << 20
	benchRetentionBytes = 256 << 20
)

var benchBatchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"256KiB", 256 << 10}, {"1MiB", 1 << 20}}

func benchConfig(flush FlushPolicy) Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = benchSegmentBytes
	cfg.RetentionBytes = benchRetentionBytes
	cfg.Flush = flush
	return cfg
}

func BenchmarkAppend(b *testing.B) {
	for _, bs := range benchBatchSizes {
		for _, flush := range []FlushPolicy{FlushNever, FlushAlways} {
			b.Run(fmt.Sprintf("batch=%s,flush=%s", bs.name, flush), func(b *testing.B) {
				l := openLog(b, b.TempDir(), benchConfig(flush))
				defer l.Close()
				batch := makeBatch(bs.size/100+1, time.Now().UnixMilli(), bs.size, 1)
				b.SetBytes(int64(bs.size))
				b.ReportAllocs()
				var sinceRetention int
				for b.Loop() {
					if _, err := l.Append(batch); err != nil {
						b.Fatal(err)
					}
					if sinceRetention += bs.size; sinceRetention >= benchSegmentBytes {
						b.StopTimer()
						if _, err := l.ApplyRetention(time.Now()); err != nil {
							b.Fatal(err)
						}
						sinceRetention = 0
						b.StartTimer()
					}
				}
			})
		}
	}
}

// BenchmarkRawWrite is the ceiling for BenchmarkAppend: plain sequential
// writes of the same sizes to files on the same filesystem, rotated and
// deleted like the log's segments.
func BenchmarkRawWrite(b *testing.B) {
	const chunk = 1 << 20
	b.Run("chunk=1MiB", func(b *testing.B) {
		dir := b.TempDir()
		data := makeBatch(1, 1, chunk, 1)
		var files []string
		var f *os.File
		rotate := func() {
			if f != nil {
				f.Close()
			}
			name := filepath.Join(dir, fmt.Sprintf("%d.raw", len(files)))
			var err error
			if f, err = os.Create(name); err != nil {
				b.Fatal(err)
			}
			files = append(files, name)
			if len(files) > benchRetentionBytes/benchSegmentBytes {
				os.Remove(files[len(files)-1-benchRetentionBytes/benchSegmentBytes])
			}
		}
		rotate()
		defer func() { f.Close() }()
		b.SetBytes(chunk)
		b.ReportAllocs()
		written := 0
		for b.Loop() {
			if written+chunk > benchSegmentBytes {
				b.StopTimer()
				rotate()
				written = 0
				b.StartTimer()
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			written += chunk
		}
	})
}

// BenchmarkRead measures Read+Release of one batch from a warm log (the
// page cache holds it), optionally touching every page of the mapping.
func BenchmarkRead(b *testing.B) {
	for _, bs := range benchBatchSizes {
		for _, access := range []string{"range", "bytes"} {
			b.Run(fmt.Sprintf("batch=%s,access=%s", bs.name, access), func(b *testing.B) {
				l := openLog(b, b.TempDir(), benchConfig(FlushNever))
				defer l.Close()
				batch := makeBatch(bs.size/100+1, 1, bs.size, 1)
				count := max(32<<20/bs.size, 16)
				for range count {
					if _, err := l.Append(batch); err != nil {
						b.Fatal(err)
					}
				}
				leo, step := l.LogEndOffset(), int64(batch.LastOffsetDelta())+1
				b.SetBytes(int64(bs.size))
				b.ReportAllocs()
				var off int64
				var sink byte
				for b.Loop() {
					r, err := l.Read(off, bs.size, leo)
					if err != nil || r.Len() != bs.size {
						b.Fatalf("Read(%d) = %d bytes, %v", off, r.Len(), err)
					}
					if access == "bytes" {
						p := r.Bytes()
						for i := 0; i < len(p); i += 4096 {
							sink ^= p[i]
						}
					}
					r.Release()
					if off += step; off >= leo {
						off = 0
					}
				}
				_ = sink
			})
		}
	}
}
