package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// kv is one record as a test wrote or read it.
type kv struct {
	offset     int64
	key, value []byte
}

// kvBatch builds a batch of the given records (nil value = tombstone).
func kvBatch(t testing.TB, opts record.Options, ts int64, recs ...kv) record.Batch {
	t.Helper()
	var bld record.Builder
	bld.Reset(nil, opts)
	for _, r := range recs {
		bld.Append(ts, r.key, r.value, nil)
	}
	b, err := bld.Finish()
	if err != nil {
		t.Fatalf("build batch: %v", err)
	}
	return record.Batch(b)
}

// model tracks what a test appended: every record, by offset.
type model struct {
	recs []kv
}

// append writes recs as one batch and records their offsets.
func (m *model) append(t testing.TB, l *Log, opts record.Options, recs ...kv) record.Batch {
	t.Helper()
	b := kvBatch(t, opts, time.Now().UnixMilli(), recs...)
	base, err := l.Append(b)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	for i, r := range recs {
		m.recs = append(m.recs, kv{base + int64(i), r.key, r.value})
	}
	return b
}

// latestBelow returns, per key, the last record written below end.
func (m *model) latestBelow(end int64) map[string]kv {
	out := map[string]kv{}
	for _, r := range m.recs {
		if r.offset < end {
			out[string(r.key)] = r
		}
	}
	return out
}

// readAll reads every batch from the log start to the log end, checks each
// with ValidateStored and that batches tile the offsets without gaps, and
// returns the records and batches.
func readAll(t testing.TB, l *Log) ([]kv, []record.Batch) {
	t.Helper()
	var recs []kv
	var batches []record.Batch
	var it record.Iter
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		r, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		data := r.Bytes()
		for len(data) > 0 {
			b, err := record.Parse(data)
			if err != nil {
				t.Fatalf("parse at offset %d: %v", off, err)
			}
			if err := b.ValidateStored(); err != nil {
				t.Fatalf("batch at %d: %v", b.BaseOffset(), err)
			}
			if b.BaseOffset() != off {
				t.Fatalf("batch base %d, want %d (offsets must tile)", b.BaseOffset(), off)
			}
			if err := it.Reset(b); err != nil {
				t.Fatal(err)
			}
			for it.Next() {
				rec := it.Record()
				recs = append(recs, kv{rec.Offset, bytes.Clone(rec.Key), bytes.Clone(rec.Value)})
			}
			if it.Err() != nil {
				t.Fatalf("records of batch %d: %v", b.BaseOffset(), it.Err())
			}
			batches = append(batches, record.Batch(bytes.Clone(b)))
			off = b.NextOffset()
			data = data[len(b):]
		}
		r.Release()
	}
	return recs, batches
}

