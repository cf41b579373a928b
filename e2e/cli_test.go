package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

// seqInput is the output of `seq 1 n`.
func seqInput(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestCLIProduceConsume is `seq 1 200000 | spate produce t` and back, on a
// topic created with 3 partitions and on one the produce auto-creates.
func TestCLIProduceConsume(t *testing.T) {
	const n = 200_000
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	input := seqInput(n)
	for _, tc := range []struct {
		name       string
		topic      string
		create     bool
		partitions int
	}{
		{"created", "seq3", true, 3},
		{"auto-created", "seqauto", false, 1}, // the broker's num.partitions
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.create {
				out := mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", tc.topic, "--partitions", strconv.Itoa(tc.partitions))
				if strings.TrimSpace(out) != "created topic "+tc.topic {
					t.Errorf("topic create printed %q", out)
				}
			}
			start := time.Now()
			mustCLI(t, b.Addr, bytes.NewReader(input), 60*time.Second, "produce", tc.topic)
			t.Logf("seq 1 %d | spate produce %s: %v", n, tc.topic, time.Since(start))

			out := mustCLI(t, b.Addr, nil, 60*time.Second, "consume", tc.topic, "--from", "beginning", "--count", strconv.Itoa(n))
			checkSeqMultiset(t, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), n)

			out = mustCLI(t, b.Addr, nil, 60*time.Second, "consume", tc.topic, "--count", strconv.Itoa(n), "--format", `%p %v\n`)
			perPartition := checkPartitionOrder(t, out)
			if tc.partitions > 1 && len(perPartition) < 2 {
				t.Errorf("every record went to one partition of %d: %v", tc.partitions, perPartition)
			}

			hw := describeHighWatermarks(t, b.Addr, tc.topic)
			sum := int64(0)
			for _, v := range hw {
				sum += v
			}
			if len(hw) != tc.partitions || sum != n {
				t.Errorf("topic describe: high watermarks %v (sum %d), want %d partitions summing to %d", hw, sum, tc.partitions, n)
			}
			for p, count := range perPartition {
				if hw[p] != count {
					t.Errorf("partition %d: consumed %d records, high watermark %d", p, count, hw[p])
				}
			}
		})
	}
}

// checkSeqMultiset checks that lines are exactly 1..n, each once, in any order.
func checkSeqMultiset(t *testing.T, lines []string, n int) {
	t.Helper()
	seen := make([]int, n+1)
	for _, l := range lines {
		v, err := strconv.Atoi(l)
		if err != nil || v < 1 || v > n {
			t.Fatalf("unexpected line %q", l)
		}
		seen[v]++
	}
	for v := 1; v <= n; v++ {
		if seen[v] != 1 {
			t.Fatalf("value %d printed %d times (%d lines in all)", v, seen[v], len(lines))
		}
	}
}

