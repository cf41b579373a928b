package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Every client below prints a record as one "PARTITION OFFSET KEY VALUE"
// line; keys and values are ASCII without spaces.
func recordLine(partition int32, offset int64, key, value []byte) string {
	return fmt.Sprintf("%d %d %s %s", partition, offset, key, value)
}

// TestKafkaCrossClients writes one topic with four clients (franz-go
// idempotent, kafka-python acks=all, sarama's sync producer acks=all,
// kcat keyed) and reads it back with five (franz-go, kafka-python and
// sarama in consumer groups that commit, kcat, `spate consume` on the
// native port): every reader sees the same records at the same partitions
// and offsets, and each writer's records are among them as it wrote them.
func TestKafkaCrossClients(t *testing.T) {
	const topic, partitions, each = "cross", 3, 200
	python := pythonWithKafka(t)
	kcat := lookKcat(t)
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}

	var written []string // what the writers that report offsets were told
	for i := range each {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("franz-k%d", i%7)), Value: []byte(fmt.Sprintf("franz-%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("franz-go produce: %v", err)
		}
		written = append(written, recordLine(r.Partition, r.Offset, r.Key, r.Value))
	}
	written = append(written, runLines(t, ctx, python, "testdata/kafka_python.py", b.Kafka, topic, "produce", strconv.Itoa(each), "python")...)
	written = append(written, saramaProduce(t, b.Kafka, topic, each, "sarama")...)
	var kcatIn strings.Builder
	for i := range each {
		fmt.Fprintf(&kcatIn, "kcat-k%d:kcat-%d\n", i%7, i)
	}
	runKcat(t, ctx, kcat, kcatIn.String(), "-b", b.Kafka, "-P", "-t", topic, "-K:")
	const total = 4 * each

	// The reference: franz-go reading every partition from the start.
	offsets := map[int32]kgo.Offset{}
	for p := range int32(partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	direct := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	var want []string
	for len(want) < total {
		fs := direct.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go read %d of %d records", len(want), total)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("franz-go fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) { want = append(want, recordLine(r.Partition, r.Offset, r.Key, r.Value)) })
	}
	slices.Sort(want)
	for _, l := range written {
		if _, found := slices.BinarySearch(want, l); !found {
			t.Fatalf("written record %q is not what franz-go reads back", l)
		}
	}
	var kcatWant, kcatGot []string
	for _, l := range strings.Split(strings.TrimSuffix(kcatIn.String(), "\n"), "\n") {
		k, v, _ := strings.Cut(l, ":")
		kcatWant = append(kcatWant, k+" "+v)
	}
	for _, l := range want {
		if f := strings.Fields(l); strings.HasPrefix(f[2], "kcat-") {
			kcatGot = append(kcatGot, f[2]+" "+f[3])
		}
	}
	slices.Sort(kcatWant)
	slices.Sort(kcatGot)
	if !slices.Equal(kcatWant, kcatGot) {
		t.Fatalf("kcat wrote %d records, franz-go reads %d of them back, or they differ", len(kcatWant), len(kcatGot))
	}

	readers := map[string][]string{
		"kafka-python group": runLines(t, ctx, python, "testdata/kafka_python.py", b.Kafka, topic, "consume", strconv.Itoa(total), "python-group"),
		"sarama group":       saramaConsume(t, ctx, b.Kafka, topic, "sarama-group", total),
		"kcat -C": strings.Split(strings.TrimSuffix(runKcat(t, ctx, kcat, "", "-b", b.Kafka, "-C", "-t", topic,
			"-o", "beginning", "-e", "-f", `%p %o %k %s\n`), "\n"), "\n"),
		"spate consume": strings.Split(strings.TrimSuffix(mustCLI(t, b.Addr, nil, 60*time.Second, "consume", topic,
			"--from", "beginning", "--count", strconv.Itoa(total), "--format", `%p %o %k %v\n`), "\n"), "\n"),
	}
	for name, got := range readers {
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s read %d records that differ from franz-go's %d", name, len(got), len(want))
		}
	}
	for _, group := range []string{"python-group", "sarama-group"} {
		if sum := committedSum(ctx, t, cl, group); sum != total {
			t.Errorf("group %s committed offsets summing to %d, want %d", group, sum, total)
		}
	}
}

