package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A second engine on a locked data dir is refused before it reads anything,
// names the holder's PID, and the first engine keeps every record; once the
// first closes, the directory opens again.
func TestDataDirLockRefusesSecondEngine(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "t", 1, nil)
	wantBase(t, "produce", produceSync(t, e, ProduceRequest{Topic: "t", Acks: 1, Records: makeBatch(10, 0, 1)}), 0)

	cfg := e.cfg
	_, err := Open(cfg)
	if !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("second Open = %v, want ErrDataDirLocked", err)
	}
	if want := fmt.Sprintf("pid %d holds its .lock", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("second Open error %q does not name the holder (%q)", err, want)
	}
	if end := logEnd(t, e, "t"); end != 10 {
		t.Fatalf("log end after the refused Open = %d, want 10", end)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e2, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer e2.Close(ctx)
	if end := logEnd(t, e2, "t"); end != 10 {
		t.Fatalf("log end after reopen = %d, want 10", end)
	}
}

// A stale PID in .lock (a broker that was SIGKILLed) does not block a start:
// the flock died with its process.
func TestDataDirStaleLockFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, lockFileName), []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lockDataDir with a stale lock file: %v", err)
	}
	defer l.unlock()
	b, err := os.ReadFile(filepath.Join(dir, lockFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), fmt.Sprint(os.Getpid()); got != want {
		t.Fatalf(".lock holds %q, want this process's pid %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, probeFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("write probe left behind: %v", err)
	}
}

// A data dir on a read-only filesystem is refused at Open. Root ignores
// permission bits, so the test mounts a read-only tmpfs when it runs as root
// and uses a 0555 directory otherwise.
func TestDataDirNotWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY, "size=1m"); err != nil {
			t.Skipf("cannot mount a read-only tmpfs here (%v); the 0555 variant needs a non-root user", err)
		}
		t.Cleanup(func() { unix.Unmount(dir, 0) })
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	e, err := Open(cfg)
	if err == nil {
		e.Close(context.Background())
		t.Fatal("Open of a read-only data dir succeeded")
	}
	if !errors.Is(err, ErrDataDirNotWritable) {
		t.Fatalf("Open = %v, want ErrDataDirNotWritable", err)
	}
}
