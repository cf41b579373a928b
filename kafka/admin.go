package kafka

// Behavior: the requests answered at once from the engine's state
// (DeleteTopics excepted, which waits for the deleted topics' committed
// offsets to be removed, as the native front end does).
//
//	ListOffsets       earliest (-2), latest (-1, the high watermark) and
//	                  timestamp lookups; other negative timestamps INVALID_REQUEST
//	CreateTopics      engine.CreateTopicReplicated (ValidateOnly: ValidateCreateTopic);
//	                  a manual replica assignment is refused
//	DeleteTopics      by name; a topic named only by id is UNKNOWN_TOPIC_ID
//	InitProducerId    a new idempotent producer id; a transactional id is refused
//	FindCoordinator   for groups, the broker the group coordinator names, found in
//	                  the Cluster view; transaction coordinators do not exist

import (
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

func (h *Handler) listOffsets(r *netio.Responder, hdr requestHeader, q *kmsg.ListOffsetsRequest) {
	resp := kmsg.NewPtrListOffsetsResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition, rp.Timestamp, rp.Offset = p.Partition, -1, -1
			if p.Timestamp < engine.EarliestTimestamp {
				// Kafka's -3 (max timestamp, v7) is not engine's -3 (log end).
				rp.ErrorCode = kerr.InvalidRequest.Code
			} else {
				off, err := h.cfg.Engine.ListOffsets(t.Topic, p.Partition, p.Timestamp)
				rp.ErrorCode, rp.Offset = h.code(err), off
				if err == nil && off >= 0 {
					rp.LeaderEpoch = 0
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) createTopics(r *netio.Responder, hdr requestHeader, q *kmsg.CreateTopicsRequest) {
	e := h.cfg.Engine
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = q.Version
	for _, t := range q.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		var err error
		if len(t.ReplicaAssignment) > 0 {
			err = fmt.Errorf("%w: topic %q: manual replica assignment is not supported", engine.ErrInvalidRequest, t.Topic)
		} else {
			configs := make(map[string]string, len(t.Configs))
			for _, c := range t.Configs {
				if c.Value != nil {
					configs[c.Name] = *c.Value
				}
			}
			if q.ValidateOnly {
				err = e.ValidateCreateTopic(t.Topic, t.NumPartitions, t.ReplicationFactor, configs)
			} else {
				err = h.cfg.Admin.CreateTopic(t.Topic, t.NumPartitions, t.ReplicationFactor, configs)
			}
		}
		if err != nil {
			rt.ErrorCode = h.code(err)
			msg := err.Error()
			rt.ErrorMessage = &msg
		} else if info := e.Describe(t.Topic); info[0].Err == nil {
			rt.NumPartitions, rt.ReplicationFactor = int32(len(info[0].Partitions)), 1
			if ps := info[0].Partitions; len(ps) > 0 && len(ps[0].Replicas) > 0 {
				rt.ReplicationFactor = int16(len(ps[0].Replicas))
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) deleteTopics(r *netio.Responder, hdr requestHeader, q *kmsg.DeleteTopicsRequest) {
	resp := kmsg.NewPtrDeleteTopicsResponse()
	resp.Version = q.Version
	names := q.TopicNames
	if q.Version >= 6 {
		names = nil
		for _, t := range q.Topics {
			if t.Topic == nil {
				rt := kmsg.NewDeleteTopicsResponseTopic()
				rt.TopicID, rt.ErrorCode = t.TopicID, kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			names = append(names, *t.Topic)
		}
	}
	var deleted []int // indexes into resp.Topics
	for _, name := range names {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		rt.Topic = &n
		if err := h.cfg.Admin.DeleteTopic(name); err != nil {
			rt.ErrorCode = h.code(err)
			msg := err.Error()
			rt.ErrorMessage = &msg
		} else {
			deleted = append(deleted, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(deleted) == 0 {
		h.reply(r, hdr, resp)
		return
	}
	// Every group's offsets of a deleted topic go too (as Kafka does), so a
	// topic created again under the name starts without them. The answer
	// waits for that; a failure leaves the topic deleted and says so.
	var mu sync.Mutex
	left := len(deleted)
	for _, i := range deleted {
		h.cfg.Groups.DeleteTopicOffsets(*resp.Topics[i].Topic, time.Now(), func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				msg := "deleted, but its committed offsets stay: " + err.Error()
				resp.Topics[i].ErrorMessage = &msg
			}
			if left--; left == 0 {
				h.reply(r, hdr, resp)
			}
		})
	}
}

func (h *Handler) initProducerID(r *netio.Responder, hdr requestHeader, q *kmsg.InitProducerIDRequest) {
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.Version = q.Version
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if q.TransactionalID != nil {
		// Transactions do not exist yet: refuse rather than hand out an id
		// a transactional producer would believe fences its writes.
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		h.reply(r, hdr, resp)
		return
	}
	id, epoch, err := h.cfg.Engine.InitProducerID()
	if err != nil {
		resp.ErrorCode = h.code(err)
	} else {
		resp.ProducerID, resp.ProducerEpoch = id, epoch
	}
	h.reply(r, hdr, resp)
}

func (h *Handler) findCoordinator(r *netio.Responder, hdr requestHeader, q *kmsg.FindCoordinatorRequest) {
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.Version = q.Version
	keys := q.CoordinatorKeys // v4+ batches keys
	if q.Version < 4 {
		keys = []string{q.CoordinatorKey}
	}
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Port = key, -1, -1
		id, code, err := h.groups.FindCoordinator(q.CoordinatorType, key)
		if err != nil {
			c.ErrorCode = int16(code)
		} else if b, ok := h.broker(id); !ok {
			err = fmt.Errorf("the group coordinator is broker %d, which the cluster view does not list", id)
			c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		} else {
			c.NodeID, c.Host, c.Port = b.NodeID, b.Host, b.Port
		}
		if err != nil {
			msg := err.Error()
			c.ErrorMessage = &msg
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if q.Version < 4 {
		c := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
	}
	h.reply(r, hdr, resp)
}
