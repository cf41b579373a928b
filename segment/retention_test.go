package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 150, rand.New(rand.NewPCG(1, 3)))
	if err := l.Epochs().Assign(1, 0); err != nil {
		t.Fatal(err)
	}
	mid := w.batches[100]
	if err := l.Epochs().Assign(2, mid.BaseOffset()); err != nil {
		t.Fatal(err)
	}
	// A reader holds a range in the segment being cut and in a later one.
	held, err := l.Read(mid.BaseOffset(), 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	heldBytes := append([]byte(nil), held.Bytes()...)
	last := w.batches[len(w.batches)-1]
	heldLast, _ := l.Read(last.BaseOffset(), 1<<20, l.LogEndOffset())

	// Truncating into the middle of a batch drops the whole batch.
	if err := l.TruncateTo(mid.BaseOffset() + int64(mid.LastOffsetDelta())); err != nil {
		t.Fatal(err)
	}
	want := w.batches[:100]
	checkReads(t, l, want)
	if !bytes.Equal(held.Bytes(), heldBytes) || !bytes.Equal(heldLast.Bytes(), last) {
		t.Fatal("a range held across TruncateTo changed")
	}
	held.Release()
	heldLast.Release()
	if e, _ := l.Epochs().Latest(); e != 1 {
		t.Fatalf("latest epoch after truncation = %d, want 1", e)
	}
	if err := l.TruncateTo(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("TruncateTo(-1) = %v", err)
	}
	b := makeBatch(2, 9_000_000, 500, 4)
	if base, err := l.Append(b); err != nil || base != mid.BaseOffset() {
		t.Fatalf("Append after truncation = %d, %v", base, err)
	}
	want = append(append([]record.Batch(nil), want...), b)
	checkReads(t, l, want)
	// Truncate at a segment boundary and to the very start.
	l.Close()
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, want)
	if err := l.TruncateTo(0); err != nil {
		t.Fatal(err)
	}
	checkReads(t, l, nil)
	if n := len(segmentFiles(t, dir, logSuffix)); n != 1 {
		t.Fatalf("%d segments after TruncateTo(0)", n)
	}
	if ts, err := l.OffsetForTimestamp(0); err != nil || ts != -1 {
		t.Fatalf("OffsetForTimestamp on empty log = %d, %v", ts, err)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.RetentionBytes = 3 * cfg.SegmentBytes
	l := openLog(t, dir, cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 400, rand.New(rand.NewPCG(2, 3)))
	first := w.batches[0]
	held, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.ApplyRetention(time.UnixMilli(first.MaxTimestamp()))
	if err != nil || n == 0 {
		t.Fatalf("ApplyRetention by size = %d, %v", n, err)
	}
	var total int64
	for _, p := range segmentFiles(t, dir, logSuffix) {
		total += fileSize(t, p)
	}
	if total < cfg.RetentionBytes || total > cfg.RetentionBytes+cfg.SegmentBytes {
		t.Fatalf("%d bytes left with RetentionBytes %d", total, cfg.RetentionBytes)
	}
	if !bytes.Equal(held.Bytes()[:len(first)], first) {
		t.Fatal("range held across retention changed")
	}
	held.Release()
	start := l.LogStartOffset()
	if _, err := l.Read(start-1, 100, l.LogEndOffset()); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below log start = %v", err)
	}
	checkReads(t, l, w.batches[firstIndexAt(w.batches, start):])

	// By age: everything but the active segment is older than a minute.
	cfg.RetentionBytes = -1
	cfg.RetentionAge = time.Minute
	l.cfg = cfg
	last := w.batches[len(w.batches)-1]
	n, err = l.ApplyRetention(time.UnixMilli(last.MaxTimestamp()).Add(2 * time.Minute))
	if err != nil || n == 0 || len(segmentFiles(t, dir, logSuffix)) != 1 {
		t.Fatalf("ApplyRetention by age = %d, %v, %d segments left", n, err, len(segmentFiles(t, dir, logSuffix)))
	}
	if n, _ := l.ApplyRetention(time.UnixMilli(last.MaxTimestamp())); n != 0 {
		t.Fatalf("retention deleted %d segments with nothing expired", n)
	}
}

