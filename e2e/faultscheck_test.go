package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// The fault suite's history and its checker, in the vocabulary of Jepsen's
// queue workloads (jepsen.redpanda): every value is written once (producer
// and sequence number make it unique), so any anomaly below is the
// system's, not the workload's.

// ack is one acknowledged write: value at partition and offset.
type ack struct {
	value     string
	partition int32
	offset    int64
	at        time.Time // when the callback ran
}

// read is one record a reader got. A reader is one consumer for the whole
// run (it never seeks), or the final read.
type read struct {
	reader    string
	partition int32
	offset    int64
	value     string
}

// history collects acks and reads from many goroutines.
type history struct {
	mu      sync.Mutex
	acks    []ack
	reads   []read
	sent    int // Produce calls
	failed  int // writes whose callback had an error: indeterminate
	pollErr int // consumer Poll and partition errors (retried)
}

func (h *history) addAck(a ack) { h.mu.Lock(); h.acks = append(h.acks, a); h.mu.Unlock() }

// longestAckGap is the longest time in [from, to] with no acknowledgement:
// how long a fault kept every producer from getting a write acknowledged.
func (h *history) longestAckGap(from, to time.Time) time.Duration {
	h.mu.Lock()
	var times []time.Time
	for _, a := range h.acks {
		if !a.at.Before(from) && !a.at.After(to) {
			times = append(times, a.at)
		}
	}
	h.mu.Unlock()
	slices.SortFunc(times, time.Time.Compare)
	longest, prev := time.Duration(0), from
	for _, t := range append(times, to) {
		longest = max(longest, t.Sub(prev))
		prev = t
	}
	return longest
}
func (h *history) addReads(rs []read) {
	h.mu.Lock()
	h.reads = append(h.reads, rs...)
	h.mu.Unlock()
}

// verdict counts each anomaly; examples keeps a few of each for the report.
type verdict struct {
	Lost, Duplicates, InconsistentOffsets, Nonmonotonic, Unseen int
	Acked, ReadRecords, DistinctRead                            int
	Examples                                                    map[string][]string
}

func (v verdict) ok() bool {
	return v.Lost == 0 && v.Duplicates == 0 && v.InconsistentOffsets == 0 && v.Nonmonotonic == 0 && v.Unseen == 0
}

func (v *verdict) example(kind, format string, args ...any) {
	if len(v.Examples[kind]) < 5 {
		v.Examples[kind] = append(v.Examples[kind], fmt.Sprintf(format, args...))
	}
}

// check runs the checker over acks and reads:
//   - lost: acknowledged, never read, though a later offset of its
//     partition was read;
//   - unseen: acknowledged, never read, and nothing after it read either
//     (after the final read, also a loss);
//   - lost too: acknowledged and read at some point, but absent from the
//     final read (reader "final", from the log start to the high
//     watermark) when there is one: the log no longer holds it;
//   - duplicates: one value read at two offsets;
//   - inconsistent offsets: one partition offset read with two values, or
//     read with another value than the one acknowledged there;
//   - nonmonotonic: a reader's next offset in a partition not above its
//     last one.
func check(acks []ack, reads []read) verdict {
	v := verdict{Acked: len(acks), ReadRecords: len(reads), Examples: map[string][]string{}}
	type po struct {
		p int32
		o int64
	}
	at := map[po]string{}          // what each offset was read as
	offsetsOf := map[string][]po{} // distinct offsets each value was read at
	maxRead := map[int32]int64{}   // highest offset read per partition
	last := map[string]int64{}     // reader/partition → last offset
	conflicted := map[po]bool{}    // offsets already counted inconsistent
	for _, r := range reads {
		k := po{r.partition, r.offset}
		if prev, ok := at[k]; ok && prev != r.value && !conflicted[k] {
			conflicted[k] = true
			v.InconsistentOffsets++
			v.example("inconsistent offsets", "partition %d offset %d read as %s and as %s", r.partition, r.offset, prev, r.value)
		} else if !ok {
			at[k] = r.value
		}
		if !slices.Contains(offsetsOf[r.value], k) {
			offsetsOf[r.value] = append(offsetsOf[r.value], k)
		}
		if m, ok := maxRead[r.partition]; !ok || r.offset > m {
			maxRead[r.partition] = r.offset
		}
		lk := fmt.Sprintf("%s/%d", r.reader, r.partition)
		if l, ok := last[lk]; ok && r.offset <= l {
			v.Nonmonotonic++
			v.example("nonmonotonic", "%s read partition %d offset %d after offset %d", r.reader, r.partition, r.offset, l)
		}
		last[lk] = r.offset
	}
	v.DistinctRead = len(offsetsOf)
	final := map[string]bool{}
	for _, r := range reads {
		if r.reader == "final" {
			final[r.value] = true
		}
	}
	for val, ks := range offsetsOf {
		if len(ks) > 1 {
			v.Duplicates++
			v.example("duplicates", "%s read at %v", val, ks)
		}
	}
	for _, a := range acks {
		k := po{a.partition, a.offset}
		if got, ok := at[k]; ok && got != a.value && !conflicted[k] {
			conflicted[k] = true
			v.InconsistentOffsets++
			v.example("inconsistent offsets", "partition %d offset %d acknowledged as %s, read as %s", a.partition, a.offset, a.value, got)
		}
		if len(offsetsOf[a.value]) > 0 {
			if len(final) > 0 && !final[a.value] {
				v.Lost++
				v.example("lost", "%s acknowledged at partition %d offset %d, read before, absent from the final read", a.value, a.partition, a.offset)
			}
			continue
		}
		if m, ok := maxRead[a.partition]; ok && m > a.offset {
			v.Lost++
			v.example("lost", "%s acknowledged at partition %d offset %d, never read; offset %d was", a.value, a.partition, a.offset, m)
		} else {
			v.Unseen++
			v.example("unseen", "%s acknowledged at partition %d offset %d, never read", a.value, a.partition, a.offset)
		}
	}
	return v
}

