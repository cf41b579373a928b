package replication

import "errors"

// Errors returned by Leader and Follower; each wraps into a message naming
// the replica, epoch or offset that failed. Test with errors.Is.
var (
	// ErrFencedLeaderEpoch: a request carries a leader epoch older than the
	// receiver's (Kafka's FENCED_LEADER_EPOCH); the sender must learn the
	// new leader from metadata first.
	ErrFencedLeaderEpoch = errors.New("replication: fenced leader epoch")
	// ErrUnknownLeaderEpoch: a request carries a leader epoch newer than
	// the receiver's (UNKNOWN_LEADER_EPOCH); the receiver has not learned
	// of the election yet, or it was deposed while cut off (a zombie).
	ErrUnknownLeaderEpoch = errors.New("replication: unknown leader epoch")
	// ErrNotLeader: a partition state names another leader or a newer
	// leader epoch; the caller stops leading and follows.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrUnknownReplica: a fetch from a replica outside the replica set.
	ErrUnknownReplica = errors.New("replication: unknown replica")
	// ErrOffsetOutOfRange: a fetch at a negative offset or past the
	// leader's log end; a follower truncates before it fetches, so this
	// is a follower that skipped truncation.
	ErrOffsetOutOfRange = errors.New("replication: offset out of range")
	// ErrNotEnoughReplicas: an acks=all produce refused before the append
	// because the ISR is smaller than min.insync.replicas
	// (NOT_ENOUGH_REPLICAS).
	ErrNotEnoughReplicas = errors.New("replication: not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend: the batch is below the high
	// watermark but the ISR shrank under min.insync.replicas meanwhile
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND); the producer is not told it
	// succeeded.
	ErrNotEnoughReplicasAfterAppend = errors.New("replication: not enough in-sync replicas after append")
	// ErrInvalidAnswer: a leader's OffsetForLeaderEpoch answer names an
	// epoch newer than the one asked, or a negative end for a known epoch;
	// following it could truncate wrongly or ask forever.
	ErrInvalidAnswer = errors.New("replication: invalid epoch answer")
	// ErrInvalidState: a partition state that breaks its own rules
	// (leader outside the ISR, ISR outside the replicas, duplicates).
	ErrInvalidState = errors.New("replication: invalid partition state")
)
