package broker

// Behavior: moving replicas (cluster/reassign.go has the states). Any
// cluster member answers AlterPartitionReassignments by forwarding each
// partition to the controller and answers once it applied the start (or
// the immediate finish) itself, off the event loop; a broker alone answers
// INVALID_REQUEST. ListPartitionReassignments comes from the local image.
// What a reassignment does to this broker's replicas follows from the
// metadata as every change does (cluster.go's apply): a new replica opens
// as a follower, one no longer listed closes and deletes its copy.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

// ReassignPartition moves topic's partition to the replica set replicas
// (preferred leader first) through the controller and returns once this
// broker applied the start. Errors: engine.ErrInvalidRequest (an empty or
// repeated target, or an unregistered broker in it),
// engine.ErrUnknownTopicOrPartition, engine.ErrNotController.
func (b *Broker) ReassignPartition(topic string, partition int32, replicas []int32) error {
	_, err := b.member.node.ReassignPartition(topic, partition, replicas)
	switch {
	case errors.Is(err, cluster.ErrInvalidChange), errors.Is(err, cluster.ErrUnknownBroker):
		return fmt.Errorf("%w: %w", engine.ErrInvalidRequest, err)
	case err != nil:
		return controllerErr(err)
	}
	_, err = b.member.applyNewest()
	return err
}

// Reassignments lists the reassignments in progress as this broker's
// metadata has them.
func (b *Broker) Reassignments() []wire.Reassignment {
	out := []wire.Reassignment{}
	img := b.member.node.Image()
	for _, tp := range img.Reassigning() {
		p := img.Topic(tp.Topic).Partitions[tp.Partition]
		out = append(out, wire.Reassignment{Topic: tp.Topic, Partition: tp.Partition,
			Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Target: slices.Clone(p.Target)})
	}
	return out
}

func (h *nativeHandler) reassign(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.ReassignRequest) {
	parts := make([]wire.PartitionReplicas, len(q.Partitions)) // q is the loop's; the answer comes later
	for i, p := range q.Partitions {
		parts[i] = wire.PartitionReplicas{Topic: p.Topic, Partition: p.Partition, Replicas: slices.Clone(p.Replicas)}
	}
	go func() {
		resp := &wire.ReassignResponse{Results: make([]wire.PartitionResult, 0, len(parts))}
		failed := false
		for _, p := range parts {
			err := h.b.ReassignPartition(p.Topic, p.Partition, p.Replicas)
			res := wire.PartitionResult{Topic: p.Topic, Partition: p.Partition, ErrorCode: codeOf(err)}
			if err != nil {
				res.Message, failed = errMessage(err), true
			}
			resp.Results = append(resp.Results, res)
		}
		h.reply(r, hdr, start, resp, failed)
	}()
}
