package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaFranzGo produces 10,000 records through the Kafka port with
// franz-go's defaults (idempotent, acks=all) and reads them back with
// franz-go (direct partition consumption) and with `spate consume` over
// the native port: every record once, identical, in partition order.
func TestKafkaFranzGo(t *testing.T) {
	const n, partitions, topic = 10000, 3, "franz"
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, partitions, 1
	create.Topics = append(create.Topics, ct)
	cresp, err := create.RequestWith(ctx, prod)
	if err != nil || cresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic %s: %v %+v", topic, err, cresp)
	}

	sent := make([]*kgo.Record, n)
	errs := make(chan error, n)
	for i := range n {
		sent[i] = &kgo.Record{
			Key:     []byte(fmt.Sprintf("k%d", i%500)),
			Value:   []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}},
		}
		prod.Produce(ctx, sent[i], func(_ *kgo.Record, err error) { errs <- err })
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	// franz-go is idempotent unless told otherwise: it got a producer id.
	if id, _, err := prod.ProducerID(ctx); err != nil || id < 0 {
		t.Fatalf("producer id %d, %v: the producer did not run idempotent", id, err)
	}

	offsets := map[int32]kgo.Offset{}
	for p := range int32(partitions) {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	byPos := map[[2]int64]*kgo.Record{}
	for _, r := range sent {
		byPos[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			want, ok := byPos[[2]int64{int64(r.Partition), r.Offset}]
			if !ok {
				t.Fatalf("consumed %s-%d@%d, which no produce acknowledged", r.Topic, r.Partition, r.Offset)
			}
			delete(byPos, [2]int64{int64(r.Partition), r.Offset})
			if !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) || len(r.Headers) != 1 ||
				r.Headers[0].Key != "i" || !bytes.Equal(r.Headers[0].Value, want.Headers[0].Value) {
				t.Fatalf("%d@%d: consumed key %q value %q headers %v, produced %q %q %v",
					r.Partition, r.Offset, r.Key, r.Value, r.Headers, want.Key, want.Value, want.Headers)
			}
			got++
		})
	}

	// The native port serves the same log: spate consume sees every value.
	out := mustCLI(t, b.Addr, nil, 60*time.Second, "consume", topic, "--from", "beginning", "--count", strconv.Itoa(n), "--format", `%k %v\n`)
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		k, v, _ := strings.Cut(l, " ")
		i, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
		if err != nil || i < 0 || i >= n || k != string(sent[i].Key) || seen[v] {
			t.Fatalf("spate consume line %q: not one of the produced records, or seen twice", l)
		}
		seen[v] = true
	}
	if len(seen) != n {
		t.Fatalf("spate consume read %d distinct records, want %d", len(seen), n)
	}
}

// TestKcat drives the Kafka port with kcat (librdkafka): metadata listing,
// keyed produce (idempotent, as librdkafka enables it) and consuming from
// the beginning to the end of the partition.
func TestKcat(t *testing.T) {
	kcat := lookKcat(t)
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", "kc", "--partitions", "1")
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", b.Kafka}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("kcat %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
		}
		return out.String()
	}

	meta := run("", "-L")
	if !strings.Contains(meta, "1 brokers:") || !strings.Contains(meta, "at "+b.Kafka) ||
		!strings.Contains(meta, `topic "kc" with 1 partitions:`) {
		t.Fatalf("kcat -L:\n%s", meta)
	}

	var in strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&in, "key%d:value %d\n", i%7, i)
	}
	run(in.String(), "-P", "-t", "kc", "-K:", "-X", "enable.idempotence=true")
	out := run("", "-C", "-t", "kc", "-o", "beginning", "-e", "-f", `%k:%s\n`)
	if out != in.String() {
		t.Fatalf("kcat -C read %d bytes that differ from the %d produced; first lines:\n%.300s", len(out), in.Len(), out)
	}
}

// TestKafkaGroups consumes through the Kafka port in consumer groups: two
// franz-go members (cooperative-sticky, franz-go's default) share the
// partitions and commit, and kcat -G reads the topic in a group of its
// own. Every record is read, and the committed offsets cover the log.
func TestKafkaGroups(t *testing.T) {
	const n, partitions, topic = 2000, 4, "grouped"
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", topic, "--partitions", strconv.Itoa(partitions))
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	seen := make(chan string, 2*n)
	for range 2 { // members of group kg
		startGroupMember(ctx, t, b, seen, kgo.ConsumerGroup("kg"), kgo.ConsumeTopics(topic))
	}
	if got := readDistinct(ctx, seen, n); got < n {
		t.Fatalf("group kg consumed %d of %d records", got, n)
	}
	deadline := time.Now().Add(60 * time.Second)
	for committed := int64(0); committed != n; {
		if time.Now().After(deadline) {
			t.Fatalf("group kg committed offsets summing to %d, want %d", committed, n)
		}
		time.Sleep(100 * time.Millisecond)
		committed = committedSum(ctx, t, prod, "kg")
	}

	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed: the kcat -G half is skipped")
	}
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	defer ccancel()
	out, err := exec.CommandContext(cctx, kcat, "-b", b.Kafka, "-G", "kcat-group", topic,
		"-o", "beginning", "-e", "-f", `%s\n`).Output()
	if err != nil {
		t.Fatalf("kcat -G: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("kcat -G read %d records, want %d", len(lines), n)
	}
}