// checkCompacted asserts that below end each key appears once, at the offset
// it was last written below end, with that value; records at or past end are
// all there.
func checkCompacted(t *testing.T, m *model, got []kv, end int64) {
	t.Helper()
	want := m.latestBelow(end)
	seen := map[string]bool{}
	var tail int
	for _, r := range got {
		if r.offset >= end {
			tail++
			continue
		}
		k := string(r.key)
		if seen[k] {
			t.Fatalf("key %s appears twice below %d (again at %d)", k, end, r.offset)
		}
		seen[k] = true
		w, ok := want[k]
		if !ok || w.offset != r.offset || !bytes.Equal(w.value, r.value) {
			t.Fatalf("key %s at %d = %q, want offset %d value %q", k, r.offset, r.value, w.offset, w.value)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d keys below %d after compaction, want %d", len(seen), end, len(want))
	}
	var wantTail int
	for _, r := range m.recs {
		if r.offset >= end {
			wantTail++
		}
	}
	if tail != wantTail {
		t.Fatalf("%d records at or past %d, want %d", tail, end, wantTail)
	}
}

// fillKeys appends n records over nkeys keys in batches of 1-5 records.
func fillKeys(t testing.TB, l *Log, m *model, rng *rand.Rand, n, nkeys int, opts record.Options) {
	t.Helper()
	for written := 0; written < n; {
		k := min(1+rng.IntN(5), n-written)
		recs := make([]kv, k)
		for i := range recs {
			recs[i] = kv{key: fmt.Appendf(nil, "key-%03d", rng.IntN(nkeys)), value: fmt.Appendf(nil, "value-%d", written+i)}
		}
		m.append(t, l, opts, recs...)
		written += k
	}
}

func compactNow(t testing.TB, l *Log) CompactResult {
	t.Helper()
	res, err := l.Compact(CompactOptions{Now: time.Now(), DeleteRetention: time.Hour})
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	return res
}

func TestCompactKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, dir, cfg)
	var m model
	rng := rand.New(rand.NewPCG(1, 2))
	fillKeys(t, l, &m, rng, 3000, 50, record.Options{})
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	leo := l.LogEndOffset()
	res := compactNow(t, l)
	if res.Segments == 0 || res.RecordsRemoved == 0 || res.BytesAfter >= res.BytesBefore {
		t.Fatalf("compaction did nothing: %+v", res)
	}
	if l.LogEndOffset() != leo || res.FirstDirty != leo {
		t.Fatalf("log end %d, first dirty %d after compaction, want both %d", l.LogEndOffset(), res.FirstDirty, leo)
	}
	got, _ := readAll(t, l)
	checkCompacted(t, &m, got, leo)

	// A second pass with nothing dirty changes nothing.
	if res := compactNow(t, l); res.Segments != 0 {
		t.Fatalf("second pass rewrote %d segments", res.Segments)
	}
	// Recovery accepts compacted segments, even when it validates every batch.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cleanShutdownFile, recoveryPointFile} {
		os.Remove(filepath.Join(dir, f))
	}
	l = openLog(t, dir, cfg)
	defer l.Close()
	if l.LogEndOffset() != leo {
		t.Fatalf("log end %d after reopen, want %d", l.LogEndOffset(), leo)
	}
	got, _ = readAll(t, l)
	checkCompacted(t, &m, got, leo)
	// The cleaner checkpoint survived: nothing is dirty after the reopen.
	if res := compactNow(t, l); res.Segments != 0 || res.FirstDirty != leo {
		t.Fatalf("pass after reopen: %+v, want nothing to do from %d", res, leo)
	}
}

// TestCompactKeepsHeldRanges: a FileRange taken before a swap still reads
// the old bytes after it, and a new Read sees the cleaned segment.
func TestCompactKeepsHeldRanges(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	fillKeys(t, l, &m, rand.New(rand.NewPCG(19, 20)), 500, 5, record.Options{})
	l.Roll()
	held, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	old := bytes.Clone(held.Bytes())
	if res := compactNow(t, l); res.Segments == 0 {
		t.Fatal("nothing compacted")
	}
	if !bytes.Equal(held.Bytes(), old) {
		t.Fatal("a range held across the swap changed")
	}
	buf := make([]byte, held.Len())
	if _, err := held.File().ReadAt(buf, held.Pos()); err != nil || !bytes.Equal(buf, old) {
		t.Fatalf("the held range's file (for sendfile) no longer has its bytes: %v", err)
	}
	fresh, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Release()
	if fresh.Len() >= len(old) {
		t.Fatalf("a read after the swap got %d bytes, want fewer than the %d before", fresh.Len(), len(old))
	}
}

func TestCompactLeavesActiveSegment(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	rng := rand.New(rand.NewPCG(3, 4))
	fillKeys(t, l, &m, rng, 2000, 20, record.Options{})
	l.mu.RLock()
	act := l.active()
	activeBase, activeBytes := act.base, bytes.Clone(act.valid())
	l.mu.RUnlock()
	if len(activeBytes) == 0 {
		t.Fatal("test needs data in the active segment")
	}
	compactNow(t, l)
	l.mu.RLock()
	act = l.active()
	same := act.base == activeBase && bytes.Equal(act.valid(), activeBytes)
	l.mu.RUnlock()
	if !same {
		t.Fatal("the active segment changed")
	}
	got, _ := readAll(t, l)
	checkCompacted(t, &m, got, activeBase)
}

