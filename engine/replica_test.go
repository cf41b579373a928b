package engine

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
)

// replicaFetch is follower replica's fetch of topic-partition at offset and
// leader epoch epoch; it returns the result's high watermark and the
// records' bytes (a copy).
func replicaFetch(t testing.TB, e *Engine, replica int32, topic string, partition, epoch int32, offset int64) (int64, []byte, error) {
	t.Helper()
	ch := make(chan *FetchResult, 1)
	e.ReplicaFetch(replica, FetchRequest{Partitions: []FetchPartition{{Topic: topic, Partition: partition, Offset: offset, MaxBytes: 1 << 20, LeaderEpoch: epoch}}},
		func(r *FetchResult) { ch <- r })
	r := <-ch
	defer r.Release()
	pr := r.Partitions[0]
	var data []byte
	if pr.Records != nil {
		data = slices.Clone(pr.Records.Bytes())
	}
	return pr.HighWatermark, data, pr.Err
}

// consumerHW is the high watermark a consumer's fetch reports.
func consumerHW(t testing.TB, e *Engine, topic string, partition int32) int64 {
	t.Helper()
	ch := make(chan *FetchResult, 1)
	e.Fetch(FetchRequest{Partitions: []FetchPartition{{Topic: topic, Partition: partition, MaxBytes: 1 << 20, LeaderEpoch: -1}}}, func(r *FetchResult) { ch <- r })
	r := <-ch
	defer r.Release()
	return r.Partitions[0].HighWatermark
}

// TestLeaderWaitsForFollower: with follower 2 in the ISR, the leader's high
// watermark is the follower's fetch offset: acks=all waits for it, acks=1
// does not, consumers see only what it passed, the follower reads past it,
// and a fetch at a stale or future epoch is refused.
func TestLeaderWaitsForFollower(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("rep", 3, 1, 4, func(int) (int32, []int32) { return self, []int32{self, 2} }))
	if res := produceOne(t, e, "rep", 0, 1); res.Err != nil || res.BaseOffset != 0 {
		t.Fatalf("acks=1: %+v", res)
	}
	acked := make(chan ProduceResult, 1)
	e.Produce(ProduceRequest{Topic: "rep", Partition: 0, Acks: -1, Timeout: time.Minute, Records: makeBatch(3, 64, 1)},
		func(r ProduceResult) { acked <- r })
	if hw := consumerHW(t, e, "rep", 0); hw != 0 {
		t.Fatalf("high watermark %d before the follower fetched, want 0", hw)
	}
	hw, data, err := replicaFetch(t, e, 2, "rep", 0, 4, 0)
	if err != nil || hw != 0 {
		t.Fatalf("first follower fetch: hw %d, %v", hw, err)
	}
	var epochs []int32
	for len(data) > 0 {
		b, err := record.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, b.PartitionLeaderEpoch())
		data = data[b.Size():]
	}
	if !slices.Equal(epochs, []int32{4, 4}) {
		t.Fatalf("follower read batches of epochs %v, want both batches at epoch 4", epochs)
	}
	select {
	case res := <-acked:
		t.Fatalf("acks=all answered before the follower had the batch: %+v", res)
	default:
	}
	if hw, _, err := replicaFetch(t, e, 2, "rep", 0, 4, 5); err != nil || hw != 5 {
		t.Fatalf("follower fetch at the log end: hw %d, %v; want 5", hw, err)
	}
	if res := <-acked; res.Err != nil || res.BaseOffset != 2 {
		t.Fatalf("acks=all once the follower fetched: %+v", res)
	}
	if hw := consumerHW(t, e, "rep", 0); hw != 5 {
		t.Fatalf("consumer high watermark %d, want 5", hw)
	}
	if _, _, err := replicaFetch(t, e, 2, "rep", 0, 3, 5); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Errorf("fetch at an older epoch: %v, want ErrFencedLeaderEpoch", err)
	}
	if _, _, err := replicaFetch(t, e, 2, "rep", 0, 5, 5); !errors.Is(err, ErrUnknownLeaderEpoch) {
		t.Errorf("fetch at a newer epoch: %v, want ErrUnknownLeaderEpoch", err)
	}
	if _, _, err := replicaFetch(t, e, 3, "rep", 0, 4, 5); !errors.Is(err, ErrNotLeader) {
		t.Errorf("fetch from a broker that is no replica: %v, want ErrNotLeader", err)
	}
	if epoch, end, err := e.AnswerEpochQuery(2, "rep", 0, 4, 9); err != nil || epoch != 4 || end != 5 {
		t.Errorf("epoch query about 9: %d, %d, %v; want epoch 4 ending at 5", epoch, end, err)
	}
}

// stampedBatch is a batch of count records as a leader at epoch stored it
// at base.
func stampedBatch(count int, base int64, epoch int32) []byte {
	b := record.Batch(makeBatch(count, 64, 1))
	b.SetBaseOffset(base)
	b.SetPartitionLeaderEpoch(epoch)
	return b
}

