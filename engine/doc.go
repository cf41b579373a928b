// Package engine is the broker core of Spate: topics and their partitions,
// produce and fetch semantics, idempotent-producer deduplication (producer
// ids, per-partition sequence state rebuilt from the log on open), delayed
// operations (acks=all, long-poll fetch), ListOffsets, retention scheduling
// and graceful shutdown.
//
// It speaks Go values, not bytes off a socket: the native dispatcher (netio)
// and the Kafka front end (kafka) decode requests, call Engine methods and
// map the sentinel errors below (errors.Is) to their wire error codes. It
// never imports wire, netio or kafka.
//
// # Storage layout
//
//	<DataDir>/topics.json              topic names, partition counts, config overrides;
//	                                   in cluster mode also topic ids and hosted partitions
//	<DataDir>/<topic>-<partition>/     one segment.Log per partition (Kafka's layout)
//	<DataDir>/producer_id_block        end of the producer id block in use (producerid.go)
//	<DataDir>/disk-reserve             1 MiB allocated while there is room, released to
//	                                   delete a topic on a full disk (logdir.go)
//
// topics.json is replaced atomically (write a temp file, fsync, rename, fsync
// the directory), so after a crash it is either the old or the new version.
// A topic is created by opening its partition logs first and then persisting
// topics.json; it is deleted by persisting topics.json first and then removing
// the directories. Open removes partition directories whose topic is not in
// topics.json (left by a crash between the two steps), so a topic re-created
// under the same name never sees stale data.
//
// A full disk: below log.dir.min.free.bytes of free space (Config.MinFreeBytes)
// produces and topic creation are refused with ErrDiskFull and everything
// else goes on; deleting a topic rewrites topics.json in the reserve's space
// if it must, and appends resume by themselves once space returns. See
// logdir.go and, for the logs themselves, package segment's "A full disk".
//
// # Cluster mode
//
// With Config.Clustered the cluster metadata (package cluster, through the
// broker) owns the topics; the engine never imports cluster/ and applies what
// it is given (roles.go):
//
//	Engine call          effect here (broker Config.BrokerID)
//	ApplyTopic(spec)     open the partitions whose replicas include this broker, drop
//	                     (close, delete) the ones that no longer do, grow the count,
//	                     replace the config overrides, set each hosted partition's role
//	RemoveTopic(name)    as DeleteTopic, __consumer_offsets included
//	HostedTopics()       name -> topic id of every topic present (zero id: from
//	                     single-broker mode), for reconciliation after a restart
//
// A hosted partition is in one of three states:
//
//	state      served                              how it gets there
//	no role    no (ErrNotLeader)                   opened from topics.json at Open
//	leader     produce, fetch, ListOffsets,         ApplyTopic with Leader == BrokerID
//	           DeleteRecords
//	follower   no (ErrNotLeader); the broker's      ApplyTopic with another leader (or -1)
//	           fetcher feeds it (AppendFollower)
//
// A leader stamps its role's LeaderEpoch into every batch and, when the epoch
// grows, records (epoch, log end offset) in the partition's epoch checkpoint
// before the first such batch. A partition with more than one replica runs
// the ISR core of package replication (replica.go): the leader's high
// watermark is the smallest log end of its ISR, acks=all waits for it and
// refuses with ErrNotEnoughReplicas while the committed ISR is smaller than
// min.insync.replicas; followers append the leader's batches verbatim and
// truncate at a new leader epoch. With one replica the high watermark is
// the local one. Losing leadership answers parked acks=all produces and
// long-poll fetches with ErrNotLeader. A partition not hosted here is a nil entry of its topic;
// lookups answer ErrNotLeader for it, and every loop over partitions skips
// it. Describe reports the metadata's leader, epoch, replicas and ISR for
// every partition (-1 offsets where not hosted; leader -1 until the first
// ApplyTopic after a restart).
//
// topics.json (version 2 once a topic has an id; version 1, unchanged, for
// single-broker data) records each topic's id and hosted partitions, and is
// rewritten only when they or the overrides change: ApplyTopic of an
// unchanged spec writes nothing. A topic of the same name and another id is
// removed (logs deleted) before the new one is created; a topic recorded
// without an id (single-broker mode) is adopted with its logs. A data dir
// with cluster topics is refused in single-broker mode.
//
// The admin entry points CreateTopic, DeleteTopic and AlterTopicConfigs fail
// with ErrNotController: the broker forwards those to the controller, whose
// decisions come back through ApplyTopic. The engine's own creations (auto-
// create on produce, __consumer_offsets on first use) call
// Config.CreateTopicHook, which returns once the topic is applied here.
// InitProducerID takes its blocks from Config.AllocateProducerIDs (the
// controller's, KIP-730) when set. flush.policy and flush.ms changed through
// the metadata take effect on a partition when its log next opens.
//
// The group coordinator follows the leadership of __consumer_offsets
// partitions (groupcluster.go): FindCoordinator answers the leader of the
// group's partition; a request for a group whose partition is not led and
// loaded here gets ErrNotCoordinator; gaining leadership loads that
// partition's groups and offsets before ApplyTopic returns; losing it drops
// them and answers their parked joins and syncs with ErrNotCoordinator.
//
// # High watermark on a single node
//
// With no followers the high watermark (HW) is the end of what this broker
// counts as committed: FlushedOffset() for flush.policy=always (committed means
// fdatasync'd), LogEndOffset() otherwise. Fetch serves only offsets below the
// HW and acks=all waits for the HW to pass the batch.
//
// # Callbacks
//
// Produce and Fetch take a done callback. It runs exactly once, either
// synchronously inside the call (the common case: acks=0/1 with
// flush.policy never or interval; a fetch that has min.bytes at once) or
// later from another goroutine: a partition's off-loop appender or the
// auto-creating one (an append that may wait on the disk; offloop.go), a
// segment syncer goroutine (flush.policy always), a timer goroutine (timeouts, max wait), the goroutine of another
// Produce call whose append moved the HW, or the goroutine closing a log
// (DeleteTopic, Close). done must therefore not block, must be safe to call
// from any goroutine (netio hands the answer to gnet's AsyncWrite). It runs
// with no engine lock held, so it may call back into the engine.
//
// # Lock order
//
// Locks are taken in this order, and never the other way round:
//
//	Engine.applying    ApplyTopic, RemoveTopic, coordinator registration (cluster mode)
//	Engine.admin       create/delete topic, persist topics.json; never on a hot path
//	producerIDs.mu     InitProducerID; taken alone
//	GroupCoordinator.mu  the group state machine; taken alone, never held
//	                   while calling into the Engine (groupcoordinator.go)
//	partition.mu       one per partition: serializes appends, the idempotent
//	                   producer state (producerstate.go) and close
//	watchers.mu        one per partition: its list of parked operations
//	delayedFetch.mu    one per parked fetch: its re-read and completion
//	(segment's locks)  taken inside segment.Log calls
//
// (purgeDone asks a listed fetch isDone under watchers.mu; a fetch's re-read
// runs with no watchers.mu held.)
// The topic map is an atomic copy-on-write snapshot, so lookups take no lock.
// No done callback and no wake of parked operations runs while partition.mu,
// watchers.mu or delayedFetch.mu is held: done may call back into the engine.
//
// Invariant: every parked operation is in the watcher list of at least one
// partition until it completes, so Close, which sweeps every list after
// setting the closing flag, completes all of them (see purgatory.go).
//
// # Consumer groups and committed offsets
//
// GroupCoordinator (groupcoordinator.go) runs Kafka's classic group protocol
// with static membership (KIP-345) and member ids handed out by the broker
// (KIP-394). The lead's dispatcher opens it after the Engine with
// OpenGroupCoordinator, which reloads every group, and closes it before the
// Engine. Its core is a deterministic state machine (group.go, groupjoin.go,
// offsets.go): time comes in as now arguments and Tick; answers and writes
// to __consumer_offsets come out through an outbox that the driver runs
// after dropping its lock. Group states:
//
//	from                 event                                            to
//	Empty                a member joins                                   PreparingRebalance
//	PreparingRebalance   every member rejoined (or the rebalance timeout) CompletingRebalance
//	PreparingRebalance   no member left at the barrier                    Empty
//	CompletingRebalance  the leader's assignment is written               Stable
//	CompletingRebalance  a member joins, leaves, expires or changes its   PreparingRebalance
//	  or Stable          subscription, or the leader rejoins
//	Empty                DeleteGroups                                     Dead (forgotten)
//
// Group state and offsets are stored in the internal topic __consumer_offsets
// (OffsetsTopic; GroupConfig.OffsetsTopicPartitions partitions, 50 by
// default) as records whose layout is Kafka's own (offsetsrecord.go). The
// group's partition is OffsetsPartitionFor: Java's String.hashCode of the
// group id, Kafka's abs, mod the partition count. Integers are big-endian;
// string is int16 length + bytes (-1 = null); bytes is int32 length + bytes.
//
//	offset commit key (v1)        group metadata key (v2)
//	int16  version = 1            int16  version = 2
//	string group                  string group
//	string topic
//	int32  partition
//
//	offset value (v3)             group metadata value (v3)
//	int16  version = 3            int16  version = 3
//	int64  offset                 string protocol_type
//	int32  leader_epoch           int32  generation
//	string metadata               string protocol (null when Empty)
//	int64  commit_timestamp (ms)  string leader (null when Empty)
//	                              int64  state_timestamp (ms)
//	                              int32  member count, then per member:
//	                                string member_id, string group_instance_id
//	                                (null: dynamic), string client_id,
//	                                string client_host, int32 rebalance_timeout_ms,
//	                                int32 session_timeout_ms, bytes subscription
//	                                (metadata of the chosen protocol),
//	                                bytes assignment
//
// A null value is a tombstone: DeleteGroups writes one for the group key and
// for every offset key. Records go through Engine.Produce with acks=-1, one
// batch per write (a multi-partition commit is all or nothing), so a commit
// is acknowledged only when it is committed under the topic's flush policy,
// and memory is updated only after that. The topic is created on first use
// with cleanup.policy=compact if this build accepts it (else delete),
// retention.ms=-1, retention.bytes=-1 and segment.bytes =
// GroupConfig.OffsetsTopicSegmentBytes (100 MiB, Kafka's).
//
// What survives a restart: every acknowledged commit, and each group's
// generation, protocol, leader and members with their assignments as of its
// last completed sync (or its last move to Empty). OpenGroupCoordinator reads
// every partition from log start to high watermark; the latest record per
// key wins. A group with members comes back Stable with fresh session
// deadlines, so its members just keep heartbeating; one that was mid-
// rebalance comes back as it was at its last sync, and its members find out
// by REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION and rejoin. Parked joins
// and syncs do not survive: Close answers them with ErrNotCoordinator.
package engine
