package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// idemBatch is makeBatch with a producer id, epoch and base sequence.
func idemBatch(pid int64, epoch int16, seq int32, count int) []byte {
	b := makeBatch(count, 0, 1_700_000_000_000)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	reseal(b)
	return b
}

// produceIdem produces one idempotent batch with acks=1 to topic-0.
func produceIdem(t *testing.T, e *Engine, topic string, pid int64, epoch int16, seq int32, count int) ProduceResult {
	t.Helper()
	return produceSync(t, e, ProduceRequest{Topic: topic, Acks: 1, Records: idemBatch(pid, epoch, seq, count)})
}

func logEnd(t *testing.T, e *Engine, topic string) int64 {
	t.Helper()
	return mustPartition(t, e, topic, 0).log.LogEndOffset()
}

// wantBase checks that a produce succeeded at base.
func wantBase(t *testing.T, what string, r ProduceResult, base int64) {
	t.Helper()
	if r.Err != nil || r.BaseOffset != base {
		t.Fatalf("%s: base %d err %v, want base %d", what, r.BaseOffset, r.Err, base)
	}
}

// wantErr checks that a produce failed with target and appended nothing.
func wantErr(t *testing.T, e *Engine, topic, what string, r ProduceResult, target error, leo int64) {
	t.Helper()
	if !errors.Is(r.Err, target) || r.BaseOffset != -1 {
		t.Fatalf("%s: base %d err %v, want %v", what, r.BaseOffset, r.Err, target)
	}
	if got := logEnd(t, e, topic); got != leo {
		t.Fatalf("%s appended: log end %d, want %d", what, got, leo)
	}
}

func TestIdempotentDuplicateAppendsNothing(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "d", 1, nil)
	wantBase(t, "seq 0", produceIdem(t, e, "d", 7, 0, 0, 3), 0)
	wantBase(t, "plain batch", produceSync(t, e, ProduceRequest{Topic: "d", Acks: 1, Records: makeBatch(2, 0, 1)}), 3)
	wantBase(t, "retry of seq 0", produceIdem(t, e, "d", 7, 0, 0, 3), 0)
	wantBase(t, "retry of seq 0 with acks=all", produceSync(t, e, ProduceRequest{Topic: "d", Acks: -1, Records: idemBatch(7, 0, 0, 3)}), 0)
	if got := logEnd(t, e, "d"); got != 5 {
		t.Fatalf("log end %d after duplicates, want 5", got)
	}
	wantBase(t, "seq 3", produceIdem(t, e, "d", 7, 0, 3, 4), 5)
	wantBase(t, "retry of seq 0 after seq 3", produceIdem(t, e, "d", 7, 0, 0, 3), 0)
	// Same first sequence, other range: not a duplicate, and not next either.
	wantErr(t, e, "d", "seq 3 with another count", produceIdem(t, e, "d", 7, 0, 3, 2), ErrOutOfOrderSequence, 9)
	// Only the last 5 batches are remembered: after 5 more, seq 0 is too old.
	seq, off := int32(7), int64(9)
	for i := 0; i < cachedBatches; i++ {
		wantBase(t, "filler", produceIdem(t, e, "d", 7, 0, seq, 1), off)
		seq, off = seq+1, off+1
	}
	wantErr(t, e, "d", "seq 0 beyond the cache", produceIdem(t, e, "d", 7, 0, 0, 3), ErrOutOfOrderSequence, off)
	wantBase(t, "retry of the 5th newest", produceIdem(t, e, "d", 7, 0, seq-cachedBatches, 1), off-cachedBatches)
}

