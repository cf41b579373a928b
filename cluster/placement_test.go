package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func brokersN(n int, racks ...string) []BrokerPlacement {
	bs := make([]BrokerPlacement, n)
	for i := range bs {
		bs[i].ID = int32(i + 1)
		if len(racks) > 0 {
			bs[i].Rack = racks[i%len(racks)]
		}
	}
	return bs
}

func TestAssignReplicasSpread(t *testing.T) {
	cases := []struct {
		brokers, partitions, rf, start int
		racks                          []string
	}{
		{3, 12, 1, 0, nil},
		{3, 12, 3, 2, nil},
		{5, 10, 3, 1, nil},
		{4, 8, 2, 3, nil},
		{6, 12, 3, 0, []string{"a", "b", "c"}},
		{4, 8, 2, 1, []string{"a", "b"}},
		{1, 4, 1, 0, nil},
	}
	for _, c := range cases {
		name := fmt.Sprintf("brokers=%d,partitions=%d,rf=%d,start=%d,racks=%d", c.brokers, c.partitions, c.rf, c.start, len(c.racks))
		t.Run(name, func(t *testing.T) {
			bs := brokersN(c.brokers, c.racks...)
			got, err := AssignReplicas(bs, c.partitions, c.rf, c.start)
			if err != nil {
				t.Fatal(err)
			}
			rack := map[int32]string{}
			for _, b := range bs {
				rack[b.ID] = b.Rack
			}
			leaders, replicas := map[int32]int{}, map[int32]int{}
			for p, rs := range got {
				if len(rs) != c.rf {
					t.Fatalf("partition %d: %v, want %d replicas", p, rs, c.rf)
				}
				racks := map[string]bool{}
				for i, id := range rs {
					if slices.Contains(rs[:i], id) {
						t.Fatalf("partition %d: %v repeats %d", p, rs, id)
					}
					replicas[id]++
					racks[rack[id]] = true
				}
				leaders[rs[0]]++
				if len(c.racks) > 0 && len(racks) != min(c.rf, len(c.racks)) {
					t.Fatalf("partition %d: %v spans racks %v", p, rs, racks)
				}
			}
			// Even spread: leader and replica counts differ by at most one.
			for _, counts := range []map[int32]int{leaders, replicas} {
				lo, hi := c.partitions*c.rf, 0
				for _, b := range bs {
					lo, hi = min(lo, counts[b.ID]), max(hi, counts[b.ID])
				}
				if hi-lo > 1 {
					t.Fatalf("uneven: %v (leaders %v, replicas %v)", counts, leaders, replicas)
				}
			}
		})
	}
}

func TestAssignReplicas12Over3(t *testing.T) {
	got, err := AssignReplicas(brokersN(3), 12, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{2}, {3}, {1}, {2}, {3}, {1}, {2}, {3}, {1}, {2}, {3}, {1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAssignReplicasRefuses(t *testing.T) {
	cases := []struct {
		name           string
		brokers        []BrokerPlacement
		partitions, rf int
		want           error
	}{
		{"rf above brokers", brokersN(2), 1, 3, ErrInvalidReplicationFactor},
		{"rf zero", brokersN(2), 1, 0, ErrInvalidReplicationFactor},
		{"no brokers", nil, 1, 1, ErrInvalidReplicationFactor},
		{"no partitions", brokersN(2), 0, 1, ErrInvalidChange},
		{"some racks missing", []BrokerPlacement{{ID: 1, Rack: "a"}, {ID: 2}}, 1, 1, ErrInvalidChange},
		{"broker twice", []BrokerPlacement{{ID: 1}, {ID: 1}}, 1, 1, ErrInvalidChange},
	}
	for _, c := range cases {
		if _, err := AssignReplicas(c.brokers, c.partitions, c.rf, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}
