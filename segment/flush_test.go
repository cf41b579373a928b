package segment

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// TestGroupCommit: N concurrent FlushAlways appenders are covered by far
// fewer than N fdatasyncs, and each Append returns only once its batch is
// below FlushedOffset.
func TestGroupCommit(t *testing.T) {
	cfg := testConfig()
	cfg.Flush = FlushAlways
	cfg.SegmentBytes = 16 << 20
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	const writers, each = 32, 20
	before := l.Syncs()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				b := makeBatch(1, 1, 200, 1)
				if _, err := l.Append(b); err != nil {
					errs <- err
					return
				}
				if f := l.FlushedOffset(); f <= b.LastOffset() {
					t.Errorf("Append of offset %d returned with FlushedOffset %d", b.LastOffset(), f)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := l.Syncs() - before
	t.Logf("%d appends, %d fdatasyncs", writers*each, syncs)
	if syncs == 0 || syncs > writers*each/4 {
		t.Fatalf("%d fdatasyncs for %d concurrent appends: no group commit", syncs, writers*each)
	}
}

func TestWhenFlushedPolicies(t *testing.T) {
	t.Run("never", func(t *testing.T) {
		l := openLog(t, t.TempDir(), testConfig())
		defer l.Close()
		b := makeBatch(1, 1, 100, 1)
		if _, err := l.AppendNoWait(b); err != nil {
			t.Fatal(err)
		}
		fired := make(chan error, 2)
		l.WhenFlushed(b.LastOffset(), func(err error) { fired <- err })
		select {
		case err := <-fired:
			t.Fatalf("fired (%v) before any flush under FlushNever", err)
		case <-time.After(50 * time.Millisecond):
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := <-fired; err != nil {
			t.Fatalf("fired with %v", err)
		}
		// Already covered: fires at once on the caller's goroutine.
		ran := false
		l.WhenFlushed(b.LastOffset(), func(error) { ran = true })
		if !ran {
			t.Fatal("WhenFlushed of a flushed offset did not fire at once")
		}
		// Pending at Close: fires with ErrClosed... unless Close's flush covers it.
		l.AppendNoWait(makeBatch(1, 1, 100, 1))
		l.WhenFlushed(l.LogEndOffset()-1, func(err error) { fired <- err })
		l.WhenFlushed(l.LogEndOffset(), func(err error) { fired <- err })
		l.Close()
		if err := <-fired; err != nil {
			t.Fatalf("waiter covered by Close fired with %v", err)
		}
		if err := <-fired; err == nil {
			t.Fatal("waiter past the log end fired with nil at Close")
		}
	})
	t.Run("interval", func(t *testing.T) {
		cfg := testConfig()
		cfg.Flush = FlushInterval
		cfg.FlushInterval = 20 * time.Millisecond
		l := openLog(t, t.TempDir(), cfg)
		defer l.Close()
		b := makeBatch(1, 1, 100, 1)
		start := time.Now()
		if _, err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		if l.FlushedOffset() > b.LastOffset() {
			t.Fatal("interval policy synced inside Append")
		}
		done := make(chan error)
		l.WhenFlushed(b.LastOffset(), func(err error) { done <- err })
		if err := <-done; err != nil || time.Since(start) > 2*time.Second {
			t.Fatalf("interval flush: %v after %v", err, time.Since(start))
		}
	})
	t.Run("always no wait", func(t *testing.T) {
		cfg := testConfig()
		cfg.Flush = FlushAlways
		l := openLog(t, t.TempDir(), cfg)
		defer l.Close()
		b := makeBatch(1, 1, 100, 1)
		if _, err := l.AppendNoWait(b); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		l.WhenFlushed(b.LastOffset(), func(err error) { done <- err })
		if err := <-done; err != nil || l.FlushedOffset() <= b.LastOffset() {
			t.Fatalf("WhenFlushed fired with %v, FlushedOffset %d", err, l.FlushedOffset())
		}
	})
}

func TestAppendReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates by itself")
	}
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 20
	for _, policy := range []FlushPolicy{FlushNever, FlushAlways} {
		cfg.Flush = policy
		l := openLog(t, t.TempDir(), cfg)
		b := makeBatch(4, 1000, 1024, 1)
		l.Append(b) // warm the pools and slices
		l.Append(b)
		if n := testing.AllocsPerRun(100, func() {
			if _, err := l.Append(b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("Append flush=%s: %.1f allocs/op, want 0", policy, n)
		}
		if n := testing.AllocsPerRun(100, func() {
			r, err := l.Read(4, 1<<20, l.LogEndOffset())
			if err != nil || r.Len() == 0 {
				t.Fatal(err)
			}
			r.Release()
		}); n != 0 {
			t.Errorf("Read flush=%s: %.1f allocs/op, want 0", policy, n)
		}
		l.Close()
	}
}

// TestConcurrentAppendReadRetention runs appenders, readers, Flush and
// retention together (meant for -race): every range read must hold whole,
// valid batches with contiguous offsets.
func TestConcurrentAppendReadRetention(t *testing.T) {
	cfg := testConfig()
	cfg.Flush = FlushInterval
	cfg.FlushInterval = time.Millisecond
	cfg.RetentionBytes = 4 * cfg.SegmentBytes
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(makeBatch(1+i%4, int64(i), 100+i%3000, byte(w))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start, end := l.LogStartOffset(), l.LogEndOffset()
				if end == start {
					continue
				}
				off := start + (end-start)/2
				r, err := l.Read(off, 64<<10, end)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				if err != nil {
					t.Error(err)
					return
				}
				checkRange(t, r)
				r.Release()
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if _, err := l.ApplyRetention(time.Now()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for deadline := time.Now().Add(5 * time.Second); l.LogStartOffset() < 5000 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if l.LogStartOffset() == 0 {
		t.Fatalf("retention never ran; log end %d", l.LogEndOffset())
	}
}

func checkRange(t *testing.T, r *FileRange) {
	t.Helper()
	data, next := r.Bytes(), r.FirstOffset()
	for len(data) > 0 {
		b, err := record.Parse(data)
		if err == nil {
			err = b.Validate()
		}
		if err != nil || b.BaseOffset() != next {
			t.Fatalf("range [%d,%d): batch at %d: %v (base %d)", r.FirstOffset(), r.NextOffset(), next, err, b.BaseOffset())
		}
		next = b.NextOffset()
		data = data[len(b):]
	}
	if next != r.NextOffset() {
		t.Fatalf("range ends at %d, NextOffset says %d", next, r.NextOffset())
	}
}

// TestRollSyncUnderFlushNever: with no Flush call, a roll still makes the
// sealed segment durable after the roll-sync delay and moves the recovery
// point, so an unclean restart rescans only the tail.
func TestRollSyncUnderFlushNever(t *testing.T) {
	dir := t.TempDir()
	l, err := open(dir, testConfig(), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var w written
	w.fill(t, l, 100, rand.New(rand.NewPCG(1, 9)))
	if n := len(segmentFiles(t, dir, logSuffix)); n < 2 {
		t.Fatalf("%d segments, want a roll", n)
	}
	sealedEnd := l.active().base
	for deadline := time.Now().Add(5 * time.Second); l.FlushedOffset() < sealedEnd; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("FlushedOffset %d never reached the sealed segments' end %d", l.FlushedOffset(), sealedEnd)
		}
	}
	if rp, ok, _ := readOffsetFile(dir, recoveryPointFile); !ok || rp < sealedEnd {
		t.Fatalf("recovery point file = %d (ok %v), want >= %d", rp, ok, sealedEnd)
	}
}
