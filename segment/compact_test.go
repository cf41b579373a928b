package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
	return m.appendAt(t, l, opts, time.Now().UnixMilli(), recs...)
}

// appendAt is append with every record's timestamp ts.
func (m *model) appendAt(t testing.TB, l *Log, opts record.Options, ts int64, recs ...kv) record.Batch {
	t.Helper()
	b := kvBatch(t, opts, ts, recs...)
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
	l = reopenValidating(t, l, dir, cfg)
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
	l := smallLog(t)
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
	if f := held.File(); f != nil {
		t.Fatalf("a range of a sealed segment offers descriptor %s, want none", f.Name())
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
	l := smallLog(t)
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
	l := smallLog(t)
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
// with -race. Readers check that every read batch is valid, that a read
// starts with the batch holding the offset asked for and that the batches
// after it tile the offsets. The first batch may start before that offset:
// a pass may have merged the emptied batch the reader stopped after with
// the ones that follow it, across a segment boundary when it merged
// segments (records below the offset asked for are skipped, as Kafka
// clients do).
func TestCompactConcurrent(t *testing.T) {
	l := smallLog(t)
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
				for data, first := r.Bytes(), true; len(data) > 0; first = false {
					b, err := record.Parse(data)
					if err == nil {
						err = b.ValidateStored()
					}
					if err == nil && first && (b.BaseOffset() > off || b.NextOffset() <= off) {
						err = fmt.Errorf("read at %d starts with batch [%d, %d)", off, b.BaseOffset(), b.NextOffset())
					}
					if err == nil && !first && b.BaseOffset() != off {
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

// cleanPrep is what prepareClean left on disk: the first group a pass
// would rewrite, cleaned and indexed but not committed.
type cleanPrep struct {
	stem      string // dir/<the group's first base offset, 20 digits>
	group     []cleanTarget
	base, end int64 // the group's offsets: [base, end)
}

// prepareClean runs a pass up to (not including) the swap of the first
// group it would rewrite, leaving its .cleaned log and .swap indexes on
// disk. The group's segments are still the log's.
func prepareClean(t *testing.T, l *Log) cleanPrep {
	t.Helper()
	targets, firstDirty, _, err := l.cleanable(time.Time{}, 0)
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
	g := groupTargets(targets, &l.cfg)[0]
	p := cleanPrep{stem: filepath.Join(l.dir, segmentName(g[0].seg.base)), group: g, base: g[0].seg.base, end: g[len(g)-1].seg.next}
	if _, err := c.writeCleaned(g, p.stem+cleanedInfix+logSuffix); err != nil {
		t.Fatal(err)
	}
	if c.removed == 0 {
		t.Fatal("test needs a group with something to remove")
	}
	if err := l.indexCleaned(p.stem, p.base); err != nil {
		t.Fatal(err)
	}
	return p
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

// smallSegments appends n segments of perSeg batches (1-3 records over
// nkeys keys, timestamps *ts, *ts+10, ...) and rolls after each, so each
// segment is far below SegmentBytes.
func smallSegments(t testing.TB, l *Log, m *model, rng *rand.Rand, n, perSeg, nkeys int, ts *int64) {
	t.Helper()
	for range n {
		for range perSeg {
			recs := make([]kv, 1+rng.IntN(3))
			for i := range recs {
				recs[i] = kv{key: fmt.Appendf(nil, "key-%03d", rng.IntN(nkeys)), value: fmt.Appendf(nil, "value-%d", len(m.recs)+i)}
			}
			m.appendAt(t, l, record.Options{}, *ts, recs...)
			*ts += 10
		}
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}
}

// smallLog opens a log with 4 KiB segments in a fresh directory, closed
// when the test ends.
func smallLog(t testing.TB) *Log {
	t.Helper()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	t.Cleanup(func() { l.Close() })
	return l
}

// reopenValidating closes l and opens dir again without its clean-shutdown
// marker and recovery point, so recovery validates every batch.
func reopenValidating(t testing.TB, l *Log, dir string, cfg Config) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cleanShutdownFile, recoveryPointFile} {
		os.Remove(filepath.Join(dir, f))
	}
	return openLog(t, dir, cfg)
}

// smallSegmentLog opens a log with 4 KiB segments in a fresh directory and
// seals n segments of perSeg small batches over nkeys keys (smallSegments,
// PCG seeded with seed, seed+1). It returns the directory and config (for
// reopening), the log, the model of what was appended and the timestamp
// the next append should use.
func smallSegmentLog(t testing.TB, seed uint64, n, perSeg, nkeys int) (string, Config, *Log, *model, int64) {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, dir, cfg)
	m := &model{}
	ts := int64(1000)
	smallSegments(t, l, m, rand.New(rand.NewPCG(seed, seed+1)), n, perSeg, nkeys, &ts)
	return dir, cfg, l, m, ts
}

// segInfo is one segment as the log lists it.
type segInfo struct {
	base, next, size int64
}

// segmentsOf lists the log's sealed segments and its active one.
func segmentsOf(l *Log) (sealed []segInfo, active segInfo) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.mu.segs {
		sealed = append(sealed, segInfo{s.base, s.next, s.size})
	}
	return sealed[:len(sealed)-1], sealed[len(sealed)-1]
}

func TestCompactCrashBeforeCommit(t *testing.T) {
	dir, cfg, l, _, _ := smallSegmentLog(t, 15, 10, 8, 10)
	before, _ := readAll(t, l)
	if p := prepareClean(t, l); len(p.group) < 2 {
		t.Fatalf("test needs a group of several segments, got %d", len(p.group))
	}
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
	if sealed, _ := segmentsOf(l); len(sealed) != 10 {
		t.Fatalf("%d sealed segments after reopen, want the 10 from before the clean", len(sealed))
	}
	after, _ := readAll(t, l)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("an uncommitted clean changed the log")
	}
}

// TestCompactCrashAfterCommit: a crash at every point between the commit
// rename of a group's cleaned copy and the end of its swap (the old segments
// merged into it none, some or all deleted; its indexes renamed or not).
// Open must end with exactly what the swap would have given, byte for byte.
// The states after a crash during Open's own recovery are among these:
// recovery deletes the merged segments, then renames like the swap.
func TestCompactCrashAfterCommit(t *testing.T) {
	type stage struct {
		deleted int      // merged segments (after the group's first) deleted, whole
		partial bool     // and the next one's .log deleted, its indexes not
		renamed []string // index suffixes already renamed from .swap
	}
	stages := map[string]stage{
		"committed":                 {},
		"one deleted":               {deleted: 1},
		"one and a half deleted":    {deleted: 1, partial: true},
		"all deleted":               {deleted: -1},
		"all deleted, index":        {deleted: -1, renamed: []string{indexSuffix}},
		"all deleted, both indexes": {deleted: -1, renamed: []string{indexSuffix, timeIndexSuffix}},
	}
	for name, st := range stages {
		t.Run(name, func(t *testing.T) {
			dir, cfg, l, m, _ := smallSegmentLog(t, 17, 12, 8, 10)
			m.append(t, l, record.Options{}, kv{key: []byte("key-000"), value: []byte("in the active segment")})
			leo := l.LogEndOffset()
			p := prepareClean(t, l)
			if len(p.group) < 3 {
				t.Fatalf("test needs a group of at least 3 segments, got %d", len(p.group))
			}
			crashDir := t.TempDir()
			copyDir(t, dir, crashDir)
			// The clean run: the swap completes.
			if swapped, _, err := l.swapIn(p.stem, p.group); !swapped || err != nil {
				t.Fatalf("swapIn = %v, %v", swapped, err)
			}
			want, wantBatches := readAll(t, l)
			l.Close()

			// The crash, in a copy taken just before the swap.
			stem := filepath.Join(crashDir, segmentName(p.base))
			if err := os.Rename(stem+cleanedInfix+logSuffix, stem+swapInfix+logSuffix); err != nil {
				t.Fatal(err)
			}
			merged := p.group[1:]
			n := st.deleted
			if n < 0 {
				n = len(merged)
			}
			for i, g := range merged {
				gstem := filepath.Join(crashDir, segmentName(g.seg.base))
				switch {
				case i < n:
					for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
						if err := os.Remove(gstem + suf); err != nil {
							t.Fatal(err)
						}
					}
				case i == n && st.partial:
					if err := os.Remove(gstem + logSuffix); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, suf := range st.renamed {
				if err := os.Rename(stem+swapInfix+suf, stem+suf); err != nil {
					t.Fatal(err)
				}
			}
			l = openLog(t, crashDir, cfg)
			defer l.Close()
			if left := leftovers(t, crashDir); len(left) != 0 {
				t.Fatalf("Open left %v", left)
			}
			for _, g := range merged {
				for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
					if path := filepath.Join(crashDir, segmentName(g.seg.base)+suf); fileExists(path) {
						t.Fatalf("%s, merged into %s, is still there", path, segmentName(p.base))
					}
				}
			}
			if l.LogEndOffset() != leo {
				t.Fatalf("log end %d after recovery, want %d", l.LogEndOffset(), leo)
			}
			got, gotBatches := readAll(t, l)
			if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotBatches) != fmt.Sprint(wantBatches) {
				t.Fatal("recovery gave another log than the completed swap")
			}
			sealed, _ := segmentsOf(l)
			if sealed[0].base != p.base || sealed[0].next != p.end || sealed[1].base != p.end {
				t.Fatalf("first segments after recovery %+v, want [%d, %d) then one at %d", sealed[:2], p.base, p.end, p.end)
			}
			// And the log compacts on from there.
			compactNow(t, l)
			got, _ = readAll(t, l)
			checkCompacted(t, m, got, leo-1)
		})
	}
}

