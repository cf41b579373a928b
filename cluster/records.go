package cluster

import (
	"encoding/base64"
	"fmt"
)

// entryVersion is the version byte that starts every raft log entry this
// package writes (doc.go, "Log entries"). A decoder meeting another version
// refuses the entry rather than guessing at its layout.
const entryVersion = 1

// RecordType is the first byte of a record (doc.go, "Records").
type RecordType uint8

// The record types. Numbers are part of the on-disk format: never reuse one.
const (
	TypeInitCluster         RecordType = 1
	TypeRegisterBroker      RecordType = 2
	TypeFenceBroker         RecordType = 3
	TypeUnfenceBroker       RecordType = 4
	TypeCreateTopic         RecordType = 5
	TypeDeleteTopic         RecordType = 6
	TypeAddPartitions       RecordType = 7
	TypeChangePartition     RecordType = 8
	TypeChangeConfig        RecordType = 9
	TypeAllocateProducerIDs RecordType = 10
	TypeChangeReplicas      RecordType = 11
)

// NoLeader is a partition's leader while none of its in-sync replicas is
// alive (an offline partition), as Kafka's -1.
const NoLeader int32 = -1

// ID16 is a 16-byte random identifier (topic, cluster, broker incarnation),
// Kafka's Uuid. It prints in Kafka's form: unpadded base64url.
type ID16 [16]byte

func (id ID16) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id ID16) IsZero() bool { return id == ID16{} }

// ParseID16 parses the form String prints.
func ParseID16(s string) (ID16, error) {
	var id ID16
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("cluster: %q is not a 16-byte id in unpadded base64url (22 characters)", s)
	}
	copy(id[:], b)
	return id, nil
}

// Record is one metadata change. A raft log entry holds one or more records,
// applied all or none (apply.go).
type Record interface {
	Type() RecordType
	appendBody(dst []byte) []byte
}

// InitCluster names the cluster. The first controller proposes it once;
// apply refuses a second one.
type InitCluster struct{ ClusterID ID16 }

// BrokerAddrs are a broker's listeners.
type BrokerAddrs struct {
	Native     string // native-protocol listener (clients)
	Controller string // raft transport (controller.addr)
	Admin      string // admin HTTP; empty when disabled
	Kafka      string // Kafka-protocol listener as advertised; empty when disabled
}

// RegisterBroker records a broker (re)starting. The broker's epoch becomes
// the offset of this record, and the broker starts fenced.
type RegisterBroker struct {
	BrokerID    int32
	Incarnation ID16 // random per broker process start
	Addrs       BrokerAddrs
	Rack        string // broker.rack; empty when unset
}

// FenceBroker marks a broker fenced: it may lead nothing. BrokerEpoch must
// be the broker's current epoch.
type FenceBroker struct {
	BrokerID    int32
	BrokerEpoch int64
}

// UnfenceBroker marks a broker alive again. BrokerEpoch must be the broker's
// current epoch.
type UnfenceBroker struct {
	BrokerID    int32
	BrokerEpoch int64
}

// PartitionAssignment is a new partition's replicas, initial ISR and leader.
// Its leader epoch and partition epoch start at 0.
type PartitionAssignment struct {
	Replicas []int32 // in preference order: Replicas[0] is the preferred leader
	ISR      []int32
	Leader   int32 // a member of ISR, or NoLeader
}

// CreateTopic creates a topic with its partitions 0..len(Partitions)-1.
type CreateTopic struct {
	Name       string
	TopicID    ID16
	Configs    map[string]string // topic-level overrides only
	Partitions []PartitionAssignment
}

// DeleteTopic removes a topic and its partitions.
type DeleteTopic struct{ TopicID ID16 }

// AddPartitions appends partitions to a topic. FirstPartition must equal the
// topic's partition count, so a replayed or raced proposal cannot add twice.
type AddPartitions struct {
	TopicID        ID16
	FirstPartition int32
	Partitions     []PartitionAssignment
}

// ChangePartition sets a partition's leader and ISR (Kafka's
// PartitionChangeRecord after an AlterPartition or an election).
// PartitionEpoch is the epoch the change was computed from: apply refuses the
// change with ErrStaleEpoch unless it is still the partition's epoch, then
// bumps the partition epoch, and bumps the leader epoch when the leader
// changed (KIP-497).
type ChangePartition struct {
	TopicID        ID16
	Partition      int32
	PartitionEpoch int32
	Leader         int32
	ISR            []int32
}

