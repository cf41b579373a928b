package client

// Client-side assignors of the group consumer and the bytes the group
// carries for them. The encodings are Kafka's ConsumerProtocol version 0
// (protocol type "consumer"), so a Kafka tool reading DescribeGroups
// understands them. Integers are big-endian; string is an int16 length
// then bytes; user_data is an int32 length then bytes, always -1 (null)
// from this client and ignored when read.
//
//	Subscription (JoinGroup protocol metadata)
//	  version    int16     0
//	  topics     int32 count, then that many string
//	  user_data  bytes     null
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

func decodeSubscription(b []byte) ([]string, error) {
	r := groupReader{b: b}
	r.int16() // version: later versions only append fields
	topics := make([]string, r.count(2))
	for i := range topics {
		topics[i] = r.string()
	}
	if r.err != nil {
		return nil, fmt.Errorf("subscription of %d bytes: %w", len(b), r.err)
	}
	return topics, nil
}

func decodeAssignment(b []byte) (map[string][]int32, error) {
	out := make(map[string][]int32)
	if len(b) == 0 {
		return out, nil // a member the leader gave nothing
	}
	r := groupReader{b: b}
	r.int16()
	n := r.count(6)
	for i := 0; i < n && r.err == nil; i++ {
		t := r.string()
		ps := make([]int32, r.count(4))
		for j := range ps {
			ps[j] = r.int32()
		}
		out[t] = append(out[t], ps...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("assignment of %d bytes: %w", len(b), r.err)
	}
	return out, nil
}

// groupMember is one member as the leader's assignor sees it.
type groupMember struct {
	id     string
	topics []string
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
	default:
		return nil, fmt.Errorf("client: unknown assignor %q: %w", protocol, ErrInvalidOption)
	}
	return out, nil
}
