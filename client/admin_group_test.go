package client_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

// TestAdminGroups walks a group's admin life: a live member is listed and
// described with its assignment; offsets cannot be set or the group
// deleted while it has members; once it is empty, a standalone commit
// moves its offsets and delete removes them.
func TestAdminGroups(t *testing.T) {
	b := brokertest.Start(t, func(c *broker.Config) { c.GroupInitialRebalanceDelay = 0 })
	const topic, group, parts = "ledger", "auditors", 3
	createTopic(t, b.Addr(), topic, parts)
	produceSpread(t, b.Addr(), topic, parts, 0, 30)
	a, err := client.NewAdmin(client.SeedBrokers(b.Addr()), fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := ctxFor(t)

	var mu sync.Mutex
	seen := map[string]int{}
	r := startReader(t, b.Addr(), group, topic, "", seen, &mu)
	waitSeen(t, &mu, seen, 0, 30)

	groups, err := a.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || groups[0].GroupID != group || groups[0].ProtocolType != client.GroupProtocolType {
		t.Fatalf("ListGroups = %+v, want the one group %q", groups, group)
	}
	descs, err := a.DescribeGroups(ctx, group, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if len(descs) != 2 {
		t.Fatalf("DescribeGroups returned %d groups, want 2", len(descs))
	}
	if d := descs[0]; d.State != "Stable" || d.Protocol != client.AssignRange || len(d.Members) != 1 {
		t.Fatalf("described %+v; want Stable, range, one member", d)
	}
	m := descs[0].Members[0]
	want := []client.TopicPartition{{topic, 0}, {topic, 1}, {topic, 2}}
	if m.AssignErr != nil || len(m.Assigned) != parts || m.Assigned[0] != want[0] || m.Assigned[2] != want[2] || m.MemberID == "" || m.ClientHost == "" {
		t.Fatalf("member %+v; want assignment %v, a member id and a host", m, want)
	}
	if descs[1].State != "Dead" || len(descs[1].Members) != 0 {
		t.Errorf("unknown group described as %+v, want Dead without members", descs[1])
	}

	if err := a.CommitGroupOffsets(ctx, group, map[client.TopicPartition]int64{{topic, 0}: 1}); err == nil {
		t.Error("a standalone commit to a group with a member succeeded")
	}
	if err := a.DeleteGroups(ctx, group); !errors.Is(err, wire.ErrNonEmptyGroup) {
		t.Errorf("deleting a group with a member: %v, want NON_EMPTY_GROUP", err)
	}

	r.close(t) // commits what it read: 10 records a partition
	offsets, err := a.FetchGroupOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range want {
		if offsets[tp] != 10 {
			t.Errorf("committed offsets %v; want 10 for %v", offsets, tp)
		}
	}
	if err := a.CommitGroupOffsets(ctx, group, map[client.TopicPartition]int64{{topic, 0}: 3, {topic, 2}: 0}); err != nil {
		t.Fatalf("standalone commit to an empty group: %v", err)
	}
	offsets, err = a.FetchGroupOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if offsets[want[0]] != 3 || offsets[want[1]] != 10 || offsets[want[2]] != 0 {
		t.Errorf("after the commit: offsets %v, want 3, 10, 0", offsets)
	}

	if err := a.DeleteGroups(ctx, group); err != nil {
		t.Fatalf("delete the empty group: %v", err)
	}
	if offsets, err = a.FetchGroupOffsets(ctx, group); err != nil || len(offsets) != 0 {
		t.Errorf("after delete: offsets %v, %v; want none", offsets, err)
	}
	if groups, err = a.ListGroups(ctx); err != nil || len(groups) != 0 {
		t.Errorf("after delete: ListGroups = %+v, %v; want none", groups, err)
	}
}
