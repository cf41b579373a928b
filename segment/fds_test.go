package segment

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openFilesUnder counts this process's descriptors on files in dir.
func openFilesUnder(t testing.TB, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list descriptors: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// activeFiles is what a log holds open while nothing writes direct: the
// active .log.
const activeFiles = 1

// TestSealedSegmentsHoldNoDescriptors: once a sealed segment is durable its
// descriptors close, so a log holds activeFiles however many segments it
// has, and everything stays readable through the mappings. A segment a
// FileRange still holds keeps its .log open until the range is released.
func TestSealedSegmentsHoldNoDescriptors(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.DirectWriteBytes = 0
	l := openLog(t, dir, cfg)
	defer l.Close()
	var w written
	w.fill(t, l, 300, rand.New(rand.NewPCG(3, 4)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.mu.RLock()
	segs := len(l.mu.segs)
	l.mu.RUnlock()
	if segs < 4 {
		t.Fatalf("%d segments, want several", segs)
	}
	if n := openFilesUnder(t, dir); n != activeFiles {
		t.Fatalf("%d segments, synced: %d descriptors open on the log's files, want %d", segs, n, activeFiles)
	}
	checkReads(t, l, w.batches)

	// A range of the active segment holds its .log through a roll and sync.
	held, err := l.Read(w.batches[len(w.batches)-1].BaseOffset(), 1, l.LogEndOffset())
	if err != nil || held.File() == nil {
		t.Fatalf("Read of the active segment: %v, File() = %v; want a descriptor", err, held.File())
	}
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	w.fill(t, l, 1, rand.New(rand.NewPCG(5, 6)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := openFilesUnder(t, dir); n != activeFiles+1 {
		t.Fatalf("sealed segment under a FileRange: %d descriptors open, want %d (its .log stays)", n, activeFiles+1)
	}
	held.Release()
	w.fill(t, l, 1, rand.New(rand.NewPCG(7, 8)))
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := openFilesUnder(t, dir); n != activeFiles {
		t.Fatalf("after the range's release and a sync: %d descriptors open, want %d", n, activeFiles)
	}
	r, err := l.Read(w.batches[0].BaseOffset(), 1, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if r.File() != nil {
		t.Errorf("range of a released segment offers descriptor %v, want nil (Bytes only)", r.File().Name())
	}
	r.Release()
	checkReads(t, l, w.batches)

	// Recovery opens sealed segments without keeping descriptors either.
	crash(t, l)
	l = openLog(t, dir, cfg)
	if n := openFilesUnder(t, dir); n != activeFiles {
		t.Fatalf("after a crash and reopen: %d descriptors open, want %d", n, activeFiles)
	}
	checkReads(t, l, w.batches)
}

// TestDirectDescriptorOpensOnFirstDirectWrite: the O_DIRECT descriptor is
// opened by the first append that goes direct, not with the segment.
func TestDirectDescriptorOpensOnFirstDirectWrite(t *testing.T) {
	dir, _, l := openDirectLog(t, directConfig())
	defer l.Close()
	var w written
	w.append(t, l, makeBatch(1, 1_000_000, 500, 1))
	if n := openFilesUnder(t, dir); n != activeFiles {
		t.Fatalf("after a small append: %d descriptors open, want %d", n, activeFiles)
	}
	w.append(t, l, makeBatch(1, 1_000_010, 5000, 2))
	if n := openFilesUnder(t, dir); n != activeFiles+1 {
		t.Fatalf("after a direct append: %d descriptors open, want %d", n, activeFiles+1)
	}
	checkReads(t, l, w.batches)
}
