package engine

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestExpiredOpsDoNotPileUp: long polls that expire on an idle partition
// leave the watcher list lazily; the purge on registration keeps it bounded.
func TestExpiredOpsDoNotPileUp(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "idle", 1, nil)
	p := mustPartition(t, e, "idle", 0)
	for i := 0; i < 300; i++ {
		r := fetchSync(t, e, FetchRequest{MaxWait: time.Microsecond, MinBytes: 1, Partitions: []FetchPartition{{Topic: "idle", MaxBytes: 100}}})
		r.Release()
	}
	if n := p.watchers.n.Load(); n > 40 {
		t.Errorf("%d operations listed on an idle partition after 300 expired polls", n)
	}
}

// TestManyParkedFetchesWake parks fetchers on several partitions while
// producers append concurrently; every fetch must be woken by data, long
// before its max wait.
func TestManyParkedFetchesWake(t *testing.T) {
	e := openTestEngine(t, nil)
	const partitions, fetchers = 4, 64
	mustCreate(t, e, "w", partitions, nil)
	results := make(chan *FetchResult, fetchers)
	for i := 0; i < fetchers; i++ {
		e.Fetch(FetchRequest{MaxWait: time.Minute, MinBytes: 1, MaxBytes: 1 << 20, Partitions: []FetchPartition{
			{Topic: "w", Partition: int32(i % partitions), MaxBytes: 1 << 20},
			{Topic: "w", Partition: int32((i + 1) % partitions), MaxBytes: 1 << 20},
		}}, func(r *FetchResult) { results <- r })
	}
	var wg sync.WaitGroup
	for p := int32(0); p < partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			produceSync(t, e, ProduceRequest{Topic: "w", Partition: p, Acks: 1, Records: makeBatch(1, 10, 1)})
		}()
	}
	wg.Wait()
	deadline := time.After(10 * time.Second)
	for i := 0; i < fetchers; i++ {
		select {
		case r := <-results:
			if r.Partitions[0].Records == nil && r.Partitions[1].Records == nil {
				t.Errorf("fetch answered without data: %+v", r.Partitions)
			}
			r.Release()
		case <-deadline:
			t.Fatalf("%d of %d parked fetches not woken", fetchers-i, fetchers)
		}
	}
}

func TestRetentionLoop(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.RetentionCheckInterval = 10 * time.Millisecond })
	// One 1061-byte batch per segment; keep about two segments.
	mustCreate(t, e, "ret", 1, map[string]string{"segment.bytes": "2000", "retention.bytes": "2200"})
	for i := 0; i < 6; i++ {
		produceSync(t, e, ProduceRequest{Topic: "ret", Acks: 1, Records: makeBatch(1, 1000, time.Now().UnixMilli())})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lso, _ := e.ListOffsets("ret", 0, EarliestTimestamp)
		if lso >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log start offset %d after 10s of retention passes, want >= 3", lso)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCollector(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "m", 2, nil)
	produceSync(t, e, ProduceRequest{Topic: "m", Partition: 1, Acks: 1, Records: makeBatch(7, 0, 1)})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"spate_partition_log_end_offset,partition=1,topic=m":   7,
		"spate_partition_high_watermark,partition=1,topic=m":   7,
		"spate_partition_log_start_offset,partition=1,topic=m": 0,
		"spate_partition_log_end_offset,partition=0,topic=m":   0,
		"spate_partitions": 2,
		"spate_log_dir_state,dir=" + e.cfg.DataDir + ",state=ok":     1,
		"spate_log_dir_state,dir=" + e.cfg.DataDir + ",state=full":   0,
		"spate_log_dir_state,dir=" + e.cfg.DataDir + ",state=failed": 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	dirKey := "spate_log_dir_direct_write_bytes,chosen=config,dir=" + e.cfg.DataDir
	if g, ok := got[dirKey]; !ok || g != float64(e.cfg.DirectWriteBytes) {
		t.Errorf("%s = %v (present %v), want %d", dirKey, g, ok, e.cfg.DirectWriteBytes)
	}
	if g := got["spate_log_dir_write_mode,dir="+e.cfg.DataDir+",mode=direct"]; g != 1 {
		t.Errorf("write mode direct = %v, want 1 (DirectWriteBytes %d set by hand)", g, e.cfg.DirectWriteBytes)
	}
	d := e.LogDirs()[0]
	if free := got["spate_log_dir_free_bytes,dir="+e.cfg.DataDir]; free <= 0 || got["spate_log_dir_min_free_bytes,dir="+e.cfg.DataDir] != float64(d.MinFreeBytes) {
		t.Errorf("log dir free %v, min free %v; LogDirs says %+v", free, got["spate_log_dir_min_free_bytes,dir="+e.cfg.DataDir], d)
	}
	if len(got) != 17 {
		t.Errorf("%d series, want 17 (3 per partition, the count, 3 of the write path and 7 of the log dir's space): %v", len(got), got)
	}
}

// blockingOp is a delayed operation whose tryComplete blocks until released,
// to hold a wake in the middle of its batch.
type blockingOp struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	failed  error
}

func (o *blockingOp) tryComplete() bool {
	o.entered <- struct{}{}
	<-o.release
	return o.isDone()
}

func (o *blockingOp) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed == nil {
		o.failed = err
	}
}

func (o *blockingOp) isDone() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed != nil
}

// TestFailAllDuringWake: an operation a wake holds outside the list when
// Close sweeps must still be failed, not put back to wait forever.
func TestFailAllDuringWake(t *testing.T) {
	var w watchers
	op := &blockingOp{entered: make(chan struct{}), release: make(chan struct{})}
	w.add(op)
	woke := make(chan struct{})
	go func() { w.wake(); close(woke) }()
	<-op.entered
	w.failAll(ErrShuttingDown) // the op is in the wake's batch, not the list
	if op.isDone() {
		t.Fatal("failAll reached an op that was out of the list; the test no longer covers the hand-back path")
	}
	close(op.release)
	<-woke
	if !errors.Is(op.failed, ErrShuttingDown) {
		t.Errorf("op handed back after failAll ended with %v, want ErrShuttingDown", op.failed)
	}
	if n := w.n.Load(); n != 0 {
		t.Errorf("%d ops still listed", n)
	}
}

// TestWakeDuringWakeGoesAgain: a wake arriving while another runs is not
// lost: the running one takes another round.
func TestWakeDuringWakeGoesAgain(t *testing.T) {
	var w watchers
	op := &blockingOp{entered: make(chan struct{}), release: make(chan struct{})}
	w.add(op)
	woke := make(chan struct{})
	go func() { w.wake(); close(woke) }()
	<-op.entered
	w.wake() // returns at once, asking for another round
	op.release <- struct{}{}
	select {
	case <-op.entered: // second round
	case <-time.After(5 * time.Second):
		t.Fatal("the wake that arrived during a wake was lost")
	}
	op.fail(ErrShuttingDown)
	close(op.release)
	<-woke
}