func TestCompactTombstones(t *testing.T) {
	cfg := testConfig()
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	m.append(t, l, record.Options{}, kv{key: []byte("a"), value: []byte("1")}, kv{key: []byte("b"), value: []byte("1")})
	m.append(t, l, record.Options{}, kv{key: []byte("a")}) // tombstone
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	opt := CompactOptions{Now: now, DeleteRetention: 50 * time.Millisecond}
	if _, err := l.Compact(opt); err != nil {
		t.Fatal(err)
	}
	got, batches := readAll(t, l)
	if len(got) != 2 || string(got[0].key) != "b" || string(got[1].key) != "a" || got[1].value != nil {
		t.Fatalf("after first pass: %+v, want b=1 then the tombstone of a", got)
	}
	last := batches[len(batches)-1]
	if !last.HasDeleteHorizon() || last.BaseTimestamp() != now.UnixMilli()+50 {
		t.Fatalf("tombstone batch horizon %v %d, want %d", last.HasDeleteHorizon(), last.BaseTimestamp(), now.UnixMilli()+50)
	}

	// Before the horizon the tombstone stays; after it, it goes.
	m.append(t, l, record.Options{}, kv{key: []byte("c"), value: []byte("1")})
	l.Roll()
	opt.Now = now.Add(10 * time.Millisecond)
	if _, err := l.Compact(opt); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, l); len(got) != 3 {
		t.Fatalf("before the horizon: %d records, want 3 (b, tombstone of a, c)", len(got))
	}
	// Past the horizon a pass runs even with nothing dirty, and the
	// tombstone goes.
	opt.Now, opt.MinDirtyRatio = now.Add(time.Second), 0.5
	res, err := l.Compact(opt)
	if err != nil || res.DirtyRatio != 0 || res.Segments != 1 {
		t.Fatalf("pass past the horizon: %+v, %v; want one segment rewritten with nothing dirty", res, err)
	}
	got, _ = readAll(t, l)
	var keys []string
	for _, r := range got {
		keys = append(keys, string(r.key))
	}
	if fmt.Sprint(keys) != "[b c]" {
		t.Fatalf("after the horizon: keys %v, want [b c]", keys)
	}
	if res, _ := l.Compact(opt); res.Segments != 0 {
		t.Fatalf("a pass with no tombstone pending and nothing dirty rewrote %d segments", res.Segments)
	}
}

