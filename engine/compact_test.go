package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// keyedBatch builds a batch of records key -> value; a nil key is a null key.
func keyedBatch(t testing.TB, keys, values [][]byte) []byte {
	t.Helper()
	var bld record.Builder
	bld.Reset(nil, record.Options{Compression: record.LZ4})
	for i := range keys {
		bld.Append(time.Now().UnixMilli(), keys[i], values[i], nil)
	}
	b, err := bld.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type keyed struct {
	offset int64
	value  string
}

// produceKeyed writes n records over nkeys keys, 4 per batch, and returns
// the latest offset and value of each key.
func produceKeyed(t testing.TB, e *Engine, topic string, n, nkeys int) map[string]keyed {
	t.Helper()
	latest := map[string]keyed{}
	for i := 0; i < n; i += 4 {
		var keys, values [][]byte
		for j := i; j < i+4; j++ {
			keys = append(keys, fmt.Appendf(nil, "k%d", j*7%nkeys))
			values = append(values, fmt.Appendf(nil, "v%d", j))
		}
		res := produceSync(t, e, ProduceRequest{Topic: topic, Acks: 1, Records: keyedBatch(t, keys, values)})
		if res.Err != nil {
			t.Fatalf("produce: %v", res.Err)
		}
		for j := range keys {
			latest[string(keys[j])] = keyed{res.BaseOffset + int64(j), string(values[j])}
		}
	}
	return latest
}

// fetchKeyed reads partition 0 from offset 0 to the high watermark and
// returns every record; a key seen twice is an error.
func fetchKeyed(e *Engine, topic string) (map[string]keyed, error) {
	got := map[string]keyed{}
	var it record.Iter
	for off := int64(0); ; {
		ch := make(chan *FetchResult, 1)
		e.Fetch(FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: topic, Offset: off, MaxBytes: 1 << 20}}},
			func(r *FetchResult) { ch <- r })
		r := <-ch
		p := r.Partitions[0]
		if p.Err != nil {
			r.Release()
			return got, fmt.Errorf("fetch %s at %d: %w", topic, off, p.Err)
		}
		if p.Records == nil || p.Records.Len() == 0 {
			r.Release()
			return got, nil
		}
		for data := p.Records.Bytes(); len(data) > 0; {
			b, err := record.Parse(data)
			if err == nil {
				err = b.ValidateStored()
			}
			if err == nil {
				err = it.Reset(b)
			}
			for err == nil && it.Next() {
				rec := it.Record()
				if _, dup := got[string(rec.Key)]; dup {
					err = fmt.Errorf("key %s appears twice (again at %d)", rec.Key, rec.Offset)
				}
				got[string(rec.Key)] = keyed{rec.Offset, string(rec.Value)}
			}
			if err = errors.Join(err, it.Err()); err != nil {
				r.Release()
				return got, fmt.Errorf("batch at %d: %w", b.BaseOffset(), err)
			}
			off, data = b.NextOffset(), data[len(b):]
		}
		r.Release()
	}
}

func TestCompactedTopic(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.CompactionCheckInterval = 0 })
	mustCreate(t, e, "c", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01"})
	want := produceKeyed(t, e, "c", 2000, 30)
	p := mustPartition(t, e, "c", 0)
	leo := p.log.LogEndOffset()
	if err := p.log.Roll(); err != nil {
		t.Fatal(err)
	}
	n, err := e.Compact(time.Now())
	if err != nil || n == 0 {
		t.Fatalf("Compact = %d segments, %v; want some", n, err)
	}
	if p.log.LogEndOffset() != leo {
		t.Fatalf("log end %d after compaction, want %d", p.log.LogEndOffset(), leo)
	}
	got, err := fetchKeyed(e, "c")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after compaction (%v):\n got %v\nwant %v", err, got, want)
	}
}

func TestCompactionSkipsDeleteTopics(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.CompactionCheckInterval = 0 })
	mustCreate(t, e, "d", 1, map[string]string{"segment.bytes": "4096"})
	produceKeyed(t, e, "d", 400, 5)
	p := mustPartition(t, e, "d", 0)
	p.log.Roll()
	if n, err := e.Compact(time.Now()); n != 0 || err != nil {
		t.Fatalf("Compact on a delete topic = %d, %v", n, err)
	}
	var count int64
	var it record.Iter
	for off := int64(0); off < p.log.LogEndOffset(); {
		r := fetchSync(t, e, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "d", Offset: off, MaxBytes: 1 << 20}}})
		for data := r.Partitions[0].Records.Bytes(); len(data) > 0; {
			b, err := record.Parse(data)
			if err != nil || it.Reset(b) != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			for it.Next() {
				count++
			}
			off, data = b.NextOffset(), data[len(b):]
		}
		r.Release()
	}
	if count != 400 {
		t.Fatalf("fetched %d records of a delete topic, want all 400", count)
	}
}

func TestCompactedTopicRefusesNullKeys(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "c", 1, map[string]string{"cleanup.policy": "compact,delete"})
	mustCreate(t, e, "plain", 1, nil)
	nullKey := keyedBatch(t, [][]byte{[]byte("a"), nil}, [][]byte{[]byte("1"), []byte("2")})
	if res := produceSync(t, e, ProduceRequest{Topic: "c", Acks: 1, Records: bytes.Clone(nullKey)}); !errors.Is(res.Err, ErrInvalidRecord) {
		t.Fatalf("null key on a compacted topic: %v, want ErrInvalidRecord", res.Err)
	}
	if res := produceSync(t, e, ProduceRequest{Topic: "plain", Acks: 1, Records: bytes.Clone(nullKey)}); res.Err != nil {
		t.Fatalf("null key on a delete topic: %v", res.Err)
	}
	ok := keyedBatch(t, [][]byte{[]byte("a"), []byte("b")}, [][]byte{[]byte("1"), nil})
	if res := produceSync(t, e, ProduceRequest{Topic: "c", Acks: 1, Records: ok}); res.Err != nil {
		t.Fatalf("keyed records (one a tombstone) on a compacted topic: %v", res.Err)
	}
}

// TestBackgroundCompaction lets the engine's loop compact while produce and
// fetch run; run it with -race.
func TestBackgroundCompaction(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.CompactionCheckInterval = 5 * time.Millisecond })
	mustCreate(t, e, "bg", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01"})
	p := mustPartition(t, e, "bg", 0)
	done := make(chan error, 1)
	go func() {
		// Mid-compaction reads must parse and tile; duplicate keys are
		// expected until the cleaner catches up.
		for range 20 {
			if _, err := fetchKeyed(e, "bg"); err != nil && !strings.Contains(err.Error(), "appears twice") {
				done <- err
				return
			}
		}
		done <- nil
	}()
	want := produceKeyed(t, e, "bg", 3000, 20)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.log.Roll()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := fetchKeyed(e, "bg")
		if err == nil && fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background compaction did not converge (%v):\n got %v\nwant %v", err, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
