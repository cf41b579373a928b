package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/segment"
)

// The tests in this file play the broker of cluster mode: they hand the
// engine topic specs as the cluster metadata would, for broker 1.

const self = int32(1)

// openClustered opens a cluster-mode engine as broker 1 on dir (a fresh
// temp dir when empty) and closes it when the test ends.
func openClustered(t testing.TB, dir string, mutate func(*Config)) *Engine {
	t.Helper()
	return openTestEngine(t, func(c *Config) {
		if dir != "" {
			c.DataDir = dir
		}
		c.Clustered = true
		c.BrokerID = self
		if mutate != nil {
			mutate(c)
		}
	})
}

// topicID is a test topic id: 16 bytes of b.
func topicID(b byte) [16]byte {
	var id [16]byte
	for i := range id {
		id[i] = b
	}
	return id
}

// spread is a spec of n partitions at leader epoch epoch where partition i
// has replicas and leader place(i) (the leader leads an ISR of every
// replica).
func spread(name string, id byte, n int, epoch int32, place func(i int) (leader int32, replicas []int32)) TopicSpec {
	s := TopicSpec{Name: name, ID: topicID(id)}
	for i := range n {
		leader, replicas := place(i)
		s.Partitions = append(s.Partitions, PartitionRole{Partition: int32(i), Leader: leader, LeaderEpoch: epoch,
			Replicas: replicas, ISR: slices.Clone(replicas)})
	}
	return s
}

// everyThird places partition i on broker i%3+1 alone: broker 1 hosts and
// leads partitions 0, 3, 6, ...
func everyThird(i int) (int32, []int32) {
	b := int32(i%3 + 1)
	return b, []int32{b}
}

// allHere places every partition on broker 1 alone.
func allHere(int) (int32, []int32) { return self, []int32{self} }

func mustApply(t testing.TB, e *Engine, spec TopicSpec) {
	t.Helper()
	if err := e.ApplyTopic(spec); err != nil {
		t.Fatalf("ApplyTopic(%s): %v", spec.Name, err)
	}
}

func partitionDirs(t testing.TB, dir, topic string) []int32 {
	t.Helper()
	var ids []int32
	for i := range int32(MaxPartitionsPerTopic) {
		if _, err := os.Stat(filepath.Join(dir, partitionDir(topic, i))); err == nil {
			ids = append(ids, i)
		}
		if i > 64 {
			break
		}
	}
	return ids
}

func produceOne(t testing.TB, e *Engine, topic string, partition int32, acks int16) ProduceResult {
	t.Helper()
	return produceSync(t, e, ProduceRequest{Topic: topic, Partition: partition, Acks: acks, Timeout: 5 * time.Second,
		Records: makeBatch(2, 64, time.Now().UnixMilli())})
}

