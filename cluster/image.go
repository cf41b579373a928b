package cluster

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
)

// Broker is a registered broker as the metadata records it.
type Broker struct {
	ID          int32
	Incarnation ID16
	Addrs       BrokerAddrs
	Rack        string
	// Epoch is the metadata offset of the broker's latest registration
	// (Kafka's broker epoch); fence, unfence and heartbeats carry it so a
	// message about an earlier run of the broker is refused.
	Epoch  int64
	Fenced bool
}

// Partition is one partition's replica set and leadership.
type Partition struct {
	Replicas    []int32 // preference order; Replicas[0] is the preferred leader
	ISR         []int32
	Leader      int32 // NoLeader while offline
	LeaderEpoch int32 // bumped by every leader change
	// PartitionEpoch is bumped by every change of the partition (Kafka's
	// partition epoch); AlterPartition carries it to refuse stale changes.
	PartitionEpoch int32
	// Target is the replica set a reassignment in progress moves to; nil
	// when none is. Replicas then starts with Target and ends with the
	// replicas to remove once every member of Target is in the ISR
	// (reassign.go).
	Target []int32
}

// Topic is a topic and its partitions (index = partition number).
type Topic struct {
	Name       string
	ID         ID16
	Configs    map[string]string
	Partitions []Partition
}

// Image is one immutable version of the cluster metadata, as of Offset.
// Readers get an *Image without a lock and may keep it as long as they like;
// nothing reachable from it (maps, slices, the Broker, Topic and Partition
// values) is ever modified: apply copies what it changes. Callers must not
// modify it either.
type Image struct {
	offset         int64
	clusterID      ID16
	nextProducerID int64
	brokers        map[int32]*Broker
	topics         map[string]*Topic
	topicNames     map[ID16]string
	// changed is closed when a newer image replaces this one (Changed).
	changed chan struct{}
}

// emptyImage is the metadata before any record.
func emptyImage() *Image {
	return &Image{
		brokers:    map[int32]*Broker{},
		topics:     map[string]*Topic{},
		topicNames: map[ID16]string{},
		changed:    make(chan struct{}),
	}
}

// Offset is the raft log index of the last entry applied (the metadata
// offset); 0 before any.
func (img *Image) Offset() int64 { return img.offset }

// ClusterID is the cluster's id; zero until the first controller named it.
func (img *Image) ClusterID() ID16 { return img.clusterID }

// NextProducerID is the first producer id not yet given to any broker.
func (img *Image) NextProducerID() int64 { return img.nextProducerID }

// Changed returns a channel closed once a newer image has been published.
func (img *Image) Changed() <-chan struct{} { return img.changed }

// Broker returns the broker with that id, or nil.
func (img *Image) Broker(id int32) *Broker { return img.brokers[id] }

// Brokers returns every registered broker in id order.
func (img *Image) Brokers() []*Broker {
	bs := slices.Collect(maps.Values(img.brokers))
	slices.SortFunc(bs, func(a, b *Broker) int { return int(a.ID) - int(b.ID) })
	return bs
}

// Topic returns the topic of that name, or nil.
func (img *Image) Topic(name string) *Topic { return img.topics[name] }

// TopicByID returns the topic with that id, or nil.
func (img *Image) TopicByID(id ID16) *Topic {
	name, ok := img.topicNames[id]
	if !ok {
		return nil
	}
	return img.topics[name]
}

// Topics returns every topic in name order.
func (img *Image) Topics() []*Topic {
	ts := slices.Collect(maps.Values(img.topics))
	slices.SortFunc(ts, func(a, b *Topic) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return ts
}

// Replica is one partition replica a broker holds, with the partition's
// state: the broker leads it when State.Leader is its id (at
// State.LeaderEpoch, with ISR State.ISR), else follows State.Leader (none
// while NoLeader).
type Replica struct {
	Topic     string
	TopicID   ID16
	Partition int32
	State     Partition
}

// ReplicasOf returns the replicas broker holds, in topic name and partition
// order: what the engine must open, lead or follow.
func (img *Image) ReplicasOf(broker int32) []Replica {
	var out []Replica
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if slices.Contains(p.Replicas, broker) {
				out = append(out, Replica{Topic: t.Name, TopicID: t.ID, Partition: int32(i), State: p})
			}
		}
	}
	return out
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OfflinePartitions returns the partitions without a leader, in topic and
// partition order.
func (img *Image) OfflinePartitions() []TopicPartition {
	return img.partitionsWhere(func(p Partition) bool { return p.Leader == NoLeader })
}

// UnderReplicatedPartitions returns the partitions whose ISR is smaller
// than their replica set, in topic and partition order.
func (img *Image) UnderReplicatedPartitions() []TopicPartition {
	return img.partitionsWhere(func(p Partition) bool { return len(p.ISR) < len(p.Replicas) })
}

func (img *Image) partitionsWhere(cond func(Partition) bool) []TopicPartition {
	var out []TopicPartition
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if cond(p) {
				out = append(out, TopicPartition{Topic: t.Name, Partition: int32(i)})
			}
		}
	}
	return out
}

// Reassigning returns the partitions with a reassignment in progress, in
// topic and partition order.
func (img *Image) Reassigning() []TopicPartition {
	return img.partitionsWhere(func(p Partition) bool { return p.Target != nil })
}

