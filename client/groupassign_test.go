package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestAssignRange(t *testing.T) {
	members := []groupMember{{id: "m2", topics: []string{"a", "b"}}, {id: "m1", topics: []string{"a", "b"}}, {id: "m3", topics: []string{"b"}}}
	got, err := assign(AssignRange, members, map[string]int32{"a": 5, "b": 3})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]int32{
		"m1": {"a": {0, 1, 2}, "b": {0}},
		"m2": {"a": {3, 4}, "b": {1}},
		"m3": {"b": {2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("range: got %v, want %v", got, want)
	}
}

func TestAssignRoundRobin(t *testing.T) {
	members := []groupMember{{id: "m2", topics: []string{"a", "b"}}, {id: "m1", topics: []string{"a"}}}
	got, err := assign(AssignRoundRobin, members, map[string]int32{"a": 3, "b": 2})
	if err != nil {
		t.Fatal(err)
	}
	// a0→m1 a1→m2 a2→m1; b0: m2 b1: m1 skipped (not subscribed) → m2.
	want := map[string]map[string][]int32{
		"m1": {"a": {0, 2}},
		"m2": {"a": {1}, "b": {0, 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("roundrobin: got %v, want %v", got, want)
	}
	if _, err := assign("no-such-assignor", members, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("unknown assignor: %v, want ErrInvalidOption", err)
	}
}

func TestGroupEncodingsRoundTrip(t *testing.T) {
	topics := []string{"a", "orders"}
	got, _, err := decodeSubscriptionOwned(encodeSubscription(topics))
	if err != nil || !reflect.DeepEqual(got, topics) {
		t.Fatalf("subscription: %v, %v", got, err)
	}
	parts := map[string][]int32{"a": {0, 3}, "orders": {7}}
	back, err := decodeAssignment(encodeAssignment(parts))
	if err != nil || !reflect.DeepEqual(back, parts) {
		t.Fatalf("assignment: %v, %v", back, err)
	}
	enc := encodeAssignment(parts)
	for cut := 3; cut < len(enc)-4; cut++ {
		if _, err := decodeAssignment(enc[:cut]); !errors.Is(err, errBadGroupBytes) {
			t.Fatalf("assignment cut at %d of %d bytes: %v, want errBadGroupBytes", cut, len(enc), err)
		}
	}
}

func FuzzDecodeGroupBytes(f *testing.F) {
	f.Add(encodeSubscription([]string{"t"}))
	f.Add(encodeAssignment(map[string][]int32{"t": {1, 2}}))
	f.Add(encodeSubscriptionOwned([]string{"t"}, map[string][]int32{"t": {0}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if topics, owned, err := decodeSubscriptionOwned(b); err == nil {
			back, backOwned, err := decodeSubscriptionOwned(encodeSubscriptionOwned(topics, owned))
			if err != nil || len(back) != len(topics) || len(backOwned) != len(owned) {
				t.Fatalf("re-encoded v1 subscription: %v (%d/%d topics, %d/%d owned)", err, len(back), len(topics), len(backOwned), len(owned))
			}
		}
		if topics, _, err := decodeSubscriptionOwned(b); err == nil {
			if _, _, err := decodeSubscriptionOwned(encodeSubscription(topics)); err != nil {
				t.Fatalf("re-encoded subscription fails: %v", err)
			}
		}
		if parts, err := decodeAssignment(b); err == nil && len(parts) > 0 {
			if _, err := decodeAssignment(encodeAssignment(parts)); err != nil {
				t.Fatalf("re-encoded assignment fails: %v", err)
			}
		}
	})
}

func TestSubscriptionOwnedRoundTrip(t *testing.T) {
	topics := []string{"a", "b"}
	owned := map[string][]int32{"a": {2, 0}, "b": {5}}
	enc := encodeSubscriptionOwned(topics, owned)
	if v := int16(enc[0])<<8 | int16(enc[1]); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
	gotTopics, gotOwned, err := decodeSubscriptionOwned(enc)
	if err != nil || !reflect.DeepEqual(gotTopics, topics) || !reflect.DeepEqual(gotOwned, owned) {
		t.Fatalf("v1: %v %v %v", gotTopics, gotOwned, err)
	}
	// A version 0 subscription owns nothing; a v1 reader must accept it.
	_, gotOwned, err = decodeSubscriptionOwned(encodeSubscription(topics))
	if err != nil || len(gotOwned) != 0 {
		t.Fatalf("v0 through the v1 decoder: %v %v", gotOwned, err)
	}
	for cut := 2; cut < len(enc); cut++ {
		if _, _, err := decodeSubscriptionOwned(enc[:cut]); !errors.Is(err, errBadGroupBytes) {
			t.Fatalf("v1 subscription cut at %d of %d bytes: %v, want errBadGroupBytes", cut, len(enc), err)
		}
	}
}

// stickyMembers builds members subscribed to topics with the given owned
// partitions of topic "t".
func stickyMembers(topics []string, owned map[string][]int32) []groupMember {
	var ms []groupMember
	for id, ps := range owned {
		ms = append(ms, groupMember{id: id, topics: topics, owned: map[string][]int32{"t": ps}})
	}
	return ms
}

func count(plan map[string]map[string][]int32, id string) int {
	n := 0
	for _, ps := range plan[id] {
		n += len(ps)
	}
	return n
}

// checkComplete fails unless every partition of partitions is assigned to
// exactly one member subscribed to its topic.
func checkComplete(t *testing.T, plan map[string]map[string][]int32, members []groupMember, partitions map[string]int32) {
	t.Helper()
	subs := map[string][]string{}
	for _, m := range members {
		subs[m.id] = m.topics
	}
	seen := map[string]map[int32]string{}
	for id, byTopic := range plan {
		for topic, ps := range byTopic {
			if !slices.Contains(subs[id], topic) {
				t.Fatalf("%s got %s without subscribing: %v", id, topic, plan)
			}
			for _, p := range ps {
				if seen[topic] == nil {
					seen[topic] = map[int32]string{}
				}
				if other, dup := seen[topic][p]; dup {
					t.Fatalf("%s-%d given to %s and %s", topic, p, other, id)
				}
				seen[topic][p] = id
			}
		}
	}
	for topic, n := range partitions {
		if len(seen[topic]) != int(n) {
			t.Fatalf("topic %s: %d of %d partitions assigned: %v", topic, len(seen[topic]), n, plan)
		}
	}
}

func TestStickyNewMemberTakesOnlyWhatBalanceNeeds(t *testing.T) {
	// Three members own 12 partitions, 4 each; a fourth joins.
	members := stickyMembers([]string{"t"}, map[string][]int32{
		"m1": {0, 1, 2, 3}, "m2": {4, 5, 6, 7}, "m3": {8, 9, 10, 11}, "m4": nil,
	})
	partitions := map[string]int32{"t": 12}
	plan, err := assign(AssignSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, plan, members, partitions)
	want := map[string]map[string][]int32{
		"m1": {"t": {0, 1, 2}}, "m2": {"t": {4, 5, 6}}, "m3": {"t": {8, 9, 10}}, "m4": {"t": {3, 7, 11}},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("got %v, want %v (only one partition may leave each old member)", plan, want)
	}
}

func TestStickyMemberLeaves(t *testing.T) {
	// m2 left (m5 is new): its partitions go to m5, nobody else's move.
	members := stickyMembers([]string{"t"}, map[string][]int32{"m1": {0, 1, 2}, "m3": {6, 7, 8}, "m4": {3, 4, 5}, "m5": nil})
	partitions := map[string]int32{"t": 12} // m2 owned 9, 10, 11 and is gone
	plan, err := assign(AssignSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, plan, members, partitions)
	for _, m := range members {
		kept := 0
		for _, p := range m.owned["t"] {
			if slices.Contains(plan[m.id]["t"], p) {
				kept++
			}
		}
		if kept != len(m.owned["t"]) {
			t.Errorf("%s kept %d of its %v: %v", m.id, kept, m.owned["t"], plan[m.id])
		}
		if n := count(plan, m.id); n != 3 {
			t.Errorf("%s has %d partitions, want 3: %v", m.id, n, plan)
		}
	}
}

func TestStickyDropsStaleAndDuplicateClaims(t *testing.T) {
	// m1 claims a partition that no longer exists (9) and one of a topic it
	// left ("u"); m1 and m2 both claim 1 (a member that missed a
	// generation): the lower id keeps it.
	members := []groupMember{
		{id: "m2", topics: []string{"t"}, owned: map[string][]int32{"t": {1, 2}}},
		{id: "m1", topics: []string{"t"}, owned: map[string][]int32{"t": {0, 1, 9}, "u": {0}}},
	}
	partitions := map[string]int32{"t": 4, "u": 1}
	plan, err := assign(AssignSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]int32{"m1": {"t": {0, 1}}, "m2": {"t": {2, 3}}}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("got %v, want %v (u-0 has no subscriber)", plan, want)
	}
}

func TestStickyBalancesAcrossDifferentSubscriptions(t *testing.T) {
	// m1 alone reads "a"; "b" is shared: m2 and m3 split it, and m1 takes
	// none of b because it does not subscribe.
	members := []groupMember{
		{id: "m1", topics: []string{"a"}},
		{id: "m2", topics: []string{"a", "b"}, owned: map[string][]int32{"b": {0, 1, 2, 3, 4, 5}}},
		{id: "m3", topics: []string{"b"}},
	}
	partitions := map[string]int32{"a": 2, "b": 6}
	plan, err := assign(AssignSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, plan, members, partitions)
	for _, id := range []string{"m1", "m2", "m3"} {
		if n := count(plan, id); n < 2 || n > 3 {
			t.Errorf("%s has %d partitions: %v", id, n, plan)
		}
	}
	// m2 owned b-0..5 and only gives away what balance needs.
	if got := len(plan["m2"]["b"]); got != 3 {
		t.Errorf("m2 kept %d of b, want 3: %v", got, plan)
	}
}

// TestStickyProperties: random groups, ownership from the previous round
// carried into the next, as a running group would; every round is
// complete, balanced (identical subscriptions), deterministic, and moves
// no more partitions than the member count change requires.
func TestStickyProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		partitions := map[string]int32{"t": int32(1 + rng.IntN(40))}
		var members []groupMember
		for i := range 1 + rng.IntN(8) {
			members = append(members, groupMember{id: fmt.Sprintf("m%02d", i), topics: []string{"t"}})
		}
		for round := 0; round < 5; round++ {
			plan, err := assign(AssignSticky, members, partitions)
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, plan, members, partitions)
			reversed := slices.Clone(members)
			slices.Reverse(reversed)
			again, _ := assign(AssignSticky, reversed, partitions)
			if !reflect.DeepEqual(plan, again) {
				t.Fatalf("trial %d: member order changed the plan: %v vs %v", trial, plan, again)
			}
			lo, hi := int(partitions["t"]), 0
			for _, m := range members {
				n := count(plan, m.id)
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Fatalf("trial %d round %d: sizes %d..%d: %v", trial, round, lo, hi, plan)
			}
			// A member may shed at most what exceeds its fair share.
			limit := (int(partitions["t"]) + len(members) - 1) / len(members)
			for _, m := range members {
				if len(m.owned["t"]) <= limit-1 {
					for _, p := range m.owned["t"] {
						if !slices.Contains(plan[m.id]["t"], p) {
							t.Fatalf("trial %d round %d: %s owned %v (under its share %d) and lost %d: %v",
								trial, round, m.id, m.owned["t"], limit, p, plan)
						}
					}
				}
			}
			for i := range members {
				members[i].owned = plan[members[i].id]
			}
			if rng.IntN(2) == 0 && len(members) > 1 {
				i := rng.IntN(len(members))
				members = slices.Delete(members, i, i+1)
			} else {
				members = append(members, groupMember{id: fmt.Sprintf("n%02d-%d", trial, round), topics: []string{"t"}})
			}
		}
	}
}
