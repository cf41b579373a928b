package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// produceN writes values "from".."from+n-1" to topic/partition, one batch
// of `per` records per request, with timestamps ts0+i ms.
func produceN(t *testing.T, fb *fakeBroker, partition int32, from, n, per int, ts0 time.Time) {
	t.Helper()
	p := newTestProducer(t, fb, Partitioner(PartitionManual), Linger(time.Hour))
	for i := from; i < from+n; i += per {
		var recs []*Record
		for j := i; j < min(i+per, from+n); j++ {
			recs = append(recs, &Record{Topic: "t", Partition: partition, Value: fmt.Appendf(nil, "%d", j),
				Timestamp: ts0.Add(time.Duration(j) * time.Millisecond)})
		}
		if err := p.ProduceSync(testCtx(t), recs...); err != nil {
			t.Fatal(err)
		}
	}
}

func newTestConsumer(t *testing.T, fb *fakeBroker, opts ...Opt) *Consumer {
	opts = append([]Opt{SeedBrokers(fb.addr()), RetryBackoff(5*time.Millisecond, 50*time.Millisecond),
		MaxWait(50 * time.Millisecond)}, opts...)
	c, err := NewConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consume polls until n records arrived and returns their values and
// offsets; partition errors fail the test.
func consume(t *testing.T, c *Consumer, n int) (values []string, offsets []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(values) < n {
		fs, err := c.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", len(values), err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("partition errors: %v", errs)
		}
		err = fs.EachRecord(func(r *Record) {
			values = append(values, string(r.Value))
			offsets = append(offsets, r.Offset)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return values, offsets
}

func TestConsumeStartPositions(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	ts0 := time.UnixMilli(1_700_000_000_000)
	produceN(t, fb, 0, 0, 100, 10, ts0)

	cases := []struct {
		name  string
		start Offset
		first int
	}{
		{"earliest", Earliest(), 0},
		{"offset", At(37), 37}, // inside a batch: records 30-36 are skipped
		{"time", AtTime(ts0.Add(55 * time.Millisecond)), 55},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestConsumer(t, fb, Assign("t", []int32{0}, tc.start))
			values, offsets := consume(t, c, 100-tc.first)
			for i, v := range values {
				if want := tc.first + i; v != fmt.Sprint(want) || offsets[i] != int64(want) {
					t.Fatalf("record %d: value %s offset %d, want %d", i, v, offsets[i], want)
				}
			}
		})
	}
	t.Run("latest", func(t *testing.T) {
		c := newTestConsumer(t, fb, Assign("t", nil, Latest()))
		waitFor(t, func() bool { return fb.count(wire.FetchKey) > 0 }) // positioned at the end
		time.Sleep(20 * time.Millisecond)
		produceN(t, fb, 0, 100, 5, 5, ts0)
		values, _ := consume(t, c, 5)
		if values[0] != "100" || values[4] != "104" {
			t.Fatalf("latest consumer read %v, want 100..104", values)
		}
	})
}

func TestConsumeOffsetOutOfRange(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	produceN(t, fb, 0, 0, 10, 10, time.Now())
	t.Run("earliest", func(t *testing.T) {
		c := newTestConsumer(t, fb, Assign("t", []int32{0}, At(500)), OffsetReset(ResetEarliest))
		values, _ := consume(t, c, 10)
		if values[0] != "0" {
			t.Fatalf("reset to earliest read %v first", values[0])
		}
	})
	t.Run("latest", func(t *testing.T) {
		lists := fb.count(wire.ListOffsetsKey)
		c := newTestConsumer(t, fb, Assign("t", []int32{0}, At(500)), OffsetReset(ResetLatest))
		// The reset resolves to the end (10) with a ListOffsets after the
		// first fetch fails; wait for it before producing.
		waitFor(t, func() bool { return fb.count(wire.ListOffsetsKey) > lists })
		time.Sleep(20 * time.Millisecond)
		produceN(t, fb, 0, 10, 1, 1, time.Now())
		values, offsets := consume(t, c, 1)
		if values[0] != "10" || offsets[0] != 10 {
			t.Fatalf("reset to latest read %s at %d, want 10 at 10", values[0], offsets[0])
		}
	})
	t.Run("error", func(t *testing.T) {
		c := newTestConsumer(t, fb, Assign("t", []int32{0}, At(500)), OffsetReset(ResetError))
		fs, err := c.Poll(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		errs := fs.Errors()
		if len(errs) != 1 || !errors.Is(errs[0], wire.ErrOffsetOutOfRange) {
			t.Fatalf("errors %v, want one OFFSET_OUT_OF_RANGE", errs)
		}
	})
}

// TestConsumerReconnect: connections dropped mid-stream (as by a broker
// restart) are redialled and fetching continues from the next offset with
// no gap and no duplicate.
func TestConsumerReconnect(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 2)
	produceN(t, fb, 0, 0, 200, 10, time.Now())
	produceN(t, fb, 1, 0, 200, 10, time.Now())
	c := newTestConsumer(t, fb, Assign("t", nil, Earliest()), PartitionMaxBytes(300))
	seen := map[int32][]string{}
	ctx := testCtx(t)
	for polls := 0; len(seen[0])+len(seen[1]) < 400; polls++ {
		if polls%3 == 1 {
			fb.dropConns()
		}
		fs, err := c.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		it := fs.Records()
		for it.Next() {
			r := it.Record()
			seen[r.Partition] = append(seen[r.Partition], string(r.Value))
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for p, vs := range seen {
		for i, v := range vs {
			if v != fmt.Sprint(i) {
				t.Fatalf("partition %d record %d is %s: gap or duplicate", p, i, v)
			}
		}
	}
}

func TestAdminAgainstFake(t *testing.T) {
	fb := newFakeBroker(t)
	a, err := NewAdmin(SeedBrokers(fb.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := testCtx(t)
	if err := a.CreateTopic(ctx, "t", 3, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTopic(ctx, "t", 3, 1, nil); !errors.Is(err, wire.ErrTopicAlreadyExists) {
		t.Fatalf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	produceN(t, fb, 1, 0, 7, 7, time.Now())
	descs, err := a.DescribeTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(descs) != 1 || len(descs[0].Partitions) != 3 {
		t.Fatalf("descriptions %+v", descs)
	}
	p1 := descs[0].Partitions[1]
	if p1.LogStartOffset != 0 || p1.HighWatermark != 7 || p1.Leader != 0 || p1.Err != nil {
		t.Fatalf("partition 1: %+v", p1)
	}
	names, err := a.ListTopics(ctx)
	if err != nil || len(names) != 1 || names[0] != "t" {
		t.Fatalf("ListTopics: %v %v", names, err)
	}
}

// TestFetchPipelineDepth: while the application holds a Poll's records the
// consumer has fetchesAhead more fetches answered and waiting, and sends no
// more than that until the next Poll.
func TestFetchPipelineDepth(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	produceN(t, fb, 0, 0, 200, 10, time.Now())
	c := newTestConsumer(t, fb, Assign("t", []int32{0}, Earliest()), PartitionMaxBytes(200))
	before := fb.count(wire.FetchKey)
	waitFor(t, func() bool { return fb.count(wire.FetchKey)-before == fetchesAhead })
	// A Poll takes whatever is answered by then: wait for the answers, not
	// only the sends, or a Poll that came between the two answers takes one
	// and the consumer rightly sends one more, not fetchesAhead (clean-clone
	// CI waited 20 s for a fourth fetch that way).
	buffered := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := 0
		for _, ls := range c.mu.leaders {
			n += ls.buffered
		}
		return n
	}
	for i := 1; i <= 3; i++ {
		waitFor(t, func() bool { return buffered() == fetchesAhead })
		if _, err := c.Poll(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		want := (i + 1) * fetchesAhead
		waitFor(t, func() bool { return fb.count(wire.FetchKey)-before >= want })
		// The "application" works; a consumer that ignored the bound would
		// send more meanwhile.
		time.Sleep(50 * time.Millisecond)
		if got := fb.count(wire.FetchKey) - before; got != want {
			t.Fatalf("after Poll %d: %d fetches sent, want %d (%d answered ahead)", i, got, want, fetchesAhead)
		}
	}
}

// TestConsumerFetchCarriesLeaderEpoch: fetches carry the leader epoch the
// metadata names (KIP-320); once the leader's epoch moves, the stale one is
// answered FENCED_LEADER_EPOCH, the consumer refreshes its metadata and
// goes on at the new epoch with nothing lost or repeated.
func TestConsumerFetchCarriesLeaderEpoch(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	fb.leaderEpoch = 3
	ts0 := time.UnixMilli(1_700_000_000_000)
	produceN(t, fb, 0, 0, 50, 10, ts0)
	c := newTestConsumer(t, fb, Assign("t", []int32{0}, Earliest()))
	if values, _ := consume(t, c, 50); values[49] != "49" {
		t.Fatalf("last value %q", values[49])
	}
	fb.mu.Lock()
	fb.leaderEpoch = 4
	metadataBefore := fb.requests[wire.MetadataKey]
	fb.mu.Unlock()
	produceN(t, fb, 0, 50, 50, 10, ts0)
	values, offsets := consume(t, c, 50)
	if values[0] != "50" || offsets[49] != 99 {
		t.Fatalf("after the epoch moved: first %q, last offset %d", values[0], offsets[49])
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.requests[wire.MetadataKey] <= metadataBefore {
		t.Fatal("FENCED_LEADER_EPOCH did not refresh the metadata")
	}
	if !slices.Contains(fb.fetchEpochs, 3) || !slices.Contains(fb.fetchEpochs, 4) || slices.Contains(fb.fetchEpochs, -1) {
		t.Fatalf("fetch epochs sent %v, want 3 then 4, never -1", fb.fetchEpochs)
	}
}