// TestCompactSwapLosesRace: when truncation or DeleteRecordsBefore changes
// a group's segments between cleaning and swap, the swap does nothing and
// the cleaned files go; the log reads as the race left it.
func TestCompactSwapLosesRace(t *testing.T) {
	for name, race := range map[string]func(l *Log, p cleanPrep) error{
		"truncated inside the group": func(l *Log, p cleanPrep) error { return l.TruncateTo(p.group[1].seg.base + 1) },
		"first segment deleted":      func(l *Log, p cleanPrep) error { return l.DeleteRecordsBefore(p.group[1].seg.base) },
	} {
		t.Run(name, func(t *testing.T) {
			dir, _, l, _, _ := smallSegmentLog(t, 25, 6, 8, 10)
			defer l.Close()
			p := prepareClean(t, l)
			if len(p.group) < 2 {
				t.Fatalf("test needs a group of several segments, got %d", len(p.group))
			}
			if err := race(l, p); err != nil {
				t.Fatal(err)
			}
			before, _ := readAll(t, l)
			sealedBefore, _ := segmentsOf(l)
			if swapped, _, err := l.swapIn(p.stem, p.group); swapped || err != nil {
				t.Fatalf("swapIn after the race = %v, %v; want not swapped, no error", swapped, err)
			}
			removeCleaned(p.stem)
			if left := leftovers(t, dir); len(left) != 0 {
				t.Fatalf("left %v", left)
			}
			after, _ := readAll(t, l)
			sealedAfter, _ := segmentsOf(l)
			if fmt.Sprint(after) != fmt.Sprint(before) || fmt.Sprint(sealedAfter) != fmt.Sprint(sealedBefore) {
				t.Fatal("a swap that lost the race changed the log")
			}
		})
	}
}

