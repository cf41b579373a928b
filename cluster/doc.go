// Package cluster is the controller: the cluster metadata (brokers, topics,
// replica sets, leaders, leader epochs, ISRs, producer-id blocks) as a state
// machine replicated by hashicorp/raft, broker liveness and fencing, replica
// placement and leader election. broker/ imports it; engine/ never does (the
// broker tells the engine "lead P at epoch E with ISR S").
//
// # Nodes and the controller
//
// Every broker runs a Node (node.go): a raft member whose log store and
// stable store are <data dir>/metadata/raft.db (raft-boltdb v2), whose
// snapshots are files in <data dir>/metadata/snapshots, and whose transport
// listens on controller.addr. The first MaxVoters brokers of
// controller.quorum.voters vote, the rest replicate as non-voters; a broker
// not listed joins as a non-voter when the controller registers it. With no
// voters configured, a broker is a one-voter cluster of itself and
// bootstraps on first start: there is no format step. Every node applies
// the log to its own Image, so any broker answers metadata from its local
// copy: Node.Image is one atomic load, and an Image never changes (apply
// copies what it touches). Node.WaitFor and Image.Changed observe changes;
// they are level-triggered: an observer that falls behind sees the newest
// image and may skip intermediate ones, so it acts on the state (for
// example Image.ReplicasOf: what to open, lead or follow), not on deltas.
//
// The raft leader is the controller (controller.go). Its calls make every
// decision that needs the state (placement, election, producer-id blocks,
// fencing) before proposing; apply (apply.go) only validates and records,
// so every node computes the same images from the same log. The metadata
// offset is the raft index of the last applied entry.
//
// # Log entries
//
// A raft log entry (raft.LogCommand data) is a batch of records applied all
// or none:
//
//	bytes  field         type
//	0      version       uint8, 1
//	1-     record count  uvarint, at least 1
//	...    records       each: type (uint8) then the body below
//
// Field types: int32 and int64 are big endian; string is a uvarint length
// and that many bytes; [int32] and [string] are a uvarint count and the
// elements; id16 is 16 raw bytes (printed as unpadded base64url, as Kafka's
// Uuid); configs is a uvarint count of key, value string pairs in strictly
// ascending key order, so each map has one encoding. A decoder refuses any
// other version, an unknown type, a count or length larger than the bytes
// left, unsorted configs and trailing bytes, with an error wrapping
// ErrCorrupt (FuzzDecodeEntry).
//
// # Records
//
//	type  record               body fields
//	1     InitCluster          cluster id id16
//	2     RegisterBroker       broker id int32, incarnation id16, native addr string,
//	                           controller addr string, admin addr string,
//	                           kafka addr string, rack string
//	3     FenceBroker          broker id int32, broker epoch int64
//	4     UnfenceBroker        broker id int32, broker epoch int64
//	5     CreateTopic          name string, topic id id16, configs, partitions
//	6     DeleteTopic          topic id id16
//	7     AddPartitions        topic id id16, first partition int32, partitions
//	8     ChangePartition      topic id id16, partition int32, partition epoch int32,
//	                           leader int32, isr [int32]
//	9     ChangeConfig         topic id id16, set configs, delete [string]
//	10    AllocateProducerIDs  broker id int32, first id int64, count int32
//	11    ChangeReplicas       topic id id16, partition int32, partition epoch int32,
//	                           replicas [int32], isr [int32], leader int32, target [int32]
//
// where partitions is a uvarint count of (replicas [int32], isr [int32],
// leader int32), each new partition starting at leader epoch 0 and partition
// epoch 0.
//
// What apply checks (a refused entry changes nothing but the offset; its
// error is what the proposer's raft.ApplyFuture returns):
//
//   - InitCluster: once per cluster, non-zero id.
//   - RegisterBroker: the broker's epoch becomes the entry's offset and it
//     starts fenced; refused while a registration of that id is unfenced
//     (the controller fences the previous run first, in the same entry).
//   - FenceBroker / UnfenceBroker: the broker epoch must be current
//     (ErrStaleEpoch); a broker is fenced only once it leads nothing.
//   - CreateTopic / AddPartitions: a free name (1 to 249 bytes) and id;
//     AddPartitions' first partition must be the current count
//     (ErrStaleEpoch), so a replayed proposal cannot add twice.
//   - ChangePartition: the partition epoch must be current (ErrStaleEpoch,
//     Kafka's AlterPartition rule of KIP-497); the partition epoch then moves
//     by one, and the leader epoch by one if the leader changed. The
//     reassignment target is kept.
//   - ChangeReplicas (a reassignment's start or finish, reassign.go): the
//     partition epoch as for ChangePartition; the new replicas, ISR and
//     leader checked as a new partition's; the target empty or the head of
//     the replicas.
//   - Every partition: replicas distinct, registered brokers; ISR a
//     subset of them, empty only with NoLeader (every in-sync replica's
//     restart was lossy); leader a live member of the ISR or NoLeader.
//   - AllocateProducerIDs: first id must be the next unallocated id, so
//     blocks never overlap.
//
// # Snapshots
//
// A raft snapshot is the whole image:
//
//	bytes  field
//	0-3    magic "SPMD"
//	4      version 2 (1: no target per partition; still read)
//	5-12   offset int64
//	13-28  cluster id id16
//	29-36  next producer id int64
//	...    brokers: uvarint count, each the RegisterBroker body, epoch int64,
//	       fenced uint8 (0 or 1)
//	...    topics: uvarint count, each name string, topic id id16, configs,
//	       uvarint partition count, each replicas [int32], isr [int32],
//	       leader int32, leader epoch int32, partition epoch int32,
//	       target [int32]
//	last 4 CRC-32C (Castagnoli) of every byte before it
//
// Restore checks the CRC and every invariant apply keeps (FuzzDecodeImage).
// Raft snapshots once DefaultSnapshotThreshold entries follow the last one
// (checked every 2 s), so a restart restores one snapshot and replays at
// most about that many entries however long the log grew.
//
// # Broker states
//
//	             RegisterBroker                 heartbeat with applied
//	(unknown) ──────────────────► fenced ───────────────────────────────► live
//	                                ▲        offset ≥ broker epoch           │
//	                                │                                        │
//	                                └────────────────────────────────────────┘
//	                      session timeout without heartbeat, ControlledShutdown,
//	                      or a new RegisterBroker of the same id (a restart)
//
// Fencing a broker first moves what it holds (election.go): it leaves every
// ISR where it is not the last member; each partition it led gets the first
// live ISR member in replica order as leader (leader epoch + 1), or, with
// unclean.leader.election.enable=true and no live ISR member, the first
// live replica with an ISR of just it, or else NoLeader (offline, ISR kept
// as the last member). Unfencing gives each offline partition it can lead a
// leader again. A restart's fencing keeps the broker's ISR places if its
// log kept everything, and drops all of them, the last included, if the
// restart is lossy (RegisterBroker's lossy; election.go has why).
//
// # Partition states
//
//	online (leader in ISR) ──ChangePartition──► online (new ISR and/or leader)
//	online ──last ISR member fenced──► offline (NoLeader, ISR = [that member])
//	offline ──that member unfenced──► online (it leads, leader epoch + 1)
//	any ──ReassignPartition──► reassigning (Target set; replicas = target + removed)
//	reassigning ──every target in the ISR──► replicas = target, Target nil
//
// reassign.go describes reassignment (Kafka's KIP-455) in full.
//
// # Data dir identity
//
// Three checks keep a data dir with its broker and its cluster, each
// refusing with ErrDataDir and a message naming both sides:
//
//   - <data dir>/meta.properties records broker.id and, once known,
//     cluster.id (meta.go). Another broker.id is refused before anything
//     else is opened.
//   - An existing metadata log must record the configured voters (the
//     first MaxVoters of controller.quorum.voters, or the broker alone),
//     and the cluster id it records (newest snapshot, else the InitCluster
//     record) must be meta.properties' (which learns it there if it missed
//     it): checked before raft starts and before the transport accepts a
//     connection (stored.go).
//   - Every raft connection opens with a handshake carrying the cluster id
//     (handshake.go); nodes that both know theirs talk only if they match,
//     so another cluster's dir at the same ids and addresses never
//     exchanges a raft message with this cluster. A metadata log that still
//     names another cluster than meta.properties stops the node.
//
// # Using it from a broker
//
// Every broker: Start, then Image (or WaitFor) to serve metadata and
// ReplicasOf for its roles; ControllerID and WaitForController for
// clients and forwarding. The controller (any call on
// another node fails with ErrNotController naming the controller, so a
// broker forwards it there): RegisterBroker at start (the returned broker
// epoch goes into every later call), Heartbeat every few seconds with the
// broker's applied offset, ControlledShutdown on SIGTERM, CreateTopic,
// DeleteTopic, CreatePartitions, ReassignPartition, AlterPartition from
// partition leaders,
// AllocateProducerIDs when a broker's block runs out; Liveness, with
// Image.OfflinePartitions and UnderReplicatedPartitions, for cluster health
// and metrics (metadata lag per broker). Package clustertest starts such
// quorums in one test process.
package cluster