func firstIndexAt(bs []record.Batch, offset int64) int {
	for i, b := range bs {
		if b.LastOffset() >= offset {
			return i
		}
	}
	return len(bs)
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 200, rand.New(rand.NewPCG(4, 5)))
	l.Epochs().Assign(3, 0)
	l.Epochs().Assign(4, w.batches[150].BaseOffset())
	segsBefore := len(segmentFiles(t, dir, logSuffix))
	cut := w.batches[120].BaseOffset() + 1
	if err := l.DeleteRecordsBefore(l.LogEndOffset() + 1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecordsBefore(LEO+1) = %v", err)
	}
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != cut || len(segmentFiles(t, dir, logSuffix)) >= segsBefore {
		t.Fatalf("log start %d (want %d), %d segments (had %d)", l.LogStartOffset(), cut, len(segmentFiles(t, dir, logSuffix)), segsBefore)
	}
	if got := l.Epochs().Entries(); got[0] != (EpochEntry{3, cut}) {
		t.Fatalf("epochs after DeleteRecords = %v", got)
	}
	crash(t, l)
	l = openLog(t, dir, cfg)
	defer l.Close()
	if l.LogStartOffset() != cut {
		t.Fatalf("log start after reopen = %d, want %d", l.LogStartOffset(), cut)
	}
	checkReads(t, l, w.batches[121:])
	// The batch holding the new start is still served whole.
	r, err := l.Read(cut, 1, l.LogEndOffset())
	if err != nil || r.FirstOffset() != w.batches[120].BaseOffset() {
		t.Fatalf("Read(log start) = %v, %v", r, err)
	}
	r.Release()
}

func TestOffsetForTimestamp(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	rng := rand.New(rand.NewPCG(6, 7))
	ts := int64(1000)
	for i := range 300 {
		ts += int64(rng.IntN(20)) - 5 // mostly increasing, sometimes back
		w.append(t, l, makeBatch(1+i%3, ts, 100+rng.IntN(900), byte(i)))
	}
	check := func() {
		t.Helper()
		for q := int64(990); q <= ts+10; q += 7 {
			want := int64(-1)
			for _, b := range w.batches {
				if b.MaxTimestamp() >= q {
					want = b.BaseOffset()
					break
				}
			}
			got, err := l.OffsetForTimestamp(q)
			if err != nil || got != want {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %v; want %d", q, got, err, want)
			}
		}
	}
	check()
	l.Close()
	l = openLog(t, dir, cfg)
	defer l.Close()
	check()
}

func TestEpochCache(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	c := l.Epochs()
	if e, s := c.Latest(); e != -1 || s != -1 {
		t.Fatalf("empty Latest = %d %d", e, s)
	}
	for i := range 10 {
		l.Append(makeBatch(1, 1, 100, byte(i)))
	}
	steps := []struct {
		epoch int32
		start int64
		ok    bool
	}{{1, 0, true}, {1, 5, true}, {3, 4, true}, {2, 6, false}, {5, 3, false}, {5, 4, true}, {6, 8, true}}
	for _, s := range steps {
		if err := c.Assign(s.epoch, s.start); (err == nil) != s.ok {
			t.Fatalf("Assign(%d, %d) = %v, want ok=%v", s.epoch, s.start, err, s.ok)
		}
	}
	// (3,4) was replaced by (5,4): epoch 3 wrote nothing.
	want := []EpochEntry{{1, 0}, {5, 4}, {6, 8}}
	if got := c.Entries(); !equalEntries(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	for _, q := range []struct {
		ask int32
		e   int32
		end int64
	}{{0, -1, -1}, {1, 1, 4}, {3, 1, 4}, {5, 5, 8}, {6, 6, 10}, {9, 6, 10}} {
		if e, end := c.EndOffsetFor(q.ask); e != q.e || end != q.end {
			t.Errorf("EndOffsetFor(%d) = %d %d, want %d %d", q.ask, e, end, q.e, q.end)
		}
	}
	if err := l.TruncateTo(8); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, dir, testConfig())
	defer l.Close()
	if got := l.Epochs().Entries(); !equalEntries(got, want[:2]) {
		t.Fatalf("entries after truncation and reopen = %v, want %v", got, want[:2])
	}
}

