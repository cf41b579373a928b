package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/client/internal/cutproxy"
	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func fastRetries() client.Opt { return client.RetryBackoff(10*time.Millisecond, 200*time.Millisecond) }

func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	a, err := client.NewAdmin(client.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctxFor(t), topic, partitions, 1, nil); err != nil {
		t.Fatal(err)
	}
}

// pollValues polls until n records arrived, returning values per partition.
func pollValues(t testing.TB, c *client.Consumer, n int) map[int32][]string {
	t.Helper()
	out := map[int32][]string{}
	ctx := ctxFor(t)
	for got := 0; got < n; {
		fs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d of %d records: %v", got, n, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("partition errors: %v", errs)
		}
		it := fs.Records()
		for it.Next() {
			r := it.Record()
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			got++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestIntegrationProduceConsumeDescribe(t *testing.T) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "events", 3)
	for _, codec := range []record.Compression{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd} {
		t.Run("compression="+codec.String(), func(t *testing.T) {
			topic := "events-" + codec.String()
			createTopic(t, b.Addr(), topic, 3)
			p, err := client.NewProducer(client.SeedBrokers(b.Addr()), client.Compression(codec))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			const n = 3000
			var recs []*client.Record
			for i := range n {
				recs = append(recs, &client.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 10)), Value: []byte(strconv.Itoa(i))})
			}
			if err := p.ProduceSync(ctxFor(t), recs...); err != nil {
				t.Fatal(err)
			}
			c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign(topic, nil, client.Earliest()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := pollValues(t, c, n)
			total := 0
			for part, vs := range got {
				total += len(vs)
				last := -1
				for _, v := range vs {
					i, _ := strconv.Atoi(v)
					if i <= last {
						t.Fatalf("partition %d: %d after %d", part, i, last)
					}
					if want := client.KeyPartition([]byte(strconv.Itoa(i%10)), 3); want != part {
						t.Fatalf("record %d in partition %d, key partition %d", i, part, want)
					}
					last = i
				}
			}
			if total != n {
				t.Fatalf("consumed %d records, want %d", total, n)
			}
		})
	}
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	descs, err := a.DescribeTopics(ctxFor(t), "events-none")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range descs[0].Partitions {
		if p.Err != nil || p.LogStartOffset != 0 || p.Leader < 0 || p.LogEndOffset != p.HighWatermark {
			t.Fatalf("partition %+v (log end must equal the high watermark once acks=all answered)", p)
		}
		sum += p.HighWatermark
	}
	if sum != 3000 {
		t.Fatalf("high watermarks add up to %d, want 3000", sum)
	}
	names, err := a.ListTopics(ctxFor(t))
	if err != nil || len(names) != 6 {
		t.Fatalf("ListTopics = %v, %v", names, err)
	}
	if err := a.DeleteTopic(ctxFor(t), "events"); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTopic(ctxFor(t), "events-none", 1, 1, nil); !errors.Is(err, wire.ErrTopicAlreadyExists) {
		t.Fatalf("re-create: %v, want TOPIC_ALREADY_EXISTS", err)
	}
}

func TestIntegrationStartPositions(t *testing.T) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "t", 1)
	p, err := client.NewProducer(client.SeedBrokers(b.Addr()), client.Linger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ts0 := time.UnixMilli(1_700_000_000_000)
	for i := range 100 {
		r := &client.Record{Topic: "t", Value: []byte(strconv.Itoa(i)), Timestamp: ts0.Add(time.Duration(i) * time.Second)}
		if err := p.ProduceSync(ctxFor(t), r); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		start client.Offset
		first int
	}{
		"earliest": {client.Earliest(), 0},
		"offset":   {client.At(42), 42},
		"time":     {client.AtTime(ts0.Add(70 * time.Second)), 70},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign("t", []int32{0}, tc.start))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			vs := pollValues(t, c, 100-tc.first)[0]
			if vs[0] != strconv.Itoa(tc.first) || vs[len(vs)-1] != "99" {
				t.Fatalf("read %s..%s, want %d..99", vs[0], vs[len(vs)-1], tc.first)
			}
		})
	}
	t.Run("latest", func(t *testing.T) {
		c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign("t", []int32{0}, client.Latest()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// Poll once with a short deadline so the start position resolves
		// before the next record is produced.
		short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs, _ := c.Poll(short)
		cancel()
		if n := len(fs.Partitions()); n != 0 {
			t.Fatalf("latest consumer got %d partitions of old data", n)
		}
		if err := p.ProduceSync(ctxFor(t), &client.Record{Topic: "t", Value: []byte("new")}); err != nil {
			t.Fatal(err)
		}
		if vs := pollValues(t, c, 1)[0]; vs[0] != "new" {
			t.Fatalf("latest consumer read %v", vs)
		}
	})
}

