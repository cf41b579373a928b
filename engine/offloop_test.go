package engine

import (
	"sync"
	"testing"
	"time"
)

// slowDisk is a BeforeAppendWrite hook for one topic: the first append
// sleeps past slowAppend (so the partition is found slow), later ones wait
// until released.
type slowDisk struct {
	topic   string
	mu      sync.Mutex
	calls   int
	release chan struct{}
	blocked chan struct{} // one send per append that waits
}

func newSlowDisk(topic string) *slowDisk {
	return &slowDisk{topic: topic, release: make(chan struct{}), blocked: make(chan struct{}, 100)}
}

func (d *slowDisk) hook(topic string, _ int32) {
	if topic != d.topic {
		return
	}
	d.mu.Lock()
	d.calls++
	first := d.calls == 1
	d.mu.Unlock()
	if first {
		time.Sleep(slowAppend + time.Millisecond)
		return
	}
	d.blocked <- struct{}{}
	<-d.release
}

// produceAsync calls Produce and returns the channel its answer arrives on,
// once Produce itself has returned.
func produceAsync(t *testing.T, e *Engine, req ProduceRequest) chan ProduceResult {
	t.Helper()
	ch := make(chan ProduceResult, 1)
	returned := make(chan struct{})
	go func() {
		e.Produce(req, func(r ProduceResult) { ch <- r })
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatalf("Produce to %s-%d held its caller for 10 s: it waited on the disk", req.Topic, req.Partition)
	}
	return ch
}

func wantAnswer(t *testing.T, ch chan ProduceResult, what string, base int64) {
	t.Helper()
	select {
	case r := <-ch:
		wantBase(t, what, r, base)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer in 10 s", what)
	}
}

// Once a partition's appends are slow, Produce returns to its caller (an
// event loop) at once and answers later, in arrival order; another
// partition's produce still completes inside the call while the slow one's
// disk holds its write.
func TestSlowPartitionAppendsOffTheCaller(t *testing.T) {
	disk := newSlowDisk("slow")
	e := openTestEngine(t, func(c *Config) { c.BeforeAppendWrite = disk.hook })
	mustCreate(t, e, "slow", 1, nil)
	mustCreate(t, e, "fast", 1, nil)

	wantBase(t, "first (slow, detected) append", produceSync(t, e, ProduceRequest{Topic: "slow", Acks: 1, Records: makeBatch(1, 0, 1)}), 0)

	var answers []chan ProduceResult
	for range 3 {
		answers = append(answers, produceAsync(t, e, ProduceRequest{Topic: "slow", Acks: 1, Records: makeBatch(2, 0, 1)}))
	}
	<-disk.blocked // the first queued append is inside the slow write
	for i, ch := range answers {
		select {
		case r := <-ch:
			t.Fatalf("slow append %d answered while its write is held: %+v", i, r)
		default:
		}
	}

	done := make(chan ProduceResult, 1)
	e.Produce(ProduceRequest{Topic: "fast", Acks: 1, Records: makeBatch(1, 0, 1)}, func(r ProduceResult) { done <- r })
	select {
	case r := <-done:
		wantBase(t, "fast partition during the slow write", r, 0)
	default:
		t.Fatal("a produce to another partition did not complete inside the call while the slow disk held its write")
	}

	close(disk.release)
	for i, ch := range answers {
		wantAnswer(t, ch, "queued slow append", int64(1+2*i))
	}
}

// Requests for a topic that auto-creation will create return to the caller
// at once and are appended in arrival order.
func TestAutoCreateOffTheCaller(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.AutoCreateTopics = true })
	var answers []chan ProduceResult
	for range 5 {
		answers = append(answers, produceAsync(t, e, ProduceRequest{Topic: "born", Acks: 1, Records: makeBatch(3, 0, 1)}))
	}
	for i, ch := range answers {
		wantAnswer(t, ch, "produce to an auto-created topic", int64(3*i))
	}
	if end := logEnd(t, e, "born"); end != 15 {
		t.Fatalf("log end %d, want 15", end)
	}
}

// An idempotent producer's batches keep their order across the switch off
// the loop and back: no OUT_OF_ORDER_SEQUENCE, no duplicate.
func TestSlowPartitionKeepsSequenceOrder(t *testing.T) {
	disk := newSlowDisk("idem")
	e := openTestEngine(t, func(c *Config) { c.BeforeAppendWrite = disk.hook })
	mustCreate(t, e, "idem", 1, nil)
	wantBase(t, "seq 0", produceIdem(t, e, "idem", 7, 0, 0, 1), 0)
	var answers []chan ProduceResult
	for seq := int32(1); seq <= 4; seq++ {
		answers = append(answers, produceAsync(t, e, ProduceRequest{Topic: "idem", Acks: 1, Records: idemBatch(7, 0, seq, 1)}))
	}
	<-disk.blocked
	close(disk.release)
	for i, ch := range answers {
		wantAnswer(t, ch, "idempotent batch", int64(1+i))
	}
	if end := logEnd(t, e, "idem"); end != 5 {
		t.Fatalf("log end %d, want 5", end)
	}
}
