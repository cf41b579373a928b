package broker

import (
	"context"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// writeLoneDataDir writes a data dir as a broker alone wrote it before
// every broker was a cluster member: the engine outside cluster mode
// (topics.json topics with no topic id, producer_id_block), its own group
// coordinator. It holds topic "old" (2 partitions, retention.ms
// overridden) with 30 records in partition 0 as three batches, group
// "readers" at offset 12 of old-0, and one producer id handed out.
func writeLoneDataDir(t *testing.T, cfg Config) (producerID int64) {
	t.Helper()
	ecfg, err := engineConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateTopic("old", 2, map[string]string{"retention.ms": "86400000"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		done := make(chan engine.ProduceResult, 1)
		e.Produce(engine.ProduceRequest{Topic: "old", Acks: 1, Records: testBatch(t, 10, 20)}, func(r engine.ProduceResult) { done <- r })
		if r := <-done; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	groups, err := engine.OpenGroupCoordinator(e, cfg.groupConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := groups.FindCoordinator("readers"); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	groups.CommitOffsets(engine.OffsetCommitRequest{GroupID: "readers", GenerationID: -1,
		Offsets: []engine.CommitOffset{{Topic: "old", Partition: 0, Offset: 12, LeaderEpoch: -1}}}, time.Now(), func(err error) { committed <- err })
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if producerID, _, err = e.InitProducerID(); err != nil {
		t.Fatal(err)
	}
	groups.Close()
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return producerID
}

// TestAdoptLoneDataDir: a data dir written by a broker alone restarts as
// a one-voter cluster: its topics are in the metadata with their partition
// counts and configs, led here; every record reads back at its offset;
// the group's committed offset is intact; producer ids do not repeat.
func TestAdoptLoneDataDir(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	oldProducerID := writeLoneDataDir(t, cfg)

	b := startTestBroker(t, func(c *Config) { c.DataDir = cfg.DataDir })
	img := b.Node().Image()
	for _, name := range []string{"old", engine.OffsetsTopic} {
		tp := img.Topic(name)
		if tp == nil {
			t.Fatalf("topic %s is not in the metadata after the first start", name)
		}
		for i, p := range tp.Partitions {
			if p.Leader != b.cfg.BrokerID {
				t.Fatalf("%s-%d: leader %d, want this broker %d", name, i, p.Leader, b.cfg.BrokerID)
			}
		}
	}
	if tp := img.Topic("old"); len(tp.Partitions) != 2 || tp.Configs["retention.ms"] != "86400000" {
		t.Fatalf("adopted topic old: %d partitions, configs %v; want 2 and retention.ms=86400000", len(tp.Partitions), tp.Configs)
	}

	c := dialTest(t, b)
	var fr wire.FetchResponse
	if err := fr.Decode(c.do(t, fetchFrame("old", 0, 1<<20))); err != nil {
		t.Fatal(err)
	}
	p := fr.Topics[0].Partitions[0]
	if p.ErrorCode != wire.None || p.HighWatermark != 30 {
		t.Fatalf("fetch old-0: %s, high watermark %d; want NONE and 30", p.ErrorCode, p.HighWatermark)
	}
	var next int64
	for rest := p.Records; len(rest) > 0; {
		batch, err := record.Parse(rest)
		if err != nil {
			t.Fatal(err)
		}
		if batch.BaseOffset() != next {
			t.Fatalf("batch at offset %d, want %d", batch.BaseOffset(), next)
		}
		next += 10
		rest = rest[batch.Size():]
	}
	if next != 30 {
		t.Fatalf("read back %d records of old-0, want 30", next)
	}

	findCoordinator(t, c, b, "readers")
	var of wire.OffsetFetchResponse
	call(t, c, &wire.OffsetFetchRequest{GroupID: "readers", AllTopics: true}, &of)
	if len(of.Topics) != 1 || of.Topics[0].Name != "old" || of.Topics[0].Partitions[0].Offset != 12 {
		t.Fatalf("group readers after adoption: %+v, want old-0 at 12", of)
	}
	id, _, err := b.Engine().InitProducerID()
	if err != nil || id <= oldProducerID {
		t.Fatalf("producer id %d after adoption (%v); the data dir handed out %d alone", id, err, oldProducerID)
	}

	// A second start adopts nothing again and serves the same.
	b = restartTestBroker(t, b)
	if got := b.Node().Image().Topic("old"); got == nil || got.ID != img.Topic("old").ID {
		t.Fatalf("topic old after a restart: %+v, want id %s", got, img.Topic("old").ID)
	}
	if err := fr.Decode(dialTest(t, b).do(t, fetchFrame("old", 0, 1<<20))); err != nil || fr.Topics[0].Partitions[0].HighWatermark != 30 {
		t.Fatalf("fetch old-0 after a restart: %+v, %v", fr.Topics[0].Partitions[0], err)
	}
}