// TestApplyTopicHostsItsPartitions: a 12-partition topic placed over three
// brokers opens the 4 partitions of broker 1 only, serves those, answers
// ErrNotLeader for the others, and Describe reports the metadata's roles.
func TestApplyTopicHostsItsPartitions(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("orders", 7, 12, 0, everyThird))
	if got, want := partitionDirs(t, e.cfg.DataDir, "orders"), []int32{0, 3, 6, 9}; !slices.Equal(got, want) {
		t.Fatalf("partition dirs %v, want %v", got, want)
	}
	if b, _ := e.Descriptors(); b.Partitions != 4 {
		t.Errorf("descriptor budget counts %d partitions, want 4", b.Partitions)
	}
	for i := range int32(12) {
		res := produceOne(t, e, "orders", i, 1)
		switch {
		case i%3 == 0 && res.Err != nil:
			t.Errorf("produce to hosted leader %d: %v", i, res.Err)
		case i%3 != 0 && !errors.Is(res.Err, ErrNotLeader):
			t.Errorf("produce to partition %d of broker %d: %v, want ErrNotLeader", i, i%3+1, res.Err)
		}
		if !e.HasPartition("orders", i) {
			t.Errorf("HasPartition(orders, %d) = false: commits may name any partition of the topic", i)
		}
	}
	info := e.Describe("orders")[0]
	if len(info.Partitions) != 12 {
		t.Fatalf("Describe: %d partitions, want 12", len(info.Partitions))
	}
	for _, p := range info.Partitions {
		wantLeader := p.Partition%3 + 1
		if p.Leader != wantLeader || !slices.Equal(p.Replicas, []int32{wantLeader}) || !slices.Equal(p.ISR, []int32{wantLeader}) {
			t.Errorf("partition %d: leader %d replicas %v isr %v, want broker %d alone", p.Partition, p.Leader, p.Replicas, p.ISR, wantLeader)
		}
		if hosted := p.Partition%3 == 0; hosted != (p.LogEndOffset == 2) || !hosted && p.HighWatermark != -1 {
			t.Errorf("partition %d: log end %d, high watermark %d", p.Partition, p.LogEndOffset, p.HighWatermark)
		}
	}
	var seen []int32
	e.EachPartition(func(_ string, p int32, _, _, _ int64) { seen = append(seen, p) })
	slices.Sort(seen)
	if !slices.Equal(seen, []int32{0, 3, 6, 9}) {
		t.Errorf("EachPartition saw %v", seen)
	}
	// Background passes and Close must walk the topic's nil entries.
	if _, err := e.ApplyRetention(time.Now()); err != nil {
		t.Errorf("ApplyRetention: %v", err)
	}
	if err := e.LogDirs()[0].Err; err != nil {
		t.Errorf("LogDirs: %v", err)
	}
}

// TestFollowerNotServed: a partition broker 1 follows is open but answers
// ErrNotLeader to produce, fetch and ListOffsets; a parked fetch on a
// partition that then loses leadership answers ErrNotLeader.
func TestFollowerNotServed(t *testing.T) {
	e := openClustered(t, "", nil)
	follow := func(int) (int32, []int32) { return 2, []int32{2, self} }
	mustApply(t, e, spread("logs", 1, 2, 4, follow))
	if got := partitionDirs(t, e.cfg.DataDir, "logs"); len(got) != 2 {
		t.Fatalf("follower dirs %v, want both partitions open", got)
	}
	if res := produceOne(t, e, "logs", 0, 1); !errors.Is(res.Err, ErrNotLeader) {
		t.Fatalf("produce to a follower: %v, want ErrNotLeader", res.Err)
	}
	r := fetchSync(t, e, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "logs", Partition: 0, MaxBytes: 1 << 20}}})
	if err := r.Partitions[0].Err; !errors.Is(err, ErrNotLeader) {
		t.Errorf("fetch from a follower: %v, want ErrNotLeader", err)
	}
	r.Release()
	if _, err := e.ListOffsets("logs", 0, LatestTimestamp); !errors.Is(err, ErrNotLeader) {
		t.Errorf("ListOffsets on a follower: %v, want ErrNotLeader", err)
	}

	lead := func(int) (int32, []int32) { return self, []int32{self, 2} }
	mustApply(t, e, spread("logs", 1, 2, 5, lead))
	parked := make(chan *FetchResult, 1)
	e.Fetch(FetchRequest{MaxWait: time.Hour, MinBytes: 1, MaxBytes: 1 << 20,
		Partitions: []FetchPartition{{Topic: "logs", Partition: 1, MaxBytes: 1 << 20, LeaderEpoch: -1}}}, func(r *FetchResult) { parked <- r })
	mustApply(t, e, spread("logs", 1, 2, 6, follow))
	select {
	case r := <-parked:
		if err := r.Partitions[0].Err; !errors.Is(err, ErrNotLeader) {
			t.Errorf("parked fetch after losing leadership: %v, want ErrNotLeader", err)
		}
		r.Release()
	case <-time.After(10 * time.Second):
		t.Fatal("a parked fetch was not answered when leadership moved away")
	}
}

