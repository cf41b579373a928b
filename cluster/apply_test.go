package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
)

var sampleTopicID = ID16{0xa}

// sampleImage: brokers 1-3 live, topic "t" with 2 partitions of 3 replicas.
func sampleImage(tb testing.TB) *Image {
	tb.Helper()
	img := emptyImage()
	recs := []Record{InitCluster{ClusterID: ID16{1}}}
	for id := int32(1); id <= 3; id++ {
		recs = append(recs, RegisterBroker{BrokerID: id, Incarnation: ID16{byte(id)}, Rack: ""})
	}
	img = mustApply(tb, img, 1, recs...)
	for id := int32(1); id <= 3; id++ {
		img = mustApply(tb, img, img.offset+1, UnfenceBroker{BrokerID: id, BrokerEpoch: 1})
	}
	return mustApply(tb, img, img.offset+1, CreateTopic{Name: "t", TopicID: sampleTopicID, Partitions: []PartitionAssignment{
		{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1},
		{Replicas: []int32{2, 3, 1}, ISR: []int32{2, 3, 1}, Leader: 2},
	}})
}

func mustApply(tb testing.TB, img *Image, offset int64, recs ...Record) *Image {
	tb.Helper()
	next, err := img.next(offset, recs)
	if err != nil {
		tb.Fatalf("apply %#v: %v", recs, err)
	}
	return next
}

// imageState is an image's content without its channel, for comparisons.
type state struct {
	Offset, NextPID int64
	Cluster         ID16
	Brokers         map[int32]*Broker
	Topics          map[string]*Topic
	Names           map[ID16]string
}

func imageState(img *Image) state {
	return state{img.offset, img.nextProducerID, img.clusterID, img.brokers, img.topics, img.topicNames}
}

func TestApplyPartitionEpochs(t *testing.T) {
	img := sampleImage(t)
	p0 := img.Topic("t").Partitions[0]
	// The leader shrinks the ISR from partition epoch 0: accepted, the
	// partition epoch moves, the leader epoch does not.
	img1 := mustApply(t, img, 10, ChangePartition{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 0, Leader: 1, ISR: []int32{1, 2}})
	p := img1.Topic("t").Partitions[0]
	if p.PartitionEpoch != 1 || p.LeaderEpoch != 0 || !reflect.DeepEqual(p.ISR, []int32{1, 2}) {
		t.Fatalf("after ISR shrink: %+v", p)
	}
	// A second change computed from partition epoch 0 is stale (KIP-497).
	img2, err := img1.next(11, []Record{ChangePartition{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 0, Leader: 1, ISR: []int32{1}}})
	if !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale partition epoch: err = %v", err)
	}
	if img2.Offset() != 11 || !reflect.DeepEqual(img2.Topic("t").Partitions[0], p) {
		t.Fatalf("a refused change altered the partition: %+v", img2.Topic("t").Partitions[0])
	}
	// A leader change bumps both epochs.
	img3 := mustApply(t, img2, 12, ChangePartition{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 1, Leader: 2, ISR: []int32{2}})
	if p := img3.Topic("t").Partitions[0]; p.LeaderEpoch != 1 || p.PartitionEpoch != 2 || p.Leader != 2 {
		t.Fatalf("after leader change: %+v", p)
	}
	// Copy on write: the older images did not move.
	if !reflect.DeepEqual(img.Topic("t").Partitions[0], p0) || img1.Topic("t").Partitions[0].Leader != 1 {
		t.Fatal("apply modified an earlier image")
	}
}

