package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createPartitions(k *kconn, v int16, topic string, count int32, validateOnly bool, assignment ...int32) kmsg.CreatePartitionsResponseTopic {
	k.t.Helper()
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.ValidateOnly, req.TimeoutMillis = validateOnly, 10000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	if assignment != nil {
		a := kmsg.NewCreatePartitionsRequestTopicAssignment()
		a.Replicas = assignment
		rt.Assignment = append(rt.Assignment, a)
	}
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.CreatePartitionsResponse](k, req, v)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic {
		k.t.Fatalf("CreatePartitions v%d answer %+v", v, resp.Topics)
	}
	return resp.Topics[0]
}

func partitionCount(k *kconn, topic string) int {
	k.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	req.Topics = append(req.Topics, mt)
	resp := do[*kmsg.MetadataResponse](k, req, 12)
	return len(resp.Topics[0].Partitions)
}

// CreatePartitions grows a topic at every version; validate_only, a count
// not above the current one and a manual assignment change nothing.
func TestCreatePartitions(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "grow", 1)
	for v := int16(0); v <= 3; v++ {
		want := int32(2 + v)
		if r := createPartitions(k, v, "grow", want+5, true); r.ErrorCode != 0 || partitionCount(k, "grow") != int(want-1) {
			t.Fatalf("v%d validate only: error %d, %d partitions", v, r.ErrorCode, partitionCount(k, "grow"))
		}
		if r := createPartitions(k, v, "grow", want, false, 0); r.ErrorCode != kerr.InvalidReplicaAssignment.Code {
			t.Fatalf("v%d manual assignment: error %d", v, r.ErrorCode)
		}
		if r := createPartitions(k, v, "grow", want, false); r.ErrorCode != 0 || partitionCount(k, "grow") != int(want) {
			t.Fatalf("v%d grow to %d: error %d (%v), %d partitions", v, want, r.ErrorCode, r.ErrorMessage, partitionCount(k, "grow"))
		}
		if r := createPartitions(k, v, "grow", want, false); r.ErrorCode != kerr.InvalidPartitions.Code || r.ErrorMessage == nil && v > 0 {
			t.Fatalf("v%d same count again: error %d", v, r.ErrorCode)
		}
	}
	if r := createPartitions(k, 3, "absent", 4, false); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: error %d", r.ErrorCode)
	}
	if p := produce(t, k, 9, "grow", 4, batch(t, 0, 3)); p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("produce to new partition 4: %+v", p)
	}
}

func deleteRecords(k *kconn, v int16, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
	k.t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.DeleteRecordsResponse](k, req, v)
	return resp.Topics[0].Partitions[0]
}

// DeleteRecords moves the log start offset: ListOffsets earliest follows
// and a fetch below it is OFFSET_OUT_OF_RANGE.
func TestDeleteRecords(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "trim", 1)
	produce(t, k, 9, "trim", 0, batch(t, 0, 1))
	produce(t, k, 9, "trim", 0, batch(t, 1, 1))
	produce(t, k, 9, "trim", 0, batch(t, 2, 2))
	for v, c := range []struct {
		offset  int64
		code    int16
		wantLow int64
	}{
		{1, 0, 1}, {99, kerr.OffsetOutOfRange.Code, -1}, {-1, 0, 4},
	} {
		p := deleteRecords(k, int16(v), "trim", 0, c.offset)
		if p.ErrorCode != c.code || (c.code == 0 && p.LowWatermark != c.wantLow) {
			t.Fatalf("v%d delete before %d: error %d low watermark %d, want %d/%d", v, c.offset, p.ErrorCode, p.LowWatermark, c.code, c.wantLow)
		}
	}
	if p := deleteRecords(k, 2, "trim", 7, 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: error %d", p.ErrorCode)
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "trim"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -2
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	if got := do[*kmsg.ListOffsetsResponse](k, lo, 6).Topics[0].Partitions[0]; got.Offset != 4 {
		t.Fatalf("earliest offset after DeleteRecords: %+v, want 4", got)
	}
	if p := fetch(t, k, 12, "trim", 0, 0); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch below the log start: error %d", p.ErrorCode)
	}
}