func equalEntries(a, b []EpochEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCorruptEpochCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	l.Epochs().Assign(1, 0)
	l.Close()
	writeFileAtomic(dir, epochFile, []byte("0\n2\n1 0\n"))
	if _, err := Open(dir, testConfig()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a short checkpoint = %v, want ErrCorrupt", err)
	}
}

// TestTruncateToWaitersAndRecoveryPoint: waiters for truncated offsets fail,
// and the recovery point moves back so that data written after the
// truncation is validated after a crash.
func TestTruncateToWaitersAndRecoveryPoint(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 150, rand.New(rand.NewPCG(8, 1)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	cut := w.batches[20].BaseOffset()
	w.append(t, l, makeBatch(1, 1, 100, 1))
	fired := make(chan error, 1)
	l.WhenFlushed(l.LogEndOffset()-1, func(err error) { fired <- err })
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if err := <-fired; !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("waiter for a truncated offset fired with %v", err)
	}
	if rp, ok, _ := readOffsetFile(dir, recoveryPointFile); !ok || rp > cut {
		t.Fatalf("recovery point after truncation to %d = %d (ok %v)", cut, rp, ok)
	}
	// Rewrite past the old recovery point, crash, corrupt the new data: it
	// must be validated (and cut), not trusted.
	var w2 written
	w2.batches = append(w2.batches, w.batches[:20]...)
	w2.fill(t, l, 100, rand.New(rand.NewPCG(8, 2)))
	crash(t, l)
	i := len(w2.batches) - 30
	path, pos := positionOf(t, dir, &w2, i)
	flipByte(t, path, pos+int64(len(w2.batches[i]))-1)
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, w2.batches[:i])
}

// TestSetLimits: limits set on an open log drive the next retention pass
// and roll, and an out-of-range SegmentBytes changes nothing.
func TestSetLimits(t *testing.T) {
	cfg := testConfig()
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 400, rand.New(rand.NewPCG(4, 5)))
	now := time.UnixMilli(w.batches[0].MaxTimestamp())
	if n, err := l.ApplyRetention(now); err != nil || n != 0 {
		t.Fatalf("ApplyRetention without limits = %d, %v", n, err)
	}
	bad := cfg
	bad.SegmentBytes = 0
	if err := l.SetLimits(bad); err == nil {
		t.Fatal("SetLimits with SegmentBytes 0 succeeded")
	}
	limited := cfg
	limited.RetentionBytes = 2 * cfg.SegmentBytes
	if err := l.SetLimits(limited); err != nil {
		t.Fatal(err)
	}
	if n, err := l.ApplyRetention(now); err != nil || n == 0 {
		t.Fatalf("ApplyRetention after SetLimits(RetentionBytes %d) = %d, %v", limited.RetentionBytes, n, err)
	}
}

