package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// With one event loop serving every connection, a partition whose disk
// holds its appends does not hold the loop: while one connection's produce
// waits on the held write, another connection's produces and fetches to
// another partition are answered (DESIGN.md: nothing waits on disk inside
// an event loop).
func TestSlowDiskDoesNotHoldTheLoop(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	release, blocked := make(chan struct{}), make(chan struct{}, 10)
	b := startTestBroker(t, func(c *Config) {
		c.EventLoops = 1
		c.beforeAppendWrite = func(topic string, _ int32) {
			if topic != "slow" {
				return
			}
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				time.Sleep(10 * time.Millisecond) // slow enough to be noticed
				return
			}
			blocked <- struct{}{}
			<-release
		}
	})
	var releaseOnce sync.Once
	releaseDisk := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseDisk) // before the broker's Close, so a failure cannot hang it
	for _, name := range []string{"slow", "fast"} {
		if err := b.CreateTopic(name, 1, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	slow, fast := dialTest(t, b), dialTest(t, b)
	for _, c := range []*testConn{slow, fast} {
		c.c.SetDeadline(time.Now().Add(20 * time.Second)) // a held loop fails the test, not hangs it
	}
	batch := testBatch(t, 10, 100)
	wantProduced(t, slow.do(t, produceFrame("slow", 1, batch)), 0)

	if _, err := slow.c.Write(produceFrame("slow", 1, batch)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the second produce to the slow partition never reached its write")
	}
	var worst time.Duration
	for i := range 50 {
		start := time.Now()
		wantProduced(t, fast.do(t, produceFrame("fast", 1, batch)), int64(10*i))
		var fr wire.FetchResponse
		if err := fr.Decode(fast.do(t, fetchFrame("fast", int64(10*i), 1<<20))); err != nil {
			t.Fatal(err)
		}
		if p := fr.Topics[0].Partitions[0]; p.ErrorCode != wire.None || len(p.Records) == 0 {
			t.Fatalf("fetch of fast at %d: %s, %d record bytes", 10*i, p.ErrorCode, len(p.Records))
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("50 produce+fetch round trips to another partition while the slow write was held: worst %v", worst)
	releaseDisk()
	wantProduced(t, slow.readResponse(t), 10)
}

func wantProduced(t *testing.T, body []byte, base int64) {
	t.Helper()
	var r wire.ProduceResponse
	if err := r.Decode(body); err != nil {
		t.Fatal(err)
	}
	p := r.Topics[0].Partitions[0]
	if p.ErrorCode != wire.None || p.BaseOffset != base {
		t.Fatalf("produce to %s: %s at base %d, want base %d", r.Topics[0].Name, p.ErrorCode, p.BaseOffset, base)
	}
}