func TestIdempotentSequenceRules(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "s", 1, nil)
	wantBase(t, "unknown producer at seq 41", produceIdem(t, e, "s", 1, 3, 41, 2), 0)
	wantErr(t, e, "s", "gap", produceIdem(t, e, "s", 1, 3, 44, 1), ErrOutOfOrderSequence, 2)
	wantErr(t, e, "s", "going back", produceIdem(t, e, "s", 1, 3, 40, 1), ErrOutOfOrderSequence, 2)
	wantBase(t, "next", produceIdem(t, e, "s", 1, 3, 43, 1), 2)
	// Producers are tracked independently.
	wantBase(t, "other producer", produceIdem(t, e, "s", 2, 0, 0, 1), 3)
	// Epochs: older is fenced, newer must start at 0 and resets the state.
	wantErr(t, e, "s", "older epoch", produceIdem(t, e, "s", 1, 2, 44, 1), ErrInvalidProducerEpoch, 4)
	wantErr(t, e, "s", "new epoch not at 0", produceIdem(t, e, "s", 1, 4, 44, 1), ErrOutOfOrderSequence, 4)
	wantBase(t, "new epoch at 0", produceIdem(t, e, "s", 1, 4, 0, 2), 4)
	wantErr(t, e, "s", "old epoch after bump", produceIdem(t, e, "s", 1, 3, 44, 1), ErrInvalidProducerEpoch, 6)
	wantBase(t, "retry in new epoch", produceIdem(t, e, "s", 1, 4, 0, 2), 4)
	// Sequences wrap from MaxInt32 to 0.
	wantBase(t, "up to MaxInt32", produceIdem(t, e, "s", 9, 0, math.MaxInt32-1, 2), 6)
	wantBase(t, "wrapped to 0", produceIdem(t, e, "s", 9, 0, 0, 1), 8)
	wantBase(t, "batch across the wrap", produceIdem(t, e, "s", 10, 0, math.MaxInt32, 3), 9)
	wantBase(t, "retry across the wrap", produceIdem(t, e, "s", 10, 0, math.MaxInt32, 3), 9)
	wantBase(t, "after the wrap", produceIdem(t, e, "s", 10, 0, 2, 1), 12)
}

func TestIdempotentBatchMustBeAlone(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "a", 1, nil)
	two := append(idemBatch(1, 0, 0, 1), idemBatch(1, 0, 1, 1)...)
	wantErr(t, e, "a", "two idempotent batches", produceSync(t, e, ProduceRequest{Topic: "a", Acks: 1, Records: two}), ErrInvalidRecord, 0)
	mixed := append(makeBatch(1, 0, 1), idemBatch(1, 0, 0, 1)...)
	wantErr(t, e, "a", "plain then idempotent", produceSync(t, e, ProduceRequest{Topic: "a", Acks: 1, Records: mixed}), ErrInvalidRecord, 0)
	noSeq := idemBatch(1, 0, -1, 1)
	wantErr(t, e, "a", "producer id without sequence", produceSync(t, e, ProduceRequest{Topic: "a", Acks: 1, Records: noSeq}), ErrInvalidRecord, 0)
}

