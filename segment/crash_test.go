package segment

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/spate-io/spate/record"
)

// damageCase builds a crashed log, damages its files, reopens it and checks
// that every batch before the damage reads back intact, nothing after it is
// served, and appends continue at the new end.
type damageCase struct {
	name     string
	segments bool // spread the data over several segments
	// damage changes the files of the crashed log in dir and returns the
	// number of leading batches that must survive.
	damage func(t *testing.T, dir string, w *written) int
}

func segmentFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// positionOf returns the segment file and the position in it of batch i.
// endOfLast returns the file holding the last batch written and where that
// batch ends. The file may go on: a crash leaves direct writes' zero padding.
func endOfLast(t *testing.T, dir string, w *written) (string, int64) {
	t.Helper()
	last := len(w.batches) - 1
	path, pos := positionOf(t, dir, w, last)
	return path, pos + int64(len(w.batches[last]))
}

func positionOf(t *testing.T, dir string, w *written, i int) (string, int64) {
	t.Helper()
	logs := segmentFiles(t, dir, logSuffix)
	target := w.batches[i].BaseOffset()
	for j := len(logs) - 1; j >= 0; j-- {
		var base int64
		for _, b := range w.batches {
			if filepath.Join(dir, segmentName(b.BaseOffset())+logSuffix) == logs[j] {
				base = b.BaseOffset()
				break
			}
		}
		if base > target {
			continue
		}
		var pos int64
		for _, b := range w.batches {
			if b.BaseOffset() >= base && b.BaseOffset() < target {
				pos += int64(len(b))
			}
		}
		return logs[j], pos
	}
	t.Fatalf("batch %d not found", i)
	return "", 0
}

