package engine

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestOffsetsPartitionFor pins Kafka's group → partition function. The
// hashes are Java's String.hashCode values ("hello" is 99162322,
// "polygenelubricants" is Integer.MIN_VALUE, which Kafka's Utils.abs maps
// to 0; "my-group" is negative; the emoji is a UTF-16 surrogate pair).
func TestOffsetsPartitionFor(t *testing.T) {
	for _, c := range []struct {
		group string
		want  int32
	}{
		{"", 0}, {"hello", 22}, {"Aa", 12}, {"BB", 12}, {"polygenelubricants", 0},
		{"\U0001F600", 49}, {"consumer-group-é", 4}, {"Hello World!!", 48}, {"my-group", 12}, {"test-group-7", 42},
	} {
		if got := OffsetsPartitionFor(c.group, 50); got != c.want {
			t.Errorf("OffsetsPartitionFor(%q, 50) = %d, want %d", c.group, got, c.want)
		}
	}
}

// TestOffsetsRecordRoundTrip encodes and decodes every record kind.
func TestOffsetsRecordRoundTrip(t *testing.T) {
	tp := TopicPartition{"orders", 7}
	k, err := parseKey(offsetKey("g", tp))
	if err != nil || k != (parsedKey{version: offsetKeyVersion, group: "g", tp: tp}) {
		t.Fatalf("offset key: %+v %v", k, err)
	}
	v := committed{offset: 1 << 40, leaderEpoch: -1, metadata: "meta", commitTimestamp: 1_700_000_000_000}
	if got, err := parseOffsetValue(offsetValue(v)); err != nil || got != v {
		t.Fatalf("offset value: %+v %v", got, err)
	}
	if k, err := parseKey(groupKey("g")); err != nil || k.version != groupKeyVersion || k.group != "g" {
		t.Fatalf("group key: %+v %v", k, err)
	}

	g := newGroup("g")
	g.protocolType, g.protocol, g.generation, g.leader = "consumer", "range", 9, "m1"
	g.members = []*member{
		{id: "m1", instanceID: "host-a", clientID: "c", clientHost: "/10.0.0.1", sessionTimeout: 10 * time.Second,
			rebalanceTimeout: time.Minute, protocols: []GroupProtocol{{Name: "range", Metadata: []byte("sub")}}, assignment: []byte("a1")},
		{id: "m2", clientID: "c", protocols: []GroupProtocol{{Name: "range", Metadata: []byte{}}}},
	}
	got, err := parseGroupValue("g", groupValue(g, nil, 5))
	if err != nil {
		t.Fatal(err)
	}
	g.hasMetadata = true
	if !reflect.DeepEqual(got, g) {
		t.Fatalf("group value:\n got %+v\nwant %+v", got, g)
	}
	withAssign, _ := parseGroupValue("g", groupValue(g, map[string][]byte{"m2": []byte("x")}, 5))
	if withAssign.members[0].assignment != nil || string(withAssign.members[1].assignment) != "x" {
		t.Fatal("assignments from byMember were not used")
	}
	// An Empty group's record says since when it is Empty (offset expiry
	// counts from there); one with members does not.
	empty := newGroup("e")
	empty.protocolType, empty.generation = "consumer", 3
	if got, err := parseGroupValue("e", groupValue(empty, nil, 1_700_000_000_000)); err != nil ||
		!got.emptySince.Equal(time.UnixMilli(1_700_000_000_000)) {
		t.Fatalf("Empty group's emptySince: %v, %v", got.emptySince, err)
	}

	for _, bad := range [][]byte{nil, {0, 9}, append(groupKey("g"), 0), offsetKey("g", tp)[:5]} {
		if _, err := parseKey(bad); !errors.Is(err, errBadOffsetsRecord) {
			t.Errorf("parseKey(%x): %v", bad, err)
		}
	}
	if _, err := parseOffsetValue(offsetValue(v)[:10]); !errors.Is(err, errBadOffsetsRecord) {
		t.Errorf("truncated offset value: %v", err)
	}
}

// FuzzOffsetsRecord: the decoders of __consumer_offsets records never panic
// and fail only with errBadOffsetsRecord; what decodes re-encodes to the
// same bytes.
func FuzzOffsetsRecord(f *testing.F) {
	g := newGroup("g")
	g.protocolType, g.protocol, g.leader = "consumer", "range", "m"
	g.members = []*member{{id: "m", protocols: []GroupProtocol{{Name: "range", Metadata: []byte("s")}}, assignment: []byte("a")}}
	f.Add(offsetKey("g", TopicPartition{"t", 1}))
	f.Add(groupKey("g"))
	f.Add(offsetValue(committed{offset: 5, leaderEpoch: 2, metadata: "x", commitTimestamp: 9}))
	f.Add(groupValue(g, nil, 1))
	f.Add([]byte{0, 3, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("\x00\x03000000000000\xff\xff00000000")) // null metadata reads as ""
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := parseKey(b); err == nil {
			enc := offsetKey(k.group, k.tp)
			if k.version == groupKeyVersion {
				enc = groupKey(k.group)
			}
			if again, err := parseKey(enc); err != nil || again != k {
				t.Fatalf("key %x decodes as %+v, re-encodes as %x, which decodes as %+v (%v)", b, k, enc, again, err)
			}
		} else if !errors.Is(err, errBadOffsetsRecord) {
			t.Fatalf("parseKey: %v", err)
		}
		if v, err := parseOffsetValue(b); err == nil {
			if again, err := parseOffsetValue(offsetValue(v)); err != nil || again != v {
				t.Fatalf("offset value %x decodes as %+v, round trip gives %+v (%v)", b, v, again, err)
			}
		} else if !errors.Is(err, errBadOffsetsRecord) {
			t.Fatalf("parseOffsetValue: %v", err)
		}
		if g, err := parseGroupValue("g", b); err == nil {
			if again, err := parseGroupValue("g", groupValue(g, nil, 0)); err != nil || len(again.members) != len(g.members) || again.generation != g.generation {
				t.Fatalf("group value %x does not round trip: %v", b, err)
			}
		} else if !errors.Is(err, errBadOffsetsRecord) {
			t.Fatalf("parseGroupValue: %v", err)
		}
	})
}
