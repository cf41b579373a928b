package segment

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spate-io/spate/record"
)

// FuzzRecover feeds arbitrary bytes to recovery as a segment's .log file,
// with arbitrary .index and .timeindex files, after an unclean stop. Open must
// not panic, must keep a valid prefix of the input (byte for byte), serve
// every offset in it, and accept appends after it.
//
// Each input costs a few milliseconds of real file I/O, so with the default
// -fuzzminimizetime (60s per new input) the workers spend nearly all their
// time minimizing; run it with a bound:
//
//	go test -run '^$' -fuzz '^FuzzRecover$' -fuzztime 60s -fuzzminimizetime 20x ./segment
func FuzzRecover(f *testing.F) {
	// Valid batches whose offsets do not follow each other.
	var gappy []byte
	for i := range 6 {
		b := makeBatch(1+i%3, int64(100+i), 80+i*300, byte(i))
		b.SetBaseOffset(int64(len(gappy)))
		gappy = append(gappy, b...)
	}
	var good []byte
	next := int64(0)
	for i := range 6 {
		b := makeBatch(1+i%3, int64(100+i), 80+i*300, byte(i))
		b.SetBaseOffset(next)
		next = b.NextOffset()
		good = append(good, b...)
	}
	idx := make([]byte, 16)
	putOffsetEntry(idx, 3, 500)
	putOffsetEntry(idx[8:], 7, 900)
	tidx := make([]byte, 12)
	putTimeEntry(tidx, 103, 3)
	f.Add(good, []byte(nil), []byte(nil))
	f.Add(good, idx, tidx)
	f.Add(gappy, idx, []byte{1, 2, 3})
	f.Add(good[:len(good)-5], []byte(nil), tidx)
	f.Add(append(append([]byte(nil), good...), make([]byte, 4096)...), idx, tidx)
	f.Add([]byte{}, []byte(nil), []byte(nil))
	f.Add(bytes.Repeat([]byte{0xff}, 200), idx, idx)

	f.Fuzz(func(t *testing.T, data, idx, tidx []byte) {
		dir := t.TempDir()
		stem := filepath.Join(dir, segmentName(0))
		os.WriteFile(stem+logSuffix, data, 0o644)
		if idx != nil {
			os.WriteFile(stem+indexSuffix, idx, 0o644)
		}
		if tidx != nil {
			os.WriteFile(stem+timeIndexSuffix, tidx, 0o644)
		}
		cfg := testConfig()
		cfg.IndexIntervalBytes = 100
		l, err := Open(dir, cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		// The kept prefix must be the longest run of valid contiguous batches.
		var want []record.Batch
		pos, next := 0, int64(0)
		for {
			b, err := record.Parse(data[pos:])
			if err != nil || b.Validate() != nil || b.BaseOffset() != next {
				break
			}
			want = append(want, b)
			next = b.NextOffset()
			pos += len(b)
		}
		checkReads(t, l, want)
		if got := fileSize(t, stem+logSuffix); got != int64(pos) {
			t.Fatalf("log file is %d bytes after recovery, valid prefix is %d", got, pos)
		}
		b := makeBatch(2, 7, 150, 3)
		if base, err := l.Append(b); err != nil || base != next {
			t.Fatalf("Append after recovery = %d, %v; want %d", base, err, next)
		}
		checkReads(t, l, append(want, b))
	})
}