// TestFollowerAppendsAndTruncates: a follower appends a leader's batches
// verbatim (same offsets, epochs, CRCs; its checkpoint gets each epoch at
// its first batch), skips what it has and stops at a batch cut short; at a
// new leader epoch it asks about its newest epoch first and truncates to
// the leader's answer, not to its high watermark.
func TestFollowerAppendsAndTruncates(t *testing.T) {
	e := openClustered(t, "", nil)
	follow := func(epoch int32) TopicSpec {
		return spread("f", 4, 1, epoch, func(int) (int32, []int32) { return 2, []int32{2, self} })
	}
	mustApply(t, e, follow(1))
	fp := e.Followed()
	if len(fp) != 1 || fp[0].Truncating || fp[0].FetchOffset != 0 || fp[0].Leader != 2 || fp[0].LeaderEpoch != 1 {
		t.Fatalf("Followed on an empty log = %+v, want a fetch from 0 at epoch 1", fp)
	}
	b1, b2, b3 := stampedBatch(2, 0, 1), stampedBatch(3, 2, 1), stampedBatch(2, 5, 2)
	data := slices.Concat(b1, b2, b3, b1[:20])
	if n, err := e.AppendFollower("f", 0, 1, data, 4); err != nil || n != len(b1)+len(b2)+len(b3) {
		t.Fatalf("AppendFollower = %d, %v", n, err)
	}
	if n, err := e.AppendFollower("f", 0, 1, b2, 4); err != nil || n != 0 {
		t.Fatalf("AppendFollower of a batch already held = %d, %v; want 0 appended", n, err)
	}
	if _, err := e.AppendFollower("f", 0, 1, stampedBatch(1, 9, 2), 4); err == nil {
		t.Fatal("AppendFollower of a batch past the log end succeeded")
	}
	bad := slices.Clone(stampedBatch(1, 7, 2))
	bad[len(bad)-1] ^= 1
	if _, err := e.AppendFollower("f", 0, 1, bad, 4); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("AppendFollower of a corrupt batch: %v, want ErrCorruptMessage", err)
	}
	got, err := e.DescribeReplica("f", 0)
	want := []uint32{record.Batch(b1).CRC(), record.Batch(b2).CRC(), record.Batch(b3).CRC()}
	if err != nil || got.LogEnd != 7 || got.HighWatermark != 4 || !slices.Equal(got.BatchCRCs, want) {
		t.Fatalf("replica = %+v, %v; want end 7, hw 4, CRCs %v", got, err, want)
	}
	if _, err := e.AppendFollower("f", 0, 0, b1, 4); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("AppendFollower at another leader epoch: %v, want ErrNotLeader", err)
	}

	// Leader 2 is re-elected at epoch 3 and says epoch 2 ended at 5: the
	// batch of epoch 2 goes, though the follower's high watermark was 4.
	mustApply(t, e, follow(3))
	fp = e.Followed()
	if len(fp) != 1 || !fp[0].Truncating || fp[0].QueryEpoch != 2 {
		t.Fatalf("Followed at a new epoch = %+v, want an epoch query about 2", fp)
	}
	if err := e.TruncateFollower("f", 0, 3, 2, 6); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.DescribeReplica("f", 0); got.LogEnd != 5 || len(got.BatchCRCs) != 2 {
		t.Fatalf("after truncating to 6 inside batch [5, 7): %+v, want end 5", got)
	}
	fp = e.Followed()
	if len(fp) != 1 || fp[0].Truncating || fp[0].FetchOffset != 5 {
		t.Fatalf("Followed after truncation = %+v, want a fetch from 5", fp)
	}
}

// TestCommittedShrinkCompletesAcksAll: an acks=all batch waiting for a
// silent follower completes (without error) as soon as the controller's
// shrink of the ISR to the leader arrives, not at its timeout; with
// min.insync.replicas=2 the next acks=all is refused before the append.
func TestCommittedShrinkCompletesAcksAll(t *testing.T) {
	e := openClustered(t, "", nil)
	spec := spread("shrink", 5, 1, 2, func(int) (int32, []int32) { return self, []int32{self, 2} })
	mustApply(t, e, spec)
	acked := make(chan ProduceResult, 1)
	e.Produce(ProduceRequest{Topic: "shrink", Partition: 0, Acks: -1, Timeout: 10 * time.Minute, Records: makeBatch(2, 64, 1)},
		func(r ProduceResult) { acked <- r })
	spec.Partitions[0].ISR = []int32{self}
	spec.Partitions[0].PartitionEpoch = 1
	mustApply(t, e, spec)
	if res := <-acked; res.Err != nil || res.BaseOffset != 0 {
		t.Fatalf("acks=all after the ISR shrank to the leader: %+v", res)
	}
	spec.Configs = map[string]string{"min.insync.replicas": "2"}
	spec.Partitions[0].PartitionEpoch = 2
	mustApply(t, e, spec)
	if res := produceOne(t, e, "shrink", 0, -1); !errors.Is(res.Err, ErrNotEnoughReplicas) {
		t.Fatalf("acks=all with ISR [1] and min.insync.replicas 2: %v, want ErrNotEnoughReplicas", res.Err)
	}
}