func TestApplyRefuses(t *testing.T) {
	img := sampleImage(t)
	cases := []struct {
		name string
		recs []Record
		want error
	}{
		{"second cluster id", []Record{InitCluster{ClusterID: ID16{2}}}, ErrInvalidChange},
		{"leader outside ISR", []Record{ChangePartition{TopicID: sampleTopicID, Leader: 3, ISR: []int32{1, 2}}}, ErrInvalidChange},
		{"ISR member not a replica", []Record{ChangePartition{TopicID: sampleTopicID, Leader: 1, ISR: []int32{1, 4}}}, ErrInvalidChange},
		{"empty ISR with a leader", []Record{ChangePartition{TopicID: sampleTopicID, Leader: 1}}, ErrInvalidChange},
		{"unknown partition", []Record{ChangePartition{TopicID: sampleTopicID, Partition: 2, Leader: 1, ISR: []int32{1}}}, ErrUnknownTopic},
		{"topic name taken", []Record{CreateTopic{Name: "t", TopicID: ID16{0xb}, Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}}}, ErrTopicExists},
		{"topic id taken", []Record{CreateTopic{Name: "u", TopicID: sampleTopicID, Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}}}, ErrTopicExists},
		{"replica not registered", []Record{CreateTopic{Name: "u", TopicID: ID16{0xb}, Partitions: []PartitionAssignment{{Replicas: []int32{9}, ISR: []int32{9}, Leader: 9}}}}, ErrUnknownBroker},
		{"no partitions", []Record{CreateTopic{Name: "u", TopicID: ID16{0xb}}}, ErrInvalidChange},
		{"repeated replica", []Record{CreateTopic{Name: "u", TopicID: ID16{0xb}, Partitions: []PartitionAssignment{{Replicas: []int32{1, 1}, ISR: []int32{1}, Leader: 1}}}}, ErrInvalidChange},
		{"partitions raced", []Record{AddPartitions{TopicID: sampleTopicID, FirstPartition: 1, Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}}}, ErrStaleEpoch},
		{"fence a leader", []Record{FenceBroker{BrokerID: 1, BrokerEpoch: 1}}, ErrInvalidChange},
		{"fence at an old epoch", []Record{FenceBroker{BrokerID: 3, BrokerEpoch: 0}}, ErrStaleEpoch},
		{"unfence a live broker", []Record{UnfenceBroker{BrokerID: 3, BrokerEpoch: 1}}, ErrInvalidChange},
		{"register a live broker", []Record{RegisterBroker{BrokerID: 3}}, ErrInvalidChange},
		{"stale producer id block", []Record{AllocateProducerIDs{BrokerID: 1, FirstID: 1000, Count: 10}}, ErrStaleEpoch},
		{"producer ids for nobody", []Record{AllocateProducerIDs{BrokerID: 9, FirstID: 0, Count: 10}}, ErrUnknownBroker},
		{"delete unknown topic", []Record{DeleteTopic{TopicID: ID16{0xc}}}, ErrUnknownTopic},
		// All or none: the valid first record is undone with the second.
		{"entry half valid", []Record{DeleteTopic{TopicID: sampleTopicID}, DeleteTopic{TopicID: sampleTopicID}}, ErrUnknownTopic},
	}
	for _, c := range cases {
		next, err := img.next(50, c.recs)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		want := imageState(img)
		want.Offset = 50
		if !reflect.DeepEqual(imageState(next), want) {
			t.Errorf("%s: a refused entry changed the image", c.name)
		}
	}
}

func TestApplyBrokersTopicsAndProducerIDs(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 20, AllocateProducerIDs{BrokerID: 1, FirstID: 0, Count: 1000})
	img = mustApply(t, img, 21, AllocateProducerIDs{BrokerID: 2, FirstID: 1000, Count: 1000})
	if img.NextProducerID() != 2000 {
		t.Fatalf("next producer id %d, want 2000", img.NextProducerID())
	}
	// Fencing broker 3 after moving it out of partition 1's ISR... it leads
	// nothing, so it may be fenced; its registration epoch is kept.
	img = mustApply(t, img, 22, FenceBroker{BrokerID: 3, BrokerEpoch: 1})
	if b := img.Broker(3); !b.Fenced || b.Epoch != 1 {
		t.Fatalf("broker 3 after fence: %+v", b)
	}
	// A fenced broker cannot be made leader.
	if _, err := img.next(23, []Record{ChangePartition{TopicID: sampleTopicID, Partition: 0, Leader: 3, ISR: []int32{3}}}); !errors.Is(err, ErrInvalidChange) {
		t.Fatalf("fenced leader: err = %v", err)
	}
	// Re-registration sets a new epoch (the entry's offset), fenced.
	img = mustApply(t, img, 24, RegisterBroker{BrokerID: 3, Incarnation: ID16{33}})
	if b := img.Broker(3); !b.Fenced || b.Epoch != 24 || b.Incarnation != (ID16{33}) {
		t.Fatalf("broker 3 after re-registration: %+v", b)
	}
	img = mustApply(t, img, 25,
		ChangeConfig{TopicID: sampleTopicID, Set: map[string]string{"retention.ms": "5", "x": "1"}},
		AddPartitions{TopicID: sampleTopicID, FirstPartition: 2, Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}}})
	img = mustApply(t, img, 26, ChangeConfig{TopicID: sampleTopicID, Delete: []string{"x"}})
	tp := img.Topic("t")
	if len(tp.Partitions) != 3 || !reflect.DeepEqual(tp.Configs, map[string]string{"retention.ms": "5"}) {
		t.Fatalf("topic after add and config change: %+v", tp)
	}
	img = mustApply(t, img, 27, DeleteTopic{TopicID: sampleTopicID})
	if img.Topic("t") != nil || img.TopicByID(sampleTopicID) != nil || len(img.Topics()) != 0 {
		t.Fatal("topic still there after delete")
	}
}

