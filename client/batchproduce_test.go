package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/client/internal/cutproxy"
	"github.com/spate-io/spate/record"
)

// TestProduceBatchInterleaved mixes ProduceBatch and Produce on one
// partition of an idempotent producer: the records must be stored in call
// order, each batch's BaseOffset must point at its first record, and the
// broker must accept every sequence (a wrong prediction would be refused
// as out of order).
func TestProduceBatchInterleaved(t *testing.T) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "bulk", 2)
	p, err := client.NewProducer(client.SeedBrokers(b.Addr()), client.Partitioner(client.PartitionManual),
		client.Linger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var (
		mu      sync.Mutex
		results []client.BatchResult
		wg      sync.WaitGroup
		next    int
	)
	want := 0
	for round := range 20 {
		n := 1 + round*37
		first := next
		wg.Add(1)
		p.ProduceBatch(ctxFor(t), "bulk", 1, func(bd *record.Builder) {
			for i := range n {
				bd.Append(time.Now().UnixMilli(), nil, []byte(strconv.Itoa(first+i)), nil)
			}
		}, func(r client.BatchResult, err error) {
			defer wg.Done()
			if err != nil {
				t.Errorf("batch from %d: %v", first, err)
				return
			}
			if r.Records != n || r.Topic != "bulk" || r.Partition != 1 || r.Bytes <= 0 {
				t.Errorf("result %+v for a batch of %d records", r, n)
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
		next += n
		// A few single records between batches, through the accumulator.
		for range 3 {
			wg.Add(1)
			p.Produce(ctxFor(t), &client.Record{Topic: "bulk", Partition: 1, Value: []byte(strconv.Itoa(next))},
				func(_ *client.Record, err error) {
					if err != nil {
						t.Error(err)
					}
					wg.Done()
				})
			next++
		}
		want = next
	}
	wg.Wait()
	c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign("bulk", []int32{1}, client.Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := pollValues(t, c, want)[1]
	checkExactlyOnce(t, 1, got, want)
	for _, r := range results {
		if r.BaseOffset < 0 || int(r.BaseOffset) >= len(got) {
			t.Fatalf("batch result %+v: base offset out of the log of %d records", r, len(got))
		}
		// The batch written at BaseOffset starts with the value it was
		// built with: values are the order of the calls.
		if v, _ := strconv.Atoi(got[r.BaseOffset]); int64(v) != r.BaseOffset {
			t.Fatalf("batch result %+v: record at its base offset is %q", r, got[r.BaseOffset])
		}
	}
}

// TestProduceBatchRefused: bad calls fail through the callback, before
// anything is buffered, and leave the producer usable.
func TestProduceBatchRefused(t *testing.T) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "bulk", 1)
	p, err := client.NewProducer(client.SeedBrokers(b.Addr()), client.MaxResponseSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	value := make([]byte, 1000)
	cases := []struct {
		name      string
		partition int32
		records   int
		want      error
	}{
		{"empty", 0, 0, client.ErrInvalidOption},
		{"no such partition", 1, 1, client.ErrNoPartitions},
		{"negative partition", -1, 1, client.ErrNoPartitions},
		{"larger than a frame", 0, 100, client.ErrRecordTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			called := 0
			p.ProduceBatch(ctxFor(t), "bulk", tc.partition, func(bd *record.Builder) {
				for range tc.records {
					bd.Append(0, nil, value, nil)
				}
			}, func(_ client.BatchResult, err error) { got = err; called++ })
			if called != 1 || !errors.Is(got, tc.want) {
				t.Fatalf("callback called %d times with %v, want once with %v", called, got, tc.want)
			}
		})
	}
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatalf("flush after refused batches: %v", err)
	}
	var res client.BatchResult
	done := make(chan error, 1)
	p.ProduceBatch(ctxFor(t), "bulk", 0, func(bd *record.Builder) { bd.Append(0, nil, value, nil) },
		func(r client.BatchResult, err error) { res = r; done <- err })
	if err := <-done; err != nil || res.BaseOffset != 0 {
		t.Fatalf("first good batch: %+v, %v; want base offset 0", res, err)
	}
	p.Close()
	p.ProduceBatch(context.Background(), "bulk", 0, func(bd *record.Builder) { bd.Append(0, nil, value, nil) },
		func(_ client.BatchResult, err error) { done <- err })
	if err := <-done; !errors.Is(err, client.ErrClosed) {
		t.Fatalf("ProduceBatch after Close: %v, want ErrClosed", err)
	}
}

// TestProduceBatchConnectionCuts: batches survive cut connections exactly
// once and in order (retries resend the same sequence).
func TestProduceBatchConnectionCuts(t *testing.T) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "t", 2)
	proxy, err := cutproxy.New(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p, err := client.NewProducer(client.SeedBrokers(proxy.Addr()), client.Dialer(proxy.Dial), fastRetries(),
		client.BatchSize(4<<10), client.RequestTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cutter := proxy.CutEvery(5, 2*time.Millisecond, 21*time.Millisecond)
	var wg sync.WaitGroup
	next := [2]int{}
	for i := 0; i < 400 || (cutter.Cuts() < 20 && i < 100_000); i++ {
		part := int32(i % 2)
		first, n := next[part], 1+i%50
		next[part] += n
		wg.Add(1)
		p.ProduceBatch(ctxFor(t), "t", part, func(bd *record.Builder) {
			for j := range n {
				bd.Append(0, nil, []byte(strconv.Itoa(first+j)), nil)
			}
		}, func(r client.BatchResult, err error) {
			if err != nil {
				t.Error(fmt.Errorf("partition %d batch from %d: %w", part, first, err))
			}
			wg.Done()
		})
	}
	wg.Wait()
	cuts := cutter.Stop()
	if cuts < 20 {
		t.Fatalf("only %d cuts: reconnects not exercised", cuts)
	}
	c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign("t", nil, client.Earliest()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := pollValues(t, c, next[0]+next[1])
	for part := range int32(2) {
		checkExactlyOnce(t, part, got[part], next[part])
	}
	t.Logf("%d cuts, %d + %d records", cuts, next[0], next[1])
}
