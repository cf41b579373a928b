package client

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestCooperativeWithholdsMovingPartitions: a fourth member joins three
// that own 4 of 12 partitions each. The first round gives the newcomer
// nothing (each partition it will get is still owned by another member)
// and takes one partition from each old member; the follow-up round, with
// the old members no longer owning those, hands them to the newcomer.
func TestCooperativeWithholdsMovingPartitions(t *testing.T) {
	members := stickyMembers([]string{"t"}, map[string][]int32{
		"m1": {0, 1, 2, 3}, "m2": {4, 5, 6, 7}, "m3": {8, 9, 10, 11}, "m4": nil,
	})
	partitions := map[string]int32{"t": 12}
	first, err := assign(AssignCooperativeSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]int32{"m1": {"t": {0, 1, 2}}, "m2": {"t": {4, 5, 6}}, "m3": {"t": {8, 9, 10}}, "m4": {}}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first round: got %v, want %v (3, 7 and 11 move, so nobody gets them yet)", first, want)
	}
	for i := range members {
		members[i].owned = first[members[i].id]
	}
	second, err := assign(AssignCooperativeSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, second, members, partitions)
	want["m4"] = map[string][]int32{"t": {3, 7, 11}}
	if !reflect.DeepEqual(second, want) {
		t.Fatalf("follow-up round: got %v, want %v", second, want)
	}
}

// TestCooperativeLeaverPartitionsMoveAtOnce: what a departed member owned
// has no owner left, so it is assigned in the same round, and nobody else
// loses anything.
func TestCooperativeLeaverPartitionsMoveAtOnce(t *testing.T) {
	members := stickyMembers([]string{"t"}, map[string][]int32{"m1": {0, 1}, "m2": {2, 3}}) // m3 owned 4, 5 and left
	partitions := map[string]int32{"t": 6}
	plan, err := assign(AssignCooperativeSticky, members, partitions)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, plan, members, partitions)
	for _, m := range members {
		for _, p := range m.owned["t"] {
			if !slices.Contains(plan[m.id]["t"], p) {
				t.Errorf("%s lost %d though only the leaver's partitions had to move: %v", m.id, p, plan)
			}
		}
	}
}

// TestCooperativeDoubleClaim: two members claim partition 1 (one missed a
// generation). The sticky plan gives it to m1, which claims it, so it is
// not withheld; m2 sees it gone from its assignment and gives it up.
func TestCooperativeDoubleClaim(t *testing.T) {
	members := []groupMember{
		{id: "m1", topics: []string{"t"}, owned: map[string][]int32{"t": {0, 1}}},
		{id: "m2", topics: []string{"t"}, owned: map[string][]int32{"t": {1, 2}}},
	}
	plan, err := assign(AssignCooperativeSticky, members, map[string]int32{"t": 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string][]int32{"m1": {"t": {0, 1}}, "m2": {"t": {2, 3}}}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("got %v, want %v", plan, want)
	}
}

// TestCooperativeProperties runs random groups through the two-phase
// protocol: each round's owners are what the previous round assigned.
// Every round: no partition goes to a member while another one owns it,
// the plan is the sticky plan minus what is withheld, and with the same
// members, the round after one that withheld something withholds nothing
// and is complete.
func TestCooperativeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		partitions := map[string]int32{"t": int32(1 + rng.IntN(40))}
		var members []groupMember
		for i := range 1 + rng.IntN(8) {
			members = append(members, groupMember{id: fmt.Sprintf("m%02d", i), topics: []string{"t"}})
		}
		withheldBefore := false
		for round := 0; round < 8; round++ {
			plan, err := assign(AssignCooperativeSticky, members, partitions)
			if err != nil {
				t.Fatal(err)
			}
			sticky, _ := assign(AssignSticky, members, partitions)
			withheld := 0
			for _, m := range members {
				for _, p := range sticky[m.id]["t"] {
					if slices.Contains(plan[m.id]["t"], p) {
						continue
					}
					withheld++
					owned := false
					for _, o := range members {
						owned = owned || (o.id != m.id && slices.Contains(o.owned["t"], p))
					}
					if !owned || slices.Contains(m.owned["t"], p) {
						t.Fatalf("trial %d round %d: %s lost %d of the sticky plan though nobody else owns it: %v", trial, round, m.id, p, plan)
					}
				}
				for _, p := range plan[m.id]["t"] {
					if !slices.Contains(sticky[m.id]["t"], p) {
						t.Fatalf("trial %d round %d: %s got %d outside the sticky plan %v", trial, round, m.id, p, sticky)
					}
				}
			}
			if withheldBefore {
				if withheld > 0 {
					t.Fatalf("trial %d round %d: the follow-up round withheld %d: %v", trial, round, withheld, plan)
				}
				checkComplete(t, plan, members, partitions)
			}
			for i := range members {
				members[i].owned = plan[members[i].id]
			}
			// Membership changes only after a round that withheld nothing,
			// as in a group whose follow-up rebalance came first.
			withheldBefore = withheld > 0
			if withheldBefore {
				continue
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
