package loadgen

import (
	"fmt"
	"io"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microseconds, from 1 µs to one hour, 3 significant
// digits (each value within 0.1%). A longer latency is recorded as an hour:
// it is a failure to report, not a figure to refine.
const (
	histMinUS  = 1
	histMaxUS  = int64(time.Hour / time.Microsecond)
	histDigits = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMinUS, histMaxUS, histDigits) }

// recorder collects one worker's outcomes. Callbacks of a producer run on
// client goroutines, several at once, hence the mutex.
type recorder struct {
	mu struct {
		sync.Mutex
		interval *hdr.Histogram // measured latencies since the last tick
		warm     *hdr.Histogram // warm-up latencies since the last tick (progress only)
		counts   counts         // cumulative
		lastAck  time.Time
		firstErr error
		// ackTime is a clock read shared by the next ackReads callbacks.
		ackTime  time.Time
		ackReads int
	}
}

// counts are cumulative outcome counters.
type counts struct {
	acked, errors, bytes             int64 // measured records only
	warmAcked, warmErrors, warmBytes int64
}

func newRecorder() *recorder {
	r := &recorder{}
	r.mu.interval, r.mu.warm = newHist(), newHist()
	return r
}

// record accounts one record sent at sent (its intended time in open-loop
// runs) whose outcome is known at now; measured says whether sent falls
// after the warm-up.
func (r *recorder) record(sent, now time.Time, measured bool, bytes int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recordLocked(sent, now, measured, bytes, err)
}

// ackClockReuse is how many acknowledgements may share one clock read.
// Reading the clock costs 25-50 ns, a fifth of the load generator's CPU at
// millions of records/s when done per record (perf/bench.md). The client
// calls back a batch's records in one tight loop and then calls
// HookProduceBatchWritten, which forces a fresh read: so a read is shared
// only by callbacks of one batch, at most 64 of them in a row, and the
// wait for the next response is never hidden behind an old read.
const ackClockReuse = 64

// ack is record for a producer callback: the time of the outcome comes
// from clock, read afresh after every batch (see batchAcked), after an
// error, and every ackClockReuse records.
func (r *recorder) ack(sent time.Time, measured bool, bytes int, err error, clock func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || r.mu.ackReads == 0 {
		r.mu.ackTime, r.mu.ackReads = clock(), ackClockReuse
	}
	r.mu.ackReads--
	if err != nil {
		r.mu.ackReads = 0
	}
	r.recordLocked(sent, r.mu.ackTime, measured, bytes, err)
}

// batchAcked is the producer hook that ends a shared ack clock read.
type batchAcked struct{ r *recorder }

func (h batchAcked) OnProduceBatchWritten(string, int32, int, int) {
	h.r.mu.Lock()
	h.r.mu.ackReads = 0
	h.r.mu.Unlock()
}

// ackGroups accounts a batch's records, sent in groups, whose outcome is
// known at now: one histogram entry per group, weighted by its records.
func (r *recorder) ackGroups(groups []sendGroup, now time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range groups {
		r.accountLocked(g.sent, now, g.measured, int64(g.records), g.bytes, err)
	}
}

func (r *recorder) recordLocked(sent, now time.Time, measured bool, bytes int, err error) {
	r.accountLocked(sent, now, measured, 1, bytes, err)
}

// accountLocked accounts n records of bytes in all, sent at sent, whose
// outcome is known at now.
func (r *recorder) accountLocked(sent, now time.Time, measured bool, n int64, bytes int, err error) {
	us := int64(now.Sub(sent) / time.Microsecond)
	us = max(histMinUS, min(us, histMaxUS))
	switch {
	case err != nil:
		if r.mu.firstErr == nil {
			r.mu.firstErr = err
		}
		if measured {
			r.mu.counts.errors += n
		} else {
			r.mu.counts.warmErrors += n
		}
	case measured:
		r.mu.counts.acked += n
		r.mu.counts.bytes += int64(bytes)
		r.mu.interval.RecordValues(us, n)
		if now.After(r.mu.lastAck) {
			r.mu.lastAck = now
		}
	default:
		r.mu.counts.warmAcked += n
		r.mu.counts.warmBytes += int64(bytes)
		r.mu.warm.RecordValues(us, n)
	}
}