// readBatches returns the partition leader epoch of every batch in the
// partition's log.
func readBatches(t testing.TB, e *Engine, topic string, partition int32) []int32 {
	t.Helper()
	p, err := e.lookup(topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.log.Read(0, 1<<20, p.log.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var epochs []int32
	for data := r.Bytes(); len(data) > 0; {
		b, err := record.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, b.PartitionLeaderEpoch())
		data = data[b.Size():]
	}
	return epochs
}

// TestLeaderEpochStamped: batches carry the role's leader epoch, and the
// epoch checkpoint gets (epoch, log end offset) each time the epoch grows.
func TestLeaderEpochStamped(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("clicks", 3, 1, 3, allHere))
	produceOne(t, e, "clicks", 0, 1)
	produceOne(t, e, "clicks", 0, -1)
	mustApply(t, e, spread("clicks", 3, 1, 5, allHere))
	if res := produceOne(t, e, "clicks", 0, 1); res.Err != nil || res.BaseOffset != 4 {
		t.Fatalf("produce at epoch 5: %+v", res)
	}
	if got := readBatches(t, e, "clicks", 0); !slices.Equal(got, []int32{3, 3, 5}) {
		t.Errorf("batch leader epochs %v, want [3 3 5]", got)
	}
	want := []segment.EpochEntry{{Epoch: 3, StartOffset: 0}, {Epoch: 5, StartOffset: 4}}
	if got := mustPartition(t, e, "clicks", 0).log.Epochs().Entries(); !reflect.DeepEqual(got, want) {
		t.Errorf("epoch checkpoint %v, want %v", got, want)
	}
	if info := e.Describe("clicks")[0].Partitions[0]; info.LeaderEpoch != 5 {
		t.Errorf("Describe: leader epoch %d, want 5", info.LeaderEpoch)
	}
}

// TestApplyTopicTwiceIsNoOp: applying the same spec again rewrites neither
// topics.json nor an epoch checkpoint (both are replaced by rename when
// written, so an unchanged inode means no write and no fsync), while a
// changed override is written.
func TestApplyTopicTwiceIsNoOp(t *testing.T) {
	e := openClustered(t, "", nil)
	withRetention := func() TopicSpec {
		spec := spread("orders", 7, 6, 2, everyThird)
		spec.Configs = map[string]string{"retention.ms": "60000"}
		return spec
	}
	mustApply(t, e, withRetention())
	stat := func(path string) os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	meta := filepath.Join(e.cfg.DataDir, metaFile)
	checkpoint := filepath.Join(e.cfg.DataDir, partitionDir("orders", 0), "leader-epoch-checkpoint")
	before, cpBefore, topicBefore := stat(meta), stat(checkpoint), (*e.topics.Load())["orders"]
	mustApply(t, e, withRetention()) // equal, not the same slices and maps
	if !os.SameFile(before, stat(meta)) {
		t.Errorf("applying the same spec rewrote %s", metaFile)
	}
	if !os.SameFile(cpBefore, stat(checkpoint)) {
		t.Errorf("applying the same spec rewrote the epoch checkpoint")
	}
	if (*e.topics.Load())["orders"] != topicBefore {
		t.Errorf("applying the same spec replaced the topic")
	}
	mustApply(t, e, spread("orders", 7, 6, 2, everyThird))
	if os.SameFile(before, stat(meta)) {
		t.Errorf("dropping an override did not rewrite %s", metaFile)
	}
	if got := e.Describe("orders")[0].Configs["retention.ms"]; got != msString(e.cfg.Topic.RetentionMs) {
		t.Errorf("retention.ms %s after the override was dropped", got)
	}
}