// firstRecordFrom reads the log from offset on, batch by batch, and returns
// the first record at or after offset; ok is false when none is left below
// the log end. The first batch read must contain offset.
func firstRecordFrom(t *testing.T, l *Log, offset int64) (rec kv, ok bool) {
	t.Helper()
	var it record.Iter
	for off := offset; off < l.LogEndOffset(); {
		r, err := l.Read(off, 1, l.LogEndOffset())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		b, err := record.Parse(r.Bytes())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if b.BaseOffset() > off || b.NextOffset() <= off {
			t.Fatalf("Read(%d) starts with batch [%d, %d)", off, b.BaseOffset(), b.NextOffset())
		}
		if err := it.Reset(b); err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			if x := it.Record(); x.Offset >= offset {
				rec, ok = kv{x.Offset, bytes.Clone(x.Key), bytes.Clone(x.Value)}, true
				break
			}
		}
		off = b.NextOffset()
		r.Release()
		if ok {
			return rec, true
		}
	}
	return kv{}, false
}

// TestCompactMergesSmallSegments: 20 small sealed segments are cleaned into
// a few, none above SegmentBytes; every offset still reads (one inside a
// removed range gives the next record kept, as in Kafka), timestamps still
// find their offsets, the log end and the active segment do not move,
// appends go on, and later passes are stable, also across a reopen.
func TestCompactMergesSmallSegments(t *testing.T) {
	dir, cfg, l, m, ts := smallSegmentLog(t, 21, 20, 3, 8)
	m.appendAt(t, l, record.Options{}, ts, kv{key: []byte("key-001"), value: []byte("active")})
	lastTs := ts
	sealedBefore, active := segmentsOf(l)
	l.mu.RLock()
	activeBytes := bytes.Clone(l.active().valid())
	l.mu.RUnlock()
	if len(sealedBefore) != 20 {
		t.Fatalf("%d sealed segments, want 20", len(sealedBefore))
	}
	leo := l.LogEndOffset()
	// OffsetForTimestamp before compaction, for every batch timestamp, one
	// between two of them, and past the last.
	var stamps []int64
	for x := int64(990); x <= lastTs+10; x += 5 {
		stamps = append(stamps, x)
	}
	offBefore := map[int64]int64{}
	for _, x := range stamps {
		o, err := l.OffsetForTimestamp(x)
		if err != nil {
			t.Fatal(err)
		}
		offBefore[x] = o
	}

	res := compactNow(t, l)
	sealed, act := segmentsOf(l)
	t.Logf("%d sealed segments -> %d: %+v", len(sealedBefore), len(sealed), res)
	if res.Segments != 20 || res.SegmentsMerged != 20-len(sealed) || len(sealed) > 3 {
		t.Fatalf("after the pass: %d sealed segments, result %+v; want at most 3, all 20 rewritten", len(sealed), res)
	}
	for i, s := range sealed {
		if s.size > cfg.SegmentBytes {
			t.Fatalf("segment %d is %d bytes, above SegmentBytes %d", s.base, s.size, cfg.SegmentBytes)
		}
		if i > 0 && s.base != sealed[i-1].next {
			t.Fatalf("segment %d follows one ending at %d", s.base, sealed[i-1].next)
		}
	}
	l.mu.RLock()
	sameActive := act == active && bytes.Equal(l.active().valid(), activeBytes)
	l.mu.RUnlock()
	if !sameActive || sealed[0].base != 0 || sealed[len(sealed)-1].next != active.base {
		t.Fatalf("active segment %+v (same bytes: %v), sealed from %d to %d; want active %+v untouched after [0, %d)",
			act, sameActive, sealed[0].base, sealed[len(sealed)-1].next, active, active.base)
	}
	if l.LogEndOffset() != leo {
		t.Fatalf("log end %d, want %d", l.LogEndOffset(), leo)
	}
	got, _ := readAll(t, l)
	checkCompacted(t, m, got, active.base)

	// Every offset reads, giving the first kept record at or after it.
	next := 0
	for o := int64(0); o < leo; o++ {
		for next < len(got) && got[next].offset < o {
			next++
		}
		rec, ok := firstRecordFrom(t, l, o)
		if !ok || fmt.Sprint(rec) != fmt.Sprint(got[next]) {
			t.Fatalf("reading from %d: %v %v, want %v", o, rec, ok, got[next])
		}
	}
	// OffsetForTimestamp may now answer with the start of an emptied range
	// before the old answer, but never skips a record kept.
	for _, x := range stamps {
		o, err := l.OffsetForTimestamp(x)
		if err != nil {
			t.Fatal(err)
		}
		was := offBefore[x]
		if (o < 0) != (was < 0) || o > was {
			t.Fatalf("OffsetForTimestamp(%d) = %d, was %d before compaction", x, o, was)
		}
		for _, r := range got {
			if r.offset >= o && r.offset < was {
				t.Fatalf("OffsetForTimestamp(%d) = %d, was %d: the record at %d in between is kept", x, o, was, r.offset)
			}
		}
	}

	// Appends go on after the merged segments.
	for i := range 5 {
		m.append(t, l, record.Options{}, kv{key: fmt.Appendf(nil, "key-%03d", i), value: []byte("after")})
	}
	if l.LogEndOffset() != leo+5 {
		t.Fatalf("log end %d after 5 appends, want %d", l.LogEndOffset(), leo+5)
	}
	got, _ = readAll(t, l)
	checkCompacted(t, m, got, active.base)

	// Nothing is dirty: the next pass does nothing. A full pass over the
	// same sealed segments again keeps the same records and adds no segment.
	if res := compactNow(t, l); res.Segments != 0 {
		t.Fatalf("second pass: %+v, want nothing rewritten", res)
	}
	l.cleaner.Lock()
	l.cleaner.firstDirty = 0
	l.cleaner.Unlock()
	compactNow(t, l)
	again, _ := readAll(t, l)
	if fmt.Sprint(again) != fmt.Sprint(got) {
		t.Fatal("a second full pass changed the records")
	}
	if s, _ := segmentsOf(l); len(s) > len(sealed) {
		t.Fatalf("a second full pass left %d sealed segments, the first %d", len(s), len(sealed))
	}

	// Recovery, validating every batch, accepts the merged segments.
	l = reopenValidating(t, l, dir, cfg)
	defer l.Close()
	if reopened, _ := readAll(t, l); fmt.Sprint(reopened) != fmt.Sprint(got) {
		t.Fatal("the log read differently after a reopen")
	}
	if o, err := l.OffsetForTimestamp(lastTs); err != nil || o != leo-1 {
		t.Fatalf("OffsetForTimestamp(%d) after reopen = %d, %v; want %d", lastTs, o, err, leo-1)
	}
}