func TestCompactCompressedAndProducerBatches(t *testing.T) {
	for _, c := range []record.Compression{record.Gzip, record.Snappy, record.LZ4, record.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			l := openLog(t, t.TempDir(), testConfig())
			defer l.Close()
			var m model
			opts := func(seq int32) record.Options {
				return record.Options{Compression: c, HasProducer: true, ProducerID: 7, ProducerEpoch: 3, BaseSequence: seq}
			}
			m.append(t, l, opts(0), kv{key: []byte("x"), value: []byte("old")}, kv{key: []byte("y"), value: []byte("1")}, kv{key: []byte("z"), value: []byte("1")})
			m.append(t, l, opts(3), kv{key: []byte("z"), value: []byte("2")})
			m.append(t, l, opts(4), kv{key: []byte("x"), value: []byte("new")})
			m.append(t, l, opts(5), kv{key: []byte("x"), value: []byte("newest")}, kv{key: []byte("w"), value: []byte("1")})
			l.Roll()
			compactNow(t, l)
			got, batches := readAll(t, l)
			checkCompacted(t, &m, got, l.LogEndOffset())
			if len(batches) != 4 {
				t.Fatalf("%d batches, want 4 (thinned, untouched, empty, untouched)", len(batches))
			}
			thinned, prod := batches[0], batches[2]
			if thinned.BaseOffset() != 0 || thinned.LastOffsetDelta() != 2 || thinned.RecordCount() != 1 ||
				thinned.Compression() != c || thinned.ProducerID() != 7 || thinned.ProducerEpoch() != 3 || thinned.BaseSequence() != 0 {
				t.Fatalf("thinned batch: base %d delta %d count %d codec %v producer %d/%d/%d",
					thinned.BaseOffset(), thinned.LastOffsetDelta(), thinned.RecordCount(), thinned.Compression(),
					thinned.ProducerID(), thinned.ProducerEpoch(), thinned.BaseSequence())
			}
			// Offset 3 (z=2) stays as it was; offset 4 went, and its empty
			// batch keeps the producer fields.
			if whole := batches[1]; whole.BaseOffset() != 3 || whole.RecordCount() != 1 || whole.Compression() != c {
				t.Fatalf("untouched batch: base %d count %d codec %v", whole.BaseOffset(), whole.RecordCount(), whole.Compression())
			}
			if prod.BaseOffset() != 4 || prod.RecordCount() != 0 || prod.ProducerID() != 7 || prod.ProducerEpoch() != 3 || prod.BaseSequence() != 4 {
				t.Fatalf("producer's empty batch: base %d count %d producer %d/%d/%d", prod.BaseOffset(), prod.RecordCount(),
					prod.ProducerID(), prod.ProducerEpoch(), prod.BaseSequence())
			}
		})
	}
}

func TestCompactEmptyRunKeepsLastProducer(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig())
	defer l.Close()
	var m model
	m.append(t, l, record.Options{}, kv{key: []byte("k"), value: []byte("1")})
	m.append(t, l, record.Options{}, kv{key: []byte("k"), value: []byte("2")})
	m.append(t, l, record.Options{HasProducer: true, ProducerID: 9, ProducerEpoch: 1, BaseSequence: 40},
		kv{key: []byte("k"), value: []byte("3")}, kv{key: []byte("k"), value: []byte("4")})
	m.append(t, l, record.Options{}, kv{key: []byte("k"), value: []byte("5")})
	l.Roll()
	compactNow(t, l)
	got, batches := readAll(t, l)
	checkCompacted(t, &m, got, l.LogEndOffset())
	if len(batches) != 3 {
		t.Fatalf("%d batches, want 3", len(batches))
	}
	run, prod := batches[0], batches[1]
	if run.BaseOffset() != 0 || run.LastOffsetDelta() != 1 || run.ProducerID() != -1 {
		t.Fatalf("merged empty batch: base %d delta %d producer %d", run.BaseOffset(), run.LastOffsetDelta(), run.ProducerID())
	}
	if prod.BaseOffset() != 2 || prod.LastOffsetDelta() != 1 || prod.RecordCount() != 0 ||
		prod.ProducerID() != 9 || prod.ProducerEpoch() != 1 || prod.BaseSequence() != 40 {
		t.Fatalf("producer's empty batch: base %d delta %d count %d producer %d/%d/%d", prod.BaseOffset(),
			prod.LastOffsetDelta(), prod.RecordCount(), prod.ProducerID(), prod.ProducerEpoch(), prod.BaseSequence())
	}
}

