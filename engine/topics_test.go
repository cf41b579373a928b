package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidateTopicName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"orders", true},
		{"a", true},
		{"A-Z_0.9", true},
		{"...", true},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
		{"", false},
		{".", false},
		{"..", false},
		{"has space", false},
		{"slash/", false},
		{"ünïcode", false},
		{"colon:", false},
	}
	for _, c := range cases {
		err := ValidateTopicName(c.name)
		if c.ok && err != nil {
			t.Errorf("ValidateTopicName(%.20q): %v, want ok", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopicName(%.20q) = %v, want ErrInvalidTopic", c.name, err)
		}
	}
}

func TestCreateTopicErrors(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "a.b", 2, nil)
	cases := []struct {
		name       string
		partitions int32
		rf         int16
		configs    map[string]string
		want       error
	}{
		{"a.b", 1, -1, nil, ErrTopicExists},
		{"a_b", 1, -1, nil, ErrInvalidTopic}, // collides with a.b
		{"..", 1, -1, nil, ErrInvalidTopic},
		{"zero", 0, -1, nil, ErrInvalidPartitions},
		{"neg", -2, -1, nil, ErrInvalidPartitions},
		{"huge", MaxPartitionsPerTopic + 1, -1, nil, ErrInvalidPartitions},
		{"rf3", 1, 3, nil, ErrInvalidReplicationFactor},
		{"badcfg", 1, -1, map[string]string{"retention.ms": "soon"}, ErrInvalidConfig},
	}
	for _, c := range cases {
		err := e.CreateTopicReplicated(c.name, c.partitions, c.rf, c.configs)
		if !errors.Is(err, c.want) {
			t.Errorf("CreateTopic(%q, %d, rf=%d) = %v, want %v", c.name, c.partitions, c.rf, err, c.want)
		}
	}
	if got := e.Topics(); !slices.Equal(got, []string{"a.b"}) {
		t.Errorf("Topics() = %v after failed creates, want [a.b]", got)
	}
	if err := e.CreateTopicReplicated("rf1", -1, 1, nil); err != nil {
		t.Errorf("CreateTopic with rf=1 and default partitions: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	e := openTestEngine(t, func(c *Config) { c.BrokerID = 7 })
	mustCreate(t, e, "t", 3, map[string]string{"retention.bytes": "1000"})
	produceSync(t, e, ProduceRequest{Topic: "t", Partition: 1, Acks: 1, Records: makeBatch(5, 0, 1)})
	infos := e.Describe("t", "missing")
	if len(infos) != 2 {
		t.Fatalf("Describe returned %d topics, want 2", len(infos))
	}
	if !errors.Is(infos[1].Err, ErrUnknownTopicOrPartition) {
		t.Errorf("Describe(missing).Err = %v", infos[1].Err)
	}
	ti := infos[0]
	if ti.Err != nil || len(ti.Partitions) != 3 {
		t.Fatalf("Describe(t) = %+v", ti)
	}
	if ti.Configs["retention.bytes"] != "1000" || ti.Overrides["retention.bytes"] != "1000" || ti.Configs["cleanup.policy"] != "delete" {
		t.Errorf("configs %v overrides %v", ti.Configs, ti.Overrides)
	}
	p1 := ti.Partitions[1]
	if p1.Leader != 7 || !slices.Equal(p1.ISR, []int32{7}) || !slices.Equal(p1.Replicas, []int32{7}) {
		t.Errorf("placement %+v", p1)
	}
	if p1.LogStartOffset != 0 || p1.LogEndOffset != 5 || p1.HighWatermark != 5 {
		t.Errorf("offsets %+v, want 0/5/5", p1)
	}
}

func TestTopicsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.MaxIndexBytes = 64 << 10
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "keep", 2, map[string]string{"flush.policy": "always"})
	mustCreate(t, e, "gone", 1, nil)
	for i := 0; i < 3; i++ {
		if r := produceSync(t, e, ProduceRequest{Topic: "keep", Partition: 1, Acks: 1, Records: makeBatch(4, 100, 1)}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if err := e.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A stray directory as a crash between steps would leave it.
	orphan := filepath.Join(dir, "ghost-0")
	if err := os.Mkdir(orphan, 0o755); err != nil {
		t.Fatal(err)
	}

	e2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close(context.Background())
	if got := e2.Topics(); !slices.Equal(got, []string{"keep"}) {
		t.Fatalf("Topics after reopen = %v", got)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan dir still there: %v", err)
	}
	info := e2.Describe("keep")[0]
	if info.Configs["flush.policy"] != "always" || info.Partitions[1].LogEndOffset != 12 {
		t.Errorf("after reopen: flush.policy=%s LEO=%d, want always/12", info.Configs["flush.policy"], info.Partitions[1].LogEndOffset)
	}
	res := fetchSync(t, e2, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "keep", Partition: 1, Offset: 4, MaxBytes: 1 << 20}}})
	defer res.Release()
	pr := res.Partitions[0]
	if pr.Err != nil || pr.Records == nil || pr.Records.FirstOffset() != 4 || pr.Records.NextOffset() != 12 {
		t.Fatalf("fetch after reopen: %+v", pr)
	}
}