// TestCompactMergeSteadyState is the case that motivated merging: a
// compacted log written on and on (10 keys, segment.bytes 4096) must not
// keep one small segment per SegmentBytes ever written. After each pass the
// log holds one segment for everything cleaned before plus one per segment
// rolled since the previous pass.
func TestCompactMergeSteadyState(t *testing.T) {
	l := smallLog(t)
	var m model
	rolled := 0
	for pass := range 10 {
		before, _ := segmentsOf(l)
		for round := range 20 {
			for k := range 10 {
				m.append(t, l, record.Options{}, kv{key: fmt.Appendf(nil, "key-%d", k), value: fmt.Appendf(nil, "pass %d round %d", pass, round)})
			}
		}
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
		mid, _ := segmentsOf(l)
		newSegs := len(mid) - len(before)
		rolled += newSegs
		compactNow(t, l)
		after, _ := segmentsOf(l)
		t.Logf("pass %d: %d sealed segments, %d new, %d after the pass", pass, len(mid), newSegs, len(after))
		if len(after) > 1+newSegs {
			t.Fatalf("pass %d left %d sealed segments; want at most 1 + the %d rolled since the last pass", pass, len(after), newSegs)
		}
	}
	if rolled < 30 {
		t.Fatalf("only %d segments rolled in all: the test does not show anything", rolled)
	}
	got, _ := readAll(t, l)
	checkCompacted(t, &m, got, l.LogEndOffset())
}

