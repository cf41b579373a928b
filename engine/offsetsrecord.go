package engine

// Behavior: the records of the internal topic __consumer_offsets and the
// group → partition mapping. The layouts are Kafka's own (offset commit key
// v1, offset value v3, group metadata key v2, group metadata value v3), so
// the bytes read the same to Kafka tools; doc.go and docs/groups.md have the
// byte tables. All integers are big-endian; a string is an int16 length and
// that many bytes (-1: null); bytes are an int32 length and the bytes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
)

// OffsetsTopic is the internal topic holding committed offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// Record key versions: the first int16 of every key says what it is.
const (
	offsetKeyVersion   = 1 // offset commit: group, topic, partition
	groupKeyVersion    = 2 // group metadata: group
	offsetValueVersion = 3
	groupValueVersion  = 3
)

// errBadOffsetsRecord is wrapped by the decoders below.
var errBadOffsetsRecord = errors.New("malformed __consumer_offsets record")

// errUnknownKeyVersion (wrapping errBadOffsetsRecord) is a record whose key
// version this build does not know: written by a newer version or by hand.
// Loading skips it (Kafka's KIP-915 does the same for its coordinators).
var errUnknownKeyVersion = fmt.Errorf("%w: unknown key version", errBadOffsetsRecord)

// offsetsRecord is one record to write; a nil value is a tombstone.
type offsetsRecord struct {
	key, value []byte
}

