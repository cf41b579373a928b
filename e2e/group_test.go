package e2e

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// groupRecord is one "%p %o %v" line of `spate consume --group`.
type groupRecord struct {
	partition int32
	offset    int64
	value     int
}

func parseGroupLines(t *testing.T, lines []string) []groupRecord {
	t.Helper()
	out := make([]groupRecord, 0, len(lines))
	for _, l := range lines {
		var r groupRecord
		if _, err := fmt.Sscanf(l, "%d %d %d", &r.partition, &r.offset, &r.value); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// keyedInput is lines "k<i>:<i>" for i in [from, to): keyed, so the
// default partitioner spreads them over every partition.
func keyedInput(from, to int) []byte {
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "k%d:%d\n", i, i)
	}
	return b.Bytes()
}

// startGroupConsumers starts n `spate consume --group` processes at once,
// so that they join within the broker's initial rebalance delay and form
// one generation.
func startGroupConsumers(t *testing.T, addr string, n int, exitIdle string) []*cliProc {
	procs := make([]*cliProc, n)
	for i := range procs {
		procs[i] = startCLI(t, addr, "consume", "t", "--group", "g", "--exit-idle", exitIdle,
			"--session-timeout", "8s", "--format", `%p %o %v\n`)
	}
	return procs
}

// TestCLIGroup runs three `spate consume --group` processes on a
// 6-partition topic: they share it, printing every record exactly once.
// On a second batch one member is SIGKILLed mid-way; after its session
// timeout the others take over its partitions from its last commit, so
// records come twice only there. At the end the group has no lag.
func TestCLIGroup(t *testing.T) {
	const batch, parts = 60_000, 6
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "t", "--partitions", strconv.Itoa(parts))
	mustCLI(t, b.Addr, bytes.NewReader(keyedInput(0, batch)), 60*time.Second, "produce", "t", "--key-separator", ":")

	start := time.Now()
	var first []groupRecord
	for _, p := range startGroupConsumers(t, b.Addr, 3, "5s") {
		if code := p.wait(60 * time.Second); code != 0 {
			t.Fatalf("%s exited %d; stderr:\n%s", p.name, code, p.errors())
		}
		recs := parseGroupLines(t, p.output())
		if len(recs) == 0 {
			t.Errorf("%s printed nothing: the group did not share the partitions", p.name)
		}
		first = append(first, recs...)
	}
	t.Logf("first batch: three members read %d records in %v", len(first), time.Since(start))
	seen := make([]int, batch)
	for _, r := range first {
		seen[r.value]++
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("first batch: value %d printed %d times, want once", v, n)
		}
	}
	batchStart := map[int32]int64{} // each partition's end after the first batch
	for _, r := range first {
		batchStart[r.partition] = max(batchStart[r.partition], r.offset+1)
	}

	mustCLI(t, b.Addr, bytes.NewReader(keyedInput(batch, 2*batch)), 60*time.Second, "produce", "t", "--key-separator", ":")
	start = time.Now()
	// The survivors idle from when they finish their own partitions until
	// the dead member's session times out (8s) and the next heartbeat
	// brings the rebalance: --exit-idle must outlast that.
	procs := startGroupConsumers(t, b.Addr, 3, "20s")
	victim := procs[0]
	victim.waitLines(1, 30*time.Second)
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	victim.wait(10 * time.Second)
	var survivors []groupRecord
	for _, p := range procs[1:] {
		if code := p.wait(75 * time.Second); code != 0 {
			t.Fatalf("%s exited %d; stderr:\n%s", p.name, code, p.errors())
		}
		survivors = append(survivors, parseGroupLines(t, p.output())...)
	}
	killed := parseGroupLines(t, victim.output())
	t.Logf("second batch: the killed member printed %d records, the survivors %d, in %v", len(killed), len(survivors), time.Since(start))
	checkTakeover(t, killed, survivors, batchStart, batch)

	out := mustCLI(t, b.Addr, nil, 30*time.Second, "group", "describe", "g")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if strings.Join(strings.Fields(lines[0]), " ") != "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG MEMBER HOST" || len(lines) != parts+1 {
		t.Fatalf("group describe printed:\n%s", out)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) != 8 || f[0] != "g" || f[1] != "t" || f[3] != f[4] || f[5] != "0" {
			t.Errorf("group describe row %q: want LAG 0", l)
		}
	}
}

// checkTakeover checks the second batch (values [batch, 2*batch)): every
// value printed at least once; a value printed twice lies on a partition
// the killed member printed from; and there the survivors resumed at one
// offset (the killed member's last commit, at or after the batch start and
// no later than just past what it printed) and read on without gaps.
func checkTakeover(t *testing.T, killed, survivors []groupRecord, batchStart map[int32]int64, batch int) {
	t.Helper()
	count := make([]int, batch)
	killedParts := map[int32]int64{} // partition -> one past the last offset the killed member printed
	for _, r := range killed {
		count[r.value-batch]++
		killedParts[r.partition] = max(killedParts[r.partition], r.offset+1)
	}
	resumed := map[int32]int64{} // partition -> first offset a survivor printed
	perPartition := map[int32]map[int64]int{}
	for _, r := range survivors {
		count[r.value-batch]++
		if o, ok := resumed[r.partition]; !ok || r.offset < o {
			resumed[r.partition] = r.offset
		}
		if perPartition[r.partition] == nil {
			perPartition[r.partition] = map[int64]int{}
		}
		perPartition[r.partition][r.offset]++
	}
	for _, r := range append(killed, survivors...) {
		if n := count[r.value-batch]; n > 1 {
			if _, ok := killedParts[r.partition]; !ok {
				t.Fatalf("value %d (partition %d offset %d) printed %d times, on a partition the killed member never printed from", r.value, r.partition, r.offset, n)
			}
		}
	}
	dups := 0
	for v, n := range count {
		if n == 0 {
			t.Fatalf("value %d of the second batch was never printed", v+batch)
		}
		if n > 1 {
			dups++
		}
	}
	for p, end := range killedParts {
		from, ok := resumed[p]
		if !ok {
			continue // the killed member printed all of it and committed before dying
		}
		if from < batchStart[p] || from > end {
			t.Errorf("partition %d: survivors resumed at offset %d, want a commit point in [%d, %d]", p, from, batchStart[p], end)
		}
		last := from
		for o, n := range perPartition[p] {
			last = max(last, o)
			if n != 1 {
				t.Errorf("partition %d offset %d printed %d times by the survivors", p, o, n)
			}
		}
		if got, want := len(perPartition[p]), int(last-from+1); got != want {
			t.Errorf("partition %d: survivors printed %d distinct offsets in [%d, %d], want all %d", p, got, from, last, want)
		}
	}
	t.Logf("%d records were printed twice: read by the killed member after its last commit, then by the survivors", dups)
}