// TestGroupTargets: groups are runs of at most maxGroupSegments adjacent
// segments whose sizes fit SegmentBytes, whose offsets fit the index's
// 32-bit relative offsets and whose rebuilt indexes fit MaxIndexBytes; a
// segment too big alone is a group of its own.
func TestGroupTargets(t *testing.T) {
	seg := func(base, next, size int64) cleanTarget {
		return cleanTarget{seg: &segment{base: base, next: next, size: size}, data: make([]byte, size)}
	}
	chain := func(sizes ...int64) []cleanTarget {
		var out []cleanTarget
		for i, n := range sizes {
			out = append(out, seg(int64(i*10), int64(i*10+10), n))
		}
		return out
	}
	cfg := testConfig()
	cfg.SegmentBytes, cfg.IndexIntervalBytes, cfg.MaxIndexBytes = 1000, 100, 100*timeEntrySize
	small := cfg
	small.MaxIndexBytes = 4 * timeEntrySize // 4 entries: at most 399 bytes of log
	const max32 = math.MaxInt32
	for _, tc := range []struct {
		name    string
		cfg     Config
		targets []cleanTarget
		want    string // group sizes
	}{
		{"by size", cfg, chain(300, 300, 300, 300, 1200, 100, 100, 1000), "[3 1 1 2 1]"},
		{"exactly SegmentBytes", cfg, chain(500, 500, 1), "[2 1]"},
		{"by index entries", small, chain(150, 150, 150, 99, 99, 99, 99), "[2 3 2]"},
		{"by offset range", cfg, []cleanTarget{seg(0, 1<<30, 10), seg(1<<30, max32, 10), seg(max32, max32+1, 10), seg(max32+1, max32+2, 10)}, "[2 2]"},
		{"not adjacent", cfg, []cleanTarget{seg(0, 10, 10), seg(20, 30, 10), seg(30, 40, 10)}, "[1 2]"},
		{"by count", cfg, chain(make([]int64, maxGroupSegments+6)...), fmt.Sprintf("[%d 6]", maxGroupSegments)},
		{"one", cfg, chain(5000), "[1]"},
		{"none", cfg, nil, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups := groupTargets(tc.targets, &tc.cfg)
			var sizes []int
			i := 0
			for _, g := range groups {
				sizes = append(sizes, len(g))
				var sum int64
				for _, x := range g {
					if x.seg != tc.targets[i].seg {
						t.Fatalf("group member %d is not target %d: groups must keep the targets' order", i, i)
					}
					i++
					sum += x.seg.size
				}
				span := g[len(g)-1].seg.next - g[0].seg.base
				if len(g) > 1 && (sum > tc.cfg.SegmentBytes || span > math.MaxInt32 ||
					maxIndexEntries(sum, &tc.cfg) > indexCapacity(&tc.cfg) || len(g) > maxGroupSegments) {
					t.Fatalf("group of %d: %d bytes, %d offsets, breaks a bound", len(g), sum, span)
				}
			}
			if fmt.Sprint(sizes) != tc.want {
				t.Fatalf("group sizes %v, want %s", sizes, tc.want)
			}
		})
	}
}