func TestCompactBoundedMap(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 2 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	rng := rand.New(rand.NewPCG(5, 6))
	fillKeys(t, l, &m, rng, 1000, 200, record.Options{})
	l.Roll()
	leo := l.LogEndOffset()
	res, err := l.Compact(CompactOptions{Now: time.Now(), MaxKeys: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstDirty <= 0 || res.FirstDirty >= leo {
		t.Fatalf("with a 100-key map the pass should stop part way: first dirty %d of %d", res.FirstDirty, leo)
	}
	for i := 0; res.FirstDirty < leo; i++ {
		if i > 100 {
			t.Fatalf("no progress: first dirty %d of %d", res.FirstDirty, leo)
		}
		if res, err = l.Compact(CompactOptions{Now: time.Now(), MaxKeys: 100}); err != nil {
			t.Fatal(err)
		}
	}
	// Every pass removed what its map covered; one more full pass finishes
	// the job for keys whose newest record a later pass saw.
	l.cleaner.Lock()
	l.cleaner.firstDirty = 0
	l.cleaner.Unlock()
	compactNow(t, l)
	got, _ := readAll(t, l)
	checkCompacted(t, &m, got, leo)
}

func TestCompactMinDirtyRatioAndLag(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	fillKeys(t, l, &m, rand.New(rand.NewPCG(7, 8)), 500, 10, record.Options{})
	l.Roll()
	res, err := l.Compact(CompactOptions{Now: time.Now(), MinCompactionLag: time.Hour})
	if err != nil || res.Segments != 0 {
		t.Fatalf("segments younger than the lag were cleaned: %+v, %v", res, err)
	}
	compactNow(t, l)
	fillKeys(t, l, &m, rand.New(rand.NewPCG(9, 10)), 20, 10, record.Options{})
	l.Roll()
	res, err = l.Compact(CompactOptions{Now: time.Now(), MinDirtyRatio: 0.9})
	if err != nil || res.Segments != 0 || res.DirtyRatio <= 0 || res.DirtyRatio >= 0.9 {
		t.Fatalf("pass below the dirty ratio: %+v, %v", res, err)
	}
}

// TestCompactConcurrent runs passes while appends and reads go on; run it
// with -race. Readers check that every read batch is valid and that offsets
// only grow.
func TestCompactConcurrent(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	fillKeys(t, l, &m, rand.New(rand.NewPCG(11, 12)), 500, 30, record.Options{})
	var stop atomic.Bool
	var swapped atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(2)
	go func() {
		defer wg.Done()
		var it record.Iter
		for !stop.Load() {
			off := l.LogStartOffset()
			for off < l.LogEndOffset() {
				r, err := l.Read(off, 64<<10, l.LogEndOffset())
				if err != nil {
					errc <- err
					return
				}
				for data := r.Bytes(); len(data) > 0; {
					b, err := record.Parse(data)
					if err == nil {
						err = b.ValidateStored()
					}
					if err == nil && b.BaseOffset() != off {
						err = fmt.Errorf("batch base %d, want %d", b.BaseOffset(), off)
					}
					if err == nil {
						err = it.Reset(b)
						for it.Next() {
						}
						err = errors.Join(err, it.Err())
					}
					if err != nil {
						r.Release()
						errc <- err
						return
					}
					off, data = b.NextOffset(), data[len(b):]
				}
				r.Release()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			res, err := l.Compact(CompactOptions{Now: time.Now()})
			if err != nil {
				errc <- err
				return
			}
			swapped.Add(int64(res.Segments))
		}
	}()
	fillKeys(t, l, &m, rand.New(rand.NewPCG(13, 14)), 3000, 30, record.Options{})
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if swapped.Load() == 0 {
		t.Fatal("no segment was swapped while appends and reads ran")
	}
	l.Roll()
	compactNow(t, l)
	got, _ := readAll(t, l)
	checkCompacted(t, &m, got, l.LogEndOffset())
}

// prepareClean runs a pass up to (not including) the swap of the first
// segment it would rewrite, leaving its .cleaned log and .swap indexes on
// disk, and returns that segment's stem.
func prepareClean(t *testing.T, l *Log) string {
	t.Helper()
	targets, firstDirty, _, err := l.cleanable(time.Now(), 0)
	defer func() {
		for _, tg := range targets {
			tg.seg.decRef()
		}
	}()
	if err != nil || len(targets) == 0 {
		t.Fatalf("cleanable: %d targets, %v", len(targets), err)
	}
	c := newCleaner(CompactOptions{Now: time.Now()})
	if c.end, err = c.buildMap(targets, firstDirty); err != nil {
		t.Fatal(err)
	}
	stem := filepath.Join(l.dir, segmentName(targets[0].seg.base))
	if _, err := c.writeCleaned(targets[0], stem+cleanedInfix+logSuffix); err != nil {
		t.Fatal(err)
	}
	if c.removed == 0 {
		t.Fatal("test needs a segment with something to remove")
	}
	if err := l.indexCleaned(stem, targets[0].seg.base); err != nil {
		t.Fatal(err)
	}
	return stem
}

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*" + cleanedInfix + ".*", "*" + swapInfix + ".*"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

func TestCompactCrashBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, dir, cfg)
	var m model
	fillKeys(t, l, &m, rand.New(rand.NewPCG(15, 16)), 1000, 10, record.Options{})
	l.Roll()
	before, _ := readAll(t, l)
	prepareClean(t, l)
	if len(leftovers(t, dir)) != 3 {
		t.Fatalf("leftovers before reopen: %v", leftovers(t, dir))
	}
	l.Close()
	os.Remove(filepath.Join(dir, cleanShutdownFile))
	l = openLog(t, dir, cfg)
	defer l.Close()
	if left := leftovers(t, dir); len(left) != 0 {
		t.Fatalf("Open left %v", left)
	}
	after, _ := readAll(t, l)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("an uncommitted clean changed the log")
	}
}

