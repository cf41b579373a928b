// Package smallfs mounts small real filesystems for tests of a full disk:
// a tmpfs or a loop-mounted ext4 image, which a test fills to the last
// block. Mounting needs root (CAP_SYS_ADMIN); without it the test is
// skipped with a message that says so.
package smallfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Mount mounts a filesystem of size bytes on a fresh directory and returns
// it. kind is "tmpfs" or "ext4" (an image file, formatted with no blocks
// reserved for root, so full means full for root too). The unmount at
// cleanup is lazy, so a file a failed test left open does not keep the
// mount.
func Mount(t testing.TB, kind string, size int64) string {
	t.Helper()
	dir := t.TempDir()
	var args []string
	switch kind {
	case "tmpfs":
		args = []string{"-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir}
	case "ext4":
		img := filepath.Join(t.TempDir(), "fs.img")
		f, err := os.Create(img)
		if err == nil {
			err = f.Truncate(size)
			f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
			t.Skipf("cannot make a %d-byte ext4 image: %v: %s", size, err, strings.TrimSpace(string(out)))
		}
		args = []string{"-o", "loop", img, dir}
	default:
		t.Fatalf("smallfs: unknown filesystem kind %q", kind)
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %d-byte %s for a full-disk test (needs root): %v: %s", size, kind, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Fill writes a file in dir until the filesystem is full to the last block
// (halving its writes down to 512 bytes at the end) and returns the file's
// path: removing it gives the space back.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "smallfs-filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for len(chunk) >= 512 {
		if _, err := f.Write(chunk); err != nil {
			chunk = chunk[:len(chunk)/2]
		}
	}
	return path
}
