package engine

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// openTestEngine opens an engine on a fresh t.TempDir() and closes it when
// the test ends. mutate, if not nil, edits the config first.
func openTestEngine(t testing.TB, mutate func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.RetentionCheckInterval = 0
	cfg.MaxIndexBytes = 64 << 10 // keep the preallocated index files small in tests
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.DataDir, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// makeBatch builds a valid uncompressed RecordBatch v2 of count records
// whose records section is size bytes of filler. Only the header and CRC
// matter to the engine: it never parses the records themselves.
func makeBatch(count, size int, timestamp int64) []byte {
	size = max(size, count*minRecordSize)
	b := make([]byte, record.HeaderSize+size)
	be := binary.BigEndian
	be.PutUint32(b[8:], uint32(len(b)-record.LogOverhead))
	b[16] = record.Magic
	be.PutUint32(b[23:], uint32(count-1))
	be.PutUint64(b[27:], uint64(timestamp))
	be.PutUint64(b[35:], uint64(timestamp))
	be.PutUint64(b[43:], ^uint64(0)) // producer id -1
	be.PutUint16(b[51:], 0xffff)     // producer epoch -1
	be.PutUint32(b[53:], ^uint32(0)) // base sequence -1
	be.PutUint32(b[57:], uint32(count))
	for i := record.HeaderSize; i < len(b); i++ {
		b[i] = byte(i)
	}
	reseal(b)
	return b
}

// reseal recomputes the CRC after a test edited the covered bytes.
func reseal(b []byte) {
	binary.BigEndian.PutUint32(b[17:], record.Checksum(b[21:]))
}

// produceSync produces and waits for the answer.
func produceSync(t testing.TB, e *Engine, req ProduceRequest) ProduceResult {
	t.Helper()
	ch := make(chan ProduceResult, 1)
	e.Produce(req, func(r ProduceResult) { ch <- r })
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("produce to %s-%d: no answer in 10s", req.Topic, req.Partition)
		return ProduceResult{}
	}
}

// fetchSync fetches and waits for the answer; the caller releases it.
func fetchSync(t testing.TB, e *Engine, req FetchRequest) *FetchResult {
	t.Helper()
	ch := make(chan *FetchResult, 1)
	e.Fetch(req, func(r *FetchResult) { ch <- r })
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("fetch: no answer in 10s")
		return nil
	}
}

func mustCreate(t testing.TB, e *Engine, name string, partitions int32, configs map[string]string) {
	t.Helper()
	if err := e.CreateTopic(name, partitions, configs); err != nil {
		t.Fatalf("CreateTopic(%q): %v", name, err)
	}
}

func mustPartition(t testing.TB, e *Engine, name string, id int32) *partition {
	t.Helper()
	p, err := e.lookup(name, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