func TestCompactCrashAfterCommit(t *testing.T) {
	for _, stage := range []string{"committed", "indexes renamed"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 4 << 10
			l := openLog(t, dir, cfg)
			var m model
			fillKeys(t, l, &m, rand.New(rand.NewPCG(17, 18)), 1000, 10, record.Options{})
			l.Roll()
			leo := l.LogEndOffset()
			stem := prepareClean(t, l)
			l.Close()
			// The crash: the commit rename happened, the rest did not.
			if err := os.Rename(stem+cleanedInfix+logSuffix, stem+swapInfix+logSuffix); err != nil {
				t.Fatal(err)
			}
			if stage == "indexes renamed" {
				for _, suf := range []string{indexSuffix, timeIndexSuffix} {
					if err := os.Rename(stem+swapInfix+suf, stem+suf); err != nil {
						t.Fatal(err)
					}
				}
			}
			os.Remove(filepath.Join(dir, cleanShutdownFile))
			l = openLog(t, dir, cfg)
			defer l.Close()
			if left := leftovers(t, dir); len(left) != 0 {
				t.Fatalf("Open left %v", left)
			}
			got, _ := readAll(t, l)
			// The first segment is compacted against the whole log's map, so
			// its records are a subset of the original, each the latest of
			// its key; a full pass now gives the fully compacted log.
			first := map[string]bool{}
			for _, r := range got {
				if r.offset < l.mu.segs[1].base {
					if first[string(r.key)] {
						t.Fatalf("key %s twice in the swapped segment", r.key)
					}
					first[string(r.key)] = true
				}
			}
			compactNow(t, l)
			got, _ = readAll(t, l)
			checkCompacted(t, &m, got, leo)
		})
	}
}

