package cluster

// Behavior: moving replicas (Kafka's KIP-455 reassignment, done by the
// controller). A reassignment of a partition to a target replica set goes
// through three states, each a ChangeReplicas record:
//
//	none ──ReassignPartition──► adding ──every target in the ISR──► none
//	(Replicas = R)              (Replicas = Target + (R − Target),   (Replicas = Target,
//	                             Target set, ISR and leader kept)     ISR ∩ Target, leader in Target)
//
// While adding, the new replicas are followers like any other: they fetch
// from the leader and the leader's AlterPartition takes each into the ISR
// once it has caught up. The controller finishes the reassignment as soon
// as every target replica is in the ISR: right after the AlterPartition
// that completes it, at the next controller tick otherwise (a finish that
// could not be proposed, a new controller). Finishing drops the replicas
// not in the target from the replica set and the ISR; a leader being
// removed hands leadership, in the same record, to the first target
// replica in the ISR that is alive (leader epoch + 1), so there is no
// moment without a leader that holds every committed record. A broker that
// is no longer a replica closes the partition and deletes its copy
// (engine.ApplyTopic).
//
// A reassignment that starts with every target already in the ISR (only
// removing replicas, or reordering them) finishes in the record that
// starts it. A new reassignment of a partition replaces the one in
// progress: the replica set becomes the new target followed by every
// current replica not in it, so replicas the earlier target added are
// removed at the finish; reassigning to the original replicas cancels.
// Target replicas must be registered brokers; a fenced one can be a target
// (it catches up once it is back), which is how a dead broker's replicas
// move to a new broker: the new one joins the ISR, the dead one is dropped.

import (
	"fmt"
	"slices"
)

// ReassignPartition moves topic's partition to the replica set target, in
// preference order (target[0] is the preferred leader), and returns the
// partition's state once this node applied the change: Target set while
// the new replicas catch up, or already finished. Errors: ErrUnknownTopic,
// ErrUnknownBroker (a target that is not a registered broker),
// ErrInvalidChange (an empty or repeated target), ErrNotController.
func (n *Node) ReassignPartition(topic string, partition int32, target []int32) (Partition, error) {
	img, err := n.invokeAndWait(opReassignPartition, appendInt32s(appendInt32(appendString(nil, topic), partition), target))
	if err != nil {
		return Partition{}, err
	}
	t := img.Topic(topic)
	if t == nil || int(partition) >= len(t.Partitions) {
		return Partition{}, fmt.Errorf("%w: %s partition %d, deleted after the reassignment", ErrUnknownTopic, topic, partition)
	}
	return t.Partitions[partition], nil
}

func (n *Node) reassignPartition(topic string, partition int32, target []int32) (off int64, err error) {
	err = n.call(func() error {
		img := n.Image()
		t := img.Topic(topic)
		if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
			return fmt.Errorf("%w: %s partition %d", ErrUnknownTopic, topic, partition)
		}
		if len(target) == 0 {
			return fmt.Errorf("%w: reassign %s-%d to no replicas", ErrInvalidChange, topic, partition)
		}
		for i, id := range target {
			if slices.Contains(target[:i], id) {
				return fmt.Errorf("%w: reassign %s-%d to %v: broker %d twice", ErrInvalidChange, topic, partition, target, id)
			}
			if img.Broker(id) == nil {
				return fmt.Errorf("%w: reassign %s-%d to %v: broker %d is not registered", ErrUnknownBroker, topic, partition, target, id)
			}
		}
		p := t.Partitions[partition]
		if slices.Equal(p.Replicas, target) && p.Target == nil {
			off = img.Offset() // already there
			return nil
		}
		next := p
		next.Replicas = append(slices.Clone(target), slices.DeleteFunc(slices.Clone(p.Replicas), func(id int32) bool { return slices.Contains(target, id) })...)
		next.Target = slices.Clone(target)
		rec := ChangeReplicas{TopicID: t.ID, Partition: partition, PartitionEpoch: p.PartitionEpoch,
			Replicas: next.Replicas, ISR: p.ISR, Leader: p.Leader, Target: next.Target}
		if done, ok := finishReassignment(img, t, partition, next); ok {
			rec = done
		}
		if off, err = n.propose(rec); err != nil {
			return fmt.Errorf("reassign %s-%d to %v: %w", topic, partition, target, err)
		}
		return nil
	})
	return off, err
}

// finishReassignment returns the record that finishes p's reassignment
// (p being t's partition i in img, or what it is about to become) if
// every target replica is in the ISR and, should the leader be removed,
// a target replica in the ISR is alive to take over.
func finishReassignment(img *Image, t *Topic, i int32, p Partition) (ChangeReplicas, bool) {
	if p.Target == nil {
		return ChangeReplicas{}, false
	}
	for _, id := range p.Target {
		if !slices.Contains(p.ISR, id) {
			return ChangeReplicas{}, false
		}
	}
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(p.Target, id) })
	leader := p.Leader
	if !slices.Contains(p.Target, leader) {
		leader, _ = ElectLeader(p.Target, isr, img.live, false)
		if leader == NoLeader && p.Leader != NoLeader {
			return ChangeReplicas{}, false // wait for a target replica to be alive
		}
	}
	return ChangeReplicas{TopicID: t.ID, Partition: i, PartitionEpoch: t.Partitions[i].PartitionEpoch,
		Replicas: slices.Clone(p.Target), ISR: isr, Leader: leader}, true
}

// finishReassignmentsLocked proposes the finish of every reassignment whose
// target is in the ISR, one entry each (so one refused change does not hold
// back the others). ctrl.mu held.
func (n *Node) finishReassignmentsLocked() error {
	img := n.Image()
	for _, tp := range img.Reassigning() {
		t := img.Topic(tp.Topic)
		rec, ok := finishReassignment(img, t, tp.Partition, t.Partitions[tp.Partition])
		if !ok {
			continue
		}
		if _, err := n.propose(rec); err != nil {
			return fmt.Errorf("finish reassignment of %s-%d to %v: %w", tp.Topic, tp.Partition, rec.Replicas, err)
		}
	}
	return nil
}
