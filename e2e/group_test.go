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

// A process killed while writing may leave its last line cut: killed
// drops that one.
func parseGroupLines(t *testing.T, lines []string, killed bool) []groupRecord {
	t.Helper()
	out := make([]groupRecord, 0, len(lines))
	for i, l := range lines {
		var r groupRecord
		if _, err := fmt.Sscanf(l, "%d %d %d", &r.partition, &r.offset, &r.value); err != nil {
			if killed && i == len(lines)-1 {
				break
			}
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

// startGroupConsumers starts n `spate consume --group g --exit-idle 5s`
// processes at once, so that they join within the broker's initial
// rebalance delay and form one generation. --exit-idle 5s is the literal
// command of the check: a member exits once it was idle 5s and the
// group has no lag, so the survivors of a kill wait for the takeover by
// themselves. --session-timeout 8s (the CLI default is 45s, the broker's
// minimum 6s) only makes that takeover come sooner, keeping the test
// short; the rule does not depend on it.
func startGroupConsumers(t *testing.T, addr string, n int, extra ...string) []*cliProc {
	procs := make([]*cliProc, n)
	for i := range procs {
		args := append([]string{"consume", "t", "--group", "g", "--exit-idle", "5s",
			"--session-timeout", "8s", "--format", `%p %o %v\n`}, extra...)
		procs[i] = startCLI(t, addr, args...)
	}
	return procs
}

// TestCLIGroup runs three `spate consume --group g --exit-idle 5s`
// processes on a 6-partition topic holding 60,000 records: they share it,
// printing every record exactly once, and exit by themselves. Three more
// read a second batch produced while they run; one is SIGKILLed after it
// committed part of it; after its session timeout the others take over
// its partitions exactly at its last commit, so only the records it
// printed after that commit come twice. At the end `spate group describe`
// shows LAG 0 everywhere. It runs with the default assignors (range:
// eager) and with cooperative-sticky.
func TestCLIGroup(t *testing.T) {
	t.Run("assignor=default", func(t *testing.T) { testCLIGroup(t) })
	t.Run("assignor=cooperative-sticky", func(t *testing.T) { testCLIGroup(t, "--assignor", "cooperative-sticky") })
}

func testCLIGroup(t *testing.T, extra ...string) {
	const batch, parts = 60_000, 6
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "t", "--partitions", strconv.Itoa(parts))
	mustCLI(t, b.Addr, bytes.NewReader(keyedInput(0, batch)), 60*time.Second, "produce", "t", "--key-separator", ":")

	start := time.Now()
	var first []groupRecord
	for _, p := range startGroupConsumers(t, b.Addr, 3, extra...) {
		if code := p.wait(60 * time.Second); code != 0 {
			t.Fatalf("%s exited %d; stderr:\n%s", p.name, code, p.errors())
		}
		recs := parseGroupLines(t, p.output(), false)
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

	start = time.Now()
	procs := startGroupConsumers(t, b.Addr, 3, extra...)
	victim := procs[0]
	commitAtKill := produceAndKill(t, b.Addr, victim, batch, batchStart)
	// The survivors finish their own partitions, then stay (the group
	// lags on the dead member's partitions) until its session times out
	// (8s), the rebalance hands them its partitions, and those are read
	// and committed.
	var survivors []groupRecord
	for _, p := range procs[1:] {
		if code := p.wait(75 * time.Second); code != 0 {
			t.Fatalf("%s exited %d; stderr:\n%s", p.name, code, p.errors())
		}
		survivors = append(survivors, parseGroupLines(t, p.output(), false)...)
	}
	killed := parseGroupLines(t, victim.output(), true)
	t.Logf("second batch: the killed member printed %d records, the survivors %d, in %v", len(killed), len(survivors), time.Since(start))
	checkTakeover(t, killed, survivors, commitAtKill, batch)

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

// produceAndKill produces the second batch (values [batch, 2*batch)) in
// chunks over about 12 s while the members read it, and SIGKILLs victim
// once the group's committed offsets show that it committed part of the
// batch on a partition it reads and it printed records past that commit.
// It returns the committed offset of every
// partition right after the kill: the victim can commit no more, and the
// survivors cannot own its partitions before its session times out, so
// for those partitions it is the victim's last commit.
func produceAndKill(t *testing.T, addr string, victim *cliProc, batch int, batchStart map[int32]int64) map[int32]int64 {
	t.Helper()
	prod := startCLI(t, addr, "produce", "t", "--key-separator", ":")
	const chunks = 24
	var commitAtKill map[int32]int64
	for i := 0; i < chunks; i++ {
		if _, err := prod.stdin.Write(keyedInput(batch+i*batch/chunks, batch+(i+1)*batch/chunks)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if commitAtKill != nil || i < 6 {
			continue
		}
		// Kill once it committed part of the batch and printed past that
		// commit, so that something is read twice.
		committed := groupCommitted(t, addr)
		for _, r := range parseGroupLines(t, victim.output(), false) {
			if c := committed[r.partition]; c > batchStart[r.partition] && r.offset >= c {
				if err := victim.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				victim.wait(10 * time.Second)
				commitAtKill = groupCommitted(t, addr)
				break
			}
		}
	}
	if err := prod.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if code := prod.wait(60 * time.Second); code != 0 {
		t.Fatalf("produce exited %d; stderr:\n%s", code, prod.errors())
	}
	if commitAtKill == nil {
		t.Fatal("the victim never committed part of the second batch while it was produced")
	}
	return commitAtKill
}

// groupCommitted reads `spate group describe g`: partition -> CURRENT-OFFSET
// (partitions without a commit are left out).
func groupCommitted(t *testing.T, addr string) map[int32]int64 {
	t.Helper()
	out := mustCLI(t, addr, nil, 30*time.Second, "group", "describe", "g")
	committed := map[int32]int64{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) != 8 {
			t.Fatalf("group describe row %q", l)
		}
		p, _ := strconv.Atoi(f[2])
		if off, err := strconv.ParseInt(f[3], 10, 64); err == nil {
			committed[int32(p)] = off
		}
	}
	return committed
}

// checkTakeover checks the second batch (values [batch, 2*batch)): every
// value printed at least once; a value printed twice lies on a partition
// the killed member printed from, at or after its last commit there
// (lastCommit); and there the survivors resumed exactly at that commit and
// read on without gaps.
func checkTakeover(t *testing.T, killed, survivors []groupRecord, lastCommit map[int32]int64, batch int) {
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
			if _, ok := killedParts[r.partition]; !ok || r.offset < lastCommit[r.partition] {
				t.Fatalf("value %d (partition %d offset %d) printed %d times; only the killed member's partitions from its last commit %v may repeat",
					r.value, r.partition, r.offset, n, lastCommit)
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
		if from != lastCommit[p] {
			t.Errorf("partition %d: survivors resumed at offset %d, want the killed member's last commit %d (it printed up to %d)", p, from, lastCommit[p], end-1)
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
