package segment

// Behavior: CalibrateDir decides whether a data directory's large appends go
// through the page cache or with O_DIRECT, by measuring both on that
// directory. It writes the same 1 MiB chunks both ways, alternating which
// mode goes first, into files kept until the probe ends (a log grows; it
// does not overwrite), through the very code appends use (pwrite of the
// batch; directWriter.write with its aligned staging copy), and keeps the
// median MB/s of each. The result is stored in <dir>/.write-calibration.json
// with the device and kernel it was measured on, and reused while both are
// the same; delete the file to measure again.
//
// Why measure: the right mode differs between machines of one family and
// moves within an hour on one machine. On the VM of perf/results/latest
// (a memory balloon makes every fresh page-cache page a host fault) O_DIRECT
// wrote 2,076 MB/s against 623 MB/s buffered; on a sibling VM of the same
// family the order was the opposite (986 against 2,128 MB/s), and the
// 64 KiB direct threshold tuned on the first made Spate's headline produce
// ~35% slower on the second (issue 11). A constant cannot be right on both.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// WriteMode is how a data dir's large appends reach the file.
type WriteMode string

const (
	// WritePageCache: every append is a pwrite through the page cache.
	WritePageCache WriteMode = "page-cache"
	// WriteDirect: appends of at least DirectWriteThreshold bytes are
	// written with O_DIRECT (see directWriter), smaller ones buffered.
	WriteDirect WriteMode = "direct"
)

// DirectWriteThreshold is the append size from which WriteDirect writes
// past the page cache: a 4 KiB direct write waits ~50 µs for the device,
// far longer than a buffered one (directWriter).
const DirectWriteThreshold = directWriteDefault

// directTieMargin: O_DIRECT is chosen only when its median beats the page
// cache's by more than this share. A tie goes to the page cache, which keeps
// new bytes in memory for tail readers (tailReadWindow) and costs no
// staging copy.
const directTieMargin = 0.10

// ChooseWriteMode returns the mode the probe figures call for: direct only
// when its median MB/s exceeds the page cache's by more than 10%; page cache
// when direct writes were not measured (the filesystem has no O_DIRECT).
func ChooseWriteMode(pageCacheMBps, directMBps []float64) WriteMode {
	if len(directMBps) == 0 || len(pageCacheMBps) == 0 {
		return WritePageCache
	}
	if Median(directMBps) > Median(pageCacheMBps)*(1+directTieMargin) {
		return WriteDirect
	}
	return WritePageCache
}

// Median is the middle value of v (the mean of the middle two for an even
// count); v is not modified.
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Calibration is one directory's probe result, as stored in
// .write-calibration.json.
type Calibration struct {
	Version int    `json:"version"`
	Device  string `json:"device"` // major:minor of the directory's filesystem
	Kernel  string `json:"kernel"` // uname release
	// PageCacheMBps and DirectMBps are the MB/s (10^6 bytes) of each trial;
	// DirectMBps is empty where the filesystem refuses O_DIRECT.
	PageCacheMBps []float64 `json:"page_cache_mb_per_sec"`
	DirectMBps    []float64 `json:"direct_mb_per_sec"`
	TrialBytes    int64     `json:"trial_bytes"`
	Mode          WriteMode `json:"mode"`
	MeasuredAt    time.Time `json:"measured_at"`
	// Reused is set (not stored) when the result came from the file rather
	// than a probe run by this call.
	Reused bool `json:"-"`
	// Unmeasured, when set (never stored), says why no probe ran and the
	// page cache was taken without figures.
	Unmeasured string `json:"-"`
}

// String is the one-line summary brokers print at start.
func (c Calibration) String() string {
	if c.Unmeasured != "" {
		return fmt.Sprintf("%s (not measured: %s)", c.Mode, c.Unmeasured)
	}
	how := "measured now"
	if c.Reused {
		how = "measured " + c.MeasuredAt.Format(time.DateOnly)
	}
	direct := "O_DIRECT unsupported"
	if len(c.DirectMBps) > 0 {
		direct = fmt.Sprintf("O_DIRECT %.0f MB/s", Median(c.DirectMBps))
	}
	return fmt.Sprintf("%s (page cache %.0f MB/s, %s; median of %d, device %s, %s)",
		c.Mode, Median(c.PageCacheMBps), direct, len(c.PageCacheMBps), c.Device, how)
}

const (
	calibrationFile    = ".write-calibration.json"
	calibrationVersion = 1
	// calibrationTrials of calibrationTrialBytes per mode: 384 MiB written
	// in all, about half a second at 1-2 GB/s, once per device and kernel.
	calibrationTrials     = 3
	calibrationTrialBytes = 64 << 20
	calibrationChunk      = 1 << 20 // the headline producer batch
	// calibrationMinFree: no probe on a filesystem with less free space, so
	// a small or nearly full disk is never filled by the probe itself.
	calibrationMinFree = 1 << 30
)

