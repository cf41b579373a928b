package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// closeAndReopen closes e and opens its data dir again.
func closeAndReopen(t *testing.T, e *Engine, cfg Config) *Engine {
	t.Helper()
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return reopen(t, cfg)
}

// TestAlterTopicConfigs: an altered max.message.bytes applies to the next
// produce and survives a reopen; an empty value restores the default; keys
// fixed at creation, unknown keys and bad values are refused and change
// nothing.
func TestAlterTopicConfigs(t *testing.T) {
	cfg := testConfig(t)
	e := reopen(t, cfg)
	mustCreate(t, e, "t", 1, map[string]string{"retention.ms": "60000"})
	big := makeBatch(1, 2000, 1)
	if r := produceSync(t, e, ProduceRequest{Topic: "t", Acks: 1, Records: big}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := e.AlterTopicConfigs("t", map[string]string{"max.message.bytes": "1000", "retention.ms": ""}, false); err != nil {
		t.Fatal(err)
	}
	r := produceSync(t, e, ProduceRequest{Topic: "t", Acks: 1, Records: big})
	if !errors.Is(r.Err, ErrMessageTooLarge) || !strings.Contains(r.Err.Error(), "> max.message.bytes 1000") {
		t.Fatalf("produce of %d bytes after max.message.bytes=1000: %v", len(big), r.Err)
	}
	for _, bad := range []map[string]string{
		{"flush.policy": "always"},
		{"no.such.key": "1"},
		{"retention.ms": "soon", "max.message.bytes": "5000"},
	} {
		if err := e.AlterTopicConfigs("t", bad, false); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("AlterTopicConfigs(%v) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	if err := e.AlterTopicConfigs("t", map[string]string{"max.message.bytes": "5000"}, true); err != nil {
		t.Fatalf("validate only: %v", err)
	}
	if err := e.AlterTopicConfigs("nosuch", map[string]string{"retention.ms": "1"}, false); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Errorf("AlterTopicConfigs(nosuch) = %v", err)
	}
	e = closeAndReopen(t, e, cfg)
	info := e.Describe("t")[0]
	want := map[string]string{"max.message.bytes": "1000"}
	if len(info.Overrides) != 1 || info.Overrides["max.message.bytes"] != "1000" {
		t.Errorf("overrides after reopen = %v, want %v (neither the validate-only nor the refused changes)", info.Overrides, want)
	}
	if info.Configs["retention.ms"] != DefaultConfig().Topic.Get("retention.ms") {
		t.Errorf("retention.ms after its override was removed = %s", info.Configs["retention.ms"])
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "t", Acks: 1, Records: big}); !errors.Is(r.Err, ErrMessageTooLarge) {
		t.Errorf("produce after reopen: %v, want ErrMessageTooLarge", r.Err)
	}
}

// TestDeleteRecords: the log start moves inside a batch, fetches below it
// are out of range, ListOffsets earliest reports it, and it survives a
// reopen; offsets above the high watermark are refused.
func TestDeleteRecords(t *testing.T) {
	cfg := testConfig(t)
	e := reopen(t, cfg)
	mustCreate(t, e, "t", 1, nil)
	for i := 0; i < 3; i++ { // offsets 0-11, batches of 4
		if r := produceSync(t, e, ProduceRequest{Topic: "t", Acks: 1, Records: makeBatch(4, 100, 1)}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if _, err := e.DeleteRecords("t", 0, 13); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecords above the high watermark: %v", err)
	}
	if _, err := e.DeleteRecords("t", 1, 0); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("DeleteRecords of a missing partition: %v", err)
	}
	start, err := e.DeleteRecords("t", 0, 6)
	if err != nil || start != 6 {
		t.Fatalf("DeleteRecords(6) = %d, %v", start, err)
	}
	if got, err := e.ListOffsets("t", 0, EarliestTimestamp); err != nil || got != 6 {
		t.Errorf("ListOffsets earliest = %d, %v; want 6", got, err)
	}
	res := fetchSync(t, e, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "t", Offset: 5, MaxBytes: 1 << 20}}})
	if err := res.Partitions[0].Err; !errors.Is(err, ErrOffsetOutOfRange) {
		t.Errorf("fetch at 5: %v, want ErrOffsetOutOfRange", err)
	}
	res.Release()
	if start, err := e.DeleteRecords("t", 0, -1); err != nil || start != 12 {
		t.Errorf("DeleteRecords(-1) = %d, %v; want the high watermark 12", start, err)
	}
	e = closeAndReopen(t, e, cfg)
	if got, err := e.ListOffsets("t", 0, EarliestTimestamp); err != nil || got != 12 {
		t.Errorf("after reopen: ListOffsets earliest = %d, %v; want 12", got, err)
	}
}
