package segment

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// smallTmpfs mounts a tmpfs of size bytes for the test, or skips where
// mounting is not allowed (not root, no CAP_SYS_ADMIN, a container).
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillFS writes to dir/fill until the filesystem refuses even 512 bytes.
func fillFS(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for _, n := range []int{len(buf), 512} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
}

// TestIndexOnFullTmpfsDoesNotFault: an index whose entries fill whole pages,
// followed by the preallocated hole, opens on a full tmpfs. Reading the
// hole through the mapping would make tmpfs allocate a page there, and with
// no page left the process would die of SIGBUS (issue 15).
func TestIndexOnFullTmpfsDoesNotFault(t *testing.T) {
	dir := smallTmpfs(t, "1m")
	path := filepath.Join(dir, segmentName(0)+indexSuffix)
	page := os.Getpagesize()
	entries := make([]byte, page)
	for i := range page / offsetEntrySize {
		putOffsetEntry(entries[i*offsetEntrySize:], uint32(i+1), uint32(i+1))
	}
	if err := os.WriteFile(path, entries, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 256<<10); err != nil {
		t.Fatal(err)
	}
	fillFS(t, dir)
	for _, writable := range []bool{false, true} {
		ix, err := openIndex(path, offsetEntrySize, 256<<10, writable, offsetEntryValidator(1<<30))
		if err != nil {
			t.Fatalf("openIndex (writable %v) on a full tmpfs: %v", writable, err)
		}
		if ix.n != page/offsetEntrySize {
			t.Errorf("openIndex (writable %v): %d entries, want %d", writable, ix.n, page/offsetEntrySize)
		}
		if got := ix.offsetFloor(uint32(ix.n)); got != int64(ix.n) {
			t.Errorf("offsetFloor(%d) = %d, want %d", ix.n, got, ix.n)
		}
		if err := ix.close(); err != nil {
			t.Fatal(err)
		}
	}
}
