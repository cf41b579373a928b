package segment

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/spate-io/spate/record"
)

// TestPowerLossJournal: with the journal on, a log is flushed, written
// further (across rolls, and into a new epoch), killed and cut back by
// CutToSynced. Recovery then serves exactly the flushed batches, the epoch
// checkpoint forgets the epoch whose batches were cut, the indexes are
// rebuilt (reads at every offset work), and appends continue at the cut.
func TestPowerLossJournal(t *testing.T) {
	powerLossJournal = true
	t.Cleanup(func() { powerLossJournal = false })
	dir := t.TempDir()
	cfg := testConfig() // 64 KiB segments: the tail spans several
	l := openLog(t, dir, cfg)
	var w written
	rng := rand.New(rand.NewPCG(3, 4))
	if err := l.Epochs().Assign(1, 0); err != nil {
		t.Fatal(err)
	}
	w.fill(t, l, 60, rng)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	synced := l.LogEndOffset()
	w.fill(t, l, 1, rng)
	epoch2 := l.LogEndOffset()
	if err := l.Epochs().Assign(2, epoch2); err != nil {
		t.Fatal(err)
	}
	w.fill(t, l, 120, rng)
	before := len(segmentFiles(t, dir, logSuffix))
	crash(t, l)

	cut, err := CutToSynced(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cut) == 0 {
		t.Fatal("CutToSynced cut nothing, yet 120 batches were never flushed")
	}
	for name := range cut {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("cut file %s: %v", name, err)
		}
	}
	l = openLog(t, dir, cfg)
	want := w.upTo(synced)
	checkReads(t, l, want)
	if e, _ := l.Epochs().Latest(); e != 1 {
		t.Errorf("latest epoch %d after the cut, want 1: epoch 2 started at %d, past the recovered end %d", e, epoch2, synced)
	}
	if after := len(segmentFiles(t, dir, logSuffix)); after >= before {
		t.Errorf("%d segment files after recovery, %d before: the unsynced ones should be gone", after, before)
	}
	b := makeBatch(2, 9_000_000, 300, 1)
	if base, err := l.Append(b); err != nil || base != synced {
		t.Fatalf("Append after the power loss = %d, %v; want %d", base, err, synced)
	}
	checkReads(t, l, append(append([]record.Batch(nil), want...), b))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A clean close synced everything: nothing more to cut.
	if cut, err := CutToSynced(dir); err != nil || len(cut) != 0 {
		t.Fatalf("after Close, CutToSynced cut %v, %v; want nothing", cut, err)
	}
}

// TestPowerLossJournalOff: without the journal no sidecar is written and
// CutToSynced cuts every log file to empty (nothing is known synced).
func TestPowerLossJournalOff(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig())
	var w written
	w.fill(t, l, 10, rand.New(rand.NewPCG(1, 2)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := segmentFiles(t, dir, syncedSuffix); len(m) != 0 {
		t.Fatalf("journal off, yet sidecars %v", m)
	}
	crash(t, l)
	if cut, err := CutToSynced(dir); err != nil || len(cut) != 1 {
		t.Fatalf("CutToSynced = %v, %v; want the one log cut", cut, err)
	}
}
