package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	var w written
	w.fill(t, l, 300, rand.New(rand.NewPCG(1, 2)))
	checkReads(t, l, w.batches)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l = openLog(t, dir, testConfig())
	defer l.Close()
	checkReads(t, l, w.batches)
	w.fill(t, l, 10, rand.New(rand.NewPCG(3, 4)))
	checkReads(t, l, w.batches)
}

func TestSegmentNamesAndRoll(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 200, rand.New(rand.NewPCG(1, 1)))
	logs := segmentFiles(t, dir, logSuffix)
	if len(logs) < 3 {
		t.Fatalf("%d segments after %d bytes with SegmentBytes %d", len(logs), l.active().size, cfg.SegmentBytes)
	}
	if got := filepath.Base(logs[0]); got != "00000000000000000000.log" {
		t.Fatalf("first segment %q", got)
	}
	for _, p := range logs {
		fi, _ := os.Stat(p)
		if fi.Size() > cfg.SegmentBytes {
			t.Fatalf("%s is %d bytes, above SegmentBytes %d", p, fi.Size(), cfg.SegmentBytes)
		}
		stem := strings.TrimSuffix(p, logSuffix)
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if _, err := os.Stat(stem + suf); err != nil {
				t.Fatalf("missing %s: %v", stem+suf, err)
			}
		}
	}
	// Sealed segments' indexes are trimmed to their entries.
	fi, _ := os.Stat(strings.TrimSuffix(logs[0], logSuffix) + indexSuffix)
	if fi.Size() == 0 || fi.Size()%offsetEntrySize != 0 || fi.Size() >= int64(cfg.MaxIndexBytes) {
		t.Fatalf("sealed index size %d", fi.Size())
	}
	// A batch bigger than SegmentBytes gets a segment of its own.
	big := makeBatch(1, 2_000_000, int(cfg.SegmentBytes)*2, 1)
	w.append(t, l, big)
	w.fill(t, l, 3, rand.New(rand.NewPCG(2, 2)))
	checkReads(t, l, w.batches)
}

func TestRollByAgeAndIndexFull(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentAge = 50 * time.Millisecond
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 2, rand.New(rand.NewPCG(1, 1)))
	time.Sleep(60 * time.Millisecond)
	w.fill(t, l, 1, rand.New(rand.NewPCG(1, 1)))
	if n := len(segmentFiles(t, l.Dir(), logSuffix)); n != 2 {
		t.Fatalf("%d segments after SegmentAge passed, want 2", n)
	}

	cfg = testConfig()
	cfg.MaxIndexBytes = 4 * timeEntrySize // 6 offset entries, 4 time entries
	cfg.IndexIntervalBytes = 100
	l2 := openLog(t, t.TempDir(), cfg)
	defer l2.Close()
	var w2 written
	for i := range 20 {
		w2.append(t, l2, makeBatch(1, int64(1000+i), 200, 1))
	}
	if n := len(segmentFiles(t, l2.Dir(), logSuffix)); n < 3 {
		t.Fatalf("%d segments with tiny indexes, want rolls on full index", n)
	}
	checkReads(t, l2, w2.batches)
}

func TestReadLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig())
	defer l.Close()
	var w written
	for i := range 10 {
		w.append(t, l, makeBatch(3, int64(100+i), 1000, byte(i))) // offsets [3i, 3i+3)
	}
	// KIP-74: one whole batch even when it alone exceeds maxBytes.
	r, err := l.Read(4, 10, 30)
	if err != nil || r.Len() != 1000 || r.FirstOffset() != 3 || r.NextOffset() != 6 {
		t.Fatalf("Read(4, 10, 30) = %d bytes [%d,%d), %v", r.Len(), r.FirstOffset(), r.NextOffset(), err)
	}
	r.Release()
	// maxBytes stops on a batch boundary.
	r, _ = l.Read(0, 2999, 30)
	if r.Len() != 2000 || r.NextOffset() != 6 {
		t.Fatalf("Read(0, 2999) = %d bytes up to %d", r.Len(), r.NextOffset())
	}
	r.Release()
	// upTo (high watermark) excludes batches whose last offset reaches it.
	r, _ = l.Read(0, 1<<20, 8)
	if r.Len() != 2000 || r.NextOffset() != 6 {
		t.Fatalf("Read(0, upTo 8) = %d bytes up to %d", r.Len(), r.NextOffset())
	}
	r.Release()
	r, _ = l.Read(6, 1<<20, 8)
	if r.Len() != 0 {
		t.Fatalf("Read(6, upTo 8) = %d bytes, want none", r.Len())
	}
	r.Release()
	if _, err := l.Read(-1, 100, 30); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(-1) = %v", err)
	}
	// Reads never cross a segment boundary.
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	w.append(t, l, makeBatch(1, 200, 500, 1))
	r, _ = l.Read(27, 1<<20, 31)
	if r.Len() != 1000 || r.NextOffset() != 30 {
		t.Fatalf("Read across a roll = %d bytes up to %d", r.Len(), r.NextOffset())
	}
	r.Release()
	r, _ = l.Read(30, 1<<20, 31)
	if r.Len() != 500 || r.FirstOffset() != 30 {
		t.Fatalf("Read(30) after roll = %d bytes from %d", r.Len(), r.FirstOffset())
	}
	if r.File() == nil || r.Pos() != 0 {
		t.Fatalf("File/Pos = %v/%d", r.File(), r.Pos())
	}
	var buf [500]byte
	if _, err := r.File().ReadAt(buf[:], r.Pos()); err != nil || !bytes.Equal(buf[:], r.Bytes()) {
		t.Fatalf("File bytes differ from mapping: %v", err)
	}
	r.Release()
	r.Release() // documented no-op
}

func TestAppendVerbatim(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig())
	defer l.Close()
	b := makeBatch(2, 1, 100, 1)
	b.SetBaseOffset(5)
	if err := l.AppendVerbatim(b); !errors.Is(err, ErrOffsetMismatch) {
		t.Fatalf("AppendVerbatim at 5 on empty log = %v", err)
	}
	b.SetBaseOffset(0)
	if err := l.AppendVerbatim(b); err != nil || l.LogEndOffset() != 2 {
		t.Fatalf("AppendVerbatim = %v, LEO %d", err, l.LogEndOffset())
	}
	// The log is still usable after a refused verbatim batch.
	checkReads(t, l, []record.Batch{b})
}

func TestClosedAndFailedLogRefuses(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	l.Append(makeBatch(1, 1, 100, 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(dir, cleanShutdownFile)) {
		t.Fatal("no clean-shutdown marker after Close")
	}
	calls := map[string]error{
		"Close":  l.Close(),
		"Flush":  l.Flush(),
		"Roll":   l.Roll(),
		"Append": func() error { _, err := l.Append(makeBatch(1, 1, 100, 1)); return err }(),
		"Read":   func() error { _, err := l.Read(0, 100, 1); return err }(),
		"Trunc":  l.TruncateTo(0),
		"Delete": l.Delete(),
	}
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	var got error
	l.WhenFlushed(0, func(err error) { got = err })
	if !errors.Is(got, ErrClosed) {
		t.Errorf("WhenFlushed after Close fired with %v", got)
	}
	l = openLog(t, dir, testConfig())
	if fileExists(filepath.Join(dir, cleanShutdownFile)) {
		t.Fatal("clean-shutdown marker survives Open")
	}
	l.mu.Lock()
	l.failLocked(errors.New("injected"))
	l.mu.Unlock()
	if _, err := l.Append(makeBatch(1, 1, 100, 1)); err == nil {
		t.Fatal("failed log accepted an append")
	}
	if err := l.Delete(); err != nil || fileExists(dir) {
		t.Fatalf("Delete of failed log = %v, dir exists %v", err, fileExists(dir))
	}
}
