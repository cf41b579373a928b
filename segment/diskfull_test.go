package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spate-io/spate/internal/smallfs"
	"github.com/spate-io/spate/record"
	"golang.org/x/sys/unix"
)

// TestAppendDiskFullTmpfs fills a real filesystem through appends: the
// first append that finds no space fails with ErrDiskFull and leaves the
// log as it was, later ones fail the same way without failing the log,
// every acknowledged batch stays readable, and once space is freed appends
// go on where they stopped, with no reopen.
func TestAppendDiskFullTmpfs(t *testing.T) {
	fs := smallfs.Mount(t, "tmpfs", 1<<20)
	// Room to free later: the only way space comes back on a full disk.
	ballast := filepath.Join(fs, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 192<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.SegmentBytes = 128 << 10 // several rolls, one of which may meet the full disk
	l := openLog(t, filepath.Join(fs, "p0"), cfg)
	t.Cleanup(func() { l.Close() }) // the last one opened
	rng := rand.New(rand.NewPCG(1, 2))
	var w written
	var fullErr error
	for i := 0; fullErr == nil; i++ {
		if i > 10_000 {
			t.Fatal("a 1 MiB filesystem never filled")
		}
		b := makeBatch(1+rng.IntN(5), int64(1_000_000+i), record.HeaderSize+rng.IntN(3000), byte(i))
		if _, err := l.Append(b); err != nil {
			fullErr = err
			break
		}
		w.batches = append(w.batches, b)
	}
	if !errors.Is(fullErr, ErrDiskFull) || !errors.Is(fullErr, unix.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want ErrDiskFull wrapping ENOSPC", fullErr)
	}
	for i := range 20 {
		// Larger than a page: a small batch may still fit in the last
		// page the filesystem gave the segment.
		if _, err := l.Append(makeBatch(1, 1, record.HeaderSize+16<<10+i, 0)); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("append %d while still full: %v, want ErrDiskFull", i, err)
		}
	}
	if err := l.Err(); err != nil {
		t.Fatalf("the log failed on a full disk: %v", err)
	}
	checkReads(t, l, w.batches)
	// A full disk may refuse the recovery point, never the flush itself.
	if err := l.Flush(); err != nil {
		t.Fatalf("Flush on a full disk: %v", err)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		w.append(t, l, makeBatch(2, int64(2_000_000+i), record.HeaderSize+2000, byte(i)))
	}
	checkReads(t, l, w.batches)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l = openLog(t, filepath.Join(fs, "p0"), cfg)
	checkReads(t, l, w.batches)
}

// TestReopenOnFullDisk: a log on a filesystem with no space left closes
// without error and opens (the recovery point and clean marker it cannot
// write only save recovery time) and serves what it holds, after a close
// and after a crash.
func TestReopenOnFullDisk(t *testing.T) {
	fs := smallfs.Mount(t, "tmpfs", 512<<10)
	dir := filepath.Join(fs, "p0")
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	t.Cleanup(func() { l.Close() }) // the last one opened
	var w written
	w.fill(t, l, 40, rand.New(rand.NewPCG(3, 4)))
	smallfs.Fill(t, fs)
	if err := l.Close(); err != nil {
		t.Fatalf("Close on a full disk: %v", err)
	}
	l = openLog(t, dir, cfg)
	checkReads(t, l, w.batches)
	crash(t, l)
	l = openLog(t, dir, cfg)
	checkReads(t, l, w.batches)
}

// TestDiskFullAtEachWrite gives a full disk to one chosen write of an
// append (the log bytes, an offset index entry, a time index entry, the
// new segment of a roll) and checks that the append is refused with
// ErrDiskFull and taken back whole: the log serves every earlier batch,
// the next appends succeed and land where the refused one would have, and
// a reopen (clean or after a crash) finds exactly the accepted batches.
// Direct writes are on, so their tail block is restored too.
func TestDiskFullAtEachWrite(t *testing.T) {
	// Every index entry is written as it comes, not a page at a time, so
	// the appends themselves meet the index writes.
	old := pendingBytes
	pendingBytes = 1
	t.Cleanup(func() { pendingBytes = old })
	for _, target := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		for _, crashed := range []bool{false, true} {
			t.Run(fmt.Sprintf("file=%s,crash=%v", target, crashed), func(t *testing.T) {
				dir := t.TempDir()
				cfg := testConfig()
				cfg.DirectWriteBytes = 1024
				cfg.IndexIntervalBytes = 256 // an index entry on most appends
				l := openLog(t, dir, cfg)
				rng := rand.New(rand.NewPCG(5, 6))
				var w written
				refused := 0
				for i := range 400 {
					b := makeBatch(1+rng.IntN(3), int64(1_000_000+i), record.HeaderSize+rng.IntN(2500), byte(i))
					fail := i%7 == 3
					writeFault = func(path string) error {
						if fail && strings.HasSuffix(path, target) {
							return &os.PathError{Op: "write", Path: path, Err: unix.ENOSPC}
						}
						return nil
					}
					_, err := l.Append(b)
					writeFault = nil
					switch {
					case err == nil:
						w.batches = append(w.batches, b)
					case errors.Is(err, ErrDiskFull):
						refused++
					default:
						t.Fatalf("append %d: %v", i, err)
					}
				}
				if refused == 0 {
					t.Fatalf("no write of a %s file was ever made to fail", target)
				}
				checkReads(t, l, w.batches)
				if crashed {
					crash(t, l)
				} else if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l = openLog(t, dir, cfg)
				defer l.Close()
				checkReads(t, l, w.batches)
			})
		}
	}
}