// checkPartitionOrder reads "%p %v" lines and checks that values increase
// within each partition (produce order, since seq's values increase). It
// returns the record count per partition.
func checkPartitionOrder(t *testing.T, out string) map[int32]int64 {
	t.Helper()
	last := map[int32]int{}
	counts := map[int32]int64{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var p int32
		var v int
		if _, err := fmt.Sscanf(l, "%d %d", &p, &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if v <= last[p] {
			t.Fatalf("partition %d: value %d after %d", p, v, last[p])
		}
		last[p] = v
		counts[p]++
	}
	return counts
}

// describeHighWatermarks runs `spate topic describe --json` and returns
// the high watermark by partition, checking that nothing was deleted.
func describeHighWatermarks(t *testing.T, addr, topic string) map[int32]int64 {
	t.Helper()
	out := mustCLI(t, addr, nil, 30*time.Second, "topic", "describe", topic, "--json")
	var doc []struct {
		Name       string `json:"name"`
		Partitions []struct {
			Partition      int32 `json:"partition"`
			LogStartOffset int64 `json:"log_start_offset"`
			LogEndOffset   int64 `json:"log_end_offset"`
			HighWatermark  int64 `json:"high_watermark"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc) != 1 || doc[0].Name != topic {
		t.Fatalf("topic describe --json printed %s (%v)", out, err)
	}
	hw := map[int32]int64{}
	for _, p := range doc[0].Partitions {
		if p.LogStartOffset != 0 || p.LogEndOffset != p.HighWatermark {
			t.Fatalf("topic describe: partition %+v", p)
		}
		hw[p.Partition] = p.HighWatermark
	}
	return hw
}

// TestCLIKeys checks --key-separator: each key lands on one partition, the
// one Kafka's partitioner picks (client.KeyPartition, tested against
// franz-go), and a line without the separator has a null key.
func TestCLIKeys(t *testing.T) {
	const keys, rounds, partitions = 2000, 3, 7
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "keyed", "--partitions", strconv.Itoa(partitions))
	var in bytes.Buffer
	for r := 0; r < rounds; r++ {
		for i := 0; i < keys; i++ {
			fmt.Fprintf(&in, "k%d:v%d\n", i, i)
		}
		fmt.Fprintf(&in, "nokey%d\n", r)
	}
	mustCLI(t, b.Addr, &in, 60*time.Second, "produce", "keyed", "--key-separator", ":")

	total := keys*rounds + rounds
	out := mustCLI(t, b.Addr, nil, 60*time.Second, "consume", "keyed", "--count", strconv.Itoa(total), "--format", `%k %p %v\n`)
	seen := map[string]int{}
	nullKeys := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(l, " ")
		if len(f) != 3 {
			t.Fatalf("line %q", l)
		}
		p, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if f[0] == "" {
			if !strings.HasPrefix(f[2], "nokey") {
				t.Errorf("line %q: empty key on a keyed record", l)
			}
			nullKeys++
			continue
		}
		if want := client.KeyPartition([]byte(f[0]), partitions); int32(p) != want {
			t.Errorf("key %s on partition %d, want %d", f[0], p, want)
		}
		if f[2] != "v"+strings.TrimPrefix(f[0], "k") {
			t.Errorf("line %q: key and value do not match", l)
		}
		seen[f[0]]++
	}
	if len(seen) != keys || nullKeys != rounds {
		t.Errorf("%d distinct keys and %d null keys, want %d and %d", len(seen), nullKeys, keys, rounds)
	}
	for k, c := range seen {
		if c != rounds {
			t.Errorf("key %s read %d times, want %d", k, c, rounds)
		}
	}
}

// TestCLIRestart keeps a `spate produce --acks all` fed through a pipe and
// a `spate consume` running while the broker (flush.policy=always) is
// SIGKILLed and restarted on the same address and data. Produce must exit 0
// and the consumer must print every fed line exactly once: the idempotent
// producer keeps a batch retried after the crash from being written twice,
// and the consumer resumes after the last offset it printed.
func TestCLIRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test")
	}
	const partitions = 3
	dir, addr := t.TempDir(), freeAddr(t)
	flags := []string{"--set", "log.flush.policy=always"}
	b := startBroker(t, dir, addr, flags...)
	mustCLI(t, addr, nil, 30*time.Second, "topic", "create", "restart", "--partitions", strconv.Itoa(partitions))

	// --exit-idle must outlast the broker's restart plus the clients'
	// reconnect backoff; it is what ends the consumer at the end.
	cons := startCLI(t, addr, "consume", "restart", "--from", "beginning", "--format", `%p %o %v\n`, "--exit-idle", "15s")
	prod := startCLI(t, addr, "produce", "restart", "--acks", "all", "--linger", "1ms")

	fed := 0
	feed := func(d time.Duration) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); {
			var chunk bytes.Buffer
			for i := 0; i < 200; i++ {
				fed++
				fmt.Fprintf(&chunk, "%d\n", fed)
			}
			if _, err := prod.stdin.Write(chunk.Bytes()); err != nil {
				t.Fatalf("feeding produce after %d lines: %v; stderr:\n%s", fed, err, prod.errors())
			}
			time.Sleep(time.Millisecond)
		}
	}
	feed(time.Second)
	cons.waitLines(1000, 30*time.Second) // records flow end to end before the crash
	feed(500 * time.Millisecond)
	b.kill()
	t.Logf("broker killed after %d lines fed, %d consumed", fed, cons.lineCount())
	feed(500 * time.Millisecond) // buffered by the producer while the broker is down
	startBroker(t, dir, addr, flags...)
	feed(time.Second)
	if err := prod.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if code := prod.wait(2 * time.Minute); code != 0 {
		t.Fatalf("produce exited %d after %d lines; stderr:\n%s", code, fed, prod.errors())
	}
	if code := cons.wait(2 * time.Minute); code != 0 {
		t.Fatalf("consume exited %d; stderr:\n%s", code, cons.errors())
	}
	checkRestartOutput(t, cons.output(), fed)
}

// checkRestartOutput checks "%p %o %v" lines: each value 1..fed exactly
// once, each partition's offsets contiguous from 0 and its values rising.
func checkRestartOutput(t *testing.T, lines []string, fed int) {
	t.Helper()
	seen := make([]int, fed+1)
	nextOffset := map[int32]int64{}
	lastValue := map[int32]int{}
	var problems []string
	for _, l := range lines {
		var p int32
		var o int64
		var v int
		if _, err := fmt.Sscanf(l, "%d %d %d", &p, &o, &v); err != nil || v < 1 || v > fed {
			t.Fatalf("consumer line %q (%v)", l, err)
		}
		seen[v]++
		if o != nextOffset[p] {
			problems = append(problems, fmt.Sprintf("partition %d: offset %d printed after %d", p, o, nextOffset[p]-1))
		}
		if v <= lastValue[p] {
			problems = append(problems, fmt.Sprintf("partition %d offset %d: value %d after %d (a duplicate batch?)", p, o, v, lastValue[p]))
		}
		nextOffset[p], lastValue[p] = o+1, v
	}
	missing, doubled := 0, 0
	for v := 1; v <= fed; v++ {
		switch {
		case seen[v] == 0:
			missing++
		case seen[v] > 1:
			doubled++
		}
	}
	if missing > 0 || doubled > 0 || len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], "...")
		}
		t.Fatalf("%d lines fed, %d consumed: %d values missing, %d printed more than once\n%s",
			fed, len(lines), missing, doubled, strings.Join(problems, "\n"))
	}
	t.Logf("%d lines fed across the broker restart, each consumed exactly once", fed)
}

// TestCLIErrors checks the exit codes and messages of common mistakes.
func TestCLIErrors(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "dup")
	for _, tc := range []struct {
		args  []string
		stdin io.Reader
		want  string
	}{
		{[]string{"topic", "create", "dup"}, nil, `topic "dup" already exists`},
		{[]string{"topic", "create", "bad/name"}, nil, "invalid topic name"},
		{[]string{"topic", "describe", "nosuch"}, nil, `topic "nosuch" does not exist`},
		{[]string{"topic", "delete", "nosuch"}, nil, `topic "nosuch" does not exist`},
		{[]string{"produce", "dup", "--acks", "2"}, strings.NewReader("x\n"), "want 0, 1 or all"},
		{[]string{"produce", "dup", "--partition", "5"}, strings.NewReader("x\ny\n"), "0 records acknowledged, 2 failed"},
		{[]string{"produce", "dup", "--max-line-bytes", "4"}, strings.NewReader("abc\nabcdef\n"), "line 2 is longer than 4 bytes"},
		{[]string{"consume", "dup", "--from", "yesterday"}, nil, "--from"},
		{[]string{"consume", "dup", "--format", "%q"}, nil, "unknown %q"},
		{[]string{"consume", "dup", "--partition", "0,3"}, nil, "there is no partition 3"},
	} {
		_, errOut, code := runCLI(t, b.Addr, tc.stdin, 30*time.Second, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("spate %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	// The describe above must not have auto-created the topic.
	if out := mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "list", "--names"); out != "dup\n" {
		t.Errorf("topic list --names = %q, want only dup", out)
	}
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "delete", "dup")
}

// TestCLISignals checks that SIGTERM ends consume cleanly (exit 0, every
// record printed so far flushed) and ends produce after flushing what it
// read (exit 130: the input was cut short).
func TestCLISignals(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, bytes.NewReader(seqInput(1000)), 30*time.Second, "produce", "sig")

	cons := startCLI(t, b.Addr, "consume", "sig")
	cons.waitLines(1000, 30*time.Second)
	cons.cmd.Process.Signal(syscall.SIGTERM)
	if code := cons.wait(30 * time.Second); code != 0 {
		t.Errorf("consume exited %d after SIGTERM", code)
	}
	checkSeqMultiset(t, cons.output(), 1000)

	prod := startCLI(t, b.Addr, "produce", "sig")
	if _, err := io.WriteString(prod.stdin, "1001\n1002\n1003\n"); err != nil {
		t.Fatal(err)
	}
	tail := startCLI(t, b.Addr, "consume", "sig", "--from", "1000")
	tail.waitLines(3, 30*time.Second) // produced while stdin is still open
	prod.cmd.Process.Signal(syscall.SIGTERM)
	if code := prod.wait(30 * time.Second); code != 130 || !strings.Contains(prod.errors(), "interrupted after 3 records") {
		t.Errorf("produce after SIGTERM: exit %d, stderr %q; want 130 and the record count", code, prod.errors())
	}
}
