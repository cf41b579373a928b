package kafka

// Behavior: the partition APIs, one engine call per topic or partition,
// answered at once.
//
//	CreatePartitions       engine.CreatePartitions: grow a topic to count
//	                       partitions (validate_only checks only); a manual
//	                       assignment is INVALID_REPLICA_ASSIGNMENT
//	DeleteRecords          engine.DeleteRecords: move the log start offset up
//	                       (-1: to the high watermark); the low watermark after
//	OffsetForLeaderEpoch   engine.EndOffsetForEpoch, after the current leader
//	                       epoch the client names (v2+, -1: none) is checked
//	                       against the Cluster view's: older FENCED_LEADER_EPOCH,
//	                       newer UNKNOWN_LEADER_EPOCH
//	DescribeLogDirs        the one log dir (the data dir) with its state, the
//	                       size of each partition's batches, offset lag 0, and
//	                       from v4 the filesystem's total and free bytes

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

func (h *Handler) createPartitions(r *netio.Responder, hdr requestHeader, q *kmsg.CreatePartitionsRequest) {
	resp := kmsg.NewPtrCreatePartitionsResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		if t.Assignment != nil {
			rt.ErrorCode = kerr.InvalidReplicaAssignment.Code
			rt.ErrorMessage = ptr(fmt.Sprintf("topic %q: manual replica assignment is not supported", t.Topic))
		} else {
			rt.ErrorCode, rt.ErrorMessage = h.codeAndMessage(h.cfg.Admin.CreatePartitions(t.Topic, t.Count, q.ValidateOnly))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) deleteRecords(r *netio.Responder, hdr requestHeader, q *kmsg.DeleteRecordsRequest) {
	resp := kmsg.NewPtrDeleteRecordsResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition = p.Partition
			low, err := h.cfg.Engine.DeleteRecords(t.Topic, p.Partition, p.Offset)
			rp.LowWatermark, rp.ErrorCode = low, h.code(err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) offsetForLeaderEpoch(r *netio.Responder, hdr requestHeader, q *kmsg.OffsetForLeaderEpochRequest) {
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		info := h.cfg.Cluster.Topics(t.Topic)[0]
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.EndOffset = p.Partition, -1, -1
			rp.ErrorCode = h.checkLeaderEpoch(info, p.Partition, p.CurrentLeaderEpoch)
			if rp.ErrorCode == 0 {
				epoch, end, err := h.cfg.Engine.EndOffsetForEpoch(t.Topic, p.Partition, p.LeaderEpoch)
				rp.LeaderEpoch, rp.EndOffset, rp.ErrorCode = epoch, end, h.code(err)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}

// checkLeaderEpoch compares the leader epoch a client believes current
// (-1: it does not say) with the partition's in the Cluster view, as Kafka
// fences requests (KIP-320).
func (h *Handler) checkLeaderEpoch(info engine.TopicInfo, partition, current int32) int16 {
	if info.Err != nil {
		return h.code(info.Err)
	}
	if partition < 0 || int(partition) >= len(info.Partitions) {
		return kerr.UnknownTopicOrPartition.Code
	}
	switch epoch := info.Partitions[partition].LeaderEpoch; {
	case current < 0 || current == epoch:
		return 0
	case current < epoch:
		return kerr.FencedLeaderEpoch.Code
	default:
		return kerr.UnknownLeaderEpoch.Code
	}
}

func (h *Handler) describeLogDirs(r *netio.Responder, hdr requestHeader, q *kmsg.DescribeLogDirsRequest) {
	e := h.cfg.Engine
	resp := kmsg.NewPtrDescribeLogDirsResponse()
	resp.Version = q.Version
	for _, dir := range e.LogDirs() {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir, rd.TotalBytes, rd.UsableBytes = dir.Dir, dir.TotalBytes, dir.FreeBytes
		if dir.State == engine.LogDirFailed {
			rd.ErrorCode = kerr.KafkaStorageError.Code
		}
		rd.Topics = h.logDirTopics(q.Topics)
		resp.Dirs = append(resp.Dirs, rd)
	}
	h.reply(r, hdr, resp)
}

// logDirTopics lists the asked partitions (every partition when asked is
// nil) that exist, with their sizes; Kafka leaves the others out too.
func (h *Handler) logDirTopics(asked []kmsg.DescribeLogDirsRequestTopic) []kmsg.DescribeLogDirsResponseDirTopic {
	e := h.cfg.Engine
	var out []kmsg.DescribeLogDirsResponseDirTopic
	add := func(topic string, partitions []int32) {
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = topic
		for _, p := range partitions {
			size, err := e.PartitionSize(topic, p)
			if err != nil {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition, dp.Size = p, size
			dt.Partitions = append(dt.Partitions, dp)
		}
		if len(dt.Partitions) > 0 {
			out = append(out, dt)
		}
	}
	if asked != nil {
		for _, t := range asked {
			add(t.Topic, t.Partitions)
		}
		return out
	}
	for _, info := range e.Describe() {
		ids := make([]int32, len(info.Partitions))
		for i, p := range info.Partitions {
			ids[i] = p.Partition
		}
		add(info.Name, ids)
	}
	return out
}
