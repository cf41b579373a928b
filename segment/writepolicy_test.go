package segment

import (
	"testing"
	"time"
)

// policyClock feeds a WritePolicy appends of 1 MiB at a given MB/s on a
// fake clock, as Log.writeBatch would.
type policyClock struct {
	t   *testing.T
	p   *WritePolicy
	now time.Time
}

// appendAt runs n large appends, each taking what mbps (per mode) says,
// and returns how many went direct.
func (c *policyClock) appendAt(n int, pageCacheMBps, directMBps float64) (directs int) {
	for range n {
		direct := c.p.useDirect(1 << 20)
		mbps := pageCacheMBps
		if direct {
			mbps, directs = directMBps, directs+1
		}
		took := time.Duration(float64(1<<20) / (mbps * 1e6) * float64(time.Second))
		c.now = c.now.Add(took)
		c.p.observe(direct, 1<<20, took, c.now)
	}
	return directs
}

func newPolicyClock(t *testing.T, mode WriteMode, seed Calibration) *policyClock {
	now := time.Unix(1_700_000_000, 0)
	return &policyClock{t: t, p: newWritePolicy(mode, DirectWriteThreshold, seed, nil, now), now: now}
}

// The page cache slows down below what O_DIRECT measured: the policy
// switches to direct after one window of slow page-cache writes.
func TestWritePolicySwitchesWhenTheModeInUseSlows(t *testing.T) {
	c := newPolicyClock(t, WritePageCache, Calibration{PageCacheMBps: []float64{2000}, DirectMBps: []float64{1000}})
	c.appendAt(64, 500, 1000) // one 64 MiB window at 500 MB/s
	if c.p.Mode() != WriteDirect {
		pc, d, _ := c.p.Figures()
		t.Fatalf("mode %s after the page cache fell to 500 MB/s (figures %v / %v); want direct", c.p.Mode(), pc, d)
	}
	if directs := c.appendAt(10, 500, 1000); directs != 10 {
		t.Fatalf("%d of 10 appends went direct after the switch", directs)
	}
}

// A mode never measured is probed with a few appends, and taken when it is
// faster.
func TestWritePolicyProbesTheIdleMode(t *testing.T) {
	c := newPolicyClock(t, WritePageCache, Calibration{PageCacheMBps: []float64{800}})
	c.appendAt(64, 800, 3000) // a window of the mode in use, then the probe starts
	if directs := c.appendAt(probeAppends, 800, 3000); directs != probeAppends {
		t.Fatalf("%d of the %d appends after the first window probed direct", directs, probeAppends)
	}
	if c.p.Mode() != WriteDirect {
		pc, d, _ := c.p.Figures()
		t.Fatalf("mode %s after direct measured 3000 MB/s against 800 (figures %v / %v)", c.p.Mode(), pc, d)
	}
	if _, _, switches := c.p.Figures(); switches != 1 {
		t.Fatalf("%d switches, want 1", switches)
	}
}

// Within 10% the policy stays where it is, however long it runs, and it
// re-measures the idle mode only every probeInterval.
func TestWritePolicyHoldsOnATie(t *testing.T) {
	c := newPolicyClock(t, WritePageCache, Calibration{PageCacheMBps: []float64{1000}, DirectMBps: []float64{1050}})
	directs := c.appendAt(20_000, 1000, 1050) // ~21 s of appends
	if c.p.Mode() != WritePageCache {
		t.Fatalf("mode %s on a 5%% difference", c.p.Mode())
	}
	if directs == 0 || directs > 3*probeAppends {
		t.Fatalf("%d probe appends over ~21 s; want a probe every %v of %d appends", directs, probeInterval, probeAppends)
	}
}

// Appends below the threshold always go through the page cache.
func TestWritePolicySmallAppends(t *testing.T) {
	p := newWritePolicy(WriteDirect, DirectWriteThreshold, Calibration{}, nil, time.Now())
	if p.useDirect(DirectWriteThreshold - 1) {
		t.Fatal("an append below the threshold went direct")
	}
	if !p.useDirect(DirectWriteThreshold) {
		t.Fatal("an append at the threshold did not go direct in direct mode")
	}
}

// A log under a WritePolicy sends large appends the way the policy says and
// feeds it their timings; small ones stay in the page cache.
func TestLogFollowsWritePolicy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DirectWriteBytes = DirectWriteThreshold
	cfg.WritePolicy = NewWritePolicy(WriteDirect, DirectWriteThreshold, Calibration{PageCacheMBps: []float64{100}, DirectMBps: []float64{5000}}, nil)
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	if l.active().dw == nil {
		t.Skip("this filesystem takes no O_DIRECT")
	}
	big := makeBatch(10, 1, 1<<20, 1)
	for range 3 {
		if _, err := l.Append(big); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(makeBatch(1, 1, 100, 1)); err != nil {
		t.Fatal(err)
	}
	l.mu.RLock()
	directs := l.active().dw.directs
	l.mu.RUnlock()
	if directs != 3 {
		t.Fatalf("%d direct writes, want the 3 large appends", directs)
	}
	cfg.WritePolicy.mu.Lock()
	win := cfg.WritePolicy.mu.modes[1].winBytes
	cfg.WritePolicy.mu.Unlock()
	if win != 3*int64(len(big)) {
		t.Fatalf("the policy saw %d bytes of direct appends, want %d", win, 3*len(big))
	}
}

// AppendMayBlock follows the policy: a large append that the page cache
// will take does not count as blocking, so the engine keeps it on the event
// loop with no copy; one that will go direct does.
func TestAppendMayBlockFollowsWritePolicy(t *testing.T) {
	for _, mode := range []WriteMode{WritePageCache, WriteDirect} {
		cfg := DefaultConfig()
		cfg.DirectWriteBytes = DirectWriteThreshold
		cfg.WritePolicy = NewWritePolicy(mode, DirectWriteThreshold, Calibration{PageCacheMBps: []float64{1000}, DirectMBps: []float64{1000}}, nil)
		l := openLog(t, t.TempDir(), cfg)
		if l.active().dw == nil {
			l.Close()
			t.Skip("this filesystem takes no O_DIRECT")
		}
		if got, want := l.AppendMayBlock(1<<20), mode == WriteDirect; got != want {
			t.Errorf("%s policy: AppendMayBlock(1 MiB) = %v, want %v", mode, got, want)
		}
		if l.AppendMayBlock(DirectWriteThreshold - 1) {
			t.Errorf("%s policy: an append below the threshold may block", mode)
		}
		l.Close()
	}
}