// A broker running alone is one leader epoch, 0: its end is the log end
// offset; a current epoch other than 0 is fenced or unknown (v2+).
func TestOffsetForLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "epochs", 1)
	produce(t, k, 9, "epochs", 0, batch(t, 0, 5))
	ask := func(v int16, partition, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "epochs"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return do[*kmsg.OffsetForLeaderEpochResponse](k, req, v).Topics[0].Partitions[0]
	}
	for v := int16(0); v <= 4; v++ {
		p := ask(v, 0, -1, 0)
		wantEpoch := int32(0)
		if v == 0 {
			wantEpoch = -1 // kmsg's default: v0 has no leader epoch field
		}
		if p.ErrorCode != 0 || p.EndOffset != 5 || p.LeaderEpoch != wantEpoch {
			t.Fatalf("v%d epoch 0: %+v, want end offset 5", v, p)
		}
		if p := ask(v, 3, -1, 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("v%d unknown partition: error %d", v, p.ErrorCode)
		}
	}
	if p := ask(4, 0, 1, 1); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current epoch 1 on a broker at epoch 0: error %d", p.ErrorCode)
	}
	if p := ask(4, 0, 0, -1); p.ErrorCode != 0 || p.EndOffset != -1 {
		t.Fatalf("epoch -1: %+v, want end offset -1", p)
	}
}

// DescribeLogDirs lists the data dir and the size of every partition's
// batches; DescribeCluster the one broker, which is the controller.
func TestDescribeLogDirsAndCluster(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "sized", 2)
	records := batch(t, 0, 3)
	produce(t, k, 9, "sized", 1, records)
	for v := int16(0); v <= 4; v++ {
		resp := do[*kmsg.DescribeLogDirsResponse](k, kmsg.NewPtrDescribeLogDirsRequest(), v) // null topics: all
		if len(resp.Dirs) != 1 || resp.Dirs[0].ErrorCode != 0 || resp.Dirs[0].Dir == "" {
			t.Fatalf("v%d dirs %+v", v, resp.Dirs)
		}
		d := resp.Dirs[0]
		if v >= 4 && (d.TotalBytes <= 0 || d.UsableBytes <= 0) {
			t.Fatalf("v%d total %d usable %d bytes", v, d.TotalBytes, d.UsableBytes)
		}
		sizes := map[int32]int64{}
		for _, dt := range d.Topics {
			if dt.Topic == "sized" {
				for _, p := range dt.Partitions {
					sizes[p.Partition] = p.Size
				}
			}
		}
		if len(sizes) != 2 || sizes[0] != 0 || sizes[1] != int64(len(records)) {
			t.Fatalf("v%d partition sizes %v, want 0 and %d", v, sizes, len(records))
		}
	}
	req := kmsg.NewPtrDescribeLogDirsRequest()
	dt := kmsg.NewDescribeLogDirsRequestTopic()
	dt.Topic, dt.Partitions = "sized", []int32{1, 9}
	req.Topics = append(req.Topics, dt)
	if resp := do[*kmsg.DescribeLogDirsResponse](k, req, 4); len(resp.Dirs[0].Topics) != 1 || len(resp.Dirs[0].Topics[0].Partitions) != 1 {
		t.Fatalf("partition 1 and absent 9 asked: %+v", resp.Dirs[0].Topics)
	}

	for v := int16(0); v <= 1; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.EndpointType = 1
		resp := do[*kmsg.DescribeClusterResponse](k, req, v)
		if resp.ErrorCode != 0 || len(resp.Brokers) != 1 || resp.ControllerID != resp.Brokers[0].NodeID || resp.ClusterID == "" {
			t.Fatalf("v%d DescribeCluster %+v", v, resp)
		}
		meta := do[*kmsg.MetadataResponse](k, kmsg.NewPtrMetadataRequest(), 12)
		if mb, db := meta.Brokers[0], resp.Brokers[0]; mb.NodeID != db.NodeID || mb.Host != db.Host || mb.Port != db.Port {
			t.Fatalf("v%d DescribeCluster broker %+v, Metadata's %+v", v, db, mb)
		}
	}
	req2 := kmsg.NewPtrDescribeClusterRequest()
	req2.EndpointType = 2
	if resp := do[*kmsg.DescribeClusterResponse](k, req2, 1); resp.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Fatalf("controllers endpoint: error %d", resp.ErrorCode)
	}
}
