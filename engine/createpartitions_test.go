package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A topic grows: old partitions keep their records, new ones take appends,
// the count survives a reopen, a config altered later reaches every
// partition, and a directory past the count (a crash before the persist)
// is removed at open.
func TestCreatePartitions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.MaxIndexBytes = 64 << 10
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "grow", 1, nil)
	if r := produceSync(t, e, ProduceRequest{Topic: "grow", Partition: 0, Acks: 1, Records: makeBatch(3, 100, 1)}); r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, c := range []struct {
		name    string
		topic   string
		total   int32
		wantErr error
	}{
		{"same count", "grow", 1, ErrInvalidPartitions},
		{"shrink", "grow", 0, ErrInvalidPartitions},
		{"too many", "grow", MaxPartitionsPerTopic + 1, ErrInvalidPartitions},
		{"unknown topic", "nope", 3, ErrUnknownTopicOrPartition},
		{"internal topic", OffsetsTopic, 60, ErrInvalidTopic},
	} {
		if err := e.CreatePartitions(c.topic, c.total, false); !errors.Is(err, c.wantErr) {
			t.Errorf("%s: CreatePartitions(%q, %d) = %v, want %v", c.name, c.topic, c.total, err, c.wantErr)
		}
	}
	if err := e.CreatePartitions("grow", 3, true); err != nil || len(e.Describe("grow")[0].Partitions) != 1 {
		t.Fatalf("validate only: %v, %d partitions", err, len(e.Describe("grow")[0].Partitions))
	}
	if err := e.CreatePartitions("grow", 3, false); err != nil {
		t.Fatal(err)
	}
	if r := produceSync(t, e, ProduceRequest{Topic: "grow", Partition: 2, Acks: 1, Records: makeBatch(2, 100, 1)}); r.Err != nil || r.BaseOffset != 0 {
		t.Fatalf("produce to the new partition 2: %+v", r)
	}
	if err := e.AlterTopicConfigs("grow", map[string]string{"retention.ms": "12345"}, false); err != nil {
		t.Fatal(err)
	}
	if got := e.lookupConfig(t, "grow", 2).RetentionMs; got != 12345*time.Millisecond {
		t.Fatalf("new partition sees retention.ms %v after alter, want 12.345s", got)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(cfg.DataDir, "grow-3")
	if err := os.Mkdir(stray, 0o755); err != nil {
		t.Fatal(err)
	}

	e2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close(context.Background())
	info := e2.Describe("grow")[0]
	if len(info.Partitions) != 3 || info.Partitions[0].LogEndOffset != 3 || info.Partitions[2].LogEndOffset != 2 {
		t.Fatalf("after reopen: %+v", info.Partitions)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("partition dir past the count still there: %v", err)
	}
}

// lookupConfig is the config partition id of topic reads.
func (e *Engine) lookupConfig(t *testing.T, topic string, id int32) *TopicConfig {
	t.Helper()
	p, err := e.lookup(topic, id)
	if err != nil {
		t.Fatal(err)
	}
	return p.config()
}

// A log with no leader-epoch checkpoint is one epoch, 0, from start to end;
// a checkpoint, once written, answers instead.
func TestEndOffsetForEpoch(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "ep", 1, nil)
	for range 2 {
		if r := produceSync(t, e, ProduceRequest{Topic: "ep", Partition: 0, Acks: 1, Records: makeBatch(5, 100, 1)}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	check := func(asked, wantEpoch int32, wantEnd int64) {
		t.Helper()
		got, end, err := e.EndOffsetForEpoch("ep", 0, asked)
		if err != nil || got != wantEpoch || end != wantEnd {
			t.Fatalf("EndOffsetForEpoch(%d) = %d, %d, %v; want %d, %d", asked, got, end, err, wantEpoch, wantEnd)
		}
	}
	check(0, 0, 10)
	check(7, 0, 10)
	check(-1, -1, -1)

	p, _ := e.lookup("ep", 0)
	if err := p.log.Epochs().Assign(1, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.log.Epochs().Assign(3, 4); err != nil {
		t.Fatal(err)
	}
	check(0, -1, -1)
	check(2, 1, 4)
	check(3, 3, 10)
	if _, _, err := e.EndOffsetForEpoch("ep", 1, 0); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("unknown partition: %v", err)
	}
	if n, err := e.PartitionSize("ep", 0); err != nil || n != 2*int64(len(makeBatch(5, 100, 1))) {
		t.Fatalf("PartitionSize = %d, %v; want two batches' bytes", n, err)
	}
}