// TestCompactMergeIndexBound: with MaxIndexBytes small against
// SegmentBytes/IndexIntervalBytes, merging small segments up to SegmentBytes
// would overflow the rebuilt indexes (the log itself rolls on a full index
// long before SegmentBytes) and lose the time entry that carries a segment's
// largest timestamp across a reopen. Groups stop where the indexes would fill.
func TestCompactMergeIndexBound(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes, cfg.IndexIntervalBytes, cfg.MaxIndexBytes = 64<<10, 64, 6*timeEntrySize
	l := openLog(t, dir, cfg)
	var m model
	ts := int64(1000)
	// Every record has its own key and its own segment: nothing to remove,
	// only to merge.
	for i := range 100 {
		m.appendAt(t, l, record.Options{}, ts, kv{key: fmt.Appendf(nil, "key-%04d", i), value: []byte("v")})
		ts += 10
		if err := l.Roll(); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := segmentsOf(l)
	res := compactNow(t, l)
	after, _ := segmentsOf(l)
	t.Logf("%d segments -> %d: %+v", len(before), len(after), res)
	if res.SegmentsMerged == 0 || res.RecordsRemoved != 0 {
		t.Fatalf("want merges and nothing removed: %+v", res)
	}
	// Each segment's last time entry holds its largest timestamp.
	l.mu.RLock()
	for _, s := range l.mu.segs[:len(l.mu.segs)-1] {
		largest := int64(-1)
		for pos := int64(0); pos < s.size; pos += batchSizeIn(s.data, pos) {
			b, _ := s.batchAt(pos)
			largest = max(largest, b.MaxTimestamp())
		}
		if ts, _, ok := s.tidx.lastTime(); !ok || ts != largest {
			t.Errorf("segment %d (%d bytes): last time entry %d (%v), largest timestamp %d", s.base, s.size, ts, ok, largest)
		}
	}
	l.mu.RUnlock()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg) // a clean reopen trusts the indexes
	defer l.Close()
	for i, r := range m.recs {
		o, err := l.OffsetForTimestamp(1000 + int64(i)*10)
		if err != nil || o != r.offset {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %v; want %d", 1000+i*10, o, err, r.offset)
		}
	}
}

