package segment

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// BenchmarkCompact cleans one sealed 64 MiB segment of 100-record batches
// (100-byte values, half random) written over 10k keys, so about 98% of the
// records go. Each iteration compacts a fresh copy of the log; the copy is
// not timed. SetBytes is the segment size, so MB/s is segment bytes cleaned
// per second. The op=copy+fsync case times a plain copy of the same segment
// file plus fsync, the I/O floor of any rewrite, for a ratio within one run.
func BenchmarkCompact(b *testing.B) {
	for _, c := range []record.Compression{record.None, record.LZ4} {
		b.Run(fmt.Sprintf("segment=64MiB,keys=10k,codec=%s,op=compact", c), func(b *testing.B) {
			src, size, cfg := benchCompactLog(b, c)
			b.SetBytes(size)
			b.ReportAllocs()
			res, maxPause, _ := compactCopies(b, src, cfg, 1)
			b.ReportMetric(float64(res.BytesAfter)/float64(res.BytesBefore), "after/before")
			b.ReportMetric(float64(maxPause.Microseconds())/1000, "max-swap-pause-ms")
			b.ReportMetric(float64(res.RecordsRemoved), "records-removed")
		})
	}
	b.Run("segment=64MiB,keys=10k,codec=none,op=copy+fsync", func(b *testing.B) {
		src, size, _ := benchCompactLog(b, record.None)
		b.SetBytes(size)
		b.ResetTimer()
		for i := range b.N {
			dst := filepath.Join(b.TempDir(), fmt.Sprint(i))
			copyFile(b, filepath.Join(src, segmentName(0)+logSuffix), dst)
		}
	})
}

// BenchmarkCompactMerge cleans a log of n small sealed segments, each rolled
// after 10 one-record batches over 10 keys (about 800 bytes; a compacted
// topic written on, or Roll calls, leave such segments), with SegmentBytes
// 1 MiB, so one pass may merge them all into one file. Each iteration
// compacts a fresh copy of the log; the copy and the Open are not timed.
// files-before and files-after count the directory's .log, .index and
// .timeindex files around the pass; max-swap-pause-ms is the longest the
// pass held the log's lock (the merged segments' files are deleted under it).
func BenchmarkCompactMerge(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("segments=%d,records=10x10,op=compact", n), func(b *testing.B) {
			src := b.TempDir()
			cfg := DefaultConfig()
			cfg.SegmentBytes = 1 << 20
			l := openLog(b, src, cfg)
			var m model
			for i := range n * 10 {
				m.append(b, l, record.Options{}, kv{key: fmt.Appendf(nil, "key-%d", i%10), value: fmt.Appendf(nil, "value-%08d", i)})
				if i%10 == 9 {
					if err := l.Roll(); err != nil {
						b.Fatal(err)
					}
				}
			}
			l.Close()
			before := countSegmentFiles(b, src)
			b.ReportAllocs()
			_, maxPause, lastDir := compactCopies(b, src, cfg, n)
			b.ReportMetric(float64(before), "files-before")
			b.ReportMetric(float64(countSegmentFiles(b, lastDir)), "files-after")
			b.ReportMetric(float64(maxPause.Microseconds())/1000, "max-swap-pause-ms")
		})
	}
}

// compactCopies runs b.N timed Compact passes, each on a fresh copy of the
// log in src (the copy and the Open untimed), and fails unless each
// rewrites wantSegments segments. It returns the last pass's result, the
// longest swap pause of all, and the last copy's directory (closed).
func compactCopies(b *testing.B, src string, cfg Config, wantSegments int) (CompactResult, time.Duration, string) {
	b.Helper()
	var res CompactResult
	var maxPause time.Duration
	var dir string
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dir = filepath.Join(b.TempDir(), fmt.Sprint(i))
		copyDir(b, src, dir)
		l := openLog(b, dir, cfg)
		b.StartTimer()
		var err error
		if res, err = l.Compact(CompactOptions{Now: time.Now()}); err != nil || res.Segments != wantSegments {
			b.Fatalf("Compact: %+v, %v", res, err)
		}
		b.StopTimer()
		maxPause = max(maxPause, res.MaxSwapPause)
		l.Close()
		b.StartTimer()
	}
	b.StopTimer()
	return res, maxPause, dir
}

// countSegmentFiles counts the .log, .index and .timeindex files in dir.
func countSegmentFiles(b testing.TB, dir string) int {
	b.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case logSuffix, indexSuffix, timeIndexSuffix:
			n++
		}
	}
	return n
}

// benchCompactLog writes the log BenchmarkCompact cleans: one sealed segment
// of up to 64 MiB and an empty active one. It returns the directory, the
// sealed segment's size and the config.
func benchCompactLog(b *testing.B, c record.Compression) (string, int64, Config) {
	b.Helper()
	src := b.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	l := openLog(b, src, cfg)
	defer l.Close()
	// Half random, half zero: about 2x compressible, like text.
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 100)
	var bld record.Builder
	var buf []byte
	for i := 0; ; i++ {
		bld.Reset(buf[:0], record.Options{Compression: c})
		for j := range 100 {
			for k := range 50 {
				value[k] = byte(rng.Uint32())
			}
			bld.Append(time.Now().UnixMilli(), fmt.Appendf(nil, "key-%05d", (i*100+j)*7919%10000), value, nil)
		}
		var err error
		if buf, err = bld.Finish(); err != nil {
			b.Fatal(err)
		}
		if l.LogEndOffset() > 0 && l.activeSize()+int64(len(buf)) > cfg.SegmentBytes {
			break
		}
		if _, err := l.Append(record.Batch(buf)); err != nil {
			b.Fatal(err)
		}
	}
	size := l.activeSize()
	if err := l.Roll(); err != nil {
		b.Fatal(err)
	}
	return src, size, cfg
}

func (l *Log) activeSize() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.active().size
}

func copyDir(b testing.TB, src, dst string) {
	b.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		copyFile(b, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
	}
}

// copyFile copies src to dst and fsyncs dst.
func copyFile(b testing.TB, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
}