func TestDeleteTopicWhileRangeHeld(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "d", 1, nil)
	batch := makeBatch(3, 500, 1)
	want := slices.Clone(batch)
	produceSync(t, e, ProduceRequest{Topic: "d", Acks: 1, Records: batch})
	res := fetchSync(t, e, FetchRequest{Partitions: []FetchPartition{{Topic: "d", MaxBytes: 1 << 20}}})
	if err := e.DeleteTopic("d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.DataDir, "d-0")); !os.IsNotExist(err) {
		t.Errorf("partition dir still exists after DeleteTopic: %v", err)
	}
	// The held range still reads the deleted data, through the mapping and the file.
	fr := res.Partitions[0].Records
	got := fr.Bytes()
	if len(got) != len(want) || !slices.Equal(got[12:], want[12:]) {
		t.Errorf("held range bytes changed after delete (len %d, want %d)", len(got), len(want))
	}
	buf := make([]byte, fr.Len())
	if _, err := fr.File().ReadAt(buf, fr.Pos()); err != nil {
		t.Errorf("ReadAt on held range after delete: %v", err)
	}
	res.Release()

	r := produceSync(t, e, ProduceRequest{Topic: "d", Acks: 1, Records: makeBatch(1, 0, 1)})
	if !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
		t.Errorf("produce after delete: %v", r.Err)
	}
	if err := e.DeleteTopic("d"); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Errorf("second delete: %v", err)
	}
	// The name is free again, and the new topic starts empty.
	mustCreate(t, e, "d", 1, nil)
	if off, _ := e.ListOffsets("d", 0, LatestTimestamp); off != 0 {
		t.Errorf("recreated topic has end offset %d", off)
	}
}

func TestOpenRejectsBadMetadata(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{",
		"version":       `{"version": 99, "topics": []}`,
		"bad name":      `{"version": 1, "topics": [{"name": "..", "partitions": 1}]}`,
		"no partitions": `{"version": 1, "topics": [{"name": "t", "partitions": 0}]}`,
		"bad config":    `{"version": 1, "topics": [{"name": "t", "partitions": 1, "configs": {"flush.policy": "x"}}]}`,
	} {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		if err := os.WriteFile(filepath.Join(cfg.DataDir, metaFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if e, err := Open(cfg); !errors.Is(err, ErrStorage) {
			t.Errorf("%s: Open = %v, want ErrStorage", name, err)
			if e != nil {
				e.Close(context.Background())
			}
		}
	}
}

// TestDeleteRecreateUnderLoad deletes and re-creates a topic while producers
// and long-poll fetchers hammer it: every request must be answered, with
// success or ErrUnknownTopicOrPartition only.
func TestDeleteRecreateUnderLoad(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "churn", 2, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				part := int32(i % 2)
				if w%2 == 0 {
					r := produceSync(t, e, ProduceRequest{Topic: "churn", Partition: part, Acks: -1, Timeout: time.Second, Records: makeBatch(1, 10, 1)})
					if r.Err != nil && !errors.Is(r.Err, ErrUnknownTopicOrPartition) {
						errs <- r.Err
					}
					continue
				}
				r := fetchSync(t, e, FetchRequest{MaxWait: 5 * time.Millisecond, MinBytes: 1 << 20, Partitions: []FetchPartition{{Topic: "churn", Partition: part, MaxBytes: 1 << 20}}})
				if err := r.Partitions[0].Err; err != nil && !errors.Is(err, ErrUnknownTopicOrPartition) {
					errs <- err
				}
				r.Release()
			}
		}()
	}
	for i := 0; i < 20; i++ {
		time.Sleep(2 * time.Millisecond)
		if err := e.DeleteTopic("churn"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		mustCreate(t, e, "churn", 2, nil)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error under churn: %v", err)
	}
}

func TestValidateCreateTopic(t *testing.T) {
	e := openTestEngine(t, nil)
	mustCreate(t, e, "x.y", 1, nil)
	cases := []struct {
		name       string
		partitions int32
		configs    map[string]string
		want       error
	}{
		{"fresh", 3, map[string]string{"flush.policy": "always"}, nil},
		{"x.y", 1, nil, ErrTopicExists},
		{"x_y", 1, nil, ErrInvalidTopic},
		{"fresh", 0, nil, ErrInvalidPartitions},
		{"fresh", 1, map[string]string{"cleanup.policy": "shred"}, ErrInvalidConfig},
	}
	for _, c := range cases {
		err := e.ValidateCreateTopic(c.name, c.partitions, -1, c.configs)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("ValidateCreateTopic(%q, %d, %v) = %v, want %v", c.name, c.partitions, c.configs, err, c.want)
		}
	}
	if got := e.Topics(); !slices.Equal(got, []string{"x.y"}) {
		t.Errorf("validation created topics: %v", got)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.DataDir, "fresh-0")); !os.IsNotExist(err) {
		t.Errorf("validation created a partition dir: %v", err)
	}
}