// live reports whether broker id is registered and not fenced.
func (img *Image) live(id int32) bool {
	b := img.brokers[id]
	return b != nil && !b.Fenced
}

// Snapshot format (doc.go, "Snapshots").
var snapshotMagic = [4]byte{'S', 'P', 'M', 'D'}

// snapshotVersion 2 added each partition's reassignment target; version 1
// snapshots (no target) are still read.
const snapshotVersion = 2

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendImage appends img's snapshot encoding to dst.
func appendImage(dst []byte, img *Image) []byte {
	start := len(dst)
	dst = append(dst, snapshotMagic[:]...)
	dst = append(dst, snapshotVersion)
	dst = appendInt64(dst, img.offset)
	dst = append(dst, img.clusterID[:]...)
	dst = appendInt64(dst, img.nextProducerID)
	brokers := img.Brokers()
	dst = appendUvarint(dst, len(brokers))
	for _, b := range brokers {
		dst = RegisterBroker{BrokerID: b.ID, Incarnation: b.Incarnation, Addrs: b.Addrs, Rack: b.Rack}.appendBody(dst)
		dst = appendInt64(dst, b.Epoch)
		dst = append(dst, boolByte(b.Fenced))
	}
	topics := img.Topics()
	dst = appendUvarint(dst, len(topics))
	for _, t := range topics {
		dst = appendString(dst, t.Name)
		dst = append(dst, t.ID[:]...)
		dst = appendConfigs(dst, t.Configs)
		dst = appendUvarint(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32s(dst, p.Replicas)
			dst = appendInt32s(dst, p.ISR)
			dst = appendInt32(dst, p.Leader)
			dst = appendInt32(dst, p.LeaderEpoch)
			dst = appendInt32(dst, p.PartitionEpoch)
			dst = appendInt32s(dst, p.Target)
		}
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], crcTable))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// decodeImage decodes a snapshot written by appendImage, checking its CRC
// and every invariant apply keeps, so a restored image is one apply could
// have built. Bad input gets an error wrapping ErrCorrupt.
func decodeImage(b []byte) (*Image, error) {
	if len(b) < len(snapshotMagic)+1+4 || [4]byte(b[:4]) != snapshotMagic {
		return nil, fmt.Errorf("%w: metadata snapshot: no %q header", ErrCorrupt, snapshotMagic[:])
	}
	version := b[4]
	if version != 1 && version != snapshotVersion {
		return nil, fmt.Errorf("%w: metadata snapshot version %d, this build reads 1 to %d", ErrCorrupt, version, snapshotVersion)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, crcTable); got != sum {
		return nil, fmt.Errorf("%w: metadata snapshot CRC-32C %08x, stored %08x", ErrCorrupt, got, sum)
	}
	r := &reader{buf: body, off: 5, what: "metadata snapshot"}
	img := emptyImage()
	img.offset = r.int64("offset")
	img.clusterID = r.id16("cluster id")
	img.nextProducerID = r.int64("next producer id")
	// A broker takes at least 4+16+4 (empty strings) + 8 + 1 bytes.
	for range r.count("broker count", 33) {
		b := &Broker{ID: r.int32("broker id"), Incarnation: r.id16("incarnation")}
		b.Addrs = BrokerAddrs{Native: r.string("native addr"), Controller: r.string("controller addr"), Admin: r.string("admin addr"), Kafka: r.string("kafka addr")}
		b.Rack, b.Epoch = r.string("rack"), r.int64("broker epoch")
		switch f := r.byte("fenced"); f {
		case 0, 1:
			b.Fenced = f == 1
		default:
			r.fail("fenced flag %d", f)
		}
		if _, dup := img.brokers[b.ID]; dup && r.err == nil {
			r.fail("broker %d twice", b.ID)
		}
		img.brokers[b.ID] = b
	}
	// A topic takes at least 1+16+1+1 bytes.
	for range r.count("topic count", 19) {
		t := &Topic{Name: r.string("topic name"), ID: r.id16("topic id"), Configs: r.configs("configs")}
		for range r.count("partition count", 14) {
			p := Partition{
				Replicas:       r.int32s("replicas"),
				ISR:            r.int32s("isr"),
				Leader:         r.int32("leader"),
				LeaderEpoch:    r.int32("leader epoch"),
				PartitionEpoch: r.int32("partition epoch"),
			}
			if version >= 2 {
				p.Target = r.int32s("target")
			}
			t.Partitions = append(t.Partitions, p)
		}
		if r.err != nil {
			break
		}
		if err := img.checkNewTopic(t.Name, t.ID); err != nil {
			r.fail("%v", err)
		}
		if len(t.Partitions) == 0 {
			r.fail("topic %s has no partitions", t.Name)
		}
		for i, p := range t.Partitions {
			if err := checkPartition(p.Replicas, p.ISR, p.Leader); err != nil {
				r.fail("topic %s partition %d: %v", t.Name, i, err)
			} else if err := checkTarget(p.Replicas, p.Target); err != nil {
				r.fail("topic %s partition %d: %v", t.Name, i, err)
			}
		}
		img.topics[t.Name], img.topicNames[t.ID] = t, t.Name
	}
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return img, nil
}