// An epoch that wrote nothing leaves a checkpoint entry at the log end;
// truncating to the log end removes no batch but drops that entry, so a
// follower can then append a batch of an older epoch (replication's
// Truncation rule), and the drop survives a reopen.
func TestTruncateToLogEndDropsEmptyEpoch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	if err := l.Epochs().Assign(1, 0); err != nil {
		t.Fatal(err)
	}
	var w written
	w.fill(t, l, 3, rand.New(rand.NewPCG(2, 5)))
	end := l.LogEndOffset()
	if err := l.Epochs().Assign(2, end); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateTo(end + 5); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.Epochs().Latest(); e != 2 {
		t.Fatalf("TruncateTo past the end dropped epoch 2 starting at the end (latest %d)", e)
	}
	if err := l.TruncateTo(end); err != nil {
		t.Fatal(err)
	}
	if e, start := l.Epochs().Latest(); e != 1 || start != 0 {
		t.Fatalf("latest epoch after TruncateTo(log end) = %d from %d, want 1 from 0", e, start)
	}
	checkReads(t, l, w.batches)
	l.Close()
	l = openLog(t, dir, testConfig())
	defer l.Close()
	if got := l.Epochs().Entries(); len(got) != 1 || got[0] != (EpochEntry{1, 0}) {
		t.Fatalf("checkpoint after reopen = %v, want [{1 0}]", got)
	}
}

// TestTruncateFullyAndStartAt: a log emptied to start at an offset past its
// end has no batch, no epoch entry and no waiter left, appends (verbatim or
// not) from that offset, and keeps it all across a clean reopen and a crash.
func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 120, rand.New(rand.NewPCG(4, 5)))
	if err := l.Epochs().Assign(3, 0); err != nil {
		t.Fatal(err)
	}
	held, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	heldBytes := bytes.Clone(held.Bytes())
	fired := make(chan error, 1)
	l.mu.Lock() // a waiter still pending when the log is emptied
	l.mu.waiters = append(l.mu.waiters, waiter{offset: l.LogEndOffset() + 5, fn: func(err error) { fired <- err }})
	l.mu.Unlock()
	start := l.LogEndOffset() + 1000
	if err := l.TruncateFullyAndStartAt(start); err != nil {
		t.Fatal(err)
	}
	if err := <-fired; !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("pending waiter fired with %v, want ErrOffsetOutOfRange", err)
	}
	if !bytes.Equal(held.Bytes(), heldBytes) {
		t.Fatal("a range held across TruncateFullyAndStartAt changed")
	}
	held.Release()
	if l.LogStartOffset() != start || l.LogEndOffset() != start || len(l.Epochs().Entries()) != 0 {
		t.Fatalf("after emptying: start %d end %d epochs %v, want %d, %d, none", l.LogStartOffset(), l.LogEndOffset(), l.Epochs().Entries(), start, start)
	}
	if _, err := l.Read(start-1, 1<<20, start); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the new start: %v", err)
	}
	v := makeBatch(3, 2_000_000, 300, 7)
	v.SetBaseOffset(start)
	if err := l.AppendVerbatim(v); err != nil {
		t.Fatal(err)
	}
	if err := l.Epochs().Assign(1, start); err != nil {
		t.Fatalf("an older epoch than the cleared checkpoint's: %v", err)
	}
	b := makeBatch(2, 2_000_010, 200, 8)
	if base, err := l.Append(b); err != nil || base != start+3 {
		t.Fatalf("Append after emptying = %d, %v; want %d", base, err, start+3)
	}
	want := []record.Batch{v, b}
	checkReads(t, l, want)
	l.Close()
	l = openLog(t, dir, cfg)
	checkReads(t, l, want)
	if l.LogStartOffset() != start {
		t.Fatalf("log start after reopen %d, want %d", l.LogStartOffset(), start)
	}
	// Again, then a crash right after: the empty log at the new start stays.
	if err := l.TruncateFullyAndStartAt(start + 50); err != nil {
		t.Fatal(err)
	}
	crash(t, l)
	l = openLog(t, dir, cfg)
	defer l.Close()
	if l.LogStartOffset() != start+50 || l.LogEndOffset() != start+50 {
		t.Fatalf("after a crash: start %d end %d, want %d", l.LogStartOffset(), l.LogEndOffset(), start+50)
	}
	if err := l.TruncateFullyAndStartAt(-1); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("start at -1: %v", err)
	}
}
