package segment

// Behavior: a WritePolicy is shared by every log of one data dir and decides,
// append by append, whether a large batch goes through the page cache or
// with O_DIRECT. It starts in the mode CalibrateDir chose, then keeps the
// MB/s each mode achieves on real appends (batches of at least its
// threshold, timed around the write) and switches when the other mode has
// been more than 10% faster. The mode not in use is measured again every
// probeInterval by sending the next probeAppends large batches through it.
//
// Why adapt: the start-up probe measures one moment. On the VMs of issue 11
// the direct figure moved by half within an hour, and on this session's VM
// the page cache measured 5,134 MB/s in one probe and 165 MB/s in another
// while other processes filled memory, which turned the choice around.

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// policyWindowBytes and policyWindow: a mode's figure is refreshed once
	// it has written this much, or this long has passed with some writes.
	policyWindowBytes = 64 << 20
	policyWindow      = time.Second
	// probeInterval: how stale the idle mode's figure may get before a
	// probe; probeAppends large appends measure it.
	probeInterval = 10 * time.Second
	probeAppends  = 8
)

// WritePolicy chooses the write mode of large appends from measurements.
// Its methods are safe for concurrent use.
type WritePolicy struct {
	threshold int
	direct    atomic.Bool  // the mode in use
	probing   atomic.Int32 // large appends left to send through the other mode
	switches  atomic.Int64

	mu struct {
		sync.Mutex
		modes [2]modeFigures // [0] page cache, [1] direct
	}
	// onSwitch, if set, is called (without the lock) after each switch.
	onSwitch func(to WriteMode, pageCacheMBps, directMBps float64)
}

// modeFigures is one mode's latest MB/s and the window being accumulated.
type modeFigures struct {
	mbps      float64 // 0: never measured
	at        time.Time
	winBytes  int64
	winTime   time.Duration
	winOpened time.Time
}

// NewWritePolicy starts in mode, measuring appends of at least threshold
// bytes; onSwitch (may be nil) learns of each switch.
func NewWritePolicy(mode WriteMode, threshold int, seed Calibration, onSwitch func(to WriteMode, pageCacheMBps, directMBps float64)) *WritePolicy {
	return newWritePolicy(mode, threshold, seed, onSwitch, time.Now())
}

func newWritePolicy(mode WriteMode, threshold int, seed Calibration, onSwitch func(to WriteMode, pageCacheMBps, directMBps float64), now time.Time) *WritePolicy {
	p := &WritePolicy{threshold: threshold, onSwitch: onSwitch}
	p.direct.Store(mode == WriteDirect)
	if len(seed.PageCacheMBps) > 0 {
		p.mu.modes[0] = modeFigures{mbps: Median(seed.PageCacheMBps), at: now}
	}
	if len(seed.DirectMBps) > 0 {
		p.mu.modes[1] = modeFigures{mbps: Median(seed.DirectMBps), at: now}
	}
	return p
}

// Threshold is the smallest append the policy may send direct.
func (p *WritePolicy) Threshold() int { return p.threshold }

// Mode is the mode in use.
func (p *WritePolicy) Mode() WriteMode {
	if p.direct.Load() {
		return WriteDirect
	}
	return WritePageCache
}

// Figures returns the latest MB/s of each mode (0 when never measured) and
// how many times the policy switched.
func (p *WritePolicy) Figures() (pageCacheMBps, directMBps float64, switches int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.modes[0].mbps, p.mu.modes[1].mbps, p.switches.Load()
}

// useDirect reports whether an append of n bytes goes direct: the mode in
// use, or the other one while a probe runs.
func (p *WritePolicy) useDirect(n int) bool {
	if n < p.threshold {
		return false
	}
	d := p.direct.Load()
	if p.probing.Load() > 0 && p.probing.Add(-1) >= 0 {
		return !d
	}
	return d
}

// wouldUseDirect is useDirect without taking a probe append: whether the
// next append of n bytes would go direct. A nil policy (DirectWriteBytes set
// by hand) sends every append that reaches the threshold direct.
func (p *WritePolicy) wouldUseDirect(n int) bool {
	if p == nil {
		return true
	}
	if n < p.threshold {
		return false
	}
	return p.direct.Load() != (p.probing.Load() > 0)
}

// observe records a large append of n bytes that took took in the given
// mode, refreshes that mode's figure when its window is full, starts a
// probe of the idle mode when its figure is stale, and switches when the
// idle mode is more than directTieMargin faster.
func (p *WritePolicy) observe(direct bool, n int, took time.Duration, now time.Time) {
	p.mu.Lock()
	m := &p.mu.modes[b2i(direct)]
	if m.winBytes == 0 {
		m.winOpened = now
	}
	m.winBytes += int64(n)
	m.winTime += took
	full := m.winBytes >= policyWindowBytes || now.Sub(m.winOpened) >= policyWindow
	// A probe's few appends are a window of their own.
	if direct != p.direct.Load() && p.probing.Load() <= 0 {
		full = true
	}
	if full && m.winTime > 0 {
		m.mbps = float64(m.winBytes) / 1e6 / m.winTime.Seconds()
		m.at = now
		m.winBytes, m.winTime = 0, 0
	}
	cur := p.direct.Load()
	use, idle := p.mu.modes[b2i(cur)], p.mu.modes[b2i(!cur)]
	switchTo := full && idle.mbps > 0 && use.mbps > 0 && now.Sub(idle.at) < 2*probeInterval &&
		idle.mbps > use.mbps*(1+directTieMargin)
	if !switchTo && now.Sub(idle.at) >= probeInterval && p.probing.Load() <= 0 {
		p.probing.Store(probeAppends)
	}
	if switchTo {
		p.direct.Store(!cur)
		p.switches.Add(1)
	}
	pc, dr := p.mu.modes[0].mbps, p.mu.modes[1].mbps
	p.mu.Unlock()
	if switchTo && p.onSwitch != nil {
		p.onSwitch(p.Mode(), pc, dr)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
