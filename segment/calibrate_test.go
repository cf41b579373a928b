package segment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The chooser is right whichever order the disk puts the two modes in, on
// machines this test never runs on: the figures are the probe's, given.
func TestChooseWriteMode(t *testing.T) {
	for _, tc := range []struct {
		name              string
		pageCache, direct []float64
		want              WriteMode
	}{
		{"page cache faster (the sibling VM of issue 11)", []float64{2128, 2462, 2507}, []float64{986, 1528, 1642}, WritePageCache},
		{"direct faster (the VM of perf/results/latest)", []float64{623, 600, 650}, []float64{2076, 2000, 2100}, WriteDirect},
		{"tie", []float64{1000, 1010, 990}, []float64{1050, 1040, 1060}, WritePageCache},
		{"direct 12% faster", []float64{1000, 1000, 1000}, []float64{1120, 1120, 1120}, WriteDirect},
		{"one direct outlier does not win", []float64{1000, 1000, 1000}, []float64{5000, 900, 950}, WritePageCache},
		{"no O_DIRECT on the filesystem", []float64{300}, nil, WritePageCache},
		{"even trial count: mean of the middle two", []float64{1000, 1000}, []float64{1000, 1300}, WriteDirect},
	} {
		if got := ChooseWriteMode(tc.pageCache, tc.direct); got != tc.want {
			t.Errorf("%s: ChooseWriteMode(%v, %v) = %s, want %s", tc.name, tc.pageCache, tc.direct, got, tc.want)
		}
	}
}

// A probe stores its result, leaves no probe file behind, and is reused
// while the device and kernel are the same; a result from another kernel is
// measured again.
func TestCalibrateDirStoresAndReuses(t *testing.T) {
	dir := t.TempDir()
	first, err := calibrateDir(dir, 2, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if first.Unmeasured != "" {
		t.Skipf("no probe in %s: %s", dir, first.Unmeasured)
	}
	if first.Reused || len(first.PageCacheMBps) != 2 || first.Mode != ChooseWriteMode(first.PageCacheMBps, first.DirectMBps) {
		t.Fatalf("first calibration %+v: want a fresh probe of 2 trials whose mode follows its figures", first)
	}
	t.Logf("%s", first)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != calibrationFile {
			t.Errorf("left behind in the data dir: %s", e.Name())
		}
	}

	again, err := calibrateDir(dir, 2, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.Mode != first.Mode || !strings.Contains(again.String(), "measured 2") {
		t.Fatalf("second calibration %+v (%s): want the stored one reused", again, again)
	}

	first.Kernel = "some other kernel"
	b, _ := json.Marshal(first)
	if err := os.WriteFile(filepath.Join(dir, calibrationFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := calibrateDir(dir, 2, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if third.Reused || third.Kernel == "some other kernel" {
		t.Fatalf("calibration from another kernel was reused: %+v", third)
	}
}

// On a filesystem without O_DIRECT (tmpfs) the probe measures the page
// cache alone and chooses it.
func TestCalibrateWithoutDirect(t *testing.T) {
	dir := "/dev/shm"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no /dev/shm tmpfs here")
	}
	dir, err := os.MkdirTemp(dir, "spate-calibrate")
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(dir)
	if dw, _ := openDirect(filepath.Join(dir, "probe"), nil, 1); dw != nil {
		dw.f.Close()
		t.Skip("this kernel's tmpfs takes O_DIRECT")
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || int64(fs.Bavail)*int64(fs.Bsize) < calibrationMinFree {
		t.Skipf("/dev/shm has less than %d MB free", calibrationMinFree>>20)
	}
	c, err := calibrateDir(dir, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.DirectMBps) != 0 || c.Mode != WritePageCache || !strings.Contains(c.String(), "O_DIRECT unsupported") {
		t.Fatalf("tmpfs calibration %+v (%s): want page cache with direct unmeasured", c, c)
	}
}

// On a filesystem too small for the probe, the page cache is taken without
// figures and nothing is stored, so a later start measures.
func TestCalibrateSmallDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	c, err := CalibrateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != WritePageCache || !strings.Contains(c.String(), "not measured: 8 MB free") {
		t.Fatalf("calibration on an 8 MB tmpfs: %s", c)
	}
	if _, err := os.Stat(filepath.Join(dir, calibrationFile)); !os.IsNotExist(err) {
		t.Fatalf("an unmeasured calibration was stored: %v", err)
	}
}
