package engine

import (
	"errors"
	"testing"

	"github.com/spate-io/spate/record"
)

// produceTo produces one record (key, value) to topic-partition through the
// client path, or through the engine's own path when internal is set.
func produceTo(t *testing.T, e *Engine, topic string, partition int32, key, value []byte, internal bool) ProduceResult {
	t.Helper()
	var b record.Builder
	b.Reset(nil, record.Options{})
	b.Append(1, key, value, nil)
	batch, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan ProduceResult, 1)
	e.Produce(ProduceRequest{Topic: topic, Partition: partition, Acks: 1, Records: batch, internal: internal},
		func(r ProduceResult) { ch <- r })
	return <-ch
}

// TestInternalTopicRefused: clients can neither create, auto-create,
// delete nor produce to __consumer_offsets, nor create a name that
// collides with it; the coordinator still creates and writes it, and
// clients may read it.
func TestInternalTopicRefused(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.OffsetsTopicPartitions = 2 })
	h.e.cfg.AutoCreateTopics = true

	// Before the coordinator made it: neither create nor auto-create.
	for _, name := range []string{OffsetsTopic, "__consumer.offsets"} {
		if err := h.e.CreateTopic(name, 1, nil); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("CreateTopic(%q) before first use: %v, want ErrInvalidTopic", name, err)
		}
		if err := h.e.ValidateCreateTopic(name, 1, -1, nil); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateCreateTopic(%q): %v, want ErrInvalidTopic", name, err)
		}
	}
	for _, name := range []string{OffsetsTopic, "__consumer.offsets"} {
		if res := produceTo(t, h.e, name, 0, []byte("k"), []byte("v"), false); !errors.Is(res.Err, ErrInvalidTopic) {
			t.Fatalf("produce to %s before first use: %v, want ErrInvalidTopic", name, res.Err)
		}
		if d := h.e.Describe(name)[0]; d.Err == nil {
			t.Fatalf("a client's produce auto-created %s with %d partitions", name, len(d.Partitions))
		}
	}

	// The coordinator creates it on first use, with its own partition count.
	if err := h.commit(OffsetCommitRequest{GroupID: "g", GenerationID: -1,
		Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1}}}); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if d := h.e.Describe(OffsetsTopic)[0]; d.Err != nil || len(d.Partitions) != 2 {
		t.Fatalf("offsets topic after first commit: %+v", d)
	}
	if err := h.e.CreateTopic(OffsetsTopic, 1, nil); !errors.Is(err, ErrTopicExists) {
		t.Errorf("CreateTopic(%s) once it exists: %v, want ErrTopicExists", OffsetsTopic, err)
	}
	if err := h.e.DeleteTopic(OffsetsTopic); !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("DeleteTopic(%s): %v, want ErrInvalidTopic", OffsetsTopic, err)
	}
	for p := range int32(2) {
		if res := produceTo(t, h.e, OffsetsTopic, p, []byte("k"), []byte("v"), false); !errors.Is(res.Err, ErrInvalidTopic) {
			t.Fatalf("client produce to %s-%d: %v, want ErrInvalidTopic", OffsetsTopic, p, res.Err)
		}
	}
	// Still readable, and the commit is the only record in it.
	var records int64
	for _, p := range h.e.Describe(OffsetsTopic)[0].Partitions {
		records += p.HighWatermark - p.LogStartOffset
	}
	if records != 1 {
		t.Fatalf("%s holds %d records, want the one commit", OffsetsTopic, records)
	}
	h.restart()
	if got := h.fetch("g", []TopicPartition{{"t", 0}}); got[0].Offset != 42 {
		t.Fatalf("committed offset after restart: %+v", got)
	}
	if n := h.c.SkippedOnLoad(); n != 0 {
		t.Fatalf("SkippedOnLoad = %d, want 0", n)
	}
}

// TestLoadSkipsUnknownKeyVersion: a record whose key version this build
// does not know (a newer build's, or one a client wrote before clients were
// kept out) is skipped and counted at load, and everything else loads; a
// malformed record of a known version still fails the load.
func TestLoadSkipsUnknownKeyVersion(t *testing.T) {
	h := newGroupHarness(t, func(c *GroupConfig) { c.OffsetsTopicPartitions = 1 })
	commit := func(off int64) {
		t.Helper()
		if err := h.commit(OffsetCommitRequest{GroupID: "g", GenerationID: -1,
			Offsets: []CommitOffset{{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1}}}); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	commit(7)
	// "ga..." read as a key version is 0x6761 = 26465, as `echo garbage |
	// spate produce __consumer_offsets` wrote before this check existed.
	if res := produceTo(t, h.e, OffsetsTopic, 0, []byte("garbage"), []byte("xx"), true); res.Err != nil {
		t.Fatal(res.Err)
	}
	commit(9)
	h.restart()
	if n := h.c.SkippedOnLoad(); n != 1 {
		t.Fatalf("SkippedOnLoad = %d, want 1", n)
	}
	if got := h.fetch("g", []TopicPartition{{"t", 0}}); got[0].Offset != 9 {
		t.Fatalf("committed offset after restart: %+v, want 9", got)
	}

	// A known key version with a broken value is not skipped: that would
	// silently lose a commit.
	bad := offsetKey("g", TopicPartition{"t", 0})
	if res := produceTo(t, h.e, OffsetsTopic, 0, bad, []byte{0, 3, 1}, true); res.Err != nil {
		t.Fatal(res.Err)
	}
	h.c.Close()
	h.c = nil
	if _, err := OpenGroupCoordinator(h.e, h.cfg); !errors.Is(err, ErrStorage) || !errors.Is(err, errBadOffsetsRecord) {
		t.Fatalf("OpenGroupCoordinator over a malformed offset value: %v, want ErrStorage wrapping errBadOffsetsRecord", err)
	}
	if err := h.e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.e = nil
}