// TestCompactMergeKeepsHeldRanges: a FileRange on a segment that a pass
// merges into an earlier one (its files deleted) keeps its bytes, through
// the mapping, until Release, which then closes it. (A sealed segment
// offers no descriptor: File is nil.)
func TestCompactMergeKeepsHeldRanges(t *testing.T) {
	dir, _, l, m, _ := smallSegmentLog(t, 23, 6, 10, 5)
	defer l.Close()
	sealed, _ := segmentsOf(l)
	third := sealed[2]
	held, err := l.Read(third.base, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	heldSeg := held.seg
	old := bytes.Clone(held.Bytes())
	if len(old) != int(third.size) {
		t.Fatalf("held %d bytes, want the whole segment's %d", len(old), third.size)
	}
	if res := compactNow(t, l); res.SegmentsMerged == 0 {
		t.Fatalf("nothing merged: %+v", res)
	}
	if path := filepath.Join(dir, segmentName(third.base)+logSuffix); fileExists(path) {
		t.Fatalf("%s still there after its segment was merged", path)
	}
	if !bytes.Equal(held.Bytes(), old) {
		t.Fatal("a range held across the merge changed")
	}
	if f := held.File(); f != nil {
		t.Fatalf("a range of a sealed segment offers descriptor %s, want none", f.Name())
	}
	got, _ := readAll(t, l)
	checkCompacted(t, m, got, l.LogEndOffset())
	held.Release()
	if n := heldSeg.refs.Load(); n != 0 {
		t.Fatalf("merged segment has %d references after the last range's Release, want 0 (files closed)", n)
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
// most its latest record (runCompactOps). Rolls leave small segments that
// later passes merge. Like FuzzRecover it does real file I/O, so bound
// minimization:
//
//	go test -run '^$' -fuzz '^FuzzCompact$' -fuzztime 60s -fuzzminimizetime 20x ./segment
func FuzzCompact(f *testing.F) {
	for _, ops := range compactSeeds {
		f.Add(ops)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		runCompactOps(t, ops)
	})
}

// compactSeeds are FuzzCompact's seed inputs; TestCompactSeedsMerge checks
// that they include merges of several segments.
var compactSeeds = [][]byte{
	{1, 2, 3, 0x81, 0x40, 5, 0xc0, 7, 1, 0x40},
	bytes.Repeat([]byte{3, 0x85, 0x40, 0xc0}, 20),
	bytes.Repeat([]byte{1, 2, 0x40, 3, 0x40, 0x86, 0x40, 0xc1}, 8),
}

// runCompactOps runs one FuzzCompact input: op&0xc0 == 0x40 rolls, 0xc0
// advances the clock by op&0x3f ms and runs a pass, anything else appends
// (bit 7 set: tombstones). It returns how many segments the passes merged
// away.
func runCompactOps(t *testing.T, ops []byte) (merged int) {
	cfg := testConfig()
	cfg.SegmentBytes = 1 << 10
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	var m model
	now := time.Now()
	opt := func() CompactOptions { return CompactOptions{Now: now, DeleteRetention: 5 * time.Millisecond} }
	compact := func() {
		res, err := l.Compact(opt())
		if err != nil {
			t.Fatal(err)
		}
		merged += res.SegmentsMerged
		if l.LogEndOffset() != int64(len(m.recs)) {
			t.Fatalf("log end %d after a pass, want %d", l.LogEndOffset(), len(m.recs))
		}
		sealed, _ := segmentsOf(l)
		for _, s := range sealed {
			if s.size > cfg.SegmentBytes {
				t.Fatalf("segment %d is %d bytes, above SegmentBytes %d", s.base, s.size, cfg.SegmentBytes)
			}
		}
	}
	for _, op := range ops {
		switch {
		case op&0xc0 == 0x40:
			l.Roll()
		case op&0xc0 == 0xc0:
			now = now.Add(time.Duration(op&0x3f) * time.Millisecond)
			compact()
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
		compact()
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
	return merged
}

// TestCompactSeedsMerge: FuzzCompact's seeds exercise merges of several
// segments into one, not only single-segment cleaning.
func TestCompactSeedsMerge(t *testing.T) {
	total := 0
	for i, ops := range compactSeeds {
		n := runCompactOps(t, ops)
		t.Logf("seed %d: %d segments merged away", i, n)
		total += n
	}
	if total == 0 {
		t.Fatal("no seed merged a segment")
	}
}

// TestCompactWhileSetLimits: limits changed while the cleaner and appends
// run (what topic alter does) race with neither; run under -race.
func TestCompactWhileSetLimits(t *testing.T) {
	l := smallLog(t)
	m := &model{}
	rng := rand.New(rand.NewPCG(7, 8))
	fillKeys(t, l, m, rng, 2000, 50, record.Options{})
	cfg := l.config()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			c := cfg
			c.SegmentBytes = int64(4<<10 + (i%4)<<10)
			c.RetentionBytes = -1
			if err := l.SetLimits(c); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var res CompactResult
	for i := 0; i < 5; i++ {
		fillKeys(t, l, m, rng, 200, 50, record.Options{})
		res = compactNow(t, l)
	}
	<-done
	got, _ := readAll(t, l)
	checkCompacted(t, m, got, res.FirstDirty)
}
