package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// benchModes are the two write paths a data dir can use (CalibrateDir
// chooses one); Append and RawWrite measure each, so that their ratio is
// Spate's overhead over the disk used the same way.
var benchModes = []struct {
	mode   WriteMode
	direct int // Config.DirectWriteBytes
}{{WritePageCache, 0}, {WriteDirect, DirectWriteThreshold}}

func BenchmarkAppend(b *testing.B) {
	for _, m := range benchModes {
		for _, bs := range benchBatchSizes {
			for _, flush := range []FlushPolicy{FlushNever, FlushAlways} {
				b.Run(fmt.Sprintf("mode=%s,batch=%s,flush=%s", m.mode, bs.name, flush), func(b *testing.B) {
					cfg := benchConfig(flush)
					cfg.DirectWriteBytes = m.direct
					l := openLog(b, b.TempDir(), cfg)
					defer l.Close()
					if m.direct > 0 && l.active().dw == nil {
						b.Skip("this filesystem takes no O_DIRECT")
					}
					benchAppend(b, l, bs.size)
				})
			}
		}
	}
}

func benchAppend(b *testing.B, l *Log, size int) {
	batch := makeBatch(size/100+1, time.Now().UnixMilli(), size, 1)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var sinceRetention int
	warmPageCache(b)
	for b.Loop() {
		if _, err := l.Append(batch); err != nil {
			b.Fatal(err)
		}
		if sinceRetention += size; sinceRetention >= benchSegmentBytes {
			b.StopTimer()
			if _, err := l.ApplyRetention(time.Now()); err != nil {
				b.Fatal(err)
			}
			sinceRetention = 0
			b.StartTimer()
		}
	}
}

// BenchmarkRawWrite is the ceiling for BenchmarkAppend at batch=1MiB: plain
// sequential 1 MiB writes in the same mode (pwrite through the page cache,
// or O_DIRECT from an aligned buffer) to files on the same filesystem,
// rolled at the same size and deleted beyond the same retained bytes as the
// log's segments, the deletions outside the timer as Append's retention.
func BenchmarkRawWrite(b *testing.B) {
	const chunk = 1 << 20
	for _, m := range benchModes {
		b.Run(fmt.Sprintf("mode=%s,chunk=1MiB", m.mode), func(b *testing.B) {
			raw := rawFiles{b: b, dir: b.TempDir(), direct: m.direct > 0}
			raw.roll()
			defer raw.close()
			data := getStaging(chunk)[:chunk]
			defer putStaging(data)
			copy(data, makeBatch(1, 1, chunk, 1))
			b.SetBytes(chunk)
			b.ReportAllocs()
			written := int64(0)
			warmPageCache(b)
			for b.Loop() {
				if written+chunk > benchSegmentBytes {
					b.StopTimer()
					raw.roll()
					written = 0
					b.StartTimer()
				}
				if _, err := raw.f.WriteAt(data, written); err != nil {
					b.Fatal(err)
				}
				written += chunk
			}
		})
	}
}

// warmPageCache writes as many bytes as a benchmark keeps on disk (the
// retained segments and the active one) to a scratch file on the same
// filesystem and deletes it, so that the benchmark's first segments go into
// page-cache pages freed a moment ago, as a log at its retention limit
// does. Call it right before the timed loop.
//
// Why: a VM with free page reporting (perf/bench.md §7) gives memory the
// guest left free for a few seconds back to the host, and the first write
// into such a page takes a host fault: here 64 MiB files were written at
// 4.5-7.3 GB/s right after a delete and at 0.3-0.5 GB/s after 10 s idle.
// Without the warm-up, the benchmark that ran first in a process filled its
// retained bytes from that memory and the next one reused what the first
// freed, so Append (declared first) looked 3-30x slower than RawWrite
// (perf/segment.md, 2026-12-06).
func warmPageCache(b *testing.B) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "warm")
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("warm the page cache: %v", err)
	}
	chunk := getStaging(1 << 20)
	defer putStaging(chunk)
	for pos := int64(0); pos < benchRetentionBytes+benchSegmentBytes; pos += int64(len(chunk)) {
		if _, err := f.WriteAt(chunk, pos); err != nil {
			f.Close()
			b.Fatalf("warm the page cache: %v", err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatalf("warm the page cache: %v", err)
	}
	if err := os.Remove(path); err != nil {
		b.Fatalf("warm the page cache: %v", err)
	}
}

// rawFiles is BenchmarkRawWrite's stand-in for a log's segments.
type rawFiles struct {
	b      *testing.B
	dir    string
	direct bool
	f      *os.File
	files  []string
}

func (r *rawFiles) roll() {
	r.close()
	name := filepath.Join(r.dir, fmt.Sprintf("%d.raw", len(r.files)))
	flag := os.O_RDWR | os.O_CREATE
	if r.direct {
		flag |= unix.O_DIRECT
	}
	f, err := os.OpenFile(name, flag, 0o644)
	if err != nil {
		r.b.Skipf("open %s (direct=%v): %v", name, r.direct, err)
	}
	r.f = f
	r.files = append(r.files, name)
	if keep := benchRetentionBytes / benchSegmentBytes; len(r.files) > keep {
		os.Remove(r.files[len(r.files)-1-keep])
	}
}

func (r *rawFiles) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
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
