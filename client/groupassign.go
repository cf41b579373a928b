package client

// Client-side assignors of the group consumer and the bytes the group
// carries for them. The encodings are Kafka's ConsumerProtocol versions 0
// and 1 (protocol type "consumer"), so a Kafka tool reading DescribeGroups
// understands them. Integers are big-endian; string is an int16 length
// then bytes; user_data is an int32 length then bytes, always -1 (null)
// from this client and ignored when read.
//
//	Subscription (JoinGroup protocol metadata)
//	  version    int16     0, or 1 when owned_partitions follows
//	  topics     int32 count, then that many string
//	  user_data  bytes     null
//	  owned_partitions (version 1 only; KIP-429) int32 count, then per topic:
//	    topic      string
//	    partitions int32 count, then that many int32
//
//	Assignment (SyncGroup assignment)
//	  version    int16     0
//	  topics     int32 count, then per topic:
//	    topic      string
//	    partitions int32 count, then that many int32
//	  user_data  bytes     null

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// GroupProtocolType is the JoinGroup protocol type of consumers.
const GroupProtocolType = "consumer"

// The assignors, by the protocol names Kafka gives them.
const (
	// AssignRange gives each member, topic by topic, a contiguous range of
	// the topic's partitions: members sorted by id, the first
	// partitions%members of them one partition more.
	AssignRange = "range"
	// AssignRoundRobin deals every subscribed partition (sorted by topic,
	// then partition) to the members in turn (sorted by id), skipping
	// members not subscribed to the partition's topic.
	AssignRoundRobin = "roundrobin"
	// AssignSticky (Kafka's StickyAssignor, under the eager protocol)
	// balances the partitions like roundrobin but keeps every partition
	// with the member that owned it before the rebalance (the
	// subscription's owned_partitions) unless balance needs it elsewhere:
	// see stickyAssign. Fewer partitions change hands; every member still
	// stops and restarts fetching on a rebalance.
	AssignSticky = "sticky"
	// AssignCooperativeSticky (Kafka's CooperativeStickyAssignor) computes
	// the sticky assignment and runs the cooperative protocol (KIP-429,
	// client/group.go): members keep fetching what they keep through a
	// rebalance, and a partition that moves from one member to another is
	// assigned to nobody in that generation (withholdMoving) and reaches its
	// new owner in the follow-up rebalance.
	AssignCooperativeSticky = "cooperative-sticky"
)

// errBadGroupBytes: a subscription or assignment that does not parse.
var errBadGroupBytes = errors.New("client: malformed consumer protocol bytes")

func appendGroupString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func encodeSubscription(topics []string) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		b = appendGroupString(b, t)
	}
	return binary.BigEndian.AppendUint32(b, 0xFFFFFFFF) // null user_data
}

