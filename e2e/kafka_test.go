package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
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

	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Kafka), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
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
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Kafka),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
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
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kcat is not installed (.ci/run installs it): %v", err)
		}
		t.Skip("kcat is not installed (apt-get install kcat)")
	}
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