// OffsetsPartitionFor returns the partition of __consumer_offsets that holds
// the group: Kafka's abs(groupId.hashCode()) % partitions, with Java's
// String.hashCode over the UTF-16 code units and Kafka's Utils.abs (which
// maps MinInt32 to 0), so a group lands on the partition Kafka would pick.
// Invalid UTF-8 counts as U+FFFD per bad byte, as Go decodes it. It
// returns 0 when partitions is not positive.
func OffsetsPartitionFor(groupID string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	var h int32
	for _, r := range groupID {
		if r1, r2 := utf16.EncodeRune(r); r1 != '\uFFFD' || r2 != '\uFFFD' {
			h = 31*h + r1
			h = 31*h + r2
		} else {
			h = 31*h + r
		}
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendNullableStr writes "" as null (-1), as Kafka does for protocol and
// leader of an Empty group and for a dynamic member's instance id.
func appendNullableStr(dst []byte, s string) []byte {
	if s == "" {
		return binary.BigEndian.AppendUint16(dst, 0xffff)
	}
	return appendStr(dst, s)
}

func appendBytesField(dst, b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

func offsetKey(groupID string, tp TopicPartition) []byte {
	b := binary.BigEndian.AppendUint16(nil, offsetKeyVersion)
	b = appendStr(b, groupID)
	b = appendStr(b, tp.Topic)
	return binary.BigEndian.AppendUint32(b, uint32(tp.Partition))
}

func offsetValue(c committed) []byte {
	b := binary.BigEndian.AppendUint16(nil, offsetValueVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(c.offset))
	b = binary.BigEndian.AppendUint32(b, uint32(c.leaderEpoch))
	b = appendStr(b, c.metadata)
	return binary.BigEndian.AppendUint64(b, uint64(c.commitTimestamp))
}

func groupKey(groupID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, groupKeyVersion)
	return appendStr(b, groupID)
}

// groupValue encodes g's metadata; assignments come from byMember when it
// is not nil, else from the members.
func groupValue(g *group, byMember map[string][]byte, nowMs int64) []byte {
	b := binary.BigEndian.AppendUint16(nil, groupValueVersion)
	b = appendStr(b, g.protocolType)
	b = binary.BigEndian.AppendUint32(b, uint32(g.generation))
	b = appendNullableStr(b, g.protocol)
	b = appendNullableStr(b, g.leader)
	b = binary.BigEndian.AppendUint64(b, uint64(nowMs))
	b = binary.BigEndian.AppendUint32(b, uint32(len(g.members)))
	for _, m := range g.members {
		b = appendStr(b, m.id)
		b = appendNullableStr(b, m.instanceID)
		b = appendStr(b, m.clientID)
		b = appendStr(b, m.clientHost)
		b = binary.BigEndian.AppendUint32(b, uint32(m.rebalanceTimeout.Milliseconds()))
		b = binary.BigEndian.AppendUint32(b, uint32(m.sessionTimeout.Milliseconds()))
		b = appendBytesField(b, m.metadataFor(g.protocol))
		a := m.assignment
		if byMember != nil {
			a = byMember[m.id]
		}
		b = appendBytesField(b, a)
	}
	return b
}

// recordReader reads the fields above with a sticky error.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) need(n int) bool {
	if r.err == nil && len(r.b) < n {
		r.err = fmt.Errorf("%w: %d bytes left, need %d", errBadOffsetsRecord, len(r.b), n)
	}
	return r.err == nil
}

func (r *recordReader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *recordReader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *recordReader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// str reads a string; null reads as "".
func (r *recordReader) str() string {
	n := int(int16(r.u16()))
	if n == -1 || !r.need(max(n, 0)) {
		return ""
	}
	if n < 0 {
		r.err = fmt.Errorf("%w: string length %d", errBadOffsetsRecord, n)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bytes reads a bytes field as a copy (the source is a log mapping).
func (r *recordReader) bytes() []byte {
	n := int64(int32(r.u32()))
	if n == -1 || r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.err = fmt.Errorf("%w: bytes length %d with %d bytes left", errBadOffsetsRecord, n, len(r.b))
		return nil
	}
	out := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return out
}

func (r *recordReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errBadOffsetsRecord, len(r.b))
	}
	return r.err
}

// parsedKey is a decoded record key: an offset key has a topic.
type parsedKey struct {
	version int16
	group   string
	tp      TopicPartition
}

func parseKey(b []byte) (parsedKey, error) {
	r := recordReader{b: b}
	k := parsedKey{version: int16(r.u16())}
	switch k.version {
	case 0, offsetKeyVersion: // Kafka's v0 key has the same layout
		k.version = offsetKeyVersion
		k.group = r.str()
		k.tp.Topic = r.str()
		k.tp.Partition = int32(r.u32())
	case groupKeyVersion:
		k.group = r.str()
	default:
		if r.err == nil {
			return k, fmt.Errorf("%w %d", errUnknownKeyVersion, k.version)
		}
	}
	return k, r.done()
}

func parseOffsetValue(b []byte) (committed, error) {
	r := recordReader{b: b}
	if v := int16(r.u16()); r.err == nil && v != offsetValueVersion {
		return committed{}, fmt.Errorf("%w: offset value version %d, this build reads %d", errBadOffsetsRecord, v, offsetValueVersion)
	}
	c := committed{offset: int64(r.u64()), leaderEpoch: int32(r.u32()), metadata: r.str(), commitTimestamp: int64(r.u64())}
	return c, r.done()
}

// parseGroupValue decodes a group metadata value into a group whose
// members have one protocol each (the chosen one) and no waiters.
func parseGroupValue(id string, b []byte) (*group, error) {
	r := recordReader{b: b}
	if v := int16(r.u16()); r.err == nil && v != groupValueVersion {
		return nil, fmt.Errorf("%w: group value version %d, this build reads %d", errBadOffsetsRecord, v, groupValueVersion)
	}
	g := newGroup(id)
	g.hasMetadata = true
	g.protocolType = r.str()
	g.generation = int32(r.u32())
	g.protocol = r.str()
	g.leader = r.str()
	stateTs := int64(r.u64()) // when the record was written: the group became Empty then if it has no members
	n := int64(r.u32())
	// Each member takes at least 24 bytes: bound n before allocating.
	if r.err == nil && n*24 > int64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d members in %d bytes", errBadOffsetsRecord, n, len(r.b))
	}
	for i := int64(0); i < n && r.err == nil; i++ {
		m := &member{id: r.str(), instanceID: r.str(), clientID: r.str(), clientHost: r.str()}
		m.rebalanceTimeout = time.Duration(int32(r.u32())) * time.Millisecond
		m.sessionTimeout = time.Duration(int32(r.u32())) * time.Millisecond
		m.protocols = []GroupProtocol{{Name: g.protocol, Metadata: r.bytes()}}
		m.assignment = r.bytes()
		g.members = append(g.members, m)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if len(g.members) == 0 {
		g.emptySince = time.UnixMilli(stateTs)
	}
	return g, nil
}