// TestRollOnFullDisk: a roll that cannot seal the old segment leaves it
// active and whole, removes the new segment's files, and the next roll
// succeeds once space returns.
func TestRollOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	// No index entries while appending, so sealing has a time entry to write.
	cfg.IndexIntervalBytes = 1 << 20
	l := openLog(t, dir, cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 30, rand.New(rand.NewPCG(7, 8)))
	writeFault = func(path string) error {
		if strings.HasSuffix(path, timeIndexSuffix) {
			return unix.ENOSPC // the sealing time entry
		}
		return nil
	}
	err := l.Roll()
	writeFault = nil
	if !errors.Is(err, ErrDiskFull) || l.Err() != nil {
		t.Fatalf("roll that cannot seal: %v (log error %v), want ErrDiskFull and a working log", err, l.Err())
	}
	if n := len(l.mu.segs); n != 1 {
		t.Fatalf("after a refused roll the log has %d segments, want the 1 it had", n)
	}
	if _, err := os.Stat(filepath.Join(dir, segmentName(l.LogEndOffset())+logSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused roll left its new segment file: %v", err)
	}
	w.fill(t, l, 5, rand.New(rand.NewPCG(9, 10)))
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	w.fill(t, l, 5, rand.New(rand.NewPCG(11, 12)))
	checkReads(t, l, w.batches)
	if len(l.mu.segs) != 2 {
		t.Fatalf("%d segments after one roll, want 2", len(l.mu.segs))
	}
}

// TestRecoverWithNoRoomForIndexes: recovery after a crash rebuilds indexes,
// which may need more space than the disk has; the log opens anyway, with
// sparser indexes, serves every batch, and takes appends once space
// returns.
func TestRecoverWithNoRoomForIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	l := openLog(t, dir, cfg)
	var w written
	w.fill(t, l, 300, rand.New(rand.NewPCG(13, 14)))
	crash(t, l)
	writeFault = func(path string) error {
		if strings.HasSuffix(path, indexSuffix) || strings.HasSuffix(path, timeIndexSuffix) {
			return unix.ENOSPC
		}
		return nil
	}
	l, err := Open(dir, cfg)
	writeFault = nil
	if err != nil {
		t.Fatalf("Open with no room for index entries: %v", err)
	}
	checkReads(t, l, w.batches)
	w.fill(t, l, 50, rand.New(rand.NewPCG(15, 16)))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg)
	defer l.Close()
	checkReads(t, l, w.batches)
}

// TestDeleteRecordsOnFullDisk: on a full disk, DeleteRecordsBefore inside
// the first segment cannot persist the new start and says so with
// ErrDiskFull, without failing the log; past whole segments it deletes
// them first, which makes the room to persist it.
func TestDeleteRecordsOnFullDisk(t *testing.T) {
	fs := smallfs.Mount(t, "tmpfs", 1<<20)
	dir := filepath.Join(fs, "p0")
	cfg := testConfig()
	cfg.SegmentBytes = 32 << 10
	l := openLog(t, dir, cfg)
	t.Cleanup(func() { l.Close() })
	var w written
	w.fill(t, l, 100, rand.New(rand.NewPCG(17, 18)))
	if len(l.mu.segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(l.mu.segs))
	}
	smallfs.Fill(t, fs)
	inFirst := l.mu.segs[0].base + 1
	if err := l.DeleteRecordsBefore(inFirst); !errors.Is(err, ErrDiskFull) || l.Err() != nil {
		t.Fatalf("DeleteRecordsBefore(%d) on a full disk: %v (log error %v), want ErrDiskFull and a working log", inFirst, err, l.Err())
	}
	cut := l.mu.segs[2].base
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatalf("DeleteRecordsBefore(%d) past two segments on a full disk: %v", cut, err)
	}
	if got := l.LogStartOffset(); got != cut {
		t.Fatalf("log start %d, want %d", got, cut)
	}
	var kept []record.Batch
	for _, b := range w.batches {
		if b.BaseOffset() >= cut {
			kept = append(kept, b)
		}
	}
	checkReads(t, l, kept)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg)
	if got := l.LogStartOffset(); got != cut {
		t.Fatalf("log start %d after reopen, want %d", got, cut)
	}
}
