package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

func TestProduceFetchRoundTrip(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "rt", 2, nil)
	var sent [][]byte
	for i := 0; i < 5; i++ {
		b := makeBatch(i+1, 64*(i+1), int64(1000+i))
		r := produceSync(t, e, ProduceRequest{Topic: "rt", Partition: 1, Acks: 1, Records: b})
		if r.Err != nil {
			t.Fatalf("produce %d: %v", i, r.Err)
		}
		if want := int64(i * (i + 1) / 2); r.BaseOffset != want {
			t.Errorf("produce %d: base offset %d, want %d", i, r.BaseOffset, want)
		}
		sent = append(sent, b) // stamped in place by the append
	}
	res := fetchSync(t, e, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "rt", Partition: 1, MaxBytes: 1 << 20}}})
	defer res.Release()
	pr := res.Partitions[0]
	if pr.Err != nil || pr.HighWatermark != 15 || pr.LogStartOffset != 0 {
		t.Fatalf("fetch: %+v", pr)
	}
	if got, want := pr.Records.Bytes(), slices.Concat(sent...); !slices.Equal(got, want) {
		t.Fatalf("fetched %d bytes differ from the %d produced", len(got), len(want))
	}
	for off, want := range map[int64]int64{EarliestTimestamp: 0, LatestTimestamp: 15, LogEndTimestamp: 15, 1002: 3, 5000: -1} {
		got, err := e.ListOffsets("rt", 1, off)
		if err != nil || got != want {
			t.Errorf("ListOffsets(%d) = %d, %v; want %d", off, got, err, want)
		}
	}
	if _, err := e.ListOffsets("rt", 1, -4); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("ListOffsets(-4) = %v", err)
	}
	if _, err := e.ListOffsets("rt", 2, -1); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Errorf("ListOffsets(rt-2) = %v", err)
	}
}

func TestProduceStampsEpoch(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "ep", 1, nil)
	b := makeBatch(1, 0, 1)
	binary.BigEndian.PutUint32(b[12:], 99) // a client's garbage epoch
	produceSync(t, e, ProduceRequest{Topic: "ep", Acks: 1, Records: b})
	if got := record.Batch(b).PartitionLeaderEpoch(); got != 0 {
		t.Errorf("partition leader epoch %d after append, want 0", got)
	}
}

// TestProduceRejects checks each validation error and that a rejected request
// appends nothing, even when its first batch was fine.
func TestProduceRejects(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "v", 1, map[string]string{"max.message.bytes": "4096", "min.insync.replicas": "2"})
	badCRC := makeBatch(2, 100, 1)
	badCRC[len(badCRC)-1] ^= 0xff
	control := makeBatch(1, 0, 1)
	control[22] |= record.AttrControl
	reseal(control)
	codec := makeBatch(1, 0, 1)
	codec[22] |= 5
	reseal(codec)
	tooMany := makeBatch(100, 700, 1)
	binary.BigEndian.PutUint32(tooMany[23:], 999)  // last offset delta
	binary.BigEndian.PutUint32(tooMany[57:], 1000) // record count: 1000 records in 700 bytes
	reseal(tooMany)
	good := makeBatch(1, 0, 1)
	cases := []struct {
		name    string
		acks    int16
		records []byte
		want    error
	}{
		{"bad crc after a good batch", 1, slices.Concat(good, badCRC), ErrCorruptMessage},
		{"torn batch", 1, slices.Concat(good, good[:40]), ErrCorruptMessage},
		{"empty", 1, nil, ErrCorruptMessage},
		{"oversized", 1, slices.Concat(good, makeBatch(1, 5000, 1)), ErrMessageTooLarge},
		{"control batch", 1, control, ErrInvalidRecord},
		{"unknown codec", 1, codec, ErrUnsupportedCompression},
		{"record count", 1, tooMany, ErrCorruptMessage},
		{"acks=2", 2, good, ErrInvalidRequiredAcks},
		{"acks=all below min.insync.replicas", -1, good, ErrNotEnoughReplicas},
	}
	for _, c := range cases {
		r := produceSync(t, e, ProduceRequest{Topic: "v", Acks: c.acks, Timeout: time.Second, Records: c.records})
		if !errors.Is(r.Err, c.want) || r.BaseOffset != -1 {
			t.Errorf("%s: err %v base %d, want %v and -1", c.name, r.Err, r.BaseOffset, c.want)
		}
	}
	if leo := mustPartition(t, e, "v", 0).log.LogEndOffset(); leo != 0 {
		t.Errorf("log end offset %d after only rejected requests, want 0", leo)
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "nope", Acks: 1, Records: good}); !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
		t.Errorf("unknown topic: %v", r.Err)
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "v", Partition: 1, Acks: 1, Records: good}); !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
		t.Errorf("unknown partition: %v", r.Err)
	}
}

