package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLongPollWakesOnProduce(t *testing.T) {
	for _, policy := range []string{"never", "always"} {
		t.Run("flush="+policy, func(t *testing.T) {
			e := openTestEngine(t, nil)
			mustCreate(t, e, "lp", 2, map[string]string{"flush.policy": policy})
			ch := make(chan *FetchResult, 1)
			e.Fetch(FetchRequest{MaxWait: 10 * time.Second, MinBytes: 1, MaxBytes: 1 << 20, Partitions: []FetchPartition{
				{Topic: "lp", Partition: 0, MaxBytes: 1 << 20},
				{Topic: "lp", Partition: 1, MaxBytes: 1 << 20},
			}}, func(r *FetchResult) { ch <- r })
			select {
			case r := <-ch:
				t.Fatalf("fetch on empty partitions answered at once: %+v", r.Partitions)
			case <-time.After(50 * time.Millisecond):
			}
			start := time.Now()
			produceSync(t, e, ProduceRequest{Topic: "lp", Partition: 1, Acks: 1, Records: makeBatch(2, 100, 1)})
			select {
			case r := <-ch:
				defer r.Release()
				if fr := r.Partitions[1].Records; fr == nil || fr.NextOffset() != 2 || r.Partitions[0].Records != nil {
					t.Errorf("woken fetch: %+v", r.Partitions)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("woke after %v", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("parked fetch not woken by produce")
			}
		})
	}
}

func TestLongPollMaxWait(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "mw", 1, nil)
	produceSync(t, e, ProduceRequest{Topic: "mw", Acks: 1, Records: makeBatch(1, 100, 1)})
	start := time.Now()
	// 161 bytes are there; ask for more than that.
	r := fetchSync(t, e, FetchRequest{MaxWait: 100 * time.Millisecond, MinBytes: 10000, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{Topic: "mw", MaxBytes: 1 << 20}}})
	defer r.Release()
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %v, before max wait", d)
	}
	pr := r.Partitions[0]
	if pr.Err != nil || pr.Records == nil || pr.Records.Len() != 161 || pr.HighWatermark != 1 {
		t.Errorf("after max wait: %+v, want the 161 bytes there are", pr)
	}
}

func TestFetchMaxBytes(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "mb", 3, nil)
	const batchSize = 1061 // 61 header + 1000
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 4; i++ {
			produceSync(t, e, ProduceRequest{Topic: "mb", Partition: p, Acks: 1, Records: makeBatch(1, 1000, 1)})
		}
	}
	parts := func(partMax int32) []FetchPartition {
		return []FetchPartition{{Topic: "mb", Partition: 0, MaxBytes: partMax}, {Topic: "mb", Partition: 1, MaxBytes: partMax}, {Topic: "mb", Partition: 2, MaxBytes: partMax}}
	}
	cases := []struct {
		name      string
		maxBytes  int32
		partMax   int32
		wantSizes [3]int
	}{
		{"no limits hit", 1 << 20, 1 << 20, [3]int{4 * batchSize, 4 * batchSize, 4 * batchSize}},
		{"overall cap", 5 * batchSize, 1 << 20, [3]int{4 * batchSize, batchSize, 0}},
		{"partition cap", 1 << 20, 2*batchSize + 10, [3]int{2 * batchSize, 2 * batchSize, 2 * batchSize}},
		// KIP-74: the first partition returns a batch bigger than both limits;
		// the later ones then return nothing rather than exceed them.
		{"first batch exceeds", 100, 100, [3]int{batchSize, 0, 0}},
	}
	for _, c := range cases {
		r := fetchSync(t, e, FetchRequest{MaxBytes: c.maxBytes, Partitions: parts(c.partMax)})
		for i, pr := range r.Partitions {
			got := 0
			if pr.Records != nil {
				got = pr.Records.Len()
			}
			if pr.Err != nil || got != c.wantSizes[i] || pr.HighWatermark != 4 {
				t.Errorf("%s: partition %d: %d bytes (err %v, hw %d), want %d", c.name, i, got, pr.Err, pr.HighWatermark, c.wantSizes[i])
			}
		}
		r.Release()
	}
}

