package segment

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// directConfig sends every batch of 3,000 bytes and more past the page
// cache, so the random fills below mix both kinds of write in one file.
func directConfig() Config {
	cfg := testConfig()
	cfg.SegmentBytes = 256 << 10
	cfg.DirectWriteBytes = 3000
	return cfg
}

// fillMixed appends n batches of 61 bytes to 20 KB, about a third of them
// at or above directConfig's threshold.
func (w *written) fillMixed(t testing.TB, l *Log, n int, rng *rand.Rand) {
	t.Helper()
	for range n {
		ts := int64(1_000_000 + len(w.batches)*10)
		size := record.HeaderSize + rng.IntN(2000)
		if rng.IntN(3) == 0 {
			size = 3000 + rng.IntN(17_000)
		}
		w.append(t, l, makeBatch(1+rng.IntN(5), ts, size, byte(len(w.batches))))
	}
}

// openDirectLog opens a log under directConfig in a new directory; it skips
// when the filesystem there has no O_DIRECT (tmpfs before Linux 6.6, some
// overlays): nothing the caller checks would be exercised.
func openDirectLog(t *testing.T, cfg Config) (string, Config, *Log) {
	t.Helper()
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	l.mu.RLock()
	dw := l.active().dw
	l.mu.RUnlock()
	if dw == nil {
		l.Close()
		t.Skipf("no O_DIRECT on the filesystem of %s", dir)
	}
	// Reads in these tests must not turn direct writes off (see
	// TestDirectWritesOnlyWhileTailUnread for that).
	l.tailWindow = 0
	return dir, cfg, l
}

func TestDirectWritesReadBack(t *testing.T) {
	dir, cfg, l := openDirectLog(t, directConfig())
	var w written
	rng := rand.New(rand.NewPCG(1, 2))
	// Hold a range over the tail while later writes rewrite its last page:
	// the bytes it was given must not change under it.
	w.fillMixed(t, l, 5, rng)
	held, err := l.Read(w.batches[4].BaseOffset(), 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	w.fillMixed(t, l, 200, rng)
	if !bytes.Equal(held.Bytes(), w.batches[4]) {
		t.Fatal("a range read before later direct writes changed under its holder")
	}
	held.Release()
	checkReads(t, l, w.batches)
	l.mu.RLock()
	directs := l.active().dw.directs
	l.mu.RUnlock()
	if directs == 0 {
		t.Fatal("no batch of the active segment went direct")
	}
	if n := len(segmentFiles(t, dir, logSuffix)); n < 3 {
		t.Fatalf("want several segments, have %d", n)
	}
	// Sealed segments lost their padding at roll: each ends on its last batch.
	checkSizes := func(sealedOnly bool) {
		t.Helper()
		logs := segmentFiles(t, dir, logSuffix)
		if sealedOnly {
			logs = logs[:len(logs)-1]
		}
		for _, p := range logs {
			base, next := baseOf(t, p), nextBase(t, dir, baseOf(t, p))
			var want int64
			for _, b := range w.batches {
				if b.BaseOffset() >= base && b.BaseOffset() < next {
					want += int64(len(b))
				}
			}
			if got := fileSize(t, p); got != want {
				t.Fatalf("%s is %d bytes, its batches %d", filepath.Base(p), got, want)
			}
		}
	}
	checkSizes(true)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkSizes(false) // Close trimmed the active segment too
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, w.batches)
	w.fillMixed(t, l, 30, rng) // appends resume from the reloaded tail
	checkReads(t, l, w.batches)
}

func TestDirectWritesSurviveCrash(t *testing.T) {
	dir, cfg, l := openDirectLog(t, directConfig())
	var w written
	rng := rand.New(rand.NewPCG(3, 4))
	w.fillMixed(t, l, 150, rng)
	// End on a direct write, whose padding the crash leaves behind (a small
	// append into a cached page writes no padding).
	w.append(t, l, makeBatch(2, 5_000_000, 5001, 1))
	crash(t, l)
	last, end := endOfLast(t, dir, &w)
	if size := fileSize(t, last); size <= end || size%int64(os.Getpagesize()) != 0 {
		t.Fatalf("after a crash %s is %d bytes, its batches end at %d: want padding to a page", last, size, end)
	}
	l = openLog(t, dir, cfg)
	checkReads(t, l, w.batches)
	if got := fileSize(t, last); got != end {
		t.Fatalf("recovery left %s at %d bytes, want %d", last, got, end)
	}
	w.fillMixed(t, l, 20, rng)
	checkReads(t, l, w.batches)
	l.Close()
}

func TestDirectWritesUnderFlushAlways(t *testing.T) {
	cfg := directConfig()
	cfg.Flush = FlushAlways
	dir, cfg, l := openDirectLog(t, cfg)
	var w written
	w.fillMixed(t, l, 80, rand.New(rand.NewPCG(7, 8)))
	if l.FlushedOffset() != l.LogEndOffset() || l.Syncs() == 0 {
		t.Fatalf("flushed %d of %d after %d syncs: every Append should wait for one", l.FlushedOffset(), l.LogEndOffset(), l.Syncs())
	}
	crash(t, l)
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, w.batches)
}

// A power loss can undo the trim of a sealed segment: its padding must not
// be taken for a torn tail that drops every later segment.
func TestDirectPaddingInSealedSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := directConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fillMixed(t, l, 150, rand.New(rand.NewPCG(5, 6)))
	crash(t, l)
	os.Remove(filepath.Join(dir, recoveryPointFile)) // validate every segment
	logs := segmentFiles(t, dir, logSuffix)
	if len(logs) < 3 {
		t.Fatalf("want several segments, have %d", len(logs))
	}
	f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 700))
	f.Close()
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, w.batches)
}

// Large appends go direct only while nobody reads the active segment: a
// tailing reader wants them in the page cache.
func TestDirectWritesOnlyWhileTailUnread(t *testing.T) {
	_, _, l := openDirectLog(t, directConfig())
	defer l.Close()
	l.tailWindow = time.Second
	directs := func() int {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return l.active().dw.directs
	}
	var w written
	big := func() { w.append(t, l, makeBatch(3, 1_000_000, 5000, byte(len(w.batches)))) }
	big()
	if got := directs(); got != 1 {
		t.Fatalf("direct writes with no reader = %d, want 1", got)
	}
	r, err := l.Read(l.LogEndOffset(), 1<<20, l.LogEndOffset()) // a consumer polling at the end
	if err != nil {
		t.Fatal(err)
	}
	r.Release()
	big()
	big()
	if got := directs(); got != 1 {
		t.Fatalf("direct writes right after a tail read = %d, want still 1", got)
	}
	time.Sleep(1200 * time.Millisecond)
	big()
	if got := directs(); got != 2 {
		t.Fatalf("direct writes once the tail went unread = %d, want 2", got)
	}
	checkReads(t, l, w.batches)
}

// baseOf parses a segment file's base offset from its name.
func baseOf(t *testing.T, path string) int64 {
	t.Helper()
	var base int64
	for _, c := range filepath.Base(path)[:20] {
		base = base*10 + int64(c-'0')
	}
	return base
}

// nextBase returns the base of the segment after base, or max int64.
func nextBase(t *testing.T, dir string, base int64) int64 {
	t.Helper()
	for _, p := range segmentFiles(t, dir, logSuffix) {
		if b := baseOf(t, p); b > base {
			return b
		}
	}
	return 1<<63 - 1
}