// encodeAssignment encodes partitions by topic, topics sorted.
func encodeAssignment(parts map[string][]int32) []byte {
	topics := make([]string, 0, len(parts))
	for t := range parts {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		b = appendGroupString(b, t)
		b = binary.BigEndian.AppendUint32(b, uint32(len(parts[t])))
		for _, p := range parts[t] {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
	}
	return binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
}

// groupReader reads the encodings above with a sticky error.
type groupReader struct {
	b   []byte
	err error
}

func (r *groupReader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errBadGroupBytes
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *groupReader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *groupReader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *groupReader) string() string { return string(r.take(int(r.int16()))) }

// count reads an array length, bounded by the bytes left so that a
// corrupt count cannot make us allocate much.
func (r *groupReader) count(elemSize int) int {
	n := int(r.int32())
	if n < 0 || n*elemSize > len(r.b) {
		r.err = errBadGroupBytes
		return 0
	}
	return n
}

// encodeSubscriptionOwned is the version 1 subscription: topics and the
// partitions the member owns now, which the sticky assignor keeps with it.
func encodeSubscriptionOwned(topics []string, owned map[string][]int32) []byte {
	b := encodeSubscription(topics)
	binary.BigEndian.PutUint16(b, 1)
	// An assignment body is the same topic → partitions array, between
	// its version and its user_data.
	a := encodeAssignment(owned)
	return append(b, a[2:len(a)-4]...)
}

// decodeSubscriptionOwned decodes either version; owned is empty for a
// version 0 subscription.
func decodeSubscriptionOwned(b []byte) ([]string, map[string][]int32, error) {
	r := groupReader{b: b}
	version := r.int16() // later versions only append fields
	topics := make([]string, r.count(2))
	for i := range topics {
		topics[i] = r.string()
	}
	if n := r.int32(); n > 0 { // user_data: skipped, -1 is null
		r.take(int(n))
	}
	owned := make(map[string][]int32)
	if version >= 1 {
		readTopicPartitions(&r, owned)
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("subscription of %d bytes: %w", len(b), r.err)
	}
	return topics, owned, nil
}

// readTopicPartitions reads a topic → partitions array into out.
func readTopicPartitions(r *groupReader, out map[string][]int32) {
	n := r.count(6)
	for i := 0; i < n && r.err == nil; i++ {
		t := r.string()
		ps := make([]int32, r.count(4))
		for j := range ps {
			ps[j] = r.int32()
		}
		out[t] = append(out[t], ps...)
	}
}

func decodeAssignment(b []byte) (map[string][]int32, error) {
	out := make(map[string][]int32)
	if len(b) == 0 {
		return out, nil // a member the leader gave nothing
	}
	r := groupReader{b: b}
	r.int16()
	readTopicPartitions(&r, out)
	if r.err != nil {
		return nil, fmt.Errorf("assignment of %d bytes: %w", len(b), r.err)
	}
	return out, nil
}

// groupMember is one member as the leader's assignor sees it.
type groupMember struct {
	id     string
	topics []string
	owned  map[string][]int32 // from a version 1 subscription; nil for version 0
}

// assign runs the named assignor. partitions gives each subscribed topic's
// partition count (topics missing from it get nothing). Every member gets
// an entry, possibly empty.
func assign(protocol string, members []groupMember, partitions map[string]int32) (map[string]map[string][]int32, error) {
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b groupMember) int { return cmp.Compare(a.id, b.id) })
	out := make(map[string]map[string][]int32, len(members))
	for _, m := range members {
		out[m.id] = make(map[string][]int32)
	}
	topics := make([]string, 0, len(partitions))
	for t := range partitions {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	switch protocol {
	case AssignRange:
		for _, t := range topics {
			var subs []string
			for _, m := range members {
				if slices.Contains(m.topics, t) {
					subs = append(subs, m.id)
				}
			}
			if len(subs) == 0 {
				continue
			}
			n := int(partitions[t])
			per, extra := n/len(subs), n%len(subs)
			next := 0
			for i, id := range subs {
				k := per
				if i < extra {
					k++
				}
				for p := next; p < next+k; p++ {
					out[id][t] = append(out[id][t], int32(p))
				}
				next += k
			}
		}
	case AssignRoundRobin:
		turn := 0
		for _, t := range topics {
			for p := int32(0); p < partitions[t]; p++ {
				for tries := 0; tries < len(members); tries++ {
					m := members[turn%len(members)]
					turn++
					if slices.Contains(m.topics, t) {
						out[m.id][t] = append(out[m.id][t], p)
						break
					}
				}
			}
		}
	case AssignSticky:
		stickyAssign(members, topics, partitions, out)
	case AssignCooperativeSticky:
		stickyAssign(members, topics, partitions, out)
		withholdMoving(members, out)
	default:
		return nil, fmt.Errorf("client: unknown assignor %q: %w", protocol, ErrInvalidOption)
	}
	return out, nil
}

// tp names one partition inside the assignors.
type tp struct {
	topic     string
	partition int32
}