func TestAutoCreate(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.AutoCreateTopics = true; c.DefaultPartitions = 3 })
	if r := produceSync(t, e, ProduceRequest{Topic: "auto", Partition: 2, Acks: 1, Records: makeBatch(1, 0, 1)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if info := e.Describe("auto")[0]; len(info.Partitions) != 3 || info.Partitions[2].LogEndOffset != 1 {
		t.Errorf("auto-created topic: %+v", info)
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "bad name", Acks: 1, Records: makeBatch(1, 0, 1)}); !errors.Is(r.Err, ErrInvalidTopic) {
		t.Errorf("auto-create of an invalid name: %v", r.Err)
	}
}

// TestAcksWaitForSyncUnderFlushAlways: with flush.policy=always an answer
// (acks=1 or all) comes only once the batch is fdatasync'd.
func TestAcksWaitForSyncUnderFlushAlways(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "dur", 1, map[string]string{"flush.policy": "always"})
	p := mustPartition(t, e, "dur", 0)
	for i, acks := range []int16{1, -1, 1, -1} {
		b := makeBatch(10, 1000, 1)
		type answer struct {
			r       ProduceResult
			flushed int64
		}
		ch := make(chan answer, 1)
		e.Produce(ProduceRequest{Topic: "dur", Acks: acks, Timeout: 10 * time.Second, Records: b}, func(r ProduceResult) {
			ch <- answer{r, p.log.FlushedOffset()}
		})
		// Under flush.policy=always the append may run off the caller
		// (a durable partition's appends can wait on disk): read the log
		// end once answered. An engine run under load failed here when it
		// was read as soon as Produce returned.
		a := <-ch
		leo, _ := e.ListOffsets("dur", 0, LogEndTimestamp)
		hw, _ := e.ListOffsets("dur", 0, LatestTimestamp)
		if want := int64(10 * (i + 1)); leo != want || hw > leo {
			t.Errorf("after append %d: log end %d (want %d), high watermark %d", i, leo, want, hw)
		}
		last := a.r.BaseOffset + 9
		if a.r.Err != nil || a.flushed <= last {
			t.Errorf("acks=%d: err %v; FlushedOffset %d when answered, want > %d", acks, a.r.Err, a.flushed, last)
		}
	}
	if hw, _ := e.ListOffsets("dur", 0, LatestTimestamp); hw != 40 {
		t.Errorf("high watermark %d, want 40", hw)
	}
}

// TestPipelinedDurableProduce: several large acks=all requests in flight at
// once on a flush.policy=always partition (the off-loop path, as one
// producer with a window of batches sends them) are appended in arrival
// order, and each is answered only once an fdatasync covers it.
func TestPipelinedDurableProduce(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "dur", 1, map[string]string{"flush.policy": "always"})
	p := mustPartition(t, e, "dur", 0)
	const requests, records = 8, 300
	type answer struct {
		i       int
		r       ProduceResult
		flushed int64
	}
	ch := make(chan answer, requests)
	syncs := p.log.Syncs()
	for i := range requests {
		b := makeBatch(records, handOffBytes+1000, 1)
		e.Produce(ProduceRequest{Topic: "dur", Acks: -1, Timeout: time.Minute, Records: b}, func(r ProduceResult) {
			ch <- answer{i, r, p.log.FlushedOffset()}
		})
	}
	bases := make([]int64, requests)
	deadline := time.After(time.Minute)
	for range requests {
		select {
		case a := <-ch:
			if last := a.r.BaseOffset + records - 1; a.r.Err != nil || a.flushed <= last {
				t.Errorf("request %d: err %v; FlushedOffset %d when answered, want > %d", a.i, a.r.Err, a.flushed, last)
			}
			bases[a.i] = a.r.BaseOffset
		case <-deadline:
			t.Fatal("not every request was answered within a minute")
		}
	}
	for i, base := range bases {
		if want := int64(i * records); base != want {
			t.Errorf("request %d has base offset %d, want %d (arrival order)", i, base, want)
		}
	}
	t.Logf("%d requests, %d fdatasyncs", requests, p.log.Syncs()-syncs)
}

