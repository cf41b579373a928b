package cluster

// Behavior: AssignReplicas is Kafka's replica assignment
// (AdminUtils.assignReplicasToBrokers), a pure function the controller runs
// before proposing a topic or new partitions. Partition p's first replica
// (its preferred leader) is broker (start+p) mod n of the list, so leaders
// spread evenly; the other replicas follow at a shift that grows every n
// partitions, so followers spread too. When the brokers have racks, the list
// alternates racks and each partition's replicas go to distinct racks as
// long as a rack is left without one (Kafka's rack-aware assignment).

import (
	"fmt"
	"slices"
)

// BrokerPlacement is what placement knows of a live broker.
type BrokerPlacement struct {
	ID   int32
	Rack string // empty when broker.rack is unset
}

// AssignReplicas returns the replicas of partitions new partitions over
// brokers, replicationFactor each. start (any non-negative number; the
// controller picks it at random) rotates where the first partition's leader
// lands and where followers start, so that many small topics do not all
// lead on one broker. Either every broker has a rack or none has.
func AssignReplicas(brokers []BrokerPlacement, partitions, replicationFactor, start int) ([][]int32, error) {
	n := len(brokers)
	if replicationFactor < 1 || replicationFactor > n {
		return nil, fmt.Errorf("%w: %d, with %d live brokers", ErrInvalidReplicationFactor, replicationFactor, n)
	}
	if partitions < 1 {
		return nil, fmt.Errorf("%w: %d partitions", ErrInvalidChange, partitions)
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: placement start %d is negative", ErrInvalidChange, start)
	}
	arranged, racks, err := arrangeByRack(brokers)
	if err != nil {
		return nil, err
	}
	out := make([][]int32, partitions)
	shift := start % n
	for p := range partitions {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + start) % n
		replicas := append(make([]int32, 0, replicationFactor), arranged[first].ID)
		usedRacks := map[string]bool{arranged[first].Rack: true}
		for k := 0; len(replicas) < replicationFactor; k++ {
			b := arranged[followerIndex(first, shift*max(racks, 1), k, n)]
			// Candidates cycle through all n-1 other brokers, so a broker
			// not yet chosen, in a rack not yet used while one is left, is
			// always found: the walk ends.
			if slices.Contains(replicas, b.ID) || racks > 0 && usedRacks[b.Rack] && len(usedRacks) < racks {
				continue
			}
			replicas = append(replicas, b.ID)
			usedRacks[b.Rack] = true
		}
		out[p] = replicas
	}
	return out, nil
}

// followerIndex is Kafka's replicaIndex: the k-th follower candidate after
// the first replica, never the first replica itself.
func followerIndex(first, shift, k, n int) int {
	if n == 1 {
		return first
	}
	return (first + 1 + (shift+k)%(n-1)) % n
}

// arrangeByRack sorts brokers by id and, when they have racks, interleaves
// the racks (r1 b1, r2 b2, r3 b3, r1 b4, ...). It returns the number of
// racks, 0 when no broker has one.
func arrangeByRack(brokers []BrokerPlacement) ([]BrokerPlacement, int, error) {
	sorted := slices.Clone(brokers)
	slices.SortFunc(sorted, func(a, b BrokerPlacement) int { return int(a.ID) - int(b.ID) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].ID == sorted[i-1].ID {
			return nil, 0, fmt.Errorf("%w: broker %d listed twice for placement", ErrInvalidChange, sorted[i].ID)
		}
	}
	byRack := map[string][]BrokerPlacement{}
	var rackOrder []string
	for _, b := range sorted {
		if _, seen := byRack[b.Rack]; !seen {
			rackOrder = append(rackOrder, b.Rack)
		}
		byRack[b.Rack] = append(byRack[b.Rack], b)
	}
	if len(rackOrder) == 1 && rackOrder[0] == "" {
		return sorted, 0, nil
	}
	if _, some := byRack[""]; some {
		return nil, 0, fmt.Errorf("%w: brokers %v have no broker.rack while others have one; set it on all or none",
			ErrInvalidChange, ids(byRack[""]))
	}
	slices.Sort(rackOrder)
	arranged := make([]BrokerPlacement, 0, len(sorted))
	for i := 0; len(arranged) < len(sorted); i++ {
		for _, rack := range rackOrder {
			if i < len(byRack[rack]) {
				arranged = append(arranged, byRack[rack][i])
			}
		}
	}
	return arranged, len(rackOrder), nil
}

func ids(bs []BrokerPlacement) []int32 {
	out := make([]int32, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}
