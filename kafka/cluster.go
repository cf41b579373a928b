package kafka

// Behavior: Metadata, DescribeCluster and FindCoordinator learn which
// brokers exist and who leads what from one place, the Cluster the broker
// gives in Config: its view of the cluster metadata (a broker with no
// cluster keys is a one-voter cluster of itself, so there is one kind).
//
//	Metadata          Cluster.Brokers, ID, ControllerID; per partition the
//	                  leader, leader epoch, replicas and ISR of Cluster.Topics
//	                  (leader -1: LEADER_NOT_AVAILABLE);
//	                  zero topic ids; unknown topics are created when
//	                  auto.create.topics.enable and the request allow it
//	                  (always below v4, as Kafka)
//	DescribeCluster   the same brokers and controller; endpoint type 1
//	                  (brokers) only, 2 (controllers) is UNSUPPORTED_ENDPOINT_TYPE

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

// Cluster is the broker's view of the cluster, as Kafka clients are told
// it. Its methods are called on event-loop goroutines, several at once,
// and must not block on the network.
type Cluster interface {
	// ID is the cluster id (Metadata v2+, DescribeCluster).
	ID() string
	// ControllerID is the controller's broker id, -1 when none is known.
	ControllerID() int32
	// Brokers lists the brokers Kafka clients may dial, this one included,
	// each with the address it advertises for them. The caller does not
	// modify the slice.
	Brokers() []Broker
	// Topics describes the named topics in the given order, or every topic
	// sorted when none is named, as engine.Engine.Describe does: each
	// partition with its leader, leader epoch, replicas and ISR, and an
	// unknown name with an error wrapping engine.ErrUnknownTopicOrPartition.
	Topics(names ...string) []engine.TopicInfo
}

// Broker is one broker as Kafka clients dial it.
type Broker struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string // nil: no rack
}

// broker returns the broker with id from the cluster view.
func (h *Handler) broker(id int32) (Broker, bool) {
	for _, b := range h.cfg.Cluster.Brokers() {
		if b.NodeID == id {
			return b, true
		}
	}
	return Broker{}, false
}

func (h *Handler) metadata(r *netio.Responder, hdr requestHeader, q *kmsg.MetadataRequest) {
	c := h.cfg.Cluster
	resp := kmsg.NewPtrMetadataResponse()
	resp.Version = q.Version
	for _, b := range c.Brokers() {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port, mb.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, mb)
	}
	resp.ClusterID = ptr(c.ID())
	resp.ControllerID = c.ControllerID()

	// A null topic list (v1+) or an empty one at v0 asks for every topic.
	all := q.Topics == nil || (q.Version == 0 && len(q.Topics) == 0)
	var names []string
	for _, t := range q.Topics {
		if t.Topic == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID, mt.ErrorCode = t.TopicID, kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		names = append(names, *t.Topic)
	}
	if !all && h.cfg.AutoCreateTopics && (q.Version < 4 || q.AllowAutoTopicCreation) {
		for _, name := range names {
			// Failures (an invalid name) show in the per-topic error below.
			h.cfg.Admin.CreateTopic(name, -1, -1, nil)
		}
	}
	if all || len(names) > 0 {
		for _, t := range c.Topics(names...) {
			resp.Topics = append(resp.Topics, h.metadataTopic(t))
		}
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) metadataTopic(t engine.TopicInfo) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic = ptr(t.Name)
	mt.IsInternal = engine.IsInternalTopic(t.Name)
	mt.ErrorCode = h.code(t.Err)
	if t.Err != nil && engine.ValidateTopicName(t.Name) != nil {
		mt.ErrorCode = kerr.InvalidTopicException.Code
	}
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch = p.Partition, p.Leader, p.LeaderEpoch
		mp.Replicas, mp.ISR = p.Replicas, p.ISR
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code // clients wait and ask again
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// endpointTypeBrokers is DescribeCluster's endpoint type 1 (v1+): the
// brokers, not the controllers (2), which Kafka clients reach only when
// the controllers are exposed; Spate's are not.
const endpointTypeBrokers = 1

func (h *Handler) describeCluster(r *netio.Responder, hdr requestHeader, q *kmsg.DescribeClusterRequest) {
	c := h.cfg.Cluster
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.Version = q.Version
	resp.EndpointType = q.EndpointType
	if q.Version >= 1 && q.EndpointType != endpointTypeBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = ptr("only endpoint type 1 (brokers) is served; the controllers are not exposed to Kafka clients")
		h.reply(r, hdr, resp)
		return
	}
	resp.ClusterID, resp.ControllerID = c.ID(), c.ControllerID()
	for _, b := range c.Brokers() {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, db)
	}
	h.reply(r, hdr, resp)
}
