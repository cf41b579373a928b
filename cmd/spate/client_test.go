package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// In-process runs of produce and consume against a real broker, so the
// race detector sees the CLI's callback, pooling and cancellation paths
// (the end-to-end tests in e2e/ run the binary, which is not race-built).

func testBroker(t *testing.T) string {
	t.Helper()
	return brokertest.Start(t, nil).Addr()
}

func TestProduceConsumeInProcess(t *testing.T) {
	addr := testBroker(t)
	var in bytes.Buffer
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&in, "k%d|v%d\r\n", i%10, i)
	}
	in.WriteString("last") // no newline: still a record, with a null key
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pcfg := produceConfig{topic: "inproc", keySeparator: []byte("|"), partition: -1, maxLine: 1 << 20,
		opts: []client.Opt{client.SeedBrokers(addr), client.BatchSize(4 << 10), client.Linger(time.Millisecond)}}
	st, err := produce(ctx, pcfg, &in)
	if err != nil || st.produced != 5001 || st.failed != 0 || st.interrupted {
		t.Fatalf("produce: %+v, %v", st, err)
	}

	f, err := parseFormat(`%k=%v\n`)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := consumeConfig{topic: "inproc", from: client.Earliest(), format: f, exitIdle: 500 * time.Millisecond,
		opts: []client.Opt{client.SeedBrokers(addr)}}
	var out bytes.Buffer
	n, err := consume(ctx, ccfg, &out)
	if err != nil || n != 5001 {
		t.Fatalf("consume: %d records, %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	// One partition (the broker default), so the order is the input order.
	for i, l := range lines[:5000] {
		if want := fmt.Sprintf("k%d=v%d", i%10, i); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	if lines[5000] != "=last" {
		t.Errorf("last line %q, want =last", lines[5000])
	}

	ccfg.count, ccfg.exitIdle, ccfg.from = 7, 0, client.At(4990)
	out.Reset()
	if n, err := consume(ctx, ccfg, &out); err != nil || n != 7 || !strings.HasPrefix(out.String(), "k0=v4990\n") {
		t.Errorf("consume --count 7 --from 4990: %d records, %v, output %q", n, err, out.String())
	}
}

func TestProduceInterrupted(t *testing.T) {
	addr := testBroker(t)
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var st produceStats
	var err error
	go func() {
		defer close(done)
		st, err = produce(ctx, produceConfig{topic: "intr", partition: -1, maxLine: 100,
			opts: []client.Opt{client.SeedBrokers(addr)}}, r)
	}()
	if _, err := io.WriteString(w, "a\nb\n"); err != nil {
		t.Fatal(err)
	}
	// The reader is now blocked on a pipe nobody closes, like a terminal.
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("produce did not return after its context was canceled")
	}
	if err != nil || !st.interrupted || st.produced != 2 || st.failed != 0 {
		t.Errorf("interrupted produce: %+v, %v; want 2 records acknowledged", st, err)
	}
}

func TestConsumeCanceled(t *testing.T) {
	b := brokertest.Start(t, nil)
	addr := b.Addr()
	if err := b.CreateTopic("empty", 1, -1, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	cfg := consumeConfig{topic: "empty", from: client.Earliest(), json: true, opts: []client.Opt{client.SeedBrokers(addr)}}
	start := time.Now()
	if n, err := consume(ctx, cfg, io.Discard); err != nil || n != 0 {
		t.Errorf("canceled consume: %d, %v; want a clean end", n, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("canceled consume took %v", d)
	}
}

// TestConsumeUnknownTopic: consumers never create topics; consuming one
// that does not exist fails at once and says so, and creates nothing.
func TestConsumeUnknownTopic(t *testing.T) {
	b := brokertest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := consumeConfig{topic: "nosuch", from: client.Earliest(), opts: []client.Opt{client.SeedBrokers(b.Addr())}}
	start := time.Now()
	_, err := consume(ctx, cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `topic "nosuch" does not exist`) {
		t.Fatalf("consume of a missing topic: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("consume of a missing topic failed after %v, want at once", d)
	}
	if names := b.Engine().Topics(); len(names) != 0 {
		t.Fatalf("consume created topics %v", names)
	}
}