// TestApplyTopicGrowsAndMoves: added partitions open where hosted, and a
// partition moved away is closed and its directory removed.
func TestApplyTopicGrowsAndMoves(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("jobs", 2, 2, 0, allHere))
	produceOne(t, e, "jobs", 1, 1)
	moved := spread("jobs", 2, 4, 0, allHere)
	moved.Partitions[1] = PartitionRole{Partition: 1, Leader: 2, LeaderEpoch: 1, Replicas: []int32{2}, ISR: []int32{2}}
	mustApply(t, e, moved)
	if got := partitionDirs(t, e.cfg.DataDir, "jobs"); !slices.Equal(got, []int32{0, 2, 3}) {
		t.Fatalf("dirs %v, want [0 2 3]", got)
	}
	if res := produceOne(t, e, "jobs", 3, 1); res.Err != nil {
		t.Errorf("produce to an added partition: %v", res.Err)
	}
	if res := produceOne(t, e, "jobs", 1, 1); !errors.Is(res.Err, ErrNotLeader) {
		t.Errorf("produce to a partition moved away: %v, want ErrNotLeader", res.Err)
	}
	shrunk := spread("jobs", 2, 3, 0, allHere)
	if err := e.ApplyTopic(shrunk); !errors.Is(err, ErrInvalidPartitions) {
		t.Errorf("ApplyTopic with fewer partitions: %v, want ErrInvalidPartitions", err)
	}
}

// TestApplyTopicNewIDReplaces: a topic of the same name with another id is
// a new topic: the old logs are gone.
func TestApplyTopicNewIDReplaces(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("events", 1, 1, 0, allHere))
	produceOne(t, e, "events", 0, 1)
	mustApply(t, e, spread("events", 2, 1, 0, allHere))
	if leo := mustPartition(t, e, "events", 0).log.LogEndOffset(); leo != 0 {
		t.Errorf("log end %d after the topic was replaced, want 0", leo)
	}
	if got := e.HostedTopics()["events"]; got != topicID(2) {
		t.Errorf("HostedTopics id %v, want the new one", got)
	}
}

// TestRemoveTopic: the topic, its logs and its record in topics.json go.
func TestRemoveTopic(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("gone", 1, 3, 0, allHere))
	mustApply(t, e, spread("kept", 2, 1, 0, allHere))
	if err := e.RemoveTopic("gone"); err != nil {
		t.Fatal(err)
	}
	if got := partitionDirs(t, e.cfg.DataDir, "gone"); len(got) != 0 {
		t.Errorf("dirs %v left", got)
	}
	if _, ok := e.HostedTopics()["gone"]; ok || len(e.HostedTopics()) != 1 {
		t.Errorf("HostedTopics after remove: %v", e.HostedTopics())
	}
	if res := produceOne(t, e, "gone", 0, 1); !errors.Is(res.Err, ErrUnknownTopicOrPartition) {
		t.Errorf("produce to a removed topic: %v", res.Err)
	}
	if err := e.RemoveTopic("gone"); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Errorf("second RemoveTopic: %v", err)
	}
}

// TestClusteredRestart: after Close and Open, the hosted partitions are
// back with their data but unserved until ApplyTopic gives them a role;
// HostedTopics reports the ids for reconciliation.
func TestClusteredRestart(t *testing.T) {
	dir := t.TempDir()
	e := openClustered(t, dir, nil)
	mustApply(t, e, spread("orders", 7, 12, 2, everyThird))
	mustApply(t, e, spread("elsewhere", 8, 3, 0, func(int) (int32, []int32) { return 3, []int32{3} }))
	produceOne(t, e, "orders", 3, 1)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = openClustered(t, dir, nil)
	want := map[string][16]byte{"orders": topicID(7), "elsewhere": topicID(8)}
	if got := e.HostedTopics(); !reflect.DeepEqual(got, want) {
		t.Fatalf("HostedTopics %v, want %v", got, want)
	}
	if got := partitionDirs(t, dir, "orders"); !slices.Equal(got, []int32{0, 3, 6, 9}) {
		t.Fatalf("dirs after restart %v", got)
	}
	if res := produceOne(t, e, "orders", 3, 1); !errors.Is(res.Err, ErrNotLeader) {
		t.Fatalf("produce before ApplyTopic: %v, want ErrNotLeader", res.Err)
	}
	if info := e.Describe("orders")[0].Partitions[3]; info.Leader != -1 || info.LogEndOffset != 2 {
		t.Errorf("Describe before ApplyTopic: %+v", info)
	}
	mustApply(t, e, spread("orders", 7, 12, 2, everyThird))
	if res := produceOne(t, e, "orders", 3, 1); res.Err != nil || res.BaseOffset != 2 {
		t.Errorf("produce after ApplyTopic: %+v, want offset 2 after the data kept", res)
	}
}