// TestAcksAllTimesOut parks an acks=all wait for an offset the high
// watermark has not reached (a single node cannot hold its HW back otherwise)
// and checks it answers ErrRequestTimedOut after about Timeout.
func TestAcksAllTimesOut(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "slow", 1, nil)
	p := mustPartition(t, e, "slow", 0)
	if err := e.enter(); err != nil { // park's answer leaves the engine
		t.Fatal(err)
	}
	ch := make(chan ProduceResult, 1)
	start := time.Now()
	e.park(p, 100, 50*time.Millisecond, ProduceResult{BaseOffset: 100}, func(r ProduceResult) { ch <- r })
	produceSync(t, e, ProduceRequest{Topic: "slow", Acks: 1, Records: makeBatch(1, 0, 1)}) // a wake that does not suffice
	r := <-ch
	if !errors.Is(r.Err, ErrRequestTimedOut) || r.BaseOffset != -1 {
		t.Errorf("err %v base %d, want ErrRequestTimedOut and -1", r.Err, r.BaseOffset)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("timed out after %v, before the 50ms timeout", d)
	}
}

func TestConcurrentProducers(t *testing.T) {
	e := openTestEngine(t, nil)
	const partitions, producers, perProducer = 8, 16, 50
	mustCreate(t, e, "c", partitions, nil)
	var wg sync.WaitGroup
	errs := make(chan error, producers*perProducer)
	for w := 0; w < producers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				part := int32((w + i) % partitions)
				r := produceSync(t, e, ProduceRequest{Topic: "c", Partition: part, Acks: int16(i%2*2 - 1), Timeout: 5 * time.Second, Records: makeBatch(3, 50, 1)})
				if r.Err != nil {
					errs <- fmt.Errorf("producer %d request %d: %w", w, i, r.Err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total int64
	for _, p := range e.Describe("c")[0].Partitions {
		total += p.LogEndOffset
		// Every batch landed whole: reading the partition gives contiguous batches.
		var next int64
		for next < p.LogEndOffset {
			res := fetchSync(t, e, FetchRequest{Partitions: []FetchPartition{{Topic: "c", Partition: p.Partition, Offset: next, MaxBytes: 1 << 20}}})
			fr := res.Partitions[0].Records
			if fr == nil || fr.FirstOffset() != next {
				t.Fatalf("partition %d: gap at offset %d: %+v", p.Partition, next, res.Partitions[0])
			}
			next = fr.NextOffset()
			res.Release()
		}
	}
	if want := int64(producers * perProducer * 3); total != want {
		t.Errorf("%d records in the logs, want %d", total, want)
	}
}

func TestProduceSeveralBatchesAndAcks0(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "m", 1, nil)
	produceSync(t, e, ProduceRequest{Topic: "m", Acks: 1, Records: makeBatch(2, 0, 1)})
	r := produceSync(t, e, ProduceRequest{Topic: "m", Acks: 0, Records: slices.Concat(makeBatch(3, 0, 1), makeBatch(4, 0, 1))})
	if r.Err != nil || r.BaseOffset != 2 || r.LogStartOffset != 0 {
		t.Errorf("two batches with acks=0: %+v, want base offset 2", r)
	}
	if leo := mustPartition(t, e, "m", 0).log.LogEndOffset(); leo != 9 {
		t.Errorf("log end offset %d, want 9", leo)
	}
}
