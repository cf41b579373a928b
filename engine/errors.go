package engine

import "errors"

// Sentinel errors. Each failure kind has its own value; returned errors wrap
// one with %w and name the topic, partition or offset. Test with errors.Is.
var (
	// ErrUnknownTopicOrPartition: the topic does not exist (or is being
	// deleted), or it has no such partition.
	ErrUnknownTopicOrPartition = errors.New("engine: unknown topic or partition")
	// ErrTopicExists: CreateTopic of a name already in use.
	ErrTopicExists = errors.New("engine: topic already exists")
	// ErrInvalidTopic: the name breaks Kafka's rules or collides with an
	// existing topic ('.' and '_' are interchangeable in metric names).
	ErrInvalidTopic = errors.New("engine: invalid topic")
	// ErrInvalidPartitions: a partition count below 1 (other than -1 for the
	// default) or above MaxPartitionsPerTopic.
	ErrInvalidPartitions = errors.New("engine: invalid number of partitions")
	// ErrInvalidReplicationFactor: a replication factor this cluster cannot
	// place (anything but 1 or -1 on a single broker).
	ErrInvalidReplicationFactor = errors.New("engine: invalid replication factor")
	// ErrInvalidConfig: an unknown topic config key or a bad value.
	ErrInvalidConfig = errors.New("engine: invalid config")
	// ErrMessageTooLarge: a batch larger than the topic's max.message.bytes.
	ErrMessageTooLarge = errors.New("engine: message too large")
	// ErrCorruptMessage: produce bytes that are not whole, valid batches
	// (framing, magic, CRC-32C or record count).
	ErrCorruptMessage = errors.New("engine: corrupt message")
	// ErrInvalidRecord: a well-formed batch a client may not write (a control
	// batch; a batch with a producer id that is not alone in its request's
	// records, or that lacks an epoch or sequence). Kafka answers
	// INVALID_RECORD.
	ErrInvalidRecord = errors.New("engine: invalid record")
	// ErrUnsupportedCompression: a batch whose codec bits name no known codec.
	ErrUnsupportedCompression = errors.New("engine: unsupported compression type")
	// ErrOffsetOutOfRange: a fetch offset below the log start or above the
	// log end offset.
	ErrOffsetOutOfRange = errors.New("engine: offset out of range")
	// ErrRequestTimedOut: acks=all waited Timeout for the high watermark.
	// The batch may still be in the log (Kafka semantics): the client cannot
	// tell, and an idempotent retry is how it finds out.
	ErrRequestTimedOut = errors.New("engine: request timed out")
	// ErrInvalidRequiredAcks: acks other than 0, 1 or -1.
	ErrInvalidRequiredAcks = errors.New("engine: invalid required acks")
	// ErrNotEnoughReplicas: acks=all while the ISR is smaller than
	// min.insync.replicas. Nothing is appended.
	ErrNotEnoughReplicas = errors.New("engine: not enough replicas")
	// ErrStorage: the disk failed (append, sync, read or open). The partition's
	// log refuses later calls.
	ErrStorage = errors.New("engine: storage error")
	// ErrDiskFull: the data dir's filesystem has less free space than
	// MinFreeBytes, or answered ENOSPC: appends and topic creation are
	// refused, nothing was written, reads go on. Retriable: appends are
	// accepted again once space returns (Kafka answers
	// KAFKA_STORAGE_ERROR for a log dir it cannot write).
	ErrDiskFull = errors.New("engine: log dir full")
	// ErrShuttingDown: the engine is closing or closed.
	ErrShuttingDown = errors.New("engine: shutting down")
	// ErrOutOfOrderSequence: an idempotent producer's batch whose sequence
	// does not follow its last one on the partition (or a new epoch that
	// does not start at 0). Nothing is appended.
	ErrOutOfOrderSequence = errors.New("engine: out of order sequence number")
	// ErrInvalidProducerEpoch: an idempotent producer's batch with an epoch
	// older than the partition's for its producer id. Nothing is appended.
	ErrInvalidProducerEpoch = errors.New("engine: invalid producer epoch")
	// ErrResourceLimit: a topic create that would exceed the process's file
	// descriptor budget (see descriptors.go). Nothing is created.
	ErrResourceLimit = errors.New("engine: resource limit")
	// ErrInvalidRequest: a request that makes no sense (negative max bytes,
	// an unsupported ListOffsets timestamp, ...).
	ErrInvalidRequest = errors.New("engine: invalid request")
	// ErrNotLeader: a produce, fetch or other leader request for a
	// partition this broker does not lead (cluster mode): not hosted here,
	// followed here, offline, or given no role yet after a restart. Kafka
	// answers NOT_LEADER_OR_FOLLOWER; the client refreshes its metadata.
	ErrNotLeader = errors.New("engine: not the leader of the partition")
	// ErrNotController: a topic create, delete or config change asked of
	// the engine in cluster mode, where topics come from the cluster
	// metadata (ApplyTopic, RemoveTopic) and changes go to the controller;
	// or a create the engine needs while no CreateTopicHook is set. Kafka
	// answers NOT_CONTROLLER.
	ErrNotController = errors.New("engine: not the controller")
)

// Replication errors (cluster mode, replica.go).
var (
	// ErrNotEnoughReplicasAfterAppend: an acks=all batch reached the high
	// watermark after the ISR shrank below min.insync.replicas; it is in
	// the log, but the producer is not told it succeeded
	// (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	ErrNotEnoughReplicasAfterAppend = errors.New("engine: not enough replicas after append")
	// ErrFencedLeaderEpoch: a follower's fetch or epoch query carries a
	// leader epoch older than the leader's (FENCED_LEADER_EPOCH): it
	// learns the new epoch from the metadata first.
	ErrFencedLeaderEpoch = errors.New("engine: fenced leader epoch")
	// ErrUnknownLeaderEpoch: a follower's request carries a leader epoch
	// newer than this leader's (UNKNOWN_LEADER_EPOCH): this broker has
	// not applied the election yet, or was deposed.
	ErrUnknownLeaderEpoch = errors.New("engine: unknown leader epoch")
)
