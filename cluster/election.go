package cluster

// Behavior: leader election, a pure function the controller runs before
// proposing. A partition's new leader is the first of its replicas, in
// preference order, that is in the ISR and alive; never a replica outside
// the ISR (it may lack acknowledged records) unless the topic sets
// unclean.leader.election.enable=true and no ISR member is alive, in which
// case the first live replica leads and the ISR shrinks to it (Kafka's
// unclean election: acknowledged records may be lost).
//
// When a broker is fenced, it leaves every ISR it is in, except where it is
// the last member: that partition keeps ISR [broker] and goes offline
// (NoLeader) if the broker led it, so the one replica known to hold every
// acknowledged record is the one that can lead again. When a broker is
// unfenced, each offline partition it can lead (clean or, if allowed,
// unclean) gets it as leader.

import "slices"

// UncleanLeaderElectionKey is the topic config that allows electing an
// out-of-sync replica ("true"); Kafka's default is false.
const UncleanLeaderElectionKey = "unclean.leader.election.enable"

// ElectLeader returns the leader and ISR for a partition whose leader must
// be (re)chosen: the first replica in isr for which live is true; failing
// that, with unclean, the first live replica and an ISR of just it; failing
// that, NoLeader and isr unchanged.
func ElectLeader(replicas, isr []int32, live func(int32) bool, unclean bool) (leader int32, newISR []int32) {
	for _, id := range replicas {
		if slices.Contains(isr, id) && live(id) {
			return id, isr
		}
	}
	if unclean {
		for _, id := range replicas {
			if live(id) {
				return id, []int32{id}
			}
		}
	}
	return NoLeader, isr
}

func (t *Topic) unclean() bool { return t.Configs[UncleanLeaderElectionKey] == "true" }

// fenceChanges returns the partition changes that must precede fencing
// broker id in img: it leaves every ISR where it is not the last member, and
// each partition it led gets a new leader (or none).
func fenceChanges(img *Image, id int32) []Record {
	live := func(b int32) bool { return b != id && img.live(b) }
	var out []Record
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if !slices.Contains(p.ISR, id) && p.Leader != id {
				continue
			}
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(b int32) bool { return b == id })
			if len(isr) == 0 {
				isr = p.ISR
			}
			leader := p.Leader
			if leader == id {
				leader, isr = ElectLeader(p.Replicas, isr, live, t.unclean())
			}
			out = appendChange(out, t, int32(i), p, leader, isr)
		}
	}
	return out
}

// unfenceChanges returns the changes that follow unfencing broker id in img:
// every offline partition that can now have a leader gets one.
func unfenceChanges(img *Image, id int32) []Record {
	live := func(b int32) bool { return b == id || img.live(b) }
	var out []Record
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if p.Leader != NoLeader || !slices.Contains(p.Replicas, id) {
				continue
			}
			leader, isr := ElectLeader(p.Replicas, p.ISR, live, t.unclean())
			out = appendChange(out, t, int32(i), p, leader, isr)
		}
	}
	return out
}

// appendChange appends a ChangePartition of t's partition i from p to leader
// and isr, unless nothing changes.
func appendChange(out []Record, t *Topic, i int32, p Partition, leader int32, isr []int32) []Record {
	if leader == p.Leader && slices.Equal(isr, p.ISR) {
		return out
	}
	return append(out, ChangePartition{
		TopicID: t.ID, Partition: i, PartitionEpoch: p.PartitionEpoch, Leader: leader, ISR: isr,
	})
}
