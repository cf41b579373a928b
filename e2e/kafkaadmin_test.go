package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaAdmin runs franz-go's admin client (kadm) through the Kafka
// port: topics created and listed, configs described and altered both
// ways, partitions added, records deleted, offsets listed, committed and
// fetched, leader epochs and log dirs asked, and the cluster described.
// What it changes is checked through kadm and through `spate topic`.
func TestKafkaAdmin(t *testing.T) {
	const topic = "admin"
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(cl)

	created, err := adm.CreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": ptr("3600000")}, topic)
	if err != nil || created[topic].Err != nil {
		t.Fatalf("create %s: %v %+v", topic, err, created[topic])
	}
	listed, err := adm.ListTopics(ctx)
	if err != nil || !listed.Has(topic) || len(listed[topic].Partitions) != 2 {
		t.Fatalf("ListTopics: %v %+v", err, listed[topic])
	}

	configValue := func(key string) string {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
			t.Fatalf("DescribeTopicConfigs: %v %+v", err, rcs)
		}
		for _, c := range rcs[0].Configs {
			if c.Key == key {
				return c.MaybeValue()
			}
		}
		t.Fatalf("DescribeTopicConfigs: no %s in %+v", key, rcs[0].Configs)
		return ""
	}
	if v := configValue("retention.ms"); v != "3600000" {
		t.Fatalf("retention.ms at creation: %s", v)
	}
	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: ptr("600000")}}
	if rs, err := adm.AlterTopicConfigs(ctx, alter, topic); err != nil || rs[0].Err != nil {
		t.Fatalf("AlterTopicConfigs (incremental): %v %+v", err, rs)
	}
	if s, r := configValue("segment.ms"), configValue("retention.ms"); s != "600000" || r != "3600000" {
		t.Fatalf("after incremental alter: segment.ms %s retention.ms %s", s, r)
	}
	state := []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("7200000")}}
	if rs, err := adm.AlterTopicConfigsState(ctx, state, topic); err != nil || rs[0].Err != nil {
		t.Fatalf("AlterTopicConfigsState: %v %+v", err, rs)
	}
	if s, r := configValue("segment.ms"), configValue("retention.ms"); s == "600000" || r != "7200000" {
		t.Fatalf("after a whole-state alter: segment.ms %s (should be back to the default) retention.ms %s", s, r)
	}

	if rs, err := adm.CreatePartitions(ctx, 2, topic); err != nil || rs[topic].Err != nil {
		t.Fatalf("CreatePartitions +2: %v %+v", err, rs)
	}
	// The native port sees the same topic: four partitions, the override.
	out := mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "describe", topic)
	if !strings.Contains(out, "PARTITIONS 4") || !regexp.MustCompile(`retention\.ms +7200000 +topic`).MatchString(out) {
		t.Fatalf("spate topic describe after CreatePartitions and the alters:\n%s", out)
	}

	var recs []*kgo.Record
	for i := range 40 {
		recs = append(recs, &kgo.Record{Partition: int32(i % 4), Value: []byte(strconv.Itoa(i))})
	}
	manual := newKgo(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := manual.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to 4 partitions: %v", err)
	}
	var del kadm.Offsets
	del.AddOffset(topic, 3, 4, -1)
	if rs, err := adm.DeleteRecords(ctx, del); err != nil || rs[topic][3].Err != nil || rs[topic][3].LowWatermark != 4 {
		t.Fatalf("DeleteRecords before 4 in partition 3: %v %+v", err, rs)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		wantStart := int64(0)
		if p == 3 {
			wantStart = 4
		}
		if s.Err != nil || e.Err != nil || s.Offset != wantStart || e.Offset != 10 {
			t.Fatalf("partition %d: start %+v end %+v, want %d and 10", p, s, e, wantStart)
		}
	}

	var commit kadm.Offsets
	commit.AddOffset(topic, 1, 7, -1)
	if rs, err := adm.CommitOffsets(ctx, "admin-group", commit); err != nil || rs.Error() != nil {
		t.Fatalf("CommitOffsets: %v %v", err, rs.Error())
	}
	fetched, err := adm.FetchOffsets(ctx, "admin-group")
	if got, ok := fetched.Lookup(topic, 1); err != nil || !ok || got.At != 7 {
		t.Fatalf("FetchOffsets: %v %+v", err, got)
	}

	var epochs kadm.OffsetForLeaderEpochRequest
	epochs.Add(topic, 0, 0)
	le, err := adm.OffsetForLeaderEpoch(ctx, epochs)
	if err != nil || le[topic][0].Err != nil || le[topic][0].EndOffset != 10 || le[topic][0].LeaderEpoch != 0 {
		t.Fatalf("OffsetForLeaderEpoch: %v %+v", err, le)
	}
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatalf("DescribeAllLogDirs: %v", err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			t.Fatalf("log dir %s: %v", d.Dir, d.Err)
		}
		size += d.Topics.Size()
	})
	if size <= 0 {
		t.Fatalf("log dirs hold %d bytes after 40 records", size)
	}
	// Partitions added on the native port show on the Kafka port (to a new
	// client: franz-go caches metadata for MetadataMinAge).
	mustCLI(t, b.Addr, nil, 30*time.Second, "topic", "alter", topic, "--partitions", "5")
	if listed, err := kadm.NewClient(newKgo(t, b)).ListTopics(ctx, topic); err != nil || len(listed[topic].Partitions) != 5 {
		t.Fatalf("ListTopics after spate topic alter --partitions 5: %v %+v", err, listed[topic])
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.EndpointType = 1
	cluster, err := dc.RequestWith(ctx, cl)
	if err != nil || cluster.ErrorCode != 0 || len(cluster.Brokers) != 1 {
		t.Fatalf("DescribeCluster: %v %+v", err, cluster)
	}
}

func ptr(s string) *string { return &s }