// TestFollowerProducerStateAcrossFailover: a follower rebuilds the
// idempotent-producer state from the batches it copies and, after a
// truncation, from the log that stays; once it leads, a producer's retry
// of a batch it holds is a duplicate and the retry of a truncated one is
// appended anew.
func TestFollowerProducerStateAcrossFailover(t *testing.T) {
	e := openClustered(t, "", nil)
	place := func(leader int32) func(int) (int32, []int32) {
		return func(int) (int32, []int32) { return leader, []int32{2, self} }
	}
	mustApply(t, e, spread("idem", 7, 1, 1, place(2)))
	stamp := func(b []byte, base int64) []byte {
		rb := record.Batch(b)
		rb.SetBaseOffset(base)
		rb.SetPartitionLeaderEpoch(1)
		return b
	}
	b0, b1 := stamp(idemBatch(9, 0, 0, 2), 0), stamp(idemBatch(9, 0, 2, 2), 2)
	if _, err := e.AppendFollower("idem", 0, 1, slices.Concat(b0, b1), 0); err != nil {
		t.Fatal(err)
	}
	// Leader 2 re-elected at epoch 2 ended epoch 1 at 2: b1 goes.
	mustApply(t, e, spread("idem", 7, 1, 2, place(2)))
	if err := e.TruncateFollower("idem", 0, 2, 1, 2); err != nil {
		t.Fatal(err)
	}
	// Then this broker leads at epoch 3, with the ISR of itself alone.
	lead := spread("idem", 7, 1, 3, place(self))
	lead.Partitions[0].ISR = []int32{self}
	mustApply(t, e, lead)
	wantBase(t, "retry of the batch the follower kept", produceIdem(t, e, "idem", 9, 0, 0, 2), 0)
	wantBase(t, "retry of the truncated batch", produceIdem(t, e, "idem", 9, 0, 2, 2), 2)
	if end := logEnd(t, e, "idem"); end != 4 {
		t.Fatalf("log end %d, want 4 (one copy of each batch)", end)
	}
}

// TestRefusedExpansionBacksOff: a follower the controller will not add
// (fenced, say) keeps fetching at the log end; its leader asks for it again
// only after refusedBackoff, not at every fetch.
func TestRefusedExpansionBacksOff(t *testing.T) {
	var calls atomic.Int32
	e := openClustered(t, "", func(c *Config) {
		c.AlterPartitionHook = func(string, int32, int32, int32, int32, []int32) error {
			calls.Add(1)
			return errors.New("broker 2 is fenced")
		}
	})
	spec := spread("backoff", 1, 1, 3, func(int) (int32, []int32) { return self, []int32{self, 2} })
	spec.Partitions[0].ISR = []int32{self}
	mustApply(t, e, spec)
	produceOne(t, e, "backoff", 0, 1) // 2 records: the follower fetches at their end
	const window = 500 * time.Millisecond
	fetches := 0
	for start := time.Now(); time.Since(start) < window; fetches++ {
		if _, _, err := replicaFetch(t, e, 2, "backoff", 0, 3, 2); err != nil {
			t.Fatalf("follower fetch: %v", err)
		}
	}
	// At most one proposal per backoff period, plus the one in flight.
	if n, most := calls.Load(), int32(window/refusedBackoff)+1; n < 1 || n > most {
		t.Fatalf("%d ISR change requests for %d follower fetches in %v; want 1 to %d", n, fetches, window, most)
	}
}

// TestFollowerSyncsUnderFlushAlways: under flush.policy=always
// SyncFollower returns only once what AppendFollower appended is
// fdatasync'd (the follower's next fetch reports that log end to the
// leader); under never it syncs nothing.
func TestFollowerSyncsUnderFlushAlways(t *testing.T) {
	for _, policy := range []string{"always", "never"} {
		e := openClustered(t, "", nil)
		spec := spread("f", 4, 1, 1, func(int) (int32, []int32) { return 2, []int32{2, self} })
		spec.Configs = map[string]string{"flush.policy": policy}
		mustApply(t, e, spec)
		data := slices.Concat(stampedBatch(2, 0, 1), stampedBatch(3, 2, 1))
		if _, err := e.AppendFollower("f", 0, 1, data, 0); err != nil {
			t.Fatal(err)
		}
		if err := e.SyncFollower("f", 0); err != nil {
			t.Fatal(err)
		}
		p, err := e.hosted("f", 0)
		if err != nil {
			t.Fatal(err)
		}
		flushed, end := p.log.FlushedOffset(), p.log.LogEndOffset()
		if policy == "always" && flushed != end {
			t.Fatalf("always: flushed %d of a log ending at %d after SyncFollower returned", flushed, end)
		}
		if policy == "never" && flushed == end {
			t.Fatalf("never: SyncFollower synced (flushed %d, end %d)", flushed, end)
		}
	}
}
