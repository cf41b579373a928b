package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spate-io/spate/record"
)

// Names of the per-log files next to the segments. See doc.go.
const (
	cleanShutdownFile = "clean-shutdown"
	recoveryPointFile = "recovery-point"
	logStartFile      = "log-start-offset"
	epochFile         = "leader-epoch-checkpoint"
	tmpSuffix         = ".tmp"
)

// syncDir fsyncs a directory so that creates, renames and removes in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("segment: open dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("segment: fsync dir %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data: temp file, fsync, rename,
// fsync of the directory. A crash leaves either the old or the new content.
func writeFileAtomic(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("segment: create %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("segment: write %s: %w", path, err)
	}
	return syncDir(dir)
}

// Offset checkpoint files (recovery-point, log-start-offset) hold one offset:
//
//	bytes 0-7  offset, int64 big endian
//	bytes 8-11 CRC-32C of bytes 0-7, uint32 big endian
func writeOffsetFile(dir, name string, offset int64) error {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], uint64(offset))
	binary.BigEndian.PutUint32(b[8:], record.Checksum(b[:8]))
	return writeFileAtomic(dir, name, b[:])
}

// readOffsetFile returns the stored offset, ok=false when the file is missing
// or damaged (the caller then falls back to the safe value).
func readOffsetFile(dir, name string) (offset int64, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("segment: read %s: %w", filepath.Join(dir, name), err)
	}
	if len(b) != 12 || binary.BigEndian.Uint32(b[8:]) != record.Checksum(b[:8]) {
		return 0, false, nil
	}
	return int64(binary.BigEndian.Uint64(b)), true, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