// ChangeReplicas sets a partition's replica set, ISR, leader and
// reassignment target in one step (Kafka's PartitionChangeRecord with its
// adding and removing replicas, KIP-455). The controller writes it to start
// a reassignment (Replicas becomes Target followed by the replicas it
// removes) and to finish one (Replicas becomes Target, Target empty).
// PartitionEpoch is checked and bumped as for ChangePartition, and the
// leader epoch moves when the leader does.
type ChangeReplicas struct {
	TopicID        ID16
	Partition      int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	Leader         int32
	Target         []int32 // empty: no reassignment in progress
}

// ChangeConfig sets and deletes topic config overrides.
type ChangeConfig struct {
	TopicID ID16
	Set     map[string]string
	Delete  []string
}

// AllocateProducerIDs gives BrokerID the producer ids [FirstID,
// FirstID+Count). FirstID must be the cluster's next unallocated id, so two
// raced proposals cannot hand out one block twice.
type AllocateProducerIDs struct {
	BrokerID int32
	FirstID  int64
	Count    int32
}

func (InitCluster) Type() RecordType         { return TypeInitCluster }
func (RegisterBroker) Type() RecordType      { return TypeRegisterBroker }
func (FenceBroker) Type() RecordType         { return TypeFenceBroker }
func (UnfenceBroker) Type() RecordType       { return TypeUnfenceBroker }
func (CreateTopic) Type() RecordType         { return TypeCreateTopic }
func (DeleteTopic) Type() RecordType         { return TypeDeleteTopic }
func (AddPartitions) Type() RecordType       { return TypeAddPartitions }
func (ChangePartition) Type() RecordType     { return TypeChangePartition }
func (ChangeConfig) Type() RecordType        { return TypeChangeConfig }
func (ChangeReplicas) Type() RecordType      { return TypeChangeReplicas }
func (AllocateProducerIDs) Type() RecordType { return TypeAllocateProducerIDs }

func (r InitCluster) appendBody(dst []byte) []byte { return append(dst, r.ClusterID[:]...) }

func (r RegisterBroker) appendBody(dst []byte) []byte {
	dst = appendInt32(dst, r.BrokerID)
	dst = append(dst, r.Incarnation[:]...)
	dst = appendString(dst, r.Addrs.Native)
	dst = appendString(dst, r.Addrs.Controller)
	dst = appendString(dst, r.Addrs.Admin)
	dst = appendString(dst, r.Addrs.Kafka)
	return appendString(dst, r.Rack)
}

func (r FenceBroker) appendBody(dst []byte) []byte {
	return appendInt64(appendInt32(dst, r.BrokerID), r.BrokerEpoch)
}

func (r UnfenceBroker) appendBody(dst []byte) []byte {
	return appendInt64(appendInt32(dst, r.BrokerID), r.BrokerEpoch)
}

func appendAssignments(dst []byte, ps []PartitionAssignment) []byte {
	dst = appendUvarint(dst, len(ps))
	for _, p := range ps {
		dst = appendInt32s(dst, p.Replicas)
		dst = appendInt32s(dst, p.ISR)
		dst = appendInt32(dst, p.Leader)
	}
	return dst
}

func (r CreateTopic) appendBody(dst []byte) []byte {
	dst = appendString(dst, r.Name)
	dst = append(dst, r.TopicID[:]...)
	dst = appendConfigs(dst, r.Configs)
	return appendAssignments(dst, r.Partitions)
}

func (r DeleteTopic) appendBody(dst []byte) []byte { return append(dst, r.TopicID[:]...) }

func (r AddPartitions) appendBody(dst []byte) []byte {
	dst = append(dst, r.TopicID[:]...)
	dst = appendInt32(dst, r.FirstPartition)
	return appendAssignments(dst, r.Partitions)
}

func (r ChangePartition) appendBody(dst []byte) []byte {
	dst = append(dst, r.TopicID[:]...)
	dst = appendInt32(dst, r.Partition)
	dst = appendInt32(dst, r.PartitionEpoch)
	dst = appendInt32(dst, r.Leader)
	return appendInt32s(dst, r.ISR)
}

func (r ChangeReplicas) appendBody(dst []byte) []byte {
	dst = append(dst, r.TopicID[:]...)
	dst = appendInt32(dst, r.Partition)
	dst = appendInt32(dst, r.PartitionEpoch)
	dst = appendInt32s(dst, r.Replicas)
	dst = appendInt32s(dst, r.ISR)
	dst = appendInt32(dst, r.Leader)
	return appendInt32s(dst, r.Target)
}