// startGroupMember starts a franz-go group member (opts name the group
// and topics) that reads from the start, sends every value it reads to
// seen and commits after each poll, until ctx ends or the test does.
func startGroupMember(ctx context.Context, t *testing.T, b *brokerProc, seen chan<- string, opts ...kgo.Opt) {
	t.Helper()
	cl := newKgo(t, b, append([]kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit()}, opts...)...)
	go func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { seen <- string(r.Value) })
			cl.CommitUncommittedOffsets(ctx)
		}
	}()
}

// readDistinct reads values from seen until n distinct ones have come, or
// ctx ends; it returns how many distinct ones came.
func readDistinct(ctx context.Context, seen <-chan string, n int) int {
	got := map[string]bool{}
	for len(got) < n {
		select {
		case v := <-seen:
			got[v] = true
		case <-ctx.Done():
			return len(got)
		}
	}
	return n
}

// newKgo is a franz-go client of b's Kafka port, closed when the test ends.
func newKgo(t *testing.T, b *brokerProc, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Kafka)}, opts...)...)
	if err != nil {
		t.Fatalf("franz-go client of %s: %v", b.Kafka, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// committedSum asks the group coordinator for group's committed offsets
// of every topic and adds them up.
func committedSum(ctx context.Context, t *testing.T, cl *kgo.Client, group string) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.Topics = nil // all topics
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("OffsetFetch %s: %v %+v", group, err, resp)
	}
	var sum int64
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Offset > 0 {
				sum += p.Offset
			}
		}
	}
	return sum
}

// TestKafkaCompression round-trips franz-go batches of every codec: the
// broker validates and stores them as they came, and the consumer
// decompresses what it fetched.
func TestKafkaCompression(t *testing.T) {
	const n = 500
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		topic := "codec-" + name
		mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", topic, "--partitions", "1")
		prod := newKgo(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec))
		var want []string
		for i := range n {
			want = append(want, strings.Repeat(fmt.Sprintf("%s record %d ", name, i), 4))
			prod.Produce(ctx, &kgo.Record{Value: []byte(want[i])}, nil)
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatalf("%s: flush: %v", name, err)
		}
		cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		var got []string
		for len(got) < n {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%s: consumed %d of %d records", name, len(got), n)
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("%s: fetch: %v", name, err) })
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: consumed records differ from those produced", name)
		}
	}
}

// TestKafkaIdempotentAcrossKill keeps an idempotent franz-go producer
// (acks=all) running while its flush.policy=always broker is killed with
// SIGKILL and restarted on the same data and Kafka address: every record
// is acknowledged and stored exactly once.
func TestKafkaIdempotentAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test")
	}
	const n, partitions, topic = 30000, 2, "exactly"
	dir, kafkaAddr := t.TempDir(), freeAddr(t)
	flags := []string{"--kafka-addr", kafkaAddr, "--set", "log.flush.policy=always"}
	b := startBroker(t, dir, "127.0.0.1:0", flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "create", topic, "--partitions", strconv.Itoa(partitions))

	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond))
	acked := make(chan error, n)
	go func() {
		for i := range n {
			prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) { acked <- err })
		}
	}()
	waitAcks := func(count int) {
		t.Helper()
		for range count {
			select {
			case err := <-acked:
				if err != nil {
					t.Fatalf("produce: %v", err)
				}
			case <-ctx.Done():
				t.Fatalf("records still unacknowledged: %v", ctx.Err())
			}
		}
	}
	waitAcks(n / 3)
	b.kill()
	b = startBroker(t, dir, "127.0.0.1:0", flags...)
	waitAcks(n - n/3)

	cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}))
	seen := make(map[string]int, n)
	for len(seen) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d distinct of %d records", len(seen), n)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if seen[string(r.Value)]++; seen[string(r.Value)] > 1 {
				t.Fatalf("record %s stored twice (second at %d@%d)", r.Value, r.Partition, r.Offset)
			}
		})
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for p := range int32(partitions) {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	resp, err := lo.RequestWith(ctx, cons)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range resp.Topics[0].Partitions {
		total += p.Offset
	}
	if total != n {
		t.Fatalf("the partitions hold %d records, want exactly %d", total, n)
	}
}
