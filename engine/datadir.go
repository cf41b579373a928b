package engine

// Behavior: lockDataDir takes an exclusive flock(2) on <DataDir>/.lock before
// anything in the directory is read, writes the holder's PID into it, and
// then proves the directory writable with a probe file that is written,
// fdatasync'ed and removed. A second broker (another process, or another
// Engine in the same process) on the same directory is refused with
// ErrDataDirLocked naming the PID that holds it; a directory that cannot be
// written is refused with ErrDataDirNotWritable. The lock is released when
// the Engine closes, or by the kernel when the process dies, so a SIGKILLed
// broker never leaves a stale lock behind (the PID in the file may be stale;
// the flock is what counts).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spate-io/spate/segment"
	"golang.org/x/sys/unix"
)

const (
	lockFileName  = ".lock"
	probeFileName = ".write-probe"
)

var (
	// ErrDataDirLocked: another broker holds the data directory's lock.
	ErrDataDirLocked = errors.New("engine: data dir in use by another broker")
	// ErrDataDirNotWritable: the data directory (or its filesystem) refuses
	// writes, so no append could ever be acknowledged.
	ErrDataDirNotWritable = errors.New("engine: data dir not writable")
)

// dirLock is the open, flock'ed <DataDir>/.lock. Closing the file releases
// the lock.
type dirLock struct{ f *os.File }

// lockDataDir locks dir (which must exist) and probes that it is writable.
// The caller releases the lock with unlock, exactly once.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataDirNotWritable, inDir(err))
	}
	// flock, not fcntl: fcntl locks belong to the process, so a second
	// Engine in the same process would silently share the directory.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s holds its %s); a data dir belongs to one broker at a time",
				ErrDataDirLocked, holderOf(path), lockFileName)
		}
		return nil, fmt.Errorf("engine: flock %s: %w", lockFileName, err)
	}
	l := &dirLock{f: f}
	if err := l.recordPID(); err != nil {
		l.unlock()
		return nil, fmt.Errorf("%w: %w", ErrDataDirNotWritable, err)
	}
	if err := probeWritable(dir); err != nil {
		l.unlock()
		return nil, fmt.Errorf("%w: %w", ErrDataDirNotWritable, err)
	}
	return l, nil
}

// recordPID replaces the file's content with this process's PID, for the
// message a second broker prints. It is informative only: the flock is the
// lock.
func (l *dirLock) recordPID() error {
	if err := l.f.Truncate(0); err != nil {
		return inDir(err)
	}
	if _, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return inDir(err)
	}
	return nil
}

func (l *dirLock) unlock() error { return l.f.Close() }

// holderOf returns "pid N" from the lock file, or "a process" when it names
// none (the holder has not written it yet).
func holderOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "a process"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "a process"
	}
	return fmt.Sprintf("pid %d", pid)
}

// inDir shortens an *os.PathError to "op base-name: errno": the caller names
// the data dir once, so the chain does not repeat it.
func inDir(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, filepath.Base(pe.Path), pe.Err)
	}
	return err
}

// probeWritable writes, syncs and removes a small file in dir: a read-only
// mount or a directory without write permission fails here, at start,
// rather than on the first produce. A full disk passes: the file could be
// created, so the dir is writable, and the broker must start to serve what
// it holds (appends wait for space: logdir.go).
func probeWritable(dir string) error {
	path := filepath.Join(dir, probeFileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write probe: %w", inDir(err))
	}
	_, werr := f.Write([]byte("spate write probe\n"))
	if werr == nil {
		werr = unix.Fdatasync(int(f.Fd()))
	}
	if segment.IsDiskFull(werr) {
		werr = nil
	}
	cerr := f.Close()
	rerr := os.Remove(path)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("write probe: %w", inDir(err))
	}
	return nil
}
