package engine

import (
	"errors"
	"slices"
	"testing"

	"github.com/spate-io/spate/record"
)

// FuzzProduce feeds arbitrary bytes to Produce: it must never panic; a
// rejected request must append nothing, and an accepted one must append
// exactly the bytes given (as stamped) and fetch back unchanged.
func FuzzProduce(f *testing.F) {
	good := makeBatch(3, 40, 1)
	f.Add(good)
	f.Add(slices.Concat(good, makeBatch(1, 0, 2)))
	f.Add(good[:30])
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	e := openTestEngine(f, nil)
	mustCreate(f, e, "fz", 1, map[string]string{"max.message.bytes": "65536"})
	p := mustPartition(f, e, "fz", 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		before := p.log.LogEndOffset()
		r := produceSync(t, e, ProduceRequest{Topic: "fz", Acks: 1, Records: data})
		after := p.log.LogEndOffset()
		if r.Err != nil {
			if after != before {
				t.Fatalf("rejected request (%v) moved the log end offset %d -> %d", r.Err, before, after)
			}
			if errors.Is(r.Err, ErrStorage) {
				t.Fatalf("bad input reported as a storage error: %v", r.Err)
			}
			return
		}
		if r.BaseOffset != before || after <= before {
			t.Fatalf("accepted at base %d, log end %d -> %d", r.BaseOffset, before, after)
		}
		res := fetchSync(t, e, FetchRequest{Partitions: []FetchPartition{{Topic: "fz", Offset: before, MaxBytes: 1 << 20}}})
		defer func() { res.Release() }() // the last result: the loop releases the others
		var got []byte
		for off := before; off < after; {
			fr := res.Partitions[0].Records
			if fr == nil {
				t.Fatalf("no records at %d (log end %d): %v", off, after, res.Partitions[0].Err)
			}
			got = append(got, fr.Bytes()...)
			off = fr.NextOffset()
			if off < after {
				res.Release()
				res = fetchSync(t, e, FetchRequest{Partitions: []FetchPartition{{Topic: "fz", Offset: off, MaxBytes: 1 << 20}}})
			}
		}
		if !slices.Equal(got, data) {
			t.Fatalf("fetched %d bytes differ from the %d produced", len(got), len(data))
		}
	})
}

// FuzzDecodeMeta feeds arbitrary bytes to the topics.json decoder, in both
// modes: it must never panic, every error must wrap ErrStorage, and what it
// accepts must be openable: valid names listed once, partition counts in
// range, hosted partitions ascending and in range, and ids non-zero.
func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"version":1,"topics":[{"name":"a","partitions":3,"configs":{"retention.ms":"1000"}}]}`))
	f.Add([]byte(`{"version":2,"topics":[{"name":"a","partitions":12,"id":"BwcHBwcHBwcHBwcHBwcHBw","hosted":[0,3,6,9]}]}`))
	f.Add([]byte(`{"version":2,"topics":[{"name":"b","partitions":2,"id":"AAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"version":2,"topics":[{"name":"c","partitions":2,"hosted":[1]}]}`))
	f.Add([]byte(`{"version":3}`))
	engines := []*Engine{openTestEngine(f, nil), openTestEngine(f, func(c *Config) { c.Clustered = true })}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range engines {
			stored, err := e.decodeMeta(data)
			if err != nil {
				if !errors.Is(err, ErrStorage) {
					t.Fatalf("clustered=%v: error %v does not wrap ErrStorage", e.cfg.Clustered, err)
				}
				continue
			}
			names := map[string]bool{}
			for _, st := range stored {
				if names[st.meta.Name] || ValidateTopicName(st.meta.Name) != nil {
					t.Fatalf("accepted name %q (twice or invalid)", st.meta.Name)
				}
				names[st.meta.Name] = true
				if st.meta.Partitions < 1 || st.meta.Partitions > MaxPartitionsPerTopic {
					t.Fatalf("accepted %d partitions", st.meta.Partitions)
				}
				if (st.id == [16]byte{}) != (st.hosted == nil) || (st.id != [16]byte{} && !e.cfg.Clustered) {
					t.Fatalf("clustered=%v: id %v with hosted %v", e.cfg.Clustered, st.id, st.hosted)
				}
				for i, p := range st.hosted {
					if p < 0 || p >= st.meta.Partitions || i > 0 && p <= st.hosted[i-1] {
						t.Fatalf("accepted hosted %v of %d partitions", st.hosted, st.meta.Partitions)
					}
				}
			}
		}
	})
}

// FuzzAppendFollower feeds arbitrary fetch answers to a follower: it never
// panics, bad bytes are ErrCorruptMessage, and whatever it appended is
// whole contiguous batches from the old log end, every one passing its CRC.
func FuzzAppendFollower(f *testing.F) {
	good := stampedBatch(3, 0, 1)
	f.Add(slices.Clone(good))
	f.Add(slices.Concat(good, stampedBatch(2, 3, 2)))
	f.Add(good[:30])
	f.Add(slices.Concat(good, good[:50]))
	f.Add([]byte{})
	e := openClustered(f, "", nil)
	mustApply(f, e, spread("fol", 6, 1, 1, func(int) (int32, []int32) { return 2, []int32{2, self} }))
	p, err := e.hosted("fol", 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := p.log.LogEndOffset()
		n, err := e.AppendFollower("fol", 0, 1, slices.Clone(data), 0)
		after := p.log.LogEndOffset()
		if err != nil && !errors.Is(err, ErrCorruptMessage) {
			t.Fatalf("bad input: %v, want ErrCorruptMessage", err)
		}
		if (n == 0) != (after == before) {
			t.Fatalf("%d bytes appended, log end %d -> %d", n, before, after)
		}
		if n == 0 {
			return
		}
		fr, rerr := p.log.Read(before, n, after)
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer fr.Release()
		next := before
		for b := fr.Bytes(); len(b) > 0; {
			batch, perr := record.Parse(b)
			if perr != nil || batch.ValidateStored() != nil || batch.BaseOffset() != next {
				t.Fatalf("appended batch at %d: %v %v, base %d", next, perr, batch.ValidateStored(), batch.BaseOffset())
			}
			next = batch.NextOffset()
			b = b[batch.Size():]
		}
		if next != after {
			t.Fatalf("appended batches end at %d, log end %d", next, after)
		}
	})
}
