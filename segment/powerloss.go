package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PowerLossJournalEnv names a test-only environment variable. Set to 1 in a
// broker's environment, every fdatasync of a segment's .log file also
// records the length it covered in a sidecar file <segment>.log.synced,
// so a fault test can kill the process and cut each log back to what a
// machine that lost power would still hold (CutToSynced). Never set it in
// production: it adds a write per fdatasync and files recovery ignores.
//
// Unset, it costs one predictable branch per fdatasync (powerLossJournal
// is read once at start), against the fdatasync's hundreds of
// microseconds.
const PowerLossJournalEnv = "SPATE_TEST_POWER_LOSS_JOURNAL"

const syncedSuffix = ".synced"

// powerLossJournal is PowerLossJournalEnv, read once; tests of this
// package set it directly.
var powerLossJournal = os.Getenv(PowerLossJournalEnv) == "1"

// syncedLength returns the length an fdatasync of f starting now covers
// at least (every byte written before it), when the journal is on.
func syncedLength(f *os.File) (int64, error) {
	if !powerLossJournal {
		return 0, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("segment: stat %s: %w", f.Name(), err)
	}
	return fi.Size(), nil
}

// noteSynced records that logPath's first n bytes are on disk, when the
// journal is on. One 20-byte pwrite at offset 0 of a fixed-width number:
// a killed process leaves the old value or the new one, never a mix.
func noteSynced(logPath string, n int64) error {
	if !powerLossJournal {
		return nil
	}
	f, err := os.OpenFile(logPath+syncedSuffix, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("segment: power-loss journal of %s: %w", logPath, err)
	}
	_, err = f.WriteAt([]byte(fmt.Sprintf("%020d", n)), 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("segment: power-loss journal of %s: %w", logPath, err)
	}
	return nil
}

// noteSyncedFile records logPath's whole current length, when the journal
// is on: for a file just fsynced whole (recovered, or a cleaned copy
// renamed in).
func noteSyncedFile(logPath string) error {
	if !powerLossJournal {
		return nil
	}
	fi, err := os.Stat(logPath)
	if err != nil {
		return fmt.Errorf("segment: power-loss journal of %s: %w", logPath, err)
	}
	return noteSynced(logPath, fi.Size())
}

// forgetSynced removes logPath's journal entry, when the journal is on:
// the file is deleted, and one created later under its name starts unsynced.
func forgetSynced(logPath string) {
	if powerLossJournal {
		os.Remove(logPath + syncedSuffix)
	}
}

// CutToSynced simulates a power loss under root (a broker's data dir) whose
// broker ran with PowerLossJournalEnv=1 and was killed: every segment .log
// file is cut to the length its last fdatasync covered, and one never
// synced is cut to empty, as a machine that lost its page cache would leave
// it. Index, time index and checkpoint files stay as they are: recovery
// must cope with them. It returns how many bytes it cut per file
// (relative path), only for files it shortened.
func CutToSynced(root string) (map[string]int64, error) {
	cut := map[string]int64{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, logSuffix) || !isSegmentName(filepath.Base(path)) {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		synced, err := readSynced(path)
		if err != nil {
			return err
		}
		if synced >= fi.Size() {
			return nil
		}
		if err := os.Truncate(path, synced); err != nil {
			return fmt.Errorf("segment: cut %s to %d: %w", path, synced, err)
		}
		rel, _ := filepath.Rel(root, path)
		cut[rel] = fi.Size() - synced
		return nil
	})
	return cut, err
}

// readSynced is logPath's journalled length; 0 when it has none.
func readSynced(logPath string) (int64, error) {
	b, err := os.ReadFile(logPath + syncedSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("segment: read power-loss journal of %s: %w", logPath, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("segment: power-loss journal of %s: %q: %w", logPath, b, err)
	}
	return n, nil
}

// isSegmentName reports whether name is <20 digits>.log.
func isSegmentName(name string) bool {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return false
	}
	for _, c := range stem {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