func TestValidateStored(t *testing.T) {
	b := kvBatch(t, record.Options{}, 1, kv{key: []byte("a"), value: []byte("1")}, kv{key: []byte("b"), value: []byte("2")})
	if err := b.ValidateStored(); err != nil {
		t.Fatalf("producer batch: %v", err)
	}
	var it record.Iter
	thin, kept, err := record.AppendCompacted(nil, b, &it, func(r *record.Record) bool { return string(r.Key) == "b" }, 0)
	if err != nil || kept != 1 {
		t.Fatalf("AppendCompacted: kept %d, %v", kept, err)
	}
	empty := record.Batch(record.AppendEmpty(nil, 10, 4, 1, 0, record.NoProducer, record.NoProducer, record.NoProducer))
	for name, sb := range map[string]record.Batch{"thinned": record.Batch(thin), "empty": empty} {
		if err := sb.ValidateStored(); err != nil {
			t.Errorf("%s: ValidateStored: %v", name, err)
		}
		if err := sb.Validate(); !errors.Is(err, record.ErrCorrupt) {
			t.Errorf("%s: Validate = %v, want ErrCorrupt (producer-side check)", name, err)
		}
	}
	// More records than the offset range holds, a negative count, a bad CRC.
	for name, edit := range map[string]func(c []byte){
		"count":    func(c []byte) { c[60] = 3 },
		"negative": func(c []byte) { c[57] = 0xff },
		"crc":      func(c []byte) { c[len(c)-1] ^= 1 },
	} {
		c := bytes.Clone(b)
		edit(c)
		if name != "crc" {
			reseal(c)
		}
		if err := record.Batch(c).ValidateStored(); !errors.Is(err, record.ErrCorrupt) {
			t.Errorf("%s: ValidateStored = %v, want ErrCorrupt", name, err)
		}
	}
}

// reseal recomputes the CRC after a test edited the bytes it covers.
func reseal(b []byte) { binary.BigEndian.PutUint32(b[17:], record.Checksum(b[21:])) }

// FuzzCompact drives a log with appends (1-3 records over 8 keys, some
// tombstones), rolls and compaction passes picked by the input, then checks
// after two final passes that batches tile the offsets and each key shows at
// most its latest record. Like FuzzRecover it does real file I/O, so bound
// minimization:
//
//	go test -run '^$' -fuzz '^FuzzCompact$' -fuzztime 60s -fuzzminimizetime 20x ./segment
func FuzzCompact(f *testing.F) {
	f.Add([]byte{1, 2, 3, 0x81, 0x40, 5, 0xc0, 7, 1, 0x40})
	f.Add(bytes.Repeat([]byte{3, 0x85, 0x40, 0xc0}, 20))
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		cfg := testConfig()
		cfg.SegmentBytes = 1 << 10
		l := openLog(t, t.TempDir(), cfg)
		defer l.Close()
		var m model
		now := time.Now()
		opt := func() CompactOptions { return CompactOptions{Now: now, DeleteRetention: 5 * time.Millisecond} }
		for _, op := range ops {
			switch {
			case op&0xc0 == 0x40:
				l.Roll()
			case op&0xc0 == 0xc0:
				now = now.Add(time.Duration(op&0x3f) * time.Millisecond)
				if _, err := l.Compact(opt()); err != nil {
					t.Fatal(err)
				}
			default:
				recs := make([]kv, 1+int(op>>4&3)%3)
				for i := range recs {
					recs[i].key = []byte{'k', '0' + (op+byte(i))&7}
					if op&0x80 == 0 {
						recs[i].value = []byte{op, byte(i)}
					}
				}
				m.append(t, l, record.Options{}, recs...)
			}
		}
		l.Roll()
		for range 2 {
			l.cleaner.Lock()
			l.cleaner.firstDirty = 0
			l.cleaner.Unlock()
			if _, err := l.Compact(opt()); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Second)
		}
		got, _ := readAll(t, l)
		latest := m.latestBelow(l.LogEndOffset())
		seen := map[string]bool{}
		for _, r := range got {
			w := latest[string(r.key)]
			if seen[string(r.key)] || w.offset != r.offset || !bytes.Equal(w.value, r.value) {
				t.Fatalf("record %s@%d=%q: latest is @%d=%q, seen before: %v", r.key, r.offset, r.value, w.offset, w.value, seen[string(r.key)])
			}
			seen[string(r.key)] = true
		}
		for k, w := range latest {
			if w.value != nil && !seen[k] {
				t.Fatalf("key %s lost its latest value @%d", k, w.offset)
			}
		}
	})
}
