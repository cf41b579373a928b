package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

func sampleRecords() []Record {
	tid := ID16{1, 2, 3}
	return []Record{
		InitCluster{ClusterID: ID16{9}},
		RegisterBroker{BrokerID: 2, Incarnation: ID16{7}, Addrs: BrokerAddrs{Native: "127.0.0.1:9192", Controller: "127.0.0.1:9193", Admin: ""}, Rack: "r1"},
		FenceBroker{BrokerID: 2, BrokerEpoch: 11},
		UnfenceBroker{BrokerID: 2, BrokerEpoch: 11},
		CreateTopic{Name: "orders", TopicID: tid, Configs: map[string]string{"retention.ms": "1000", "a": ""},
			Partitions: []PartitionAssignment{{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1}, {Replicas: []int32{2}, ISR: []int32{2}, Leader: NoLeader}}},
		DeleteTopic{TopicID: tid},
		AddPartitions{TopicID: tid, FirstPartition: 2, Partitions: []PartitionAssignment{{Replicas: []int32{3}, ISR: []int32{3}, Leader: 3}}},
		ChangePartition{TopicID: tid, Partition: 1, PartitionEpoch: 4, Leader: 2, ISR: []int32{2, 1}},
		ChangeConfig{TopicID: tid, Set: map[string]string{"x": "y"}, Delete: []string{"retention.ms"}},
		AllocateProducerIDs{BrokerID: 3, FirstID: 5000, Count: 1000},
		ChangeReplicas{TopicID: tid, Partition: 0, PartitionEpoch: 2, Replicas: []int32{3, 1, 2}, ISR: []int32{1, 2}, Leader: 1, Target: []int32{3, 1}},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	recs := sampleRecords()
	b := AppendEntry(nil, recs...)
	got, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, recs)
	}
	// Each record alone too, so every type's body is checked in isolation.
	for _, rec := range recs {
		got, err := DecodeEntry(AppendEntry(nil, rec))
		if err != nil || !reflect.DeepEqual(got, []Record{rec}) {
			t.Errorf("%T: got %#v, %v", rec, got, err)
		}
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	good := AppendEntry(nil, sampleRecords()...)
	cases := map[string][]byte{
		"empty":          nil,
		"version 2":      append([]byte{2}, good[1:]...),
		"no records":     {entryVersion, 0},
		"unknown type":   {entryVersion, 1, 99},
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge count":     {entryVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		// A string length far beyond the input must not allocate it.
		"huge string": {entryVersion, 1, byte(TypeCreateTopic), 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	// Configs must be in ascending key order (one encoding per map).
	unsorted := []byte{entryVersion, 1, byte(TypeChangeConfig)}
	unsorted = append(unsorted, make([]byte, 16)...)
	unsorted = append(unsorted, 2, 1, 'b', 0, 1, 'a', 0, 0)
	cases["unsorted configs"] = unsorted
	for i := 1; i < len(good); i++ {
		if _, err := DecodeEntry(good[:i]); err == nil {
			t.Errorf("entry cut at byte %d of %d decoded", i, len(good))
		}
	}
	for name, b := range cases {
		if _, err := DecodeEntry(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(AppendEntry(nil, sampleRecords()...))
	for _, rec := range sampleRecords() {
		f.Add(AppendEntry(nil, rec))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := DecodeEntry(AppendEntry(nil, recs...))
		if err != nil || !reflect.DeepEqual(again, recs) {
			t.Fatalf("re-encoding changed the records: %v", err)
		}
		// Applying anything decodable must not panic either.
		img, _ := sampleImage(t).next(100, recs)
		if img.Offset() != 100 {
			t.Fatalf("offset %d after apply at 100", img.Offset())
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(appendImage(nil, sampleImage(f)))
	f.Add(appendImage(nil, emptyImage()))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeImage(t, b)
		// With the CRC recomputed, so the fuzzer reaches the body's
		// checks instead of stopping at the checksum.
		if len(b) >= 4 {
			fixed := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], crcTable))
			checkDecodeImage(t, fixed)
		}
	})
}

func checkDecodeImage(t *testing.T, b []byte) {
	img, err := decodeImage(b)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return
	}
	// Decodable bytes may differ from the canonical encoding only by
	// overlong uvarints; they must decode to the same image.
	img2, err := decodeImage(appendImage(nil, img))
	if err != nil || !reflect.DeepEqual(imageState(img2), imageState(img)) {
		t.Fatalf("re-encoding changed the image: %v", err)
	}
}

func TestID16(t *testing.T) {
	id := ID16{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	s := id.String()
	if len(s) != 22 {
		t.Fatalf("%q: want 22 characters", s)
	}
	back, err := ParseID16(s)
	if err != nil || back != id {
		t.Fatalf("ParseID16(%q) = %v, %v", s, back, err)
	}
	for _, bad := range []string{"", "abc", s + "A", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := ParseID16(bad); err == nil {
			t.Errorf("ParseID16(%q) succeeded", bad)
		}
	}
}