// reopen opens the engine of cfg and closes it when the test ends.
func reopen(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Open(cfg)
	if err != nil {
		t.Fatalf("reopen %s: %v", cfg.DataDir, err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.RetentionCheckInterval = 0
	cfg.MaxIndexBytes = 64 << 10
	return cfg
}

// checkRebuilt asserts the producer state of pid 5 (last batch seq 3-4 at
// offset 3) and pid 6 (epoch 2, seq 0 at offset 5) survived.
func checkRebuilt(t *testing.T, e *Engine) {
	t.Helper()
	wantBase(t, "retry of pid 5 seq 3", produceIdem(t, e, "r", 5, 0, 3, 2), 3)
	wantBase(t, "retry of pid 5 seq 0", produceIdem(t, e, "r", 5, 0, 0, 3), 0)
	wantErr(t, e, "r", "pid 5 gap", produceIdem(t, e, "r", 5, 0, 9, 1), ErrOutOfOrderSequence, 6)
	wantErr(t, e, "r", "pid 6 old epoch", produceIdem(t, e, "r", 6, 1, 1, 1), ErrInvalidProducerEpoch, 6)
	wantBase(t, "pid 6 next", produceIdem(t, e, "r", 6, 2, 1, 1), 6)
	wantBase(t, "pid 5 next", produceIdem(t, e, "r", 5, 0, 5, 1), 7)
}

func writeProducers(t *testing.T, e *Engine) {
	t.Helper()
	mustCreate(t, e, "r", 1, nil)
	wantBase(t, "pid 5 seq 0", produceIdem(t, e, "r", 5, 0, 0, 3), 0)
	wantBase(t, "pid 5 seq 3", produceIdem(t, e, "r", 5, 0, 3, 2), 3)
	wantBase(t, "pid 6 seq 0", produceIdem(t, e, "r", 6, 2, 0, 1), 5)
}

func TestProducerStateSurvivesCleanReopen(t *testing.T) {
	cfg := testConfig(t)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeProducers(t, e)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkRebuilt(t, reopen(t, cfg))
}

// TestProducerStateRebuildsWindow: after a restart the state rebuilt from
// the log holds a producer's last cachedBatches batches, not only its
// last, so a client with that many batches in flight when the broker
// stopped has each retry answered as a duplicate with its original
// offset; one batch older is out of sequence, as before the restart.
func TestProducerStateRebuildsWindow(t *testing.T) {
	cfg := testConfig(t)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "win", 1, nil)
	const batches = cachedBatches + 2
	for i := range int32(batches) {
		wantBase(t, "batch "+strconv.Itoa(int(i)), produceIdem(t, e, "win", 5, 0, 2*i, 2), int64(2*i))
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = reopen(t, cfg)
	for i := int32(batches - cachedBatches); i < batches; i++ {
		wantBase(t, "retry of batch "+strconv.Itoa(int(i)), produceIdem(t, e, "win", 5, 0, 2*i, 2), int64(2*i))
	}
	end := int64(2 * batches)
	old := batches - cachedBatches - 1
	wantErr(t, e, "win", "retry of the batch before the window", produceIdem(t, e, "win", 5, 0, int32(2*old), 2), ErrOutOfOrderSequence, end)
	wantBase(t, "next batch", produceIdem(t, e, "win", 5, 0, 2*batches, 2), end)
}

// TestProducerStateSurvivesUncleanStop copies the data dir of a running
// engine, as a SIGKILL leaves it (no Close, no final sync: the page cache is
// what the copy reads, as a restarted process would after a crash that
// spared the kernel), and opens the copy.
func TestProducerStateSurvivesUncleanStop(t *testing.T) {
	cfg := testConfig(t)
	e := reopen(t, cfg)
	writeProducers(t, e)
	crashed := cfg
	crashed.DataDir = t.TempDir()
	copyDir(t, cfg.DataDir, crashed.DataDir)
	checkRebuilt(t, reopen(t, crashed))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, src)
		return errors.Join(err, out.Close())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}

// TestProducerStateScanWindow pins the documented bound: the rebuild reads
// the last recoveryScanSegments segments, so a producer seen only before
// them is unknown after a restart, and one seen in them is not.
func TestProducerStateScanWindow(t *testing.T) {
	cfg := testConfig(t)
	e := reopen(t, cfg)
	// One batch of 3 records is 61+21 bytes; 100-byte segments hold one each.
	mustCreate(t, e, "w", 1, map[string]string{"segment.bytes": "100"})
	wantBase(t, "old producer", produceIdem(t, e, "w", 1, 0, 0, 3), 0)
	wantBase(t, "filler 1", produceIdem(t, e, "w", 2, 0, 0, 3), 3)
	wantBase(t, "filler 2", produceIdem(t, e, "w", 2, 0, 3, 3), 6)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = reopen(t, cfg)
	if segs := countSegments(t, filepath.Join(cfg.DataDir, "w-0")); segs < 3 {
		t.Fatalf("%d segments; the test needs 3 to leave the first out of the scan", segs)
	}
	wantBase(t, "producer 2, in the window", produceIdem(t, e, "w", 2, 0, 3, 3), 6)
	wantBase(t, "producer 1, outside the window: appended again", produceIdem(t, e, "w", 1, 0, 0, 3), 9)
}

func countSegments(t *testing.T, dir string) int {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return len(logs)
}

func TestInitProducerIDUniqueAcrossRestarts(t *testing.T) {
	cfg := testConfig(t)
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i := 0; i < producerIDBlockSize+5; i++ {
		id, epoch, err := e.InitProducerID()
		if err != nil || epoch != 0 || id < 0 || seen[id] {
			t.Fatalf("InitProducerID #%d = %d, %d, %v", i, id, epoch, err)
		}
		seen[id] = true
	}
	// No Close: a crash must not let the next run reuse the block in use.
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, producerIDFile))
	if err != nil || string(data) != strconv.Itoa(2*producerIDBlockSize)+"\n" {
		t.Fatalf("%s = %q, %v", producerIDFile, data, err)
	}
	e2 := reopen(t, func() Config { c := cfg; c.DataDir = t.TempDir(); copyDir(t, cfg.DataDir, c.DataDir); return c }())
	id, _, err := e2.InitProducerID()
	if err != nil || id != 2*producerIDBlockSize {
		t.Fatalf("first id after restart = %d, %v; want %d", id, err, 2*producerIDBlockSize)
	}
	e.Close(context.Background())
	if _, _, err := e.InitProducerID(); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("InitProducerID after Close = %v", err)
	}
}

func TestProducerExpiration(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "x", 1, nil)
	wantBase(t, "seq 0", produceIdem(t, e, "x", 3, 0, 0, 1), 0)
	p := mustPartition(t, e, "x", 0)
	seen := time.UnixMilli(p.producers[3].lastSeen)
	if _, err := p.applyRetention(seen.Add(producerExpiration - time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e, "x", "gap while remembered", produceIdem(t, e, "x", 3, 0, 5, 1), ErrOutOfOrderSequence, 1)
	if _, err := p.applyRetention(seen.Add(producerExpiration + time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantBase(t, "any sequence once expired", produceIdem(t, e, "x", 3, 0, 5, 1), 1)
}