// CalibrateDir returns dir's write mode: the stored calibration when it was
// measured on the same device and kernel, else a fresh probe (stored for
// next time). Where no probe can run (less than calibrationMinFree bytes
// free, or a probe write fails) it returns the page cache with Unmeasured
// saying why, stores nothing, and the next start tries again; it never
// fails a start.
func CalibrateDir(dir string) (Calibration, error) {
	return calibrateDir(dir, calibrationTrials, calibrationTrialBytes)
}

func calibrateDir(dir string, trials int, trialBytes int64) (Calibration, error) {
	unmeasured := func(why string) (Calibration, error) {
		return Calibration{Version: calibrationVersion, Mode: WritePageCache, Unmeasured: why}, nil
	}
	device, kernel, err := machineOf(dir)
	if err != nil {
		return unmeasured(err.Error())
	}
	path := filepath.Join(dir, calibrationFile)
	if b, err := os.ReadFile(path); err == nil {
		var c Calibration
		if json.Unmarshal(b, &c) == nil && c.Version == calibrationVersion && c.Device == device &&
			c.Kernel == kernel && len(c.PageCacheMBps) > 0 && c.Mode == ChooseWriteMode(c.PageCacheMBps, c.DirectMBps) {
			c.Reused = true
			return c, nil
		}
	}
	c := Calibration{Version: calibrationVersion, Device: device, Kernel: kernel, TrialBytes: trialBytes, MeasuredAt: time.Now().UTC()}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return unmeasured(fmt.Sprintf("statfs %s: %v", dir, err))
	}
	if free := int64(fs.Bavail) * int64(fs.Bsize); free < calibrationMinFree {
		return unmeasured(fmt.Sprintf("%d MB free, the probe wants %d MB", free>>20, calibrationMinFree>>20))
	}
	if c.PageCacheMBps, c.DirectMBps, err = probeWrites(dir, trials, trialBytes); err != nil {
		return unmeasured(err.Error())
	}
	c.Mode = ChooseWriteMode(c.PageCacheMBps, c.DirectMBps)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return Calibration{}, err
	}
	if err := writeFileAtomic(dir, calibrationFile, append(b, '\n')); err != nil {
		c.Unmeasured = fmt.Sprintf("probed (%s) but not stored: %v", c.Mode, err)
	}
	return c, nil
}

// machineOf names what a calibration depends on: the filesystem's device
// and the running kernel.
func machineOf(dir string) (device, kernel string, err error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", "", fmt.Errorf("segment: calibrate %s: %w", dir, err)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", "", fmt.Errorf("segment: calibrate %s: uname: %w", dir, err)
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), unix.ByteSliceToString(u.Release[:]), nil
}

// probeWrites writes trialBytes per trial and mode into fresh files in dir,
// alternating which mode goes first, and returns the MB/s of each trial.
// direct is nil where the filesystem refuses O_DIRECT. Every file is
// removed before it returns; the page-cache ones, deleted before writeback,
// mostly never reach the device.
func probeWrites(dir string, trials int, trialBytes int64) (pageCache, direct []float64, err error) {
	src := make([]byte, calibrationChunk)
	for i := range src {
		src[i] = byte(i * 7)
	}
	var files []string
	defer func() {
		for _, f := range files {
			os.Remove(f)
		}
	}()
	directOK := true
	for i := range trials {
		modes := []WriteMode{WritePageCache, WriteDirect}
		if i%2 == 1 {
			modes[0], modes[1] = modes[1], modes[0]
		}
		for _, m := range modes {
			if m == WriteDirect && !directOK {
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf(".calibrate-%s-%d", m, i))
			files = append(files, path)
			mbps, ok, err := probeOnce(path, m, src, trialBytes)
			if err != nil {
				return nil, nil, err
			}
			switch {
			case m == WritePageCache:
				pageCache = append(pageCache, mbps)
			case ok:
				direct = append(direct, mbps)
			default:
				directOK = false
			}
		}
	}
	return pageCache, direct, nil
}

// probeOnce writes trialBytes of src chunks to a new file at path in mode m
// and returns the MB/s; ok is false when m is direct and the filesystem
// refuses it.
func probeOnce(path string, m WriteMode, src []byte, trialBytes int64) (mbps float64, ok bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, false, fmt.Errorf("segment: calibrate: %w", err)
	}
	defer f.Close()
	var dw *directWriter
	if m == WriteDirect {
		if dw, err = openDirect(path, nil, 1); err != nil || dw == nil {
			return 0, false, err
		}
		defer dw.close()
	}
	start := time.Now()
	for pos := int64(0); pos < trialBytes; pos += int64(len(src)) {
		if dw != nil {
			err = dw.write(f, src, pos, true)
		} else {
			_, err = f.WriteAt(src, pos)
		}
		if err != nil {
			return 0, false, fmt.Errorf("segment: calibrate: write %s: %w", path, err)
		}
	}
	if dw != nil && (dw.min == maxInt || dw.f == nil) {
		// The kernel refused the alignment, or the O_DIRECT open failed:
		// buffered after all.
		return 0, false, nil
	}
	secs := time.Since(start).Seconds()
	return float64(trialBytes) / 1e6 / max(secs, 1e-9), true, nil
}