// TestKafkaBalancers consumes one topic in three franz-go groups at once,
// one per balancer (range, round-robin, cooperative-sticky), two members
// each: every group reads every record, commits them all, and settles
// with both members assigned partitions by the balancer it asked for.
func TestKafkaBalancers(t *testing.T) {
	const topic, partitions, n = "balanced", 4, 400
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(prod)
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	balancers := map[string]kgo.GroupBalancer{
		"range": kgo.RangeBalancer(), "roundrobin": kgo.RoundRobinBalancer(), "cooperative-sticky": kgo.CooperativeStickyBalancer(),
	}
	var wg sync.WaitGroup
	for name, bal := range balancers {
		group := "bal-" + name
		seen := make(chan string, 2*n)
		for range 2 {
			startGroupMember(ctx, t, b, seen, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(bal))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := readDistinct(ctx, seen, n); got < n {
				t.Errorf("group %s read %d of %d records", group, got, n)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	settled := func(group, protocol string) error { return balancedGroup(ctx, t, prod, group, protocol, n) }
	for name := range balancers {
		group := "bal-" + name
		var last string // logged when it changes, so a failure says why
		waitFor(t, 60*time.Second, "group "+group+" settles with every offset committed", func() bool {
			err := settled(group, name)
			if err != nil && err.Error() != last {
				last = err.Error()
				t.Logf("waiting: %v", err)
			}
			return err == nil
		})
	}
}

// balancedGroup says why group has not yet committed n offsets and settled
// with two members assigned partitions by protocol, or nil once it has.
func balancedGroup(ctx context.Context, t *testing.T, cl *kgo.Client, group, protocol string, n int64) error {
	if sum := committedSum(ctx, t, cl, group); sum != n {
		return fmt.Errorf("group %s committed offsets summing to %d, want %d", group, sum, n)
	}
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return err
	}
	g := described[group]
	if g.State != "Stable" || g.Protocol != protocol || len(g.Members) != 2 {
		return fmt.Errorf("group %s: state %s, protocol %q, %d members", group, g.State, g.Protocol, len(g.Members))
	}
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); !ok || len(c.Topics) != 1 || len(c.Topics[0].Partitions) == 0 {
			return fmt.Errorf("group %s: member %s assigned %+v", group, m.MemberID, m.Assigned)
		}
	}
	return nil
}

// pythonWithKafka returns a python3 that imports kafka-python (Debian's
// python3-kafka is for /usr/bin/python3, which need not be first on PATH).
func pythonWithKafka(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import kafka").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no python3 imports kafka (.ci/run installs python3-kafka); tried %v", candidates)
	}
	t.Skip("kafka-python is not installed (apt-get install python3-kafka)")
	return ""
}

// lookKcat returns kcat's path, or skips the test outside CI.
func lookKcat(t *testing.T) string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kcat is not installed (.ci/run installs it): %v", err)
		}
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
	return kcat
}

// runLines runs a command and returns its output lines; a failure or a
// non-zero exit fails the test with its stderr.
func runLines(t *testing.T, ctx context.Context, name string, args ...string) []string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, errOut.String())
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// runKcat runs kcat with stdin and returns its output.
func runKcat(t *testing.T, ctx context.Context, kcat, stdin string, args ...string) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, kcat, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// saramaConfig is sarama's defaults (Kafka 2.8 protocol versions) with
// acks=all and the group reading from the oldest offset.
func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "spate-e2e"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	return cfg
}

// saramaProduce sends n keyed records with sarama's sync producer and
// returns their lines with the partitions and offsets it was told.
func saramaProduce(t *testing.T, addr, topic string, n int, prefix string) []string {
	t.Helper()
	prod, err := sarama.NewSyncProducer([]string{addr}, saramaConfig())
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer prod.Close()
	var lines []string
	for i := range n {
		k, v := fmt.Sprintf("%s-k%d", prefix, i%7), fmt.Sprintf("%s-%d", prefix, i)
		p, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(v)})
		if err != nil {
			t.Fatalf("sarama produce %s: %v", v, err)
		}
		lines = append(lines, recordLine(p, off, []byte(k), []byte(v)))
	}
	return lines
}

// saramaHandler collects the records of a sarama consumer group session
// and marks each consumed, so sarama commits it.
type saramaHandler struct{ lines chan<- string }

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.lines <- recordLine(m.Partition, m.Offset, m.Key, m.Value)
		s.MarkMessage(m, "")
	}
	return nil
}

// saramaConsume reads n records of topic in group (the range strategy,
// sarama's default) and closes the group, which commits what was marked.
func saramaConsume(t *testing.T, ctx context.Context, addr, topic, group string, n int) []string {
	t.Helper()
	g, err := sarama.NewConsumerGroup([]string{addr}, group, saramaConfig())
	if err != nil {
		t.Fatalf("sarama consumer group: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	lines := make(chan string, n)
	done := make(chan error, 1)
	go func() {
		for cctx.Err() == nil {
			if err := g.Consume(cctx, []string{topic}, saramaHandler{lines}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var got []string
	for len(got) < n {
		select {
		case l := <-lines:
			got = append(got, l)
		case err := <-done:
			t.Fatalf("sarama group %s stopped after %d of %d records: %v", group, len(got), n, err)
		case <-ctx.Done():
			t.Fatalf("sarama group %s read %d of %d records", group, len(got), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sarama group %s: %v", group, err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("sarama group %s close: %v", group, err)
	}
	return got
}