// TestIntegrationBrokerRestart closes the broker while a producer and a
// consumer are running and starts a new one on the same data dir and
// address: both continue, nothing acknowledged is lost, and the consumer
// sees every record in order with no gap.
func TestIntegrationBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartOn(t, dir, "127.0.0.1:0", nil)
	addr := b.Addr()
	createTopic(t, addr, "t", 2)
	p, err := client.NewProducer(client.SeedBrokers(addr), fastRetries(), client.Partitioner(client.PartitionManual),
		client.Linger(time.Millisecond), client.BatchSize(512))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := client.NewConsumer(client.SeedBrokers(addr), fastRetries(), client.Assign("t", nil, client.Earliest()),
		client.MaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const n = 600
	var wg sync.WaitGroup
	var failed atomic.Int32
	wg.Add(2 * n)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			for part := range int32(2) {
				p.Produce(ctxFor(t), &client.Record{Topic: "t", Partition: part, Value: []byte(strconv.Itoa(i))},
					func(_ *client.Record, err error) {
						if err != nil {
							failed.Add(1)
							t.Error(err)
						}
						wg.Done()
					})
			}
		}
	}
	produce(0, n/2)
	if err := p.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	first := pollValues(t, c, 1)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	go produce(n/2, n) // buffered and retried while the broker is down
	time.Sleep(200 * time.Millisecond)
	brokertest.StartOn(t, dir, addr, nil)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d records failed across the restart", failed.Load())
	}
	total := 0
	for _, vs := range first {
		total += len(vs)
	}
	rest := pollValues(t, c, 2*n-total)
	for part := range int32(2) {
		vs := append(first[part], rest[part]...)
		checkExactlyOnce(t, part, vs, n)
	}
}

// checkExactlyOnce: values are exactly 0..n-1 in order. The producer is
// idempotent (the default), so a batch retried after a lost
// acknowledgement is not stored twice; a repeat, a gap or a reordering
// fails the test.
func checkExactlyOnce(t testing.TB, part int32, values []string, n int) {
	t.Helper()
	for i, v := range values {
		if v != strconv.Itoa(i) {
			t.Fatalf("partition %d: offset %d holds %q, want %d (repeat, gap or reorder)", part, i, v, i)
		}
	}
	if len(values) != n {
		t.Fatalf("partition %d: %d of %d records", part, len(values), n)
	}
}

// TestIntegrationConnectionCuts runs a producer through a proxy that cuts
// every connection at random moments: all records are acknowledged, and
// each partition holds each of them exactly once, in produce order, with
// one batch of a partition in flight and with five.
func TestIntegrationConnectionCuts(t *testing.T) {
	for _, window := range []int{1, 5} {
		t.Run("in_flight="+strconv.Itoa(window), func(t *testing.T) { testConnectionCuts(t, window) })
	}
}

