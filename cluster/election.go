package cluster

// Behavior: leader election, a pure function the controller runs before
// proposing. A partition's new leader is the first of its replicas, in
// preference order, that is in the ISR and alive; never a replica outside
// the ISR (it may lack acknowledged records) unless the topic sets
// unclean.leader.election.enable=true and no ISR member is alive, in which
// case the first live replica leads and the ISR shrinks to it (Kafka's
// unclean election: acknowledged records may be lost).
//
// When a broker is fenced (its session expired, or a controlled
// shutdown), it leaves every ISR it is in, except where it is the last
// member: that partition keeps ISR [broker] and goes offline (NoLeader) if
// the broker led it, so the one replica known to hold every acknowledged
// record is the one that can lead again. When a broker is unfenced, each
// offline partition it can lead (clean or, if allowed, unclean) gets it as
// leader.
//
// When a broker registers again (a restart), its previous run is fenced and
// what happens to its ISRs depends on whether the restart kept its log:
//
//   - A restart that kept its log (the process died, the machine did not;
//     or every append was fdatasync'd) stays in every ISR: it holds every
//     record it held, so it is still a safe leader. Only leadership moves.
//     Dropping it at registration, as a fence does, made the last broker to
//     register after a whole-cluster restart the only ISR member of every
//     partition, whatever its log held: after a power loss of one broker
//     (its unsynced records gone) and a restart of all before it had
//     fetched them back, that broker led every partition with an empty log
//     and the others truncated to it (the fault suite's restart-all after
//     power-loss, seen once in CI). A follower that does not come back is
//     dropped by its leader after replica.lag.time.max.ms, as any lagging
//     one.
//   - A lossy restart (the broker stopped uncleanly on a machine that has
//     rebooted since, with appends not all fdatasync'd: it may lack records
//     it acknowledged or reported to a leader; engine.LossyRestart) leaves
//     every ISR, even as its last member. That partition then has an empty
//     ISR and no leader: no replica is known to hold every acknowledged
//     record, and only an unclean election (which may lose them) brings it
//     back. Kafka's KIP-966 treats an unclean shutdown the same way. A
//     partition with one replica keeps it: its log is all there is (a
//     lone broker comes back after a power loss with what it had synced,
//     as before it was a cluster member).

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

// isrExit is what fencing a broker does with its ISR places.
type isrExit int

const (
	// leaveISR: it leaves every ISR it is not the last member of (a
	// session expired, a controlled shutdown).
	leaveISR isrExit = iota
	// stayInISR: it keeps them (a restart that kept its log).
	stayInISR
	// leaveEveryISR: it leaves every one, the last included, but for a
	// partition with no other replica (a lossy restart).
	leaveEveryISR
)

// fenceChanges returns the partition changes that must precede fencing
// broker id in img: its ISR places go as exit says, and each partition it
// led gets a new leader (or none).
func fenceChanges(img *Image, id int32, exit isrExit) []Record {
	live := func(b int32) bool { return b != id && img.live(b) }
	var out []Record
	for _, t := range img.Topics() {
		for i, p := range t.Partitions {
			if !slices.Contains(p.ISR, id) && p.Leader != id {
				continue
			}
			isr := p.ISR
			if exit != stayInISR {
				isr = slices.DeleteFunc(slices.Clone(p.ISR), func(b int32) bool { return b == id })
				if len(isr) == 0 && (exit == leaveISR || len(p.Replicas) == 1) {
					// A sole replica's log is all there is, lossy or not.
					isr = p.ISR
				}
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

// restartChanges returns the partition changes that must precede fencing
// the previous run of broker id when it registers again, lossy or not (see
// the package rules above).
func restartChanges(img *Image, id int32, lossy bool) []Record {
	if lossy {
		return fenceChanges(img, id, leaveEveryISR)
	}
	return fenceChanges(img, id, stayInISR)
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
