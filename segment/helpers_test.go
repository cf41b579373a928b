package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/spate-io/spate/record"
)

// makeBatch builds a valid RecordBatch v2 with count records, maxTimestamp
// ts and size bytes in total (at least the header). The records section is
// arbitrary bytes: the segment layer never looks inside it, and Validate
// checks only the CRC and count = lastOffsetDelta+1.
func makeBatch(count int, ts int64, size int, seed byte) record.Batch {
	size = max(size, record.HeaderSize)
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[8:], uint32(size-record.LogOverhead))
	b[16] = record.Magic
	binary.BigEndian.PutUint32(b[23:], uint32(count-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], ^uint32(0))
	binary.BigEndian.PutUint32(b[57:], uint32(count))
	for i := record.HeaderSize; i < size; i++ {
		b[i] = seed + byte(i)
	}
	binary.BigEndian.PutUint32(b[17:], record.Checksum(b[21:]))
	return record.Batch(b)
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 10
	cfg.IndexIntervalBytes = 512
	cfg.MaxIndexBytes = 4 << 10
	return cfg
}

func openLog(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

// written remembers what a test appended, for checking reads later.
type written struct {
	batches []record.Batch // in offset order, with stamped offsets
}

func (w *written) append(t testing.TB, l *Log, b record.Batch) {
	t.Helper()
	if _, err := l.Append(b); err != nil {
		t.Fatalf("Append: %v", err)
	}
	w.batches = append(w.batches, b)
}

// fill appends n random batches of 1 to 5 records and 61 to 2000 bytes with
// increasing timestamps.
func (w *written) fill(t testing.TB, l *Log, n int, rng *rand.Rand) {
	t.Helper()
	for range n {
		ts := int64(1_000_000 + len(w.batches)*10)
		w.append(t, l, makeBatch(1+rng.IntN(5), ts, record.HeaderSize+rng.IntN(2000), byte(len(w.batches))))
	}
}

// upTo returns the batches whose offsets are all below end.
func (w *written) upTo(end int64) []record.Batch {
	var out []record.Batch
	for _, b := range w.batches {
		if b.NextOffset() <= end {
			out = append(out, b)
		}
	}
	return out
}

// checkReads reads every offset of want through l and compares bytes; it
// also checks that nothing is served past the last wanted batch.
func checkReads(t testing.TB, l *Log, want []record.Batch) {
	t.Helper()
	end := l.LogStartOffset()
	if len(want) > 0 {
		end = want[len(want)-1].NextOffset()
	}
	if got := l.LogEndOffset(); got != end {
		t.Fatalf("LogEndOffset = %d, want %d", got, end)
	}
	for _, b := range want {
		for off := b.BaseOffset(); off < b.NextOffset(); off++ {
			r, err := l.Read(off, 1, end)
			if err != nil {
				t.Fatalf("Read(%d): %v", off, err)
			}
			if r.FirstOffset() != b.BaseOffset() || r.NextOffset() != b.NextOffset() || !bytes.Equal(r.Bytes(), b) {
				t.Fatalf("Read(%d) = [%d,%d) %d bytes, want batch [%d,%d) %d bytes", off, r.FirstOffset(), r.NextOffset(), r.Len(), b.BaseOffset(), b.NextOffset(), len(b))
			}
			r.Release()
		}
	}
	r, err := l.Read(end, 1<<20, end+1)
	if err != nil || r.Len() != 0 {
		t.Fatalf("Read(LEO %d) = len %v, %v; want empty range", end, r, err)
	}
	r.Release()
	if _, err := l.Read(end+1, 1<<20, end+10); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read(LEO+1) error = %v, want ErrOffsetOutOfRange", err)
	}
}

// crash stops l the way a killed process would: no flush, no index trim, no
// clean-shutdown marker. The page cache (the files) survives, as it does when
// only the process dies.
func crash(t testing.TB, l *Log) {
	t.Helper()
	l.mu.Lock()
	l.mu.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	for _, s := range l.mu.segs {
		s.decRef()
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
