package cluster

import "errors"

// Errors. Each failure kind has its own value; returned errors wrap one with
// %w and name the broker, topic or partition. Test with errors.Is.
var (
	// ErrCorrupt: bytes that are not a valid entry, snapshot or file of this
	// package's formats.
	ErrCorrupt = errors.New("cluster: corrupt metadata")
	// ErrStaleEpoch: a change computed from a partition epoch or broker
	// epoch that is no longer current (another change won the race).
	ErrStaleEpoch = errors.New("cluster: stale epoch")
	// ErrInvalidChange: a change that breaks an invariant of the metadata
	// (a leader outside the ISR, an ISR member that is not a replica, a
	// second InitCluster, ...).
	ErrInvalidChange = errors.New("cluster: invalid metadata change")
	// ErrUnknownBroker: no broker of that id is registered.
	ErrUnknownBroker = errors.New("cluster: unknown broker")
	// ErrUnknownTopic: no topic of that name or id, or no such partition.
	ErrUnknownTopic = errors.New("cluster: unknown topic or partition")
	// ErrTopicExists: creating a topic whose name or id is taken.
	ErrTopicExists = errors.New("cluster: topic already exists")
	// ErrInvalidReplicationFactor: more replicas than live brokers, or
	// fewer than 1.
	ErrInvalidReplicationFactor = errors.New("cluster: invalid replication factor")
	// ErrBrokerIDInUse: registering a broker id that a live broker of
	// another incarnation holds.
	ErrBrokerIDInUse = errors.New("cluster: broker id in use")
	// ErrNotController: a controller call on a node that is not the raft
	// leader. The error names the current leader when one is known.
	ErrNotController = errors.New("cluster: not the controller")
	// ErrDataDir: the data dir belongs to another cluster or broker, or its
	// meta.properties cannot be read or written.
	ErrDataDir = errors.New("cluster: data dir refused")
	// ErrInvalidVoters: a malformed controller.quorum.voters value.
	ErrInvalidVoters = errors.New("cluster: invalid controller.quorum.voters")
	// ErrClosed: the node was shut down.
	ErrClosed = errors.New("cluster: node shut down")
)
