package broker

// Behavior: CreatePartitions and DescribeCluster on the native port.
// CreatePartitions waits for the controller, so it runs off the event
// loop; DescribeCluster reads the local metadata image (a one-voter
// broker describes itself).

import (
	"time"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

func (h *nativeHandler) createPartitions(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.CreatePartitionsRequest) {
	topics := append([]wire.CreatePartitionsTopic(nil), q.Topics...) // q is the loop's; the answer comes later
	go func() {
		resp := &wire.CreatePartitionsResponse{Topics: make([]wire.TopicResult, 0, len(topics))}
		failed := false
		for _, t := range topics {
			err := h.b.CreatePartitions(t.Name, t.Count, false)
			res := wire.TopicResult{Name: t.Name, ErrorCode: codeOf(err)}
			if err != nil {
				res.Message, failed = errMessage(err), true
			}
			resp.Topics = append(resp.Topics, res)
		}
		h.reply(r, hdr, start, resp, failed)
	}()
}

// describeCluster is the cluster as this broker's metadata has it.
func (b *Broker) describeCluster() *wire.DescribeClusterResponse {
	n := b.member.node
	img := n.Image()
	resp := &wire.DescribeClusterResponse{ControllerID: -1, MetadataOffset: img.Offset()}
	if id := img.ClusterID(); !id.IsZero() {
		resp.ClusterID = id.String()
	}
	if id, ok := n.ControllerID(); ok {
		resp.ControllerID = id
	}
	lag := map[int32]int64{}
	if n.IsController() {
		if ls, err := n.Liveness(); err == nil {
			for _, l := range ls {
				lag[l.BrokerID] = l.MetadataLag
			}
		}
	}
	for _, br := range img.Brokers() {
		cb := wire.ClusterBroker{ID: br.ID, Native: br.Addrs.Native, Controller: br.Addrs.Controller, Admin: br.Addrs.Admin,
			Kafka: br.Addrs.Kafka, Rack: br.Rack, Fenced: br.Fenced, Epoch: br.Epoch, MetadataLag: -1}
		if l, ok := lag[br.ID]; ok {
			cb.MetadataLag = l
		}
		resp.Brokers = append(resp.Brokers, cb)
	}
	resp.Offline = clusterPartitions(img.OfflinePartitions())
	resp.UnderReplicated = clusterPartitions(img.UnderReplicatedPartitions())
	return resp
}

func clusterPartitions(tps []cluster.TopicPartition) []wire.ClusterPartition {
	out := make([]wire.ClusterPartition, len(tps))
	for i, tp := range tps {
		out[i] = wire.ClusterPartition{Topic: tp.Topic, Partition: tp.Partition}
	}
	return out
}