func TestCrashRecovery(t *testing.T) {
	flip := flipByte
	lastLog := func(t *testing.T, dir string) string {
		logs := segmentFiles(t, dir, logSuffix)
		return logs[len(logs)-1]
	}
	cases := []damageCase{
		{name: "clean crash", damage: func(t *testing.T, dir string, w *written) int { return len(w.batches) }},
		{name: "bit flip mid log", damage: func(t *testing.T, dir string, w *written) int {
			i := len(w.batches) / 2
			path, pos := positionOf(t, dir, w, i)
			flip(t, path, pos+int64(len(w.batches[i]))-1) // inside the records: only the CRC notices
			return i
		}},
		{name: "bit flip in length", damage: func(t *testing.T, dir string, w *written) int {
			i := len(w.batches) / 3
			path, pos := positionOf(t, dir, w, i)
			flip(t, path, pos+9)
			return i
		}},
		{name: "truncated tail", damage: func(t *testing.T, dir string, w *written) int {
			path, end := endOfLast(t, dir, w)
			os.Truncate(path, end-7)
			return len(w.batches) - 1
		}},
		{name: "zeroed tail", damage: func(t *testing.T, dir string, w *written) int {
			f, _ := os.OpenFile(lastLog(t, dir), os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 4096))
			f.Close()
			return len(w.batches)
		}},
		{name: "deleted index", damage: func(t *testing.T, dir string, w *written) int {
			for _, p := range segmentFiles(t, dir, indexSuffix) {
				os.Remove(p)
			}
			return len(w.batches)
		}},
		{name: "corrupt index", damage: func(t *testing.T, dir string, w *written) int {
			for _, p := range append(segmentFiles(t, dir, indexSuffix), segmentFiles(t, dir, timeIndexSuffix)...) {
				junk := make([]byte, 4096)
				rng := rand.New(rand.NewPCG(5, 6))
				for i := range junk {
					junk[i] = byte(rng.UintN(256))
				}
				// Plausible entries first, so the damage is not just "stops early".
				putOffsetEntry(junk, 1, 100)
				putOffsetEntry(junk[8:], 3, 50)
				os.WriteFile(p, junk, 0o644)
			}
			return len(w.batches)
		}},
		{name: "multi segment bit flip", segments: true, damage: func(t *testing.T, dir string, w *written) int {
			os.Remove(filepath.Join(dir, recoveryPointFile)) // no recovery point: validate everything
			i := len(w.batches) / 3
			path, pos := positionOf(t, dir, w, i)
			flip(t, path, pos+30)
			return i
		}},
		{name: "multi segment truncated last", segments: true, damage: func(t *testing.T, dir string, w *written) int {
			path, end := endOfLast(t, dir, w)
			os.Truncate(path, end-1)
			return len(w.batches) - 1
		}},
		{name: "multi segment deleted indexes", segments: true, damage: func(t *testing.T, dir string, w *written) int {
			for _, p := range segmentFiles(t, dir, indexSuffix) {
				os.Remove(p)
			}
			return len(w.batches)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			if !tc.segments {
				cfg.SegmentBytes = 1 << 20
			}
			l := openLog(t, dir, cfg)
			var w written
			w.fill(t, l, 120, rand.New(rand.NewPCG(7, 8)))
			if tc.segments && len(segmentFiles(t, dir, logSuffix)) < 3 {
				t.Fatalf("want several segments, have %d", len(segmentFiles(t, dir, logSuffix)))
			}
			crash(t, l)
			keep := tc.damage(t, dir, &w)
			l = openLog(t, dir, cfg)
			defer l.Close()
			// What recovery reports cutting: something whenever batches
			// were lost, nothing after a crash that damaged nothing.
			r := l.Recovery()
			if keep < len(w.batches) && r.CutBytes == 0 && r.DroppedSegments == 0 {
				t.Fatalf("kept %d of %d batches, Recovery() = %+v", keep, len(w.batches), r)
			}
			if tc.name == "clean crash" && r != (Recovery{}) {
				t.Fatalf("nothing damaged, Recovery() = %+v", r)
			}
			want := w.batches[:keep]
			checkReads(t, l, want)
			next := int64(0)
			if keep > 0 {
				next = want[keep-1].NextOffset()
			}
			b := makeBatch(2, 5_000_000, 300, 9)
			if base, err := l.Append(b); err != nil || base != next {
				t.Fatalf("Append after recovery = %d, %v; want %d", base, err, next)
			}
			checkReads(t, l, append(append([]record.Batch(nil), want...), b))
			// And the repaired log survives another crash unchanged.
			crash(t, l)
			l = openLog(t, dir, cfg)
			checkReads(t, l, append(append([]record.Batch(nil), want...), b))
		})
	}
}

// TestRecoveryPointLimitsValidation shows that after an unclean stop only the
// segments from the recovery point on are rescanned: damage in an older,
// synced segment's records is not looked for (the data was fdatasync'd),
// while the same damage past the recovery point is cut.
func TestRecoveryPointLimitsValidation(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 120, rand.New(rand.NewPCG(9, 10)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	rp, ok, err := readOffsetFile(dir, recoveryPointFile)
	if err != nil || !ok {
		t.Fatalf("recovery point file: %d %v %v", rp, ok, err)
	}
	if rp <= w.batches[0].NextOffset() {
		t.Fatalf("recovery point %d did not move past the first segment", rp)
	}
	// Extra appends past the recovery point, then damage on both sides of it.
	w.fill(t, l, 5, rand.New(rand.NewPCG(11, 12)))
	crash(t, l)
	path, pos := positionOf(t, dir, &w, 0)
	flipByte(t, path, pos+int64(len(w.batches[0]))-1)
	last := len(w.batches) - 2
	path, pos = positionOf(t, dir, &w, last)
	flipByte(t, path, pos+int64(len(w.batches[last]))-1)

	l = openLog(t, dir, cfg)
	defer l.Close()
	if got, want := l.LogEndOffset(), w.batches[last].BaseOffset(); got != want {
		t.Fatalf("LogEndOffset = %d, want %d (cut at the damaged batch past the recovery point)", got, want)
	}
	// The first batch lies below the recovery point: not rescanned, so its
	// flipped byte is still there and the batches after it are all kept.
	checkReads(t, l, w.batches[1:last])
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b[:], at); err != nil {
		t.Fatal(err)
	}
}