func testConnectionCuts(t *testing.T, window int) {
	b := brokertest.Start(t, nil)
	createTopic(t, b.Addr(), "t", 3)
	proxy, err := cutproxy.New(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p, err := client.NewProducer(client.SeedBrokers(proxy.Addr()), client.Dialer(proxy.Dial), fastRetries(),
		client.Partitioner(client.PartitionManual), client.BatchSize(1000), client.Linger(time.Millisecond),
		client.RequestTimeout(3*time.Second), client.MaxInFlightPerPartition(window))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cutter := proxy.CutEvery(3, 2*time.Millisecond, 21*time.Millisecond)
	// Produce until enough cuts happened (at least 3,000 records per partition).
	var wg sync.WaitGroup
	n := 0
	for ; n < 3000 || (cutter.Cuts() < 20 && n < 1_000_000); n++ {
		i := n
		wg.Add(3)
		for part := range int32(3) {
			p.Produce(ctxFor(t), &client.Record{Topic: "t", Partition: part, Value: []byte(strconv.Itoa(i))},
				func(_ *client.Record, err error) {
					if err != nil {
						t.Error(err)
					}
					wg.Done()
				})
		}
	}
	wg.Wait()
	cuts := cutter.Stop()
	if cuts < 20 {
		t.Fatalf("only %d cuts: reconnects not exercised", cuts)
	}
	c, err := client.NewConsumer(client.SeedBrokers(b.Addr()), client.Assign("t", nil, client.Earliest()),
		client.MaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ends, err := a.ListOffsets(ctxFor(t), client.Latest(),
		client.TopicPartition{Topic: "t", Partition: 0}, client.TopicPartition{Topic: "t", Partition: 1},
		client.TopicPartition{Topic: "t", Partition: 2})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, lo := range ends {
		total += int(lo.Offset)
	}
	if total != 3*n {
		t.Fatalf("%d records stored for %d produced", total, 3*n)
	}
	got := pollValues(t, c, total)
	for part := range int32(3) {
		checkExactlyOnce(t, part, got[part], n)
	}
	t.Logf("%d cuts; %d records stored for %d produced", cuts, total, 3*n)
}

// TestIntegrationRestartMidStreamExactlyOnce restarts a real broker three
// times while a producer streams to it with acks=all and
// flush.policy=always (the setting). Each stop is preceded by a cut
// of every connection, as a crash does it: requests the broker already
// appended lose their answers and are retried against the restarted
// broker, whose producer state was rebuilt from the log. Every record must
// be acknowledged and stored exactly once, in order, with one batch of a
// partition in flight and with five. (With Idempotent(false) this test
// sees duplicates.)
func TestIntegrationRestartMidStreamExactlyOnce(t *testing.T) {
	for _, window := range []int{1, 5} {
		t.Run("in_flight="+strconv.Itoa(window), func(t *testing.T) { testRestartMidStream(t, window) })
	}
}

func testRestartMidStream(t *testing.T, window int) {
	dir := t.TempDir()
	b := brokertest.StartOn(t, dir, "127.0.0.1:0", nil)
	addr := b.Addr()
	a, err := client.NewAdmin(client.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTopic(ctxFor(t), "t", 2, 1, map[string]string{"flush.policy": "always"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	proxy, err := cutproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	p, err := client.NewProducer(client.SeedBrokers(proxy.Addr()), client.Dialer(proxy.Dial), fastRetries(), client.Partitioner(client.PartitionManual),
		client.Linger(time.Millisecond), client.BatchSize(256), client.RequiredAcks(client.AcksAll),
		client.MaxInFlightPerPartition(window))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const n = 3000
	var wg sync.WaitGroup
	var failed, acked atomic.Int32
	wg.Add(2 * n)
	go func() {
		for i := range n {
			for part := range int32(2) {
				p.Produce(ctxFor(t), &client.Record{Topic: "t", Partition: part, Value: []byte(strconv.Itoa(i))},
					func(_ *client.Record, err error) {
						if err != nil {
							failed.Add(1)
							t.Error(err)
						} else {
							acked.Add(1)
						}
						wg.Done()
					})
			}
			if i%10 == 9 {
				time.Sleep(time.Millisecond) // a stream, not one burst before the first restart
			}
		}
	}()
	for restart := range 3 {
		waitForCount(t, &acked, int32((restart+1)*n/3/2))
		proxy.CutAll()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		b = brokertest.StartOn(t, dir, addr, nil)
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d records failed across the restarts", failed.Load())
	}
	c, err := client.NewConsumer(client.SeedBrokers(addr), fastRetries(), client.Assign("t", nil, client.Earliest()),
		client.MaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := pollValues(t, c, 2*n)
	for part := range int32(2) {
		checkExactlyOnce(t, part, got[part], n)
	}
}

// waitForCount waits until c reaches at least want.
func waitForCount(t testing.TB, c *atomic.Int32, want int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("count %d, waited for %d", c.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIntegrationCreateTopicInvalid: a broker error comes back testable
// with errors.Is and naming the topic.
func TestIntegrationCreateTopicInvalid(t *testing.T) {
	b := brokertest.Start(t, nil)
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.CreateTopic(ctxFor(t), "bad", 0, 1, nil)
	if !errors.Is(err, wire.ErrInvalidPartitions) {
		t.Fatalf("0 partitions: %v, want INVALID_PARTITIONS", err)
	}
	if want := `"bad"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the topic", err)
	}
}

// BenchmarkProduceBroker produces 100-byte records through a real
// in-process broker (one op is one record, acknowledged), sweeping the
// batch size, so client-side bottlenecks show up next to the broker's.
func BenchmarkProduceBroker(b *testing.B) {
	for _, batch := range []int{16 << 10, 256 << 10, 1 << 20} {
		for _, acks := range []client.Acks{client.AcksLeader, client.AcksAll} {
			b.Run(fmt.Sprintf("batch=%dKiB,acks=%d", batch>>10, acks), func(b *testing.B) {
				br := brokertest.Start(b, nil)
				createTopic(b, br.Addr(), "bench", 4)
				p, err := client.NewProducer(client.SeedBrokers(br.Addr()), client.BatchSize(batch),
					client.RequiredAcks(acks), client.Linger(5*time.Millisecond))
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				ctx := context.Background()
				value := make([]byte, 100)
				recs := make([]client.Record, 1<<16)
				var failed atomic.Int64
				cb := func(_ *client.Record, err error) {
					if err != nil {
						failed.Add(1)
					}
				}
				b.SetBytes(int64(len(value)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					r := &recs[i%len(recs)]
					// A record is reused only after 65,536 more were produced;
					// Flush below makes sure the last ones are done before the
					// slice goes away.
					*r = client.Record{Topic: "bench", Value: value}
					p.Produce(ctx, r, cb)
					i++
					if i%len(recs) == 0 {
						if err := p.Flush(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := p.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if failed.Load() > 0 {
					b.Fatalf("%d records failed", failed.Load())
				}
			})
		}
	}
}

// BenchmarkConsumeBroker reads 100-byte records back through a real
// in-process broker; one op is one record.
func BenchmarkConsumeBroker(b *testing.B) {
	br := brokertest.Start(b, nil)
	createTopic(b, br.Addr(), "bench", 1)
	p, err := client.NewProducer(client.SeedBrokers(br.Addr()), client.BatchSize(256<<10))
	if err != nil {
		b.Fatal(err)
	}
	const n = 1_000_000
	value := make([]byte, 100)
	recs := make([]client.Record, n)
	ctx := context.Background()
	for i := range recs {
		recs[i] = client.Record{Topic: "bench", Value: value}
		p.Produce(ctx, &recs[i], nil)
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	c, err := client.NewConsumer(client.SeedBrokers(br.Addr()), client.Assign("bench", nil, client.Earliest()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var it client.RecordIter
	got := 0
	for b.Loop() {
		for !it.Next() {
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			if got == n { // read everything: start over
				if err := c.Assign(ctx, "bench", nil, client.Earliest()); err != nil {
					b.Fatal(err)
				}
				got = 0
			}
			fs, err := c.Poll(ctx)
			if err != nil {
				b.Fatal(err)
			}
			it = fs.Records()
		}
		got++
	}
}