// TestClusteredAdminRefused: the admin entry points fail in cluster mode;
// topics change through ApplyTopic and RemoveTopic only, which single-
// broker mode refuses in turn.
func TestClusteredAdminRefused(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("t", 1, 1, 0, allHere))
	for what, err := range map[string]error{
		"CreateTopic":       e.CreateTopic("new", 1, nil),
		"DeleteTopic":       e.DeleteTopic("t"),
		"AlterTopicConfigs": e.AlterTopicConfigs("t", map[string]string{"retention.ms": "1"}, false),
	} {
		if !errors.Is(err, ErrNotController) {
			t.Errorf("%s in cluster mode: %v, want ErrNotController", what, err)
		}
	}
	if err := e.ValidateCreateTopic("new", 3, 3, nil); err != nil {
		t.Errorf("ValidateCreateTopic with replication factor 3 in cluster mode: %v", err)
	}
	single := openTestEngine(t, nil)
	if err := single.ApplyTopic(spread("t", 1, 1, 0, allHere)); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("ApplyTopic in single-broker mode: %v, want ErrInvalidRequest", err)
	}
	if err := single.RemoveTopic("t"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("RemoveTopic in single-broker mode: %v, want ErrInvalidRequest", err)
	}
}

// TestClusterDataDirModes: a single broker refuses a data dir that hosted
// cluster topics, and a cluster broker adopts a single broker's topic
// (same name, no id) with its data.
func TestClusterDataDirModes(t *testing.T) {
	dir := t.TempDir()
	single := openTestEngine(t, func(c *Config) { c.DataDir = dir })
	mustCreate(t, single, "legacy", 2, nil)
	produceOne(t, single, "legacy", 1, 1)
	if err := single.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := openClustered(t, dir, nil)
	if got := e.HostedTopics()["legacy"]; got != ([16]byte{}) {
		t.Fatalf("a single broker's topic has id %v, want zero", got)
	}
	mustApply(t, e, spread("legacy", 9, 2, 0, allHere))
	if res := produceOne(t, e, "legacy", 1, 1); res.BaseOffset != 2 {
		t.Errorf("produce after adoption: %+v, want offset 2 (data kept)", res)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if e, err := Open(cfg); !errors.Is(err, ErrStorage) {
		if err == nil {
			e.Close(context.Background())
		}
		t.Errorf("single-broker Open of a cluster data dir: %v, want ErrStorage", err)
	}
}

// TestMinInsyncFromRole: acks=all checks min.insync.replicas against the
// role's ISR, and with the follower in the ISR completes once it fetched
// past the batch.
func TestMinInsyncFromRole(t *testing.T) {
	e := openClustered(t, "", nil)
	spec := spread("safe", 1, 1, 0, func(int) (int32, []int32) { return self, []int32{self, 2} })
	spec.Configs = map[string]string{"min.insync.replicas": "2"}
	spec.Partitions[0].ISR = []int32{self}
	mustApply(t, e, spec)
	if res := produceOne(t, e, "safe", 0, -1); !errors.Is(res.Err, ErrNotEnoughReplicas) {
		t.Errorf("acks=all with ISR [1] and min.insync.replicas 2: %v, want ErrNotEnoughReplicas", res.Err)
	}
	if res := produceOne(t, e, "safe", 0, 1); res.Err != nil {
		t.Errorf("acks=1 with a short ISR: %v", res.Err)
	}
	spec.Partitions[0].ISR = []int32{self, 2}
	spec.Partitions[0].PartitionEpoch = 1
	mustApply(t, e, spec)
	acked := make(chan ProduceResult, 1)
	e.Produce(ProduceRequest{Topic: "safe", Partition: 0, Acks: -1, Timeout: time.Minute, Records: makeBatch(2, 64, 1)},
		func(r ProduceResult) { acked <- r })
	replicaFetch(t, e, 2, "safe", 0, 0, 4)
	if res := <-acked; res.Err != nil || res.BaseOffset != 2 {
		t.Errorf("acks=all with ISR [1 2] once 2 fetched: %+v", res)
	}
}

// TestCreateTopicHookOnAutoCreate: auto-create on produce goes through the
// hook, which (as the broker does) applies the controller's topic here.
func TestCreateTopicHookOnAutoCreate(t *testing.T) {
	type call struct {
		name       string
		partitions int32
	}
	calls := make(chan call, 4)
	var e *Engine
	e = openClustered(t, "", func(c *Config) {
		c.AutoCreateTopics = true
		c.DefaultPartitions = 3
		c.CreateTopicHook = func(name string, partitions int32, configs map[string]string) error {
			calls <- call{name, partitions}
			return e.ApplyTopic(spread(name, 5, int(partitions), 0, allHere))
		}
	})
	if res := produceOne(t, e, "fresh", 2, 1); res.Err != nil || res.BaseOffset != 0 {
		t.Fatalf("produce to an unknown topic: %+v", res)
	}
	select {
	case c := <-calls:
		if c != (call{"fresh", 3}) {
			t.Errorf("hook called with %+v, want fresh with 3 partitions", c)
		}
	default:
		t.Fatal("auto-create did not call CreateTopicHook")
	}
	if got := e.HostedTopics()["fresh"]; got != topicID(5) {
		t.Errorf("topic id %v after auto-create", got)
	}
	if res := produceOne(t, e, "fresh", 1, 1); res.Err != nil || len(calls) != 0 {
		t.Errorf("second produce: %+v, %d more hook calls", res, len(calls))
	}
}

// TestAllocateProducerIDs: ids come from the controller's blocks, one call
// per block used up, and the producer id file is not written.
func TestAllocateProducerIDs(t *testing.T) {
	blocks := [][2]int64{{1000, 2}, {5000, 2}}
	asked := 0
	e := openClustered(t, "", func(c *Config) {
		c.AllocateProducerIDs = func() (int64, int32, error) {
			b := blocks[asked]
			asked++
			return b[0], int32(b[1]), nil
		}
	})
	var got []int64
	for range 3 {
		id, epoch, err := e.InitProducerID()
		if err != nil || epoch != 0 {
			t.Fatalf("InitProducerID: %d %d %v", id, epoch, err)
		}
		got = append(got, id)
	}
	if !slices.Equal(got, []int64{1000, 1001, 5000}) || asked != 2 {
		t.Errorf("ids %v from %d blocks, want [1000 1001 5000] from 2", got, asked)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.DataDir, producerIDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s written with the controller's blocks: %v", producerIDFile, err)
	}
}

// TestAllocateProducerIDsFails: a failed or empty block is a retriable
// error, and the next call asks again.
func TestAllocateProducerIDsFails(t *testing.T) {
	answers := []error{errors.New("no controller"), nil}
	e := openClustered(t, "", func(c *Config) {
		c.AllocateProducerIDs = func() (int64, int32, error) {
			err := answers[0]
			answers = answers[1:]
			if err == nil {
				return 7, 0, nil // an empty block
			}
			return 0, 0, err
		}
	})
	for range 2 {
		if _, _, err := e.InitProducerID(); !errors.Is(err, ErrCoordinatorNotAvailable) {
			t.Errorf("InitProducerID with a failing controller: %v, want ErrCoordinatorNotAvailable", err)
		}
	}
}

// batchOffsets returns the base offset and leader epoch of every batch in
// p's log.
func batchOffsets(t testing.TB, p *partition) (bases []int64, epochs []int32) {
	t.Helper()
	end := p.log.LogEndOffset()
	for off := int64(0); off < end; {
		r, err := p.log.Read(off, 1<<20, end)
		if err != nil {
			t.Fatal(err)
		}
		for data := r.Bytes(); len(data) > 0; {
			b, err := record.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			bases, epochs = append(bases, b.BaseOffset()), append(epochs, b.PartitionLeaderEpoch())
			data = data[b.Size():]
		}
		off = r.NextOffset()
		r.Release()
	}
	return bases, epochs
}

// TestRolesFlipUnderProduce: while producers append, leadership flips
// between this broker and another at growing epochs. Every batch in the
// log must carry an epoch this broker led at, epochs never go back, and
// the epoch checkpoint must start each epoch at its first batch.
func TestRolesFlipUnderProduce(t *testing.T) {
	e := openClustered(t, "", nil)
	lead := func(int) (int32, []int32) { return self, []int32{self, 2} }
	follow := func(int) (int32, []int32) { return 2, []int32{self, 2} }
	mustApply(t, e, spread("flip", 1, 1, 0, lead))
	stop := make(chan struct{})
	done := make(chan int, 2)
	for range 2 {
		go func() {
			ok := 0
			for {
				select {
				case <-stop:
					done <- ok
					return
				default:
				}
				res := produceSync(t, e, ProduceRequest{Topic: "flip", Acks: 1, Records: makeBatch(1, 16, 1)})
				switch {
				case res.Err == nil:
					ok++
				case !errors.Is(res.Err, ErrNotLeader):
					t.Errorf("produce while roles flip: %v", res.Err)
				}
			}
		}()
	}
	led := map[int32]bool{0: true}
	p := mustPartition(t, e, "flip", 0)
	for epoch := int32(1); epoch <= 40; epoch++ {
		place := follow
		if epoch%2 == 0 {
			place, led[epoch] = lead, true
		}
		mustApply(t, e, spread("flip", 1, 1, epoch, place))
		// Let some appends land at this epoch before the next flip.
		deadline := time.Now().Add(10 * time.Second)
		for start := p.log.LogEndOffset(); epoch%2 == 0 && p.log.LogEndOffset() < start+3; {
			if time.Now().After(deadline) {
				t.Fatalf("no append at epoch %d in 10 s", epoch)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(stop)
	appended := <-done + <-done
	bases, epochs := batchOffsets(t, p)
	if len(bases) != appended {
		t.Fatalf("%d batches in the log, %d appends acknowledged", len(bases), appended)
	}
	first := map[int32]int64{}
	for i, ep := range epochs {
		if !led[ep] || i > 0 && ep < epochs[i-1] {
			t.Fatalf("batch at offset %d has epoch %d (previous %d); this broker led at %v", bases[i], ep, epochs[max(i-1, 0)], led)
		}
		if _, ok := first[ep]; !ok {
			first[ep] = bases[i]
		}
	}
	for _, entry := range p.log.Epochs().Entries() {
		if start, ok := first[entry.Epoch]; ok && start != entry.StartOffset {
			t.Errorf("checkpoint starts epoch %d at %d, its first batch is at %d", entry.Epoch, entry.StartOffset, start)
		}
	}
	for ep := range first {
		if got, _ := p.log.Epochs().EndOffsetFor(ep); got != ep {
			t.Errorf("epoch %d has batches but no checkpoint entry (EndOffsetFor says %d)", ep, got)
		}
	}
}
