package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

func TestPacerKeepsScheduleWhenLate(t *testing.T) {
	start := time.Now()
	p := newPacer(start, 100, 0, 1) // one record every 10ms
	// The caller was stalled for 35ms: the four records due meanwhile keep
	// their intended times and are due at once.
	now := start.Add(35 * time.Millisecond)
	for i := range 4 {
		sent, wait := p.sendTime(now)
		if want := start.Add(time.Duration(i) * 10 * time.Millisecond); !sent.Equal(want) || wait != 0 {
			t.Fatalf("record %d: send time %v wait %v, want %v wait 0", i, sent.Sub(start), wait, want.Sub(start))
		}
	}
	sent, wait := p.sendTime(now)
	if sent.Sub(start) != 40*time.Millisecond || wait != 5*time.Millisecond {
		t.Fatalf("record 4: send time %v wait %v, want 40ms wait 5ms", sent.Sub(start), wait)
	}
}

func TestPacerStaggersWorkers(t *testing.T) {
	start := time.Now()
	p := newPacer(start, 1000, 1, 4) // 250/s each, 4ms apart, worker 1 starts 1ms late
	if sent, _ := p.sendTime(start); sent.Sub(start) != time.Millisecond {
		t.Fatalf("worker 1 first send at %v, want 1ms", sent.Sub(start))
	}
	if sent, _ := p.sendTime(start); sent.Sub(start) != 5*time.Millisecond {
		t.Fatalf("worker 1 second send at %v, want 5ms", sent.Sub(start))
	}
}

// TestOpenLoopChargesStall stalls the first send for 200ms in a 100
// records/s run: the ~20 records whose intended time fell in the stall
// must be charged for it (latency from the intended time), and every
// record sent must be in the histogram.
func TestOpenLoopChargesStall(t *testing.T) {
	const stall = 200 * time.Millisecond
	var sends atomic.Int64
	recs := newRecorders(1)
	send := func(_ context.Context, r *client.Record, cb func(*client.Record, error)) {
		if sends.Add(1) == 1 {
			time.Sleep(stall)
		}
		cb(r, nil) // acknowledged at once, alone in its batch
		batchAcked{recs[0]}.OnProduceBatchWritten("t", 0, 1, 100)
	}
	cfg := Config{Brokers: []string{"unused:1"}, Topic: "t", Rate: 100, Duration: time.Second}
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pr := newProduceRun(&c, []sendFunc{send}, nil, recs, false)
	m := newMeter(pr.recs, nil, pr.start, pr.measureStart)
	if err := pr.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	counts, _, _ := m.collect()
	if n := sends.Load(); counts.acked != n || m.total.TotalCount() != n {
		t.Fatalf("sent %d, acked %d, histogram holds %d: want all equal", n, counts.acked, m.total.TotalCount())
	}
	if n := counts.acked; n < 90 || n > 110 {
		t.Fatalf("sent %d records in 1s at 100/s", n)
	}
	var slow int64 // records charged at least half the stall
	for _, bar := range m.total.Distribution() {
		if bar.From >= int64(stall/2/time.Microsecond) {
			slow += bar.Count
		}
	}
	// Records intended at 0, 10, ..., 90ms waited at least 110ms; measured
	// from the actual send (coordinated omission) only the first would.
	if slow < 9 {
		t.Fatalf("%d records with latency >= %v, want >= 9 (max %dµs)", slow, stall/2, m.total.Max())
	}
	if max := time.Duration(m.total.Max()) * time.Microsecond; max < stall*9/10 {
		t.Fatalf("max latency %v, want about the %v stall", max, stall)
	}
}

// TestAckClockShared checks when producer callbacks share a clock read:
// within a batch, at most ackClockReuse in a row; never across the hook
// that ends a batch, nor after an error.
func TestAckClockShared(t *testing.T) {
	r := newRecorder()
	base := time.Now()
	var reads int
	clock := func() time.Time { reads++; return base.Add(time.Duration(reads) * time.Millisecond) }
	for range ackClockReuse + 1 {
		r.ack(base, true, 1, nil, clock)
	}
	if reads != 2 {
		t.Fatalf("%d clock reads for %d callbacks of one batch, want 2", reads, ackClockReuse+1)
	}
	batchAcked{r}.OnProduceBatchWritten("t", 0, ackClockReuse+1, 0)
	r.ack(base, true, 1, nil, clock)
	if reads != 3 {
		t.Fatalf("%d clock reads: the first callback after a batch reused an old read", reads)
	}
	r.ack(base, true, 1, errors.New("boom"), clock)
	r.ack(base, true, 1, nil, clock)
	if reads != 5 {
		t.Fatalf("%d clock reads, want 5: an error and the callback after it read the clock", reads)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Latencies are from the shared reads: 1ms for the first 64, then 2ms,
	// 3ms, and 5ms (the error is not in the histogram).
	if got := r.mu.interval.TotalCount(); got != ackClockReuse+3 {
		t.Fatalf("histogram holds %d latencies, want %d", got, ackClockReuse+3)
	}
	if max := r.mu.interval.Max(); max < 4900 || max > 5100 {
		t.Fatalf("max latency %dµs, want 5ms (the read after the error)", max)
	}
	if r.mu.counts.errors != 1 {
		t.Fatalf("%d errors, want 1", r.mu.counts.errors)
	}
}