func TestImageSnapshotRoundTrip(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 30, AllocateProducerIDs{BrokerID: 2, FirstID: 0, Count: 1000},
		ChangeConfig{TopicID: sampleTopicID, Set: map[string]string{"cleanup.policy": "compact"}})
	b := appendImage(nil, img)
	got, err := decodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(imageState(got), imageState(img)) {
		t.Fatalf("snapshot round trip:\n got %+v\nwant %+v", imageState(got), imageState(img))
	}
	for i := range b {
		flipped := append([]byte(nil), b...)
		flipped[i] ^= 0x10
		if _, err := decodeImage(flipped); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit flip at byte %d: err = %v", i, err)
		}
	}
	if _, err := decodeImage(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("cut snapshot: err = %v", err)
	}
}

func TestReplicasOf(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 40, CreateTopic{Name: "a", TopicID: ID16{0xd}, Partitions: []PartitionAssignment{
		{Replicas: []int32{2}, ISR: []int32{2}, Leader: 2},
		{Replicas: []int32{3, 1}, ISR: []int32{3, 1}, Leader: 3},
	}})
	var got []string
	for _, r := range img.ReplicasOf(1) {
		got = append(got, fmt.Sprintf("%s-%d leader=%d", r.Topic, r.Partition, r.State.Leader))
	}
	want := []string{"a-1 leader=3", "t-0 leader=1", "t-1 leader=2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReplicasOf(1) = %v, want %v", got, want)
	}
	if rs := img.ReplicasOf(9); rs != nil {
		t.Fatalf("ReplicasOf(9) = %v", rs)
	}
}

