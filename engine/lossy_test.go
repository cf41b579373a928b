package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// started calls Started, as the broker does once it accepts a start.
func started(e *Engine) *Engine {
	if err := e.Started(); err != nil {
		panic(err)
	}
	return e
}

// TestLossyRestart: a start is lossy only after an unclean stop on another
// boot with appends not all fdatasync'd, and stays lossy until the
// controller took it (ClearLossyRestart), across further restarts.
func TestLossyRestart(t *testing.T) {
	if _, err := os.ReadFile(bootIDPath); err != nil {
		t.Skipf("no boot id on this machine: %v", err)
	}
	dir := t.TempDir()
	reopen := func(e *Engine, crash ...func()) *Engine {
		t.Helper()
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, f := range crash {
			f()
		}
		return started(openClustered(t, dir, nil))
	}
	unclean := func() { // the next Open finds no clean-shutdown marker
		if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil {
			t.Fatal(err)
		}
	}
	reboot := func() {
		if err := os.WriteFile(filepath.Join(dir, BootIDFile), []byte("an earlier boot\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := started(openClustered(t, dir, nil))
	if why := e.LossyRestart(); why != LossyNewDataDir {
		t.Fatalf("a new data dir: lossy %q", why)
	}
	if err := e.ClearLossyRestart(); err != nil {
		t.Fatal(err)
	}
	mustApply(t, e, spread("l", 7, 1, 1, func(int) (int32, []int32) { return self, []int32{self} }))
	produceOne(t, e, "l", 0, 1)
	steps := []struct {
		name  string
		crash []func()
		lossy bool
	}{
		{"unclean stop, same boot (a process death)", []func(){unclean}, false},
		{"clean stop, then a reboot", []func(){reboot}, false},
		{"unclean stop before a reboot", []func(){unclean, reboot}, true},
		{"restart before the controller took it", nil, true},
	}
	for _, s := range steps {
		e = reopen(e, s.crash...)
		if why := e.LossyRestart(); (why != "") != s.lossy {
			t.Fatalf("%s: lossy %q, want %v", s.name, why, s.lossy)
		}
	}
	if err := e.ClearLossyRestart(); err != nil || e.LossyRestart() != "" {
		t.Fatalf("ClearLossyRestart: %v, lossy %q", err, e.LossyRestart())
	}
	if e = reopen(e); e.LossyRestart() != "" {
		t.Fatal("lossy again after the controller took it and a clean restart")
	}

	// With flush.policy=always on every topic, nothing acknowledged was
	// unsynced: an unclean stop before a reboot is not lossy.
	spec := spread("l", 7, 1, 1, func(int) (int32, []int32) { return self, []int32{self} })
	spec.Configs = map[string]string{"flush.policy": "always"}
	mustApply(t, e, spec)
	if e = reopen(e, unclean, reboot); e.LossyRestart() != "" {
		t.Fatal("lossy with every append fdatasync'd")
	}
}

// TestRefusedStartChangesNothing: until Started, opening and closing the
// engine leaves the markers as they were: a broker that refuses the start
// (another cluster's data dir) must not turn it into a clean or unclean
// stop, nor record the boot id.
func TestRefusedStartChangesNothing(t *testing.T) {
	dir := t.TempDir()
	e := started(openClustered(t, dir, nil))
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	e = openClustered(t, dir, nil)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := dirState(t, dir); after != before {
		t.Fatalf("open and close without Started changed the data dir:\nbefore %s\nafter  %s", before, after)
	}
}

// dirState lists the engine's marker files with their sizes and times.
func dirState(t *testing.T, dir string) string {
	var out string
	for _, name := range []string{cleanShutdownFile, BootIDFile, lossyRestartFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			out += name + " none; "
			continue
		}
		out += fmt.Sprintf("%s %d %v; ", name, fi.Size(), fi.ModTime().UnixNano())
	}
	return out
}