// count accounts n records of bytes in all received at now, without a
// latency.
func (r *recorder) count(now time.Time, measured bool, n, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !measured {
		r.mu.counts.warmAcked += n
		r.mu.counts.warmBytes += bytes
		return
	}
	r.mu.counts.acked += n
	r.mu.counts.bytes += bytes
	if now.After(r.mu.lastAck) {
		r.mu.lastAck = now
	}
}

// meter ticks every second: it takes each recorder's interval histograms,
// prints a progress line from them and merges the measured ones into the
// total.
type meter struct {
	recs     []*recorder
	out      io.Writer
	start    time.Time
	measure  time.Time // end of warm-up
	total    *hdr.Histogram
	interval *hdr.Histogram // scratch: one tick's merged latencies
	spare    [2]*hdr.Histogram
	last     counts
	lastTick time.Time

	stop chan struct{}
	done chan struct{}
}

func newMeter(recs []*recorder, out io.Writer, start, measure time.Time) *meter {
	return &meter{recs: recs, out: out, start: start, measure: measure, total: newHist(),
		interval: newHist(), spare: [2]*hdr.Histogram{newHist(), newHist()}, lastTick: start,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// run ticks until close; it is the meter's only goroutine.
func (m *meter) run() {
	defer close(m.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			m.tick(now)
		case <-m.stop:
			return
		}
	}
}

// close stops the ticker and collects what the last tick left.
func (m *meter) close() {
	close(m.stop)
	<-m.done
	m.collect()
}

// collect moves every recorder's interval histograms into m.interval and
// the total; it returns the summed counters and the first error.
func (m *meter) collect() (c counts, lastAck time.Time, firstErr error) {
	m.interval.Reset()
	for _, r := range m.recs {
		r.mu.Lock()
		iv, warm := r.mu.interval, r.mu.warm
		r.mu.interval, r.mu.warm = m.spare[0], m.spare[1]
		rc, la, fe := r.mu.counts, r.mu.lastAck, r.mu.firstErr
		r.mu.Unlock()
		m.total.Merge(iv)
		m.interval.Merge(iv)
		m.interval.Merge(warm)
		iv.Reset()
		warm.Reset()
		m.spare = [2]*hdr.Histogram{iv, warm}
		c.acked += rc.acked
		c.errors += rc.errors
		c.bytes += rc.bytes
		c.warmAcked += rc.warmAcked
		c.warmErrors += rc.warmErrors
		c.warmBytes += rc.warmBytes
		if la.After(lastAck) {
			lastAck = la
		}
		if firstErr == nil {
			firstErr = fe
		}
	}
	return c, lastAck, firstErr
}

func (m *meter) tick(now time.Time) {
	c, _, _ := m.collect()
	if m.out == nil {
		return
	}
	secs := now.Sub(m.lastTick).Seconds()
	recs := c.acked + c.warmAcked - m.last.acked - m.last.warmAcked
	bytes := c.bytes + c.warmBytes - m.last.bytes - m.last.warmBytes
	phase := "measure"
	if m.lastTick.Before(m.measure) { // the interval began in the warm-up
		phase = "warm-up"
	}
	fmt.Fprintf(m.out, "%6.0fs %-7s %11.0f rec/s %9.2f MB/s  p50 %9.3f  p99 %9.3f  max %9.3f ms  errors %d\n",
		now.Sub(m.start).Seconds(), phase, float64(recs)/secs,
		float64(bytes)/1e6/secs, usToMS(m.interval.ValueAtQuantile(50)),
		usToMS(m.interval.ValueAtQuantile(99)), usToMS(m.interval.Max()), c.errors+c.warmErrors)
	m.last, m.lastTick = c, now
}

func usToMS(us int64) float64 { return float64(us) / 1e3 }

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	P9999 float64 `json:"p9999_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
	// Count is the number of latencies in the histogram.
	Count int64 `json:"latency_count"`
}

func latencyOf(h *hdr.Histogram) Latency {
	return Latency{P50: usToMS(h.ValueAtQuantile(50)), P90: usToMS(h.ValueAtQuantile(90)),
		P99: usToMS(h.ValueAtQuantile(99)), P999: usToMS(h.ValueAtQuantile(99.9)),
		P9999: usToMS(h.ValueAtQuantile(99.99)), Max: usToMS(h.Max()), Mean: h.Mean() / 1e3,
		Count: h.TotalCount()}
}
