package engine

// Behavior: whether this start of the data dir may lack records the broker
// acknowledged or reported to a leader (a lossy restart), which the
// controller must know before it lets the broker keep its ISR places
// (cluster/election.go, restartChanges):
//
//   - <data dir>/clean-shutdown is written (fdatasync'd) by Close once
//     every log closed cleanly, and removed by Started (the broker calls it
//     once the start is accepted): its absence at Open means the previous
//     run stopped uncleanly (a crash, SIGKILL, a power loss).
//   - <data dir>/boot-id records the machine's boot id
//     (/proc/sys/kernel/random/boot_id) at each start (Started). An
//     unclean stop with the same boot id was a process death: the page
//     cache kept every write, so the logs hold all they held. A different
//     one means the machine went down since: writes not yet fdatasync'd
//     are gone.
//   - The start is lossy when the previous run stopped uncleanly on another
//     boot and some hosted topic does not fdatasync every append
//     (flush.policy other than always); when the data dir is new (no
//     boot-id, no topics: for a broker id the cluster knows, a replaced
//     disk); or when <data dir>/lossy-restart exists: it is written at
//     such a start with the reason and removed only once the controller
//     took the lossy registration (ClearLossyRestart), so a crash before
//     that does not forget it.
//
// A data dir with topics but no boot-id (from before this file) is not
// lossy: nothing says the machine rebooted.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spate-io/spate/segment"
)

const (
	cleanShutdownFile = "clean-shutdown"
	lossyRestartFile  = "lossy-restart"
	// BootIDFile is the data dir file holding the boot id of the machine
	// at the last start; the fault suite rewrites it to simulate a reboot.
	BootIDFile = "boot-id"
	bootIDPath = "/proc/sys/kernel/random/boot_id"
	// LossyNewDataDir is LossyRestart's reason for a data dir that held
	// nothing: lossy for a broker id the cluster knew (a replaced disk),
	// nothing to say for a new broker.
	LossyNewDataDir = "a new data dir"
)

// startState is what Open read of the previous run; Started acts on it.
type startState struct {
	clean       bool   // the clean-shutdown marker was there
	bootID      []byte // this machine's boot id, to record
	markerFound bool   // the lossy-restart marker was there
}

// detectLossyRestart runs at Open, after the topics are loaded: it reads
// the clean-shutdown marker, the recorded boot id and the lossy marker and
// decides whether this start is lossy. It changes nothing in the data dir:
// Started does, once the broker accepted the start, so a refused one
// (another cluster's data dir) leaves the directory as it found it.
func (e *Engine) detectLossyRestart() error {
	dir := e.cfg.DataDir
	st := &startState{clean: fileExists(filepath.Join(dir, cleanShutdownFile))}
	prev, err := os.ReadFile(filepath.Join(dir, BootIDFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: read %s: %w", ErrStorage, filepath.Join(dir, BootIDFile), err)
	}
	fresh := errors.Is(err, os.ErrNotExist) && len(*e.topics.Load()) == 0
	prev = bytes.TrimSpace(prev)
	// Without a boot id (not Linux) a reboot cannot be told from a
	// process death, and no unclean stop counts as lossy.
	cur, _ := os.ReadFile(bootIDPath)
	st.bootID = bytes.TrimSpace(cur)
	marker := filepath.Join(dir, lossyRestartFile)
	kept, err := os.ReadFile(marker)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: read %s: %w", ErrStorage, marker, err)
	}
	st.markerFound = err == nil
	reason := string(bytes.TrimSpace(kept))
	switch {
	case st.markerFound && reason == "":
		reason = "a lossy start before"
	case st.markerFound:
	case fresh:
		// A broker id the cluster knows, on an empty data dir (a
		// replaced disk), holds nothing it held; a new broker loses
		// nothing by saying so.
		reason = LossyNewDataDir
	case !st.clean && len(prev) > 0 && len(st.bootID) > 0 && !bytes.Equal(prev, st.bootID) && !e.everyAppendSynced():
		reason = "the previous run stopped uncleanly and the machine rebooted since, with appends not fdatasync'd"
	}
	e.lossy.Store(&reason)
	e.start = st
	return nil
}

// Started records that this start is under way: it removes the
// clean-shutdown marker (a crash from here on is an unclean stop), records
// the boot id and, for a lossy start, writes the lossy-restart marker, all
// durably. Close writes the clean-shutdown marker only after Started. On a
// full disk the data dir must still serve: the old boot id stays (a later
// unclean stop on this boot then counts as lossy, the safe side) and the
// lossy marker lives in memory only.
func (e *Engine) Started() error {
	st, dir := e.start, e.cfg.DataDir
	if st == nil || e.started.Swap(true) {
		return nil
	}
	if why := e.LossyRestart(); why != "" && !st.markerFound {
		if err := writeFileAtomic(filepath.Join(dir, lossyRestartFile), []byte(why+"\n")); err != nil && !segment.IsDiskFull(err) {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, BootIDFile), append(st.bootID, '\n')); err != nil && !segment.IsDiskFull(err) {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if st.clean {
		if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: remove %s: %w", ErrStorage, filepath.Join(dir, cleanShutdownFile), err)
		}
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("%w: %w", ErrStorage, err)
		}
	}
	return nil
}

// everyAppendSynced reports whether every hosted topic fdatasyncs each
// append before acknowledging it (flush.policy=always): then an unclean
// stop loses nothing acknowledged, even across a reboot.
func (e *Engine) everyAppendSynced() bool {
	for _, t := range *e.topics.Load() {
		if t.settings.Load().cfg.FlushPolicy != segment.FlushAlways {
			return false
		}
	}
	return true
}

// LossyRestart says why this start may lack records the broker
// acknowledged or reported to a leader before it stopped (see above), or ""
// when it holds all it held, until ClearLossyRestart.
func (e *Engine) LossyRestart() string {
	if why := e.lossy.Load(); why != nil {
		return *why
	}
	return ""
}

// ClearLossyRestart records that the controller has taken this start as
// lossy (the broker left every ISR), so the next start is judged on its
// own.
func (e *Engine) ClearLossyRestart() error {
	if e.LossyRestart() == "" {
		return nil
	}
	path := filepath.Join(e.cfg.DataDir, lossyRestartFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: remove %s: %w", ErrStorage, path, err)
	}
	if err := syncDir(e.cfg.DataDir); err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	none := ""
	e.lossy.Store(&none)
	return nil
}

// markCleanShutdown writes the clean-shutdown marker; Close calls it once
// every log closed without error, if the start was Started. On a full disk
// it is left out: the next start then counts as unclean, which only costs
// it its ISR places if the machine also rebooted.
func (e *Engine) markCleanShutdown() error {
	if !e.started.Load() {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(e.cfg.DataDir, cleanShutdownFile), nil); err != nil && !segment.IsDiskFull(err) {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}