// stickyAssign fills out (every member has an entry, members and topics
// are sorted) with a balanced assignment that moves as few owned
// partitions as it can. Three passes:
//
//  1. Keep: each member keeps the partitions it owns that still exist and
//     that it still subscribes to, at most ceil(partitions/members) of
//     them (its lowest ones), and a partition claimed by two members
//     stays with the first by id.
//  2. Fill: every other partition, in (topic, partition) order, goes to
//     the subscribed member with the fewest partitions (ties: lowest id).
//  3. Balance: while some member holds two more than a member that
//     subscribes to one of its partitions' topics, the largest such
//     partition moves from the fuller member to the emptier one
//     (rebalanceStep).
//
// Invariant: afterwards no partition can move from a member to another
// subscribed member and leave them closer in size, so with identical
// subscriptions sizes differ by at most one. Pass 3 ends because every
// move lowers the sum of squared sizes. The result depends only on the
// inputs, never on map order, so every leader computes the same plan.
func stickyAssign(members []groupMember, topics []string, partitions map[string]int32, out map[string]map[string][]int32) {
	total := 0
	subscribed := make(map[string]map[string]bool, len(members))
	for _, m := range members {
		subscribed[m.id] = make(map[string]bool, len(m.topics))
		for _, t := range m.topics {
			if _, ok := partitions[t]; ok {
				subscribed[m.id][t] = true
			}
		}
	}
	for _, t := range topics {
		total += int(partitions[t])
	}
	if len(members) == 0 || total == 0 {
		return
	}
	limit := (total + len(members) - 1) / len(members)
	owner := make(map[tp]string, total)
	held := make(map[string][]tp, len(members))
	for _, m := range members {
		var mine []tp
		for t, ps := range m.owned {
			if !subscribed[m.id][t] {
				continue
			}
			for _, p := range ps {
				if p >= 0 && p < partitions[t] {
					mine = append(mine, tp{t, p})
				}
			}
		}
		slices.SortFunc(mine, func(a, b tp) int { return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition)) })
		for _, x := range slices.Compact(mine) {
			if _, taken := owner[x]; !taken && len(held[m.id]) < limit {
				owner[x] = m.id
				held[m.id] = append(held[m.id], x)
			}
		}
	}
	for _, t := range topics {
		for p := int32(0); p < partitions[t]; p++ {
			x := tp{t, p}
			if _, ok := owner[x]; ok {
				continue
			}
			best := ""
			for _, m := range members {
				if subscribed[m.id][t] && (best == "" || len(held[m.id]) < len(held[best])) {
					best = m.id
				}
			}
			if best != "" {
				owner[x] = best
				held[best] = append(held[best], x)
			}
		}
	}
	for rebalanceStep(members, subscribed, held) { // one move per call
	}
	for _, m := range members {
		for _, x := range held[m.id] {
			out[m.id][x.topic] = append(out[m.id][x.topic], x.partition)
		}
		for _, ps := range out[m.id] {
			slices.Sort(ps)
		}
	}
}

// rebalanceStep moves one partition from the fullest member that can give
// one to the emptiest member that can take it, and reports whether it
// moved anything. Taking from the fullest first means a member at or
// under its fair share never loses a partition to balance (with identical
// subscriptions).
func rebalanceStep(members []groupMember, subscribed map[string]map[string]bool, held map[string][]tp) bool {
	bySize := slices.Clone(members) // sorted by id, so ties go by id
	slices.SortStableFunc(bySize, func(a, b groupMember) int { return cmp.Compare(len(held[b.id]), len(held[a.id])) })
	for _, from := range bySize {
		for j := len(bySize) - 1; j >= 0; j-- {
			to := bySize[j]
			if len(held[from.id]) <= len(held[to.id])+1 {
				break // the rest are at least as full
			}
			ps := held[from.id]
			for i := len(ps) - 1; i >= 0; i-- {
				if subscribed[to.id][ps[i].topic] {
					held[to.id] = append(held[to.id], ps[i])
					held[from.id] = slices.Delete(ps, i, i+1)
					return true
				}
			}
		}
	}
	return false
}

// withholdMoving removes from plan every partition assigned to a member
// that does not own it while another member does (KIP-429's rule): its
// owner must give it up, and commit, before anyone else fetches it. The
// owner sees the partition missing from its assignment, gives it up and
// rejoins at once; in that follow-up rebalance nobody owns it any more and
// the same sticky plan hands it to its new owner. A partition two members
// claim (one lost its membership without learning it) stays with whoever
// the plan gives it to, if that member is one of them.
func withholdMoving(members []groupMember, plan map[string]map[string][]int32) {
	owners := make(map[tp][]string)
	for _, m := range members {
		for t, ps := range m.owned {
			for _, p := range ps {
				owners[tp{t, p}] = append(owners[tp{t, p}], m.id)
			}
		}
	}
	for _, m := range members {
		for t, ps := range plan[m.id] {
			kept := ps[:0]
			for _, p := range ps {
				if o := owners[tp{t, p}]; len(o) == 0 || slices.Contains(o, m.id) {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				delete(plan[m.id], t)
			} else {
				plan[m.id][t] = kept
			}
		}
	}
}