// String is the checker's part of the report.
func (v verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "records acknowledged      %d\n", v.Acked)
	fmt.Fprintf(&b, "records read (all reads)  %d (%d distinct values)\n", v.ReadRecords, v.DistinctRead)
	fmt.Fprintf(&b, "lost                      %d\n", v.Lost)
	fmt.Fprintf(&b, "duplicates                %d\n", v.Duplicates)
	fmt.Fprintf(&b, "inconsistent offsets      %d\n", v.InconsistentOffsets)
	fmt.Fprintf(&b, "nonmonotonic              %d\n", v.Nonmonotonic)
	fmt.Fprintf(&b, "unseen                    %d\n", v.Unseen)
	kinds := make([]string, 0, len(v.Examples))
	for k := range v.Examples {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		for _, e := range v.Examples[k] {
			fmt.Fprintf(&b, "  %s: %s\n", k, e)
		}
	}
	return b.String()
}

// TestFaultsChecker: the checker finds each anomaly in a crafted history,
// and none in a clean one, so the fault suite can fail.
func TestFaultsChecker(t *testing.T) {
	acks := []ack{{"a", 0, 0, time.Time{}}, {"b", 0, 1, time.Time{}}, {"c", 0, 2, time.Time{}}, {"d", 1, 0, time.Time{}}}
	clean := []read{{"c1", 0, 0, "a"}, {"c1", 0, 1, "b"}, {"c1", 0, 2, "c"}, {"c1", 1, 0, "d"},
		{"final", 0, 0, "a"}, {"final", 0, 1, "b"}, {"final", 0, 2, "c"}, {"final", 1, 0, "d"}}
	if v := check(acks, clean); !v.ok() || v.Acked != 4 || v.DistinctRead != 4 {
		t.Fatalf("clean history: %+v", v)
	}
	cases := []struct {
		name  string
		acks  []ack
		reads []read
		want  func(verdict) int
	}{
		{"lost", acks, []read{{"c1", 0, 0, "a"}, {"c1", 0, 2, "c"}, {"c1", 1, 0, "d"}}, func(v verdict) int { return v.Lost }},
		{"gone from the final read", acks, append(clean[:4:4], read{"final", 0, 0, "a"}, read{"final", 0, 1, "b"}, read{"final", 1, 0, "d"}), func(v verdict) int { return v.Lost }},
		{"unseen", acks, []read{{"c1", 0, 0, "a"}, {"c1", 0, 1, "b"}, {"c1", 0, 2, "c"}}, func(v verdict) int { return v.Unseen }},
		{"duplicate", acks, append(clean[:4:4], read{"c1", 1, 1, "a"}), func(v verdict) int { return v.Duplicates }},
		{"inconsistent", acks, append(clean[:4:4], read{"final", 1, 0, "x"}), func(v verdict) int { return v.InconsistentOffsets }},
		{"ack vs read", []ack{{"a", 0, 5, time.Time{}}}, []read{{"c1", 0, 5, "z"}, {"c1", 0, 6, "a"}}, func(v verdict) int { return v.InconsistentOffsets }},
		{"nonmonotonic", acks, append(clean[:4:4], read{"c1", 0, 1, "b"}), func(v verdict) int { return v.Nonmonotonic }},
	}
	for _, tc := range cases {
		v := check(tc.acks, tc.reads)
		if tc.want(v) != 1 || v.ok() {
			t.Errorf("%s: verdict %+v, want exactly one %s", tc.name, v, tc.name)
		}
	}
}

// TestFaultsReplicaComparison: the replica comparison reads batches across
// segment files (zero padding after the last one is fine) and names a
// replica whose batch differs in its leader epoch, or that lacks a batch.
func TestFaultsReplicaComparison(t *testing.T) {
	batch := func(base int64, epoch int32, value string) []byte {
		var bld record.Builder
		bld.Reset(nil, record.Options{})
		bld.Append(1, nil, []byte(value), nil)
		b, err := bld.Finish()
		if err != nil {
			t.Fatal(err)
		}
		record.Batch(b).SetBaseOffset(base)
		record.Batch(b).SetPartitionLeaderEpoch(epoch)
		return b
	}
	write := func(epochOfSecond int32, second bool) string {
		dir := t.TempDir()
		part := filepath.Join(dir, "t-0")
		if err := os.MkdirAll(part, 0o755); err != nil {
			t.Fatal(err)
		}
		seg0 := append(batch(0, 1, "a"), make([]byte, 100)...) // a direct write's padding
		var seg1 []byte
		if second {
			seg1 = batch(1, epochOfSecond, "b")
		}
		for name, data := range map[string][]byte{"00000000000000000000.log": seg0, "00000000000000000001.log": seg1} {
			if err := os.WriteFile(filepath.Join(part, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	same := []string{write(2, true), write(2, true), write(2, true)}
	if d := compareReplicas(t, same, "t", 1); d != "" {
		t.Fatalf("identical replicas reported different: %s", d)
	}
	if d := compareReplicas(t, []string{same[0], write(3, true), same[1]}, "t", 1); !strings.Contains(d, "broker 2") {
		t.Errorf("another leader epoch on broker 2: %q", d)
	}
	if d := compareReplicas(t, []string{same[0], same[1], write(2, false)}, "t", 1); !strings.Contains(d, "2 batches vs 1") {
		t.Errorf("a missing batch on broker 3: %q", d)
	}
}
