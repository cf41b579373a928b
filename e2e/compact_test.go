package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

// TestCLICompaction is the compaction check as a user runs it: a
// real broker whose cleaner looks every 100 ms, a topic with
// cleanup.policy=compact and small segments, 20 keys written 50 times each,
// two of them then deleted with tombstones (`spate produce --null-empty`),
// and one more record once segment.ms has passed so that everything before
// it sits in sealed segments. Every read along the way finds each record at
// the offset it was written to; at the end only the latest value of each
// live key is left (the tombstones too are gone, delete.retention.ms after
// the pass that first kept them), and the log end offset has not moved.
func TestCLICompaction(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0", "--set", "log.cleaner.backoff.ms=100")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "kv", "--partitions", "1",
		"--config", "cleanup.policy=compact", "--config", "segment.bytes=4096", "--config", "segment.ms=1000",
		"--config", "min.cleanable.dirty.ratio=0.01", "--config", "delete.retention.ms=1000")

	type kv struct{ key, value string }
	var written []kv // index = offset: one partition, one producer per run, acks=all
	var in strings.Builder
	const keys, rounds = 20, 50
	for r := range rounds {
		for k := range keys {
			w := kv{fmt.Sprintf("k%02d", k), fmt.Sprintf("k%02d-v%d", k, r)}
			written = append(written, w)
			fmt.Fprintf(&in, "%s:%s\n", w.key, w.value)
		}
	}
	mustCLI(t, b.Addr, strings.NewReader(in.String()), 30*time.Second, "produce", "kv", "--key-separator", ":")
	// Tombstones for k00 and k01; "k02:" without --null-empty is an empty value, not a delete.
	mustCLI(t, b.Addr, strings.NewReader("k00:\nk01:\n"), 30*time.Second, "produce", "kv", "-K", ":", "--null-empty")
	written = append(written, kv{"k00", "<null>"}, kv{"k01", "<null>"})
	mustCLI(t, b.Addr, strings.NewReader("k02:\n"), 30*time.Second, "produce", "kv", "-K", ":")
	written = append(written, kv{"k02", ""})
	time.Sleep(1100 * time.Millisecond) // segment.ms: the next append rolls
	mustCLI(t, b.Addr, strings.NewReader("zz:end\n"), 30*time.Second, "produce", "kv", "-K", ":")
	written = append(written, kv{"zz", "end"})
	logEnd := int64(len(written))

	// What must be left: the last record of each key, minus deleted keys.
	var want []int64
	last := map[string]int{}
	for off, w := range written {
		last[w.key] = off
	}
	for off, w := range written {
		if last[w.key] == off && w.value != "<null>" {
			want = append(want, int64(off))
		}
	}

	read := func() []int64 {
		out := mustCLI(t, b.Addr, nil, 30*time.Second, "consume", "kv", "--json", "--exit-idle", "300ms")
		var offsets []int64
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r struct {
				Offset int64   `json:"offset"`
				Key    string  `json:"key"`
				Value  *string `json:"value"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("consume --json line %q: %v", line, err)
			}
			got := kv{r.Key, "<null>"}
			if r.Value != nil {
				got.value = *r.Value
			}
			if r.Offset < 0 || r.Offset >= logEnd || written[r.Offset] != got {
				t.Fatalf("offset %d holds %+v; %+v was written there", r.Offset, got, written[min(max(r.Offset, 0), logEnd-1)])
			}
			if n := len(offsets); n > 0 && r.Offset <= offsets[n-1] {
				t.Fatalf("offset %d read after %d", r.Offset, offsets[n-1])
			}
			offsets = append(offsets, r.Offset)
		}
		return offsets
	}
	first := read()
	deadline := time.Now().Add(60 * time.Second)
	got := first
	for !slices.Equal(got, want) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the log holds offsets %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
		got = read()
	}
	t.Logf("first read after the roll: %d records; compacted: %d of %d (offsets %v)", len(first), len(got), logEnd, got)
	if hw := describeHighWatermarks(t, b.Addr, "kv"); hw[0] != logEnd {
		t.Fatalf("high watermark after compaction %d, want the log end %d unchanged", hw[0], logEnd)
	}
	// Appends go on after compaction, at the next offset.
	mustCLI(t, b.Addr, strings.NewReader("k05:after\n"), 30*time.Second, "produce", "kv", "-K", ":")
	out := mustCLI(t, b.Addr, nil, 30*time.Second, "consume", "kv", "--from", fmt.Sprint(logEnd), "--count", "1", "--format", "%o %k=%v")
	if want := fmt.Sprintf("%d k05=after", logEnd); out != want {
		t.Fatalf("record after compaction: %q, want %q", out, want)
	}
}

// TestCLIInternalTopic: __consumer_offsets is the coordinator's. A client
// can read it but not delete it, produce to it or create it, so neither a
// stray `spate topic delete` nor a record written by hand loses or breaks
// the groups' committed offsets, which survive a SIGKILL and restart.
func TestCLIInternalTopic(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, "127.0.0.1:0", "--set", "group.initial.rebalance.delay.ms=0")
	mustCLI(t, b.Addr, strings.NewReader(string(seqInput(100))), 30*time.Second, "produce", "t")
	if out := mustCLI(t, b.Addr, nil, 60*time.Second, "consume", "t", "--group", "g", "--count", "40"); strings.Count(out, "\n") != 40 {
		t.Fatalf("group consume printed %d lines, want 40", strings.Count(out, "\n"))
	}
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"topic", "delete", "__consumer_offsets"}, "", "internal topic"},
		{[]string{"produce", "__consumer_offsets", "-K", ":"}, "garbage:xx\n", "INVALID_TOPIC_EXCEPTION"},
		{[]string{"topic", "create", "__consumer_offsets"}, "", "already exists"},
		{[]string{"topic", "create", "__consumer.offsets"}, "", "collides with the internal topic"},
	} {
		_, errOut, code := runCLI(t, b.Addr, strings.NewReader(tc.stdin), 30*time.Second, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("spate %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	// Reading it is allowed: the group's commit is there.
	if out := mustCLI(t, b.Addr, nil, 30*time.Second, "consume", "__consumer_offsets", "--exit-idle", "500ms", "--format", "%o\n"); out == "" {
		t.Error("consume __consumer_offsets printed nothing; the group's commit should be there")
	}
	b.kill() // SIGKILL: the commit was acknowledged, so it must be there after recovery
	b = startBroker(t, dir, b.Addr)
	out := mustCLI(t, b.Addr, nil, 30*time.Second, "group", "describe", "g")
	if !strings.Contains(out, "g      t      0          40") {
		t.Fatalf("group describe after restart:\n%s\nwant CURRENT-OFFSET 40 on t-0", out)
	}
}

// TestKillDuringCompaction: a real broker whose cleaner runs every 20 ms
// on a compacted topic with 16 KiB segments is SIGKILLed eight times while
// an idempotent producer writes 40 keys over and over, so kills land during
// cleaning, merging and swapping. Each restart recovers; at the end every
// offset reads in order, and for every key its last acknowledged record is
// still at the offset it was acknowledged at, unless a later record of the
// key (one in flight at a kill) superseded it. The log says how many kills
// left a pass's files behind (10 of 24 kills in three runs here).
func TestKillDuringCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test")
	}
	dir, addr := t.TempDir(), freeAddr(t)
	args := []string{"--set", "log.cleaner.backoff.ms=20"}
	b := startBroker(t, dir, addr, args...)
	mustCLI(t, addr, nil, 30*time.Second, "topic", "create", "kv", "--partitions", "1",
		"--config", "cleanup.policy=compact", "--config", "segment.bytes=16384",
		"--config", "min.cleanable.dirty.ratio=0.01", "--config", "delete.retention.ms=0")

	type acked struct {
		offset int64
		value  string
	}
	var mu sync.Mutex
	last := map[string]acked{} // key -> its acknowledged record with the highest offset
	seq := 0
	const kills = 8
	for round := range kills {
		p, err := client.NewProducer(client.SeedBrokers(addr), client.Linger(time.Millisecond), client.BatchSize(2048),
			client.DeliveryTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		stop := time.Now().Add(700 * time.Millisecond)
		for time.Now().Before(stop) {
			for range 200 {
				key, value := fmt.Sprintf("k%02d", seq%40), fmt.Sprintf("v%d", seq)
				seq++
				p.Produce(context.Background(), &client.Record{Topic: "kv", Key: []byte(key), Value: []byte(value)},
					func(r *client.Record, err error) {
						if err != nil {
							return
						}
						mu.Lock()
						defer mu.Unlock()
						if cur, ok := last[key]; !ok || r.Offset > cur.offset {
							last[key] = acked{r.Offset, value}
						}
					})
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.kill()
		p.Close() // fails what was in flight; acknowledged records are in `last`
		// What the kill left of a pass in progress (recovery finishes or
		// deletes it), to show that kills do land inside passes.
		cleaned, _ := filepath.Glob(filepath.Join(dir, "kv-0", "*.cleaned.*"))
		swap, _ := filepath.Glob(filepath.Join(dir, "kv-0", "*.swap.*"))
		midPass := append(cleaned, swap...)
		b = startBroker(t, dir, addr, args...)
		t.Logf("round %d: %d records sent so far; the kill left %d files of a cleaning pass: %v", round, seq, len(midPass), midPass)
	}

	out := mustCLI(t, addr, nil, 60*time.Second, "consume", "kv", "--json", "--exit-idle", "1s")
	type rec struct {
		Offset int64   `json:"offset"`
		Key    string  `json:"key"`
		Value  *string `json:"value"`
	}
	byOffset := map[int64]rec{}
	latest := map[string]int64{}
	prev := int64(-1)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r rec
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if r.Offset <= prev {
			t.Fatalf("offset %d read after %d", r.Offset, prev)
		}
		prev = r.Offset
		byOffset[r.Offset] = r
		latest[r.Key] = r.Offset
	}
	mu.Lock()
	defer mu.Unlock()
	if len(last) != 40 {
		t.Fatalf("%d keys acknowledged, want 40", len(last))
	}
	for key, a := range last {
		r, ok := byOffset[a.offset]
		switch {
		case ok && r.Key == key && r.Value != nil && *r.Value == a.value:
		case latest[key] > a.offset:
			// superseded by a later record of the key, written but not
			// acknowledged before a kill
		default:
			t.Fatalf("key %s: acknowledged %q at offset %d; the log has %+v there and its latest %s at %d",
				key, a.value, a.offset, r, key, latest[key])
		}
	}
	t.Logf("%d records sent over %d kills; %d left after compaction, offsets up to %d", seq, kills, len(byOffset), prev)
	if len(byOffset) > seq/4 {
		t.Errorf("%d of %d records left: compaction did not run", len(byOffset), seq)
	}
	b.stop()
}
