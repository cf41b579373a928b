package client_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
)

// TestGroupCommitMarkedAndLag: under CommitMarked, Close commits what was
// marked, not what Poll returned; an unread partition is committed at its
// resolved start; Lag reads the rest from the group's commits.
func TestGroupCommitMarkedAndLag(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group, parts = "marked", "markers", 2
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 100) // 50 per partition
	ctx := ctxFor(t)
	start := client.Earliest()
	gc, err := client.NewGroupConsumer(group, []string{topic}, client.GroupSettings{SessionTimeout: 6 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond, AutoCommitInterval: -1, CommitMarked: true, Start: &start},
		client.SeedBrokers(b.Addr()), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	got := map[int32]int64{} // records Poll returned per partition
	for got[0] < 50 || got[1] < 50 {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs, err := gc.Poll(pctx)
		cancel()
		if err != nil {
			t.Fatalf("poll after %v: %v", got, err)
		}
		if err := fs.EachRecord(func(r *client.Record) { got[r.Partition]++ }); err != nil {
			t.Fatal(err)
		}
	}
	gc.MarkProcessed(topic, 0, 29)  // offsets 0..29 of partition 0
	gc.MarkProcessed(topic, 0, 9)   // never back
	gc.MarkProcessed(topic, 1, 999) // never past what Poll returned
	gc.MarkProcessed("other", 0, 5) // not owned: ignored
	if err := gc.CommitOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	lag, err := gc.Lag(ctx)
	want := map[client.TopicPartition]int64{{Topic: topic, Partition: 0}: 20, {Topic: topic, Partition: 1}: 0}
	if err != nil || !maps.Equal(lag, want) {
		t.Fatalf("lag %v, %v; want %v", lag, err, want)
	}
	if err := gc.Close(); err != nil {
		t.Fatal(err)
	}
	offsets, err := committedOffsets(t, b.Addr(), group)
	wantOffsets := map[client.TopicPartition]int64{{Topic: topic, Partition: 0}: 30, {Topic: topic, Partition: 1}: 50}
	if err != nil || !maps.Equal(offsets, wantOffsets) {
		t.Fatalf("committed after Close: %v, %v; want %v (the marks, not the 50 Poll returned of partition 0)", offsets, err, wantOffsets)
	}
}

// TestGroupCommitsStartOfUnreadPartition: a member that reads nothing
// still commits where each partition starts (Start resolved), so a group
// reading from the end shows no lag for records it chose to skip.
func TestGroupCommitsStartOfUnreadPartition(t *testing.T) {
	b := brokertest.Start(t, nil)
	const topic, group = "skipped", "enders"
	createTopic(t, b.Addr(), topic, 1)
	produceSpread(t, b.Addr(), topic, 1, 0, 10)
	ctx := ctxFor(t)
	assigned := make(chan []client.TopicPartition, 1)
	gc, err := client.NewGroupConsumer(group, []string{topic}, client.GroupSettings{SessionTimeout: 6 * time.Second,
		OnAssigned: func(tps []client.TopicPartition) { assigned <- tps }}, client.SeedBrokers(b.Addr()), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("never assigned")
	}
	if err := gc.Close(); err != nil {
		t.Fatal(err)
	}
	offsets, err := committedOffsets(t, b.Addr(), group)
	if want := map[client.TopicPartition]int64{{Topic: topic, Partition: 0}: 10}; err != nil || !maps.Equal(offsets, want) {
		t.Fatalf("committed %v, %v; want %v (Latest resolved to the end)", offsets, err, want)
	}
}

// TestNewGroupConsumerRefuses: options that cannot work with a group fail
// at once, before anything connects.
func TestNewGroupConsumerRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		settings client.GroupSettings
		opts     []client.Opt
	}{
		"Assign":            {opts: []client.Opt{client.Assign("t", nil, client.Earliest())}},
		"unknown assignor":  {settings: client.GroupSettings{Assignors: []string{"fair"}}},
		"heartbeat>session": {settings: client.GroupSettings{SessionTimeout: 6 * time.Second, HeartbeatInterval: 7 * time.Second}},
	} {
		gc, err := client.NewGroupConsumer("g", []string{"t"}, tc.settings, append(tc.opts, client.SeedBrokers("127.0.0.1:1"))...)
		if !errors.Is(err, client.ErrInvalidOption) {
			if gc != nil {
				gc.Close()
			}
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// committedOffsets reads group's committed offsets through an Admin.
func committedOffsets(t *testing.T, addr, group string) (map[client.TopicPartition]int64, error) {
	t.Helper()
	a, err := client.NewAdmin(client.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return a.FetchGroupOffsets(ctxFor(t), group)
}
