package client

import (
	"errors"
	"testing"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// FuzzFetchRecords feeds arbitrary bytes to the consumer as one partition's
// fetched records: validation and iteration must return records or an
// error, never panic, and a position may only move forward.
func FuzzFetchRecords(f *testing.F) {
	var b record.Builder
	b.Reset(nil, record.Options{})
	b.Append(1, []byte("k"), []byte("v"), []record.Header{{Key: []byte("h"), Value: nil}})
	b.Append(2, nil, []byte("w"), nil)
	good, err := b.Finish()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, int64(0))
	f.Add(append(append([]byte(nil), good...), good[:20]...), int64(1))
	f.Add(good[:len(good)-1], int64(0))
	f.Fuzz(func(t *testing.T, records []byte, from int64) {
		c := &Consumer{cfg: &config{}, cl: &cluster{hooks: newHooks(nil)}}
		resp := &wire.FetchResponse{Topics: []wire.FetchTopicResponse{{Name: "t",
			Partitions: []wire.FetchPartitionResponse{{Records: records}}}}}
		fp, next, err := c.partitionRecords(resp, topicPartition{"t", 0}, from)
		if err != nil {
			if !errors.Is(err, wire.ErrCorruptMessage) {
				t.Fatalf("error %v does not wrap CORRUPT_MESSAGE", err)
			}
			return
		}
		if next < from {
			t.Fatalf("position moved back from %d to %d", from, next)
		}
		it := Fetches{parts: []FetchPartition{fp}}.Records()
		for it.Next() {
			if r := it.Record(); r.Offset < from {
				t.Fatalf("record at %d below the requested %d", r.Offset, from)
			}
		}
		_ = it.Err() // corrupt records inside a valid CRC are reported, not panicked on
	})
}