// TestApplyChangeReplicas: a reassignment's start and finish records; a
// target that is not the head of the replicas is refused; the target
// survives a snapshot.
func TestApplyChangeReplicas(t *testing.T) {
	img := sampleImage(t)
	img = mustApply(t, img, 60, RegisterBroker{BrokerID: 4, Incarnation: ID16{4}})
	img = mustApply(t, img, 61, UnfenceBroker{BrokerID: 4, BrokerEpoch: 60})
	start := ChangeReplicas{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 0,
		Replicas: []int32{4, 2, 3, 1}, ISR: []int32{1, 2, 3}, Leader: 1, Target: []int32{4, 2, 3}}
	img = mustApply(t, img, 62, start)
	p := img.Topic("t").Partitions[0]
	if !reflect.DeepEqual(p.Replicas, start.Replicas) || !reflect.DeepEqual(p.Target, start.Target) || p.PartitionEpoch != 1 || p.LeaderEpoch != 0 {
		t.Fatalf("after the start: %+v", p)
	}
	if got := img.Reassigning(); !reflect.DeepEqual(got, []TopicPartition{{"t", 0}}) {
		t.Fatalf("Reassigning = %v", got)
	}
	snap, err := decodeImage(appendImage(nil, img))
	if err != nil || !reflect.DeepEqual(imageState(snap), imageState(img)) {
		t.Fatalf("snapshot of a reassignment in progress: %v", err)
	}
	// ISR change keeps the target.
	img = mustApply(t, img, 63, ChangePartition{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 1, Leader: 1, ISR: []int32{1, 2, 3, 4}})
	if p := img.Topic("t").Partitions[0]; !reflect.DeepEqual(p.Target, start.Target) {
		t.Fatalf("an ISR change dropped the target: %+v", p)
	}
	for name, rec := range map[string]ChangeReplicas{
		"target not the head": {TopicID: sampleTopicID, PartitionEpoch: 2, Replicas: []int32{1, 2, 3, 4}, ISR: []int32{1}, Leader: 1, Target: []int32{4}},
		"target too long":     {TopicID: sampleTopicID, PartitionEpoch: 2, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, Target: []int32{1, 2}},
		"stale epoch":         {TopicID: sampleTopicID, PartitionEpoch: 1, Replicas: []int32{4, 2, 3}, ISR: []int32{4, 2, 3}, Leader: 4},
		"ISR outside":         {TopicID: sampleTopicID, PartitionEpoch: 2, Replicas: []int32{4, 2, 3}, ISR: []int32{1, 4}, Leader: 4},
	} {
		if _, err := img.next(64, []Record{rec}); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
	img = mustApply(t, img, 64, ChangeReplicas{TopicID: sampleTopicID, Partition: 0, PartitionEpoch: 2, Replicas: []int32{4, 2, 3}, ISR: []int32{2, 3, 4}, Leader: 4})
	p = img.Topic("t").Partitions[0]
	if p.Target != nil || p.Leader != 4 || p.LeaderEpoch != 1 || p.PartitionEpoch != 3 || len(img.Reassigning()) != 0 {
		t.Fatalf("after the finish: %+v", p)
	}
}

// TestFinishReassignment: the finish waits for every target replica in the
// ISR; a removed leader hands over to the first live target in the ISR;
// with none alive it waits.
func TestFinishReassignment(t *testing.T) {
	img := sampleImage(t)
	tp := img.Topic("t")
	p := tp.Partitions[0] // replicas 1,2,3 led by 1
	p.Replicas, p.Target = []int32{2, 3, 1}, []int32{2, 3}
	rec, ok := finishReassignment(img, tp, 0, p)
	if !ok || !reflect.DeepEqual(rec.Replicas, []int32{2, 3}) || !reflect.DeepEqual(rec.ISR, []int32{2, 3}) || rec.Leader != 2 || rec.Target != nil {
		t.Fatalf("leader removed: %+v, %v", rec, ok)
	}
	p.ISR = []int32{1, 3}
	if _, ok := finishReassignment(img, tp, 0, p); ok {
		t.Fatal("finished with target replica 2 out of the ISR")
	}
	img = mustApply(t, img, 70, ChangePartition{TopicID: sampleTopicID, Partition: 1, PartitionEpoch: 0, Leader: 2, ISR: []int32{2, 1}})
	img = mustApply(t, img, 71, FenceBroker{BrokerID: 3, BrokerEpoch: 1})
	p = img.Topic("t").Partitions[0]
	p.Replicas, p.Target = []int32{3, 1, 2}, []int32{3}
	if _, ok := finishReassignment(img, img.Topic("t"), 0, p); ok {
		t.Fatal("finished by handing leadership to fenced broker 3")
	}
}

// TestImageSnapshotVersion1: a snapshot written before reassignment
// targets existed (version 1: no target per partition) still restores.
func TestImageSnapshotVersion1(t *testing.T) {
	img := sampleImage(t)
	// appendImage's layout at version 1: the same fields less the target.
	b := append(snapshotMagic[:0:0], snapshotMagic[:]...)
	b = append(b, 1)
	b = appendInt64(b, img.offset)
	b = append(b, img.clusterID[:]...)
	b = appendInt64(b, img.nextProducerID)
	b = appendUvarint(b, len(img.Brokers()))
	for _, br := range img.Brokers() {
		b = RegisterBroker{BrokerID: br.ID, Incarnation: br.Incarnation, Addrs: br.Addrs, Rack: br.Rack}.appendBody(b)
		b = append(appendInt64(b, br.Epoch), boolByte(br.Fenced))
	}
	b = appendUvarint(b, len(img.Topics()))
	for _, tp := range img.Topics() {
		b = appendConfigs(append(appendString(b, tp.Name), tp.ID[:]...), tp.Configs)
		b = appendUvarint(b, len(tp.Partitions))
		for _, p := range tp.Partitions {
			b = appendInt32(appendInt32s(appendInt32s(b, p.Replicas), p.ISR), p.Leader)
			b = appendInt32(appendInt32(b, p.LeaderEpoch), p.PartitionEpoch)
		}
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	got, err := decodeImage(b)
	if err != nil || !reflect.DeepEqual(imageState(got), imageState(img)) {
		t.Fatalf("version 1 snapshot: %v", err)
	}
}