func (r ChangeConfig) appendBody(dst []byte) []byte {
	dst = append(dst, r.TopicID[:]...)
	dst = appendConfigs(dst, r.Set)
	return appendStrings(dst, r.Delete)
}

func (r AllocateProducerIDs) appendBody(dst []byte) []byte {
	dst = appendInt32(dst, r.BrokerID)
	dst = appendInt64(dst, r.FirstID)
	return appendInt32(dst, r.Count)
}

// AppendEntry appends the raft log entry holding recs to dst.
func AppendEntry(dst []byte, recs ...Record) []byte {
	dst = append(dst, entryVersion)
	dst = appendUvarint(dst, len(recs))
	for _, rec := range recs {
		dst = append(dst, byte(rec.Type()))
		dst = rec.appendBody(dst)
	}
	return dst
}

// DecodeEntry decodes a raft log entry written by AppendEntry. Bad input
// gets an error wrapping ErrCorrupt that names the record and byte; the
// returned records do not alias b.
func DecodeEntry(b []byte) ([]Record, error) {
	r := &reader{buf: b, what: "metadata entry"}
	if v := r.byte("version"); r.err == nil && v != entryVersion {
		return nil, fmt.Errorf("%w: metadata entry version %d, this build reads %d", ErrCorrupt, v, entryVersion)
	}
	n := r.count("record count", 1)
	if r.err == nil && n == 0 {
		r.fail("no records")
	}
	recs := make([]Record, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		r.what = fmt.Sprintf("metadata entry record %d", i)
		recs = append(recs, decodeRecord(r))
	}
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return recs, nil
}

func decodeRecord(r *reader) Record {
	switch t := RecordType(r.byte("type")); t {
	case TypeInitCluster:
		return InitCluster{ClusterID: r.id16("cluster id")}
	case TypeRegisterBroker:
		return RegisterBroker{
			BrokerID:    r.int32("broker id"),
			Incarnation: r.id16("incarnation"),
			Addrs: BrokerAddrs{
				Native:     r.string("native addr"),
				Controller: r.string("controller addr"),
				Admin:      r.string("admin addr"),
				Kafka:      r.string("kafka addr"),
			},
			Rack: r.string("rack"),
		}
	case TypeFenceBroker:
		return FenceBroker{BrokerID: r.int32("broker id"), BrokerEpoch: r.int64("broker epoch")}
	case TypeUnfenceBroker:
		return UnfenceBroker{BrokerID: r.int32("broker id"), BrokerEpoch: r.int64("broker epoch")}
	case TypeCreateTopic:
		return CreateTopic{
			Name:       r.string("name"),
			TopicID:    r.id16("topic id"),
			Configs:    r.configs("configs"),
			Partitions: readAssignments(r),
		}
	case TypeDeleteTopic:
		return DeleteTopic{TopicID: r.id16("topic id")}
	case TypeAddPartitions:
		return AddPartitions{
			TopicID:        r.id16("topic id"),
			FirstPartition: r.int32("first partition"),
			Partitions:     readAssignments(r),
		}
	case TypeChangePartition:
		return ChangePartition{
			TopicID:        r.id16("topic id"),
			Partition:      r.int32("partition"),
			PartitionEpoch: r.int32("partition epoch"),
			Leader:         r.int32("leader"),
			ISR:            r.int32s("isr"),
		}
	case TypeChangeReplicas:
		return ChangeReplicas{
			TopicID:        r.id16("topic id"),
			Partition:      r.int32("partition"),
			PartitionEpoch: r.int32("partition epoch"),
			Replicas:       r.int32s("replicas"),
			ISR:            r.int32s("isr"),
			Leader:         r.int32("leader"),
			Target:         r.int32s("target"),
		}
	case TypeChangeConfig:
		return ChangeConfig{TopicID: r.id16("topic id"), Set: r.configs("set"), Delete: r.strings("delete")}
	case TypeAllocateProducerIDs:
		return AllocateProducerIDs{
			BrokerID: r.int32("broker id"),
			FirstID:  r.int64("first id"),
			Count:    r.int32("count"),
		}
	default:
		r.fail("unknown record type %d", t)
		return nil
	}
}

func readAssignments(r *reader) []PartitionAssignment {
	// A partition takes at least 6 bytes: two empty lists and a leader.
	n := r.count("partition count", 6)
	ps := make([]PartitionAssignment, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		ps = append(ps, PartitionAssignment{
			Replicas: r.int32s("replicas"),
			ISR:      r.int32s("isr"),
			Leader:   r.int32("leader"),
		})
	}
	return ps
}
