package client

import (
	"errors"
	"reflect"
	"testing"
)

func TestAssignRange(t *testing.T) {
	members := []groupMember{{"m2", []string{"a", "b"}}, {"m1", []string{"a", "b"}}, {"m3", []string{"b"}}}
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
	members := []groupMember{{"m2", []string{"a", "b"}}, {"m1", []string{"a"}}}
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
	if _, err := assign("sticky", members, nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("unknown assignor: %v, want ErrInvalidOption", err)
	}
}

func TestGroupEncodingsRoundTrip(t *testing.T) {
	topics := []string{"a", "orders"}
	got, err := decodeSubscription(encodeSubscription(topics))
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
	f.Fuzz(func(t *testing.T, b []byte) {
		if topics, err := decodeSubscription(b); err == nil {
			if _, err := decodeSubscription(encodeSubscription(topics)); err != nil {
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