func TestFetchErrors(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "oor", 1, nil)
	produceSync(t, e, ProduceRequest{Topic: "oor", Acks: 1, Records: makeBatch(3, 0, 1)})
	start := time.Now()
	// Errors answer at once even with a long max wait.
	r := fetchSync(t, e, FetchRequest{MaxWait: 10 * time.Second, MinBytes: 1 << 20, Partitions: []FetchPartition{
		{Topic: "oor", Offset: 4, MaxBytes: 100},
		{Topic: "oor", Offset: -1, MaxBytes: 100},
		{Topic: "oor", Offset: 3, MaxBytes: 100}, // the log end: empty, not an error
		{Topic: "none", MaxBytes: 100},
		{Topic: "oor", Partition: 5, MaxBytes: 100},
	}})
	defer r.Release()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("fetch with errors waited %v", d)
	}
	want := []error{ErrOffsetOutOfRange, ErrOffsetOutOfRange, nil, ErrUnknownTopicOrPartition, ErrUnknownTopicOrPartition}
	for i, pr := range r.Partitions {
		if !errors.Is(pr.Err, want[i]) || (want[i] == nil) != (pr.Err == nil) {
			t.Errorf("partition entry %d: err %v, want %v", i, pr.Err, want[i])
		}
		if pr.Records != nil {
			t.Errorf("partition entry %d: records %d bytes, want none", i, pr.Records.Len())
		}
	}
	if r.Partitions[2].HighWatermark != 3 {
		t.Errorf("hw at log end = %d", r.Partitions[2].HighWatermark)
	}
}

// TestCloseFailsParkedOps parks a long-poll fetch and an acks=all produce,
// closes the engine, and expects both answered with ErrShuttingDown, then
// every new request refused.
func TestCloseFailsParkedOps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MaxIndexBytes = 64 << 10
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "s", 1, nil)
	fetched := make(chan *FetchResult, 1)
	e.Fetch(FetchRequest{MaxWait: time.Minute, MinBytes: 1, Partitions: []FetchPartition{{Topic: "s", MaxBytes: 100}}},
		func(r *FetchResult) { fetched <- r })
	produced := make(chan ProduceResult, 1)
	if err := e.enter(); err != nil {
		t.Fatal(err)
	}
	e.park(mustPartition(t, e, "s", 0), 100, time.Minute, ProduceResult{}, func(r ProduceResult) { produced <- r })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case r := <-fetched:
		if !errors.Is(r.Partitions[0].Err, ErrShuttingDown) {
			t.Errorf("parked fetch: %v", r.Partitions[0].Err)
		}
		r.Release()
	default:
		t.Error("Close returned with the fetch still parked")
	}
	select {
	case r := <-produced:
		if !errors.Is(r.Err, ErrShuttingDown) {
			t.Errorf("parked produce: %v", r.Err)
		}
	default:
		t.Error("Close returned with the produce still parked")
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "s", Acks: 1, Records: makeBatch(1, 0, 1)}); !errors.Is(r.Err, ErrShuttingDown) {
		t.Errorf("produce after Close: %v", r.Err)
	}
	r := fetchSync(t, e, FetchRequest{Partitions: []FetchPartition{{Topic: "s", MaxBytes: 100}}})
	if !errors.Is(r.Partitions[0].Err, ErrShuttingDown) {
		t.Errorf("fetch after Close: %v", r.Partitions[0].Err)
	}
	r.Release()
	if err := e.CreateTopic("late", 1, nil); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("CreateTopic after Close: %v", err)
	}
}

// TestDeleteTopicAnswersParkedOps: operations parked on a deleted topic
// answer ErrUnknownTopicOrPartition at once instead of waiting out their time.
func TestDeleteTopicAnswersParkedOps(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "del", 1, nil)
	mustCreate(t, e, "other", 1, nil)
	fetched := make(chan *FetchResult, 1)
	e.Fetch(FetchRequest{MaxWait: time.Minute, MinBytes: 1, Partitions: []FetchPartition{
		{Topic: "other", MaxBytes: 100}, {Topic: "del", MaxBytes: 100},
	}}, func(r *FetchResult) { fetched <- r })
	produced := make(chan ProduceResult, 1)
	if err := e.enter(); err != nil {
		t.Fatal(err)
	}
	e.park(mustPartition(t, e, "del", 0), 100, time.Minute, ProduceResult{}, func(r ProduceResult) { produced <- r })
	if err := e.DeleteTopic("del"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-fetched:
		if r.Partitions[0].Err != nil || !errors.Is(r.Partitions[1].Err, ErrUnknownTopicOrPartition) {
			t.Errorf("fetch after delete: %v / %v", r.Partitions[0].Err, r.Partitions[1].Err)
		}
		r.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("parked fetch not answered after DeleteTopic")
	}
	select {
	case r := <-produced:
		if !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
			t.Errorf("parked produce after delete: %v", r.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parked produce not answered after DeleteTopic")
	}
}

// TestCloseDeadline: Close with requests still inside the engine returns the
// context's error once it ends, and still closes the logs.
func TestCloseDeadline(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MaxIndexBytes = 64 << 10
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "c", 1, nil)
	if err := e.enter(); err != nil { // a request that never finishes
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = e.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Close = %v, want the deadline and ErrShuttingDown", err)
	}
	if !mustPartition(t, e, "c", 0).closed.Load() {
		t.Error("log left open after Close gave up waiting")
	}
	if again := e.Close(context.Background()); again != err {
		t.Errorf("second Close = %v, want the first result", again)
	}
	e.leave()
}
