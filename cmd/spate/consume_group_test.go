package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// groupTestTopic starts a broker without the initial rebalance delay and
// fills a topic of parts partitions with perPartition records each, values
// "<partition>-<i>".
func groupTestTopic(t *testing.T, ctx context.Context, topic string, parts, perPartition int) []client.Opt {
	t.Helper()
	addr := brokertest.Start(t, func(c *broker.Config) { c.GroupInitialRebalanceDelay = 0 }).Addr()
	opts := []client.Opt{client.SeedBrokers(addr)}
	a, err := client.NewAdmin(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, topic, int32(parts), 1, nil); err != nil {
		t.Fatal(err)
	}
	p, err := client.NewProducer(client.SeedBrokers(addr), client.Partitioner(client.PartitionManual))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []*client.Record
	for i := 0; i < parts*perPartition; i++ {
		recs = append(recs, &client.Record{Topic: topic, Partition: int32(i % parts), Value: []byte(fmt.Sprintf("%d-%d", i%parts, i/parts))})
	}
	if err := p.ProduceSync(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	return opts
}

// printedOffsets parses "%p %o\n" lines into partition -> offsets printed,
// failing on a line printed twice.
func printedOffsets(t *testing.T, out string, into map[int32][]int64) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var p int32
		var o int64
		if _, err := fmt.Sscanf(l, "%d %d", &p, &o); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, seen := range into[p] {
			if seen == o {
				t.Fatalf("partition %d offset %d printed twice", p, o)
			}
		}
		into[p] = append(into[p], o)
	}
}

// TestConsumeGroupCountIsExact: `consume --group --count N` commits only
// the N records it printed, though its fetches brought more; a second run
// prints the next N. Together: 2N distinct records, and in each partition
// the offsets from 0 without a gap.
func TestConsumeGroupCountIsExact(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, parts, perPartition, count = "orders", 3, 100, 70
	opts := groupTestTopic(t, ctx, topic, parts, perPartition)
	f, err := parseFormat(`%p %o\n`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumeConfig{topic: topic, from: client.Earliest(), format: f, count: count, opts: opts,
		group: "exact", sessionTimeout: 6 * time.Second}
	consumeRunsDense(t, ctx, cfg, 2, nil)
}

// consumeRunsDense runs `consume` (cfg.count records each) runs times,
// calling after, if set, with each run's duration, and fails unless the
// runs together printed runs*cfg.count distinct records, in each partition
// the offsets from 0 without a gap: each run went on exactly from the
// previous one's commit.
func consumeRunsDense(t *testing.T, ctx context.Context, cfg consumeConfig, runs int, after func(run int, took time.Duration)) {
	t.Helper()
	printed := map[int32][]int64{}
	for run := 1; run <= runs; run++ {
		start := time.Now()
		var out bytes.Buffer
		if n, err := consume(ctx, cfg, &out); err != nil || n != cfg.count {
			t.Fatalf("run %d: %d records, %v; want %d", run, n, err, cfg.count)
		}
		if after != nil {
			after(run, time.Since(start))
		}
		printedOffsets(t, out.String(), printed)
	}
	total := 0
	for p, offs := range printed {
		total += len(offs)
		for _, want := range offs {
			if want >= int64(len(offs)) {
				t.Errorf("partition %d: offsets %v are not 0..%d: a gap", p, offs, len(offs)-1)
				break
			}
		}
	}
	if total != runs*int(cfg.count) {
		t.Errorf("%d runs printed %d distinct records, want %d", runs, total, runs*int(cfg.count))
	}
}

// TestConsumeGroupExitIdleWaitsForGroup: a member idle for --exit-idle
// does not exit while another member holds unread partitions; when that
// member leaves without reading them, the idle one takes them over, prints
// them and exits.
func TestConsumeGroupExitIdleWaitsForGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, group, parts, perPartition = "events", "waiters", 4, 50
	opts := groupTestTopic(t, ctx, topic, parts, perPartition)
	start := client.Earliest()
	assigned := make(chan []client.TopicPartition, 4)
	// A member that never polls: it holds partitions and reads nothing.
	sleeper, err := client.NewGroupConsumer(group, []string{topic}, client.GroupSettings{SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond, Start: &start,
		OnAssigned: func(tps []client.TopicPartition) { assigned <- tps }}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer sleeper.Close()
	if tps := <-assigned; len(tps) != parts {
		t.Fatalf("the first member got %v, want all %d partitions", tps, parts)
	}

	f, err := parseFormat(`%p %o\n`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := consumeConfig{topic: topic, from: client.Earliest(), format: f, exitIdle: 500 * time.Millisecond, opts: opts,
		group: group, sessionTimeout: 6 * time.Second}
	var out lockedBuffer
	done := make(chan error, 1)
	var n int64
	go func() {
		var err error
		n, err = consume(ctx, cfg, &out)
		done <- err
	}()
	// The CLI member joins, the sleeper keeps half of the partitions.
	select {
	case tps := <-assigned:
		if len(tps) == 0 || len(tps) == parts {
			t.Fatalf("after the second member joined, the first has %v; want some of the %d partitions", tps, parts)
		}
	case <-ctx.Done():
		t.Fatal("no rebalance after the second member joined")
	}
	// Well past --exit-idle after its own partitions are printed, the CLI
	// member must still be there: the group lags on the sleeper's.
	select {
	case err := <-done:
		t.Fatalf("consume exited (%v) while the group still lagged; printed:\n%s", err, out.String())
	case <-time.After(3 * time.Second):
	}
	if err := sleeper.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("consume did not exit after the other member left and the lag was read")
	}
	printed := map[int32][]int64{}
	printedOffsets(t, out.String(), printed)
	if n != parts*perPartition || len(printed) != parts {
		t.Fatalf("printed %d records of %d partitions, want %d of %d", n, len(printed), parts*perPartition, parts)
	}
}

// lockedBuffer is a bytes.Buffer written by consume's goroutine and read
// by the test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestConsumeGroupStaticMember: a member with --instance-id stays in the
// group when it exits (a dynamic one leaves, and the group would be Empty),
// and run again under the same id it takes its place back at once, without
// waiting for a rebalance: it goes on exactly from its commit.
func TestConsumeGroupStaticMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const topic, parts, perPartition, count = "static", 2, 100, 30
	opts := groupTestTopic(t, ctx, topic, parts, perPartition)
	f, err := parseFormat(`%p %o\n`)
	if err != nil {
		t.Fatal(err)
	}
	const session = 30 * time.Second
	cfg := consumeConfig{topic: topic, from: client.Earliest(), format: f, count: count, opts: opts,
		group: "statics", sessionTimeout: session, instanceID: "a"}
	consumeRunsDense(t, ctx, cfg, 2, func(run int, took time.Duration) {
		if run == 2 && took > session/2 {
			t.Errorf("run 2 under the same instance id took %v: it waited for a rebalance", took)
		}
	})
	a, err := client.NewAdmin(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.DescribeGroups(ctx, "statics")
	if err != nil || len(d[0].Members) != 1 || d[0].Members[0].InstanceID != "a" || d[0].State != "Stable" {
		t.Fatalf("after two runs of static member a: %+v, %v; want it still in the Stable group", d, err)
	}
}
