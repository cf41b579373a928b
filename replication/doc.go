// Package replication is the ISR core of a partition: what its leader and
// followers decide, with no I/O. It runs no goroutine, opens no socket and
// reads no clock: fetches, controller answers and the time come in as
// arguments; what to send, append, truncate and ask the controller comes
// out as returned values. It imports nothing from engine/, broker/,
// cluster/ or segment/ (Epochs mirrors segment's checkpoint), so the same
// rules run in the broker and in the deterministic tests here.
//
// # Replica states
//
// One replica of a partition, as the controller's partition state
// (PartitionState: leader, leader epoch, partition epoch, ISR) reaches it:
//
//	             another leads                answer Done
//	(no role) ─────────────────► truncating ───────────────► fetching
//	    │                         │ ▲ ▲  ▲                      │  │
//	    │                         └─┘ │  └──── new epoch, ──────┘  │
//	    │     answer not Done: ask    │        another leads       │
//	    │     about an older epoch    │                            │
//	    │ I lead                      │ new epoch,                 │ new epoch,
//	    ▼                             │ another leads              │ I lead
//	 leading ─────────────────────────┘                            │
//	    ▲                                                          │
//	    └──────────────────────────────────────────────────────────┘
//
//	any state ──offline (NoLeader) or crash──► (no role)
//
// Every new leader epoch starts over: a follower truncates again, a leader
// builds a new Leader. The leader's view of each follower:
//
//	            log end ≥ high watermark and ≥ epoch start:
//	            expand proposed, then committed
//	out of ISR ───────────────────────────────────────────► in ISR
//	     ▲                                                    │
//	     └────────────────────────────────────────────────────┘
//	      not caught up for replica.lag.time.max: shrink proposed,
//	      then committed; or the controller fences the broker
//
// and of its own ISR change (AlterPartition, KIP-497), one at a time:
//
//	committed ──Tick finds a lagging follower──► pending shrink
//	committed ──Fetch finds a follower ready───► pending expand
//	pending ──Update with a newer partition epoch──► committed (new ISR)
//	pending ──Refused (stale epochs)───────────────► committed (old ISR)
//	pending ──no answer (cut off)──► stays pending; nothing else is proposed
//
// # Leader rules
//
//   - Maximal ISR (KIP-497): while a proposal is pending, the high
//     watermark and acks=all count the committed ISR plus whatever a
//     pending expansion adds; a pending shrink removes nobody until the
//     controller commits it. Waiting for an extra replica is always safe;
//     dropping one early is not: a leader cut off from its followers and
//     the controller (a zombie) proposes to shrink to itself, never hears
//     back, and so never advances its high watermark. Once healed, its
//     proposal carries a stale partition epoch and is refused.
//   - High watermark: the smallest log end over the maximal ISR, the
//     leader's own included, raised only (never lowered during a term).
//     A follower's log end is the offset of its last fetch at this leader
//     epoch (it truncated before fetching, so [0, offset) matches).
//   - A new leader starts from the high watermark it kept as a follower
//     (at most its log end) and knows no follower's log end: the high
//     watermark holds until every maximal-ISR member has fetched from it
//     (Kafka resets the followers' offsets to unknown on election). It can
//     therefore lag what the previous leader committed, for a while.
//   - Caught up (Kafka's Replica rule): a fetch at time t whose offset
//     reaches the leader's log end sets the follower's last caught-up time
//     to t; one that reaches the leader's log end as of the follower's
//     previous fetch sets it to that fetch's time. ISR members count as
//     caught up when the leader is elected; others never did.
//   - Shrink (Tick): an ISR follower whose log end is not the leader's and
//     whose last caught-up time is more than ReplicaLagTimeMax ago is
//     proposed out. A follower with nothing to catch up (log end = leader's)
//     stays in, however long it has been silent: without appends there is
//     nothing it could be missing.
//   - Expand (Fetch): a follower outside the ISR is proposed in when its
//     log end reaches the high watermark and the start offset of the
//     leader's epoch (the leader's log end when elected). The second
//     condition matters right after an election: the new leader's high
//     watermark may lag the committed offset, and a replica that reached
//     only that could still miss committed records (testdata/stale-hw-expand.txt).
//   - acks=all (CheckProduce, CheckCommit): refused before the append when
//     the committed ISR is smaller than min.insync.replicas
//     (NOT_ENOUGH_REPLICAS); complete once the batch's end is at or below
//     the high watermark, failing with NOT_ENOUGH_REPLICAS_AFTER_APPEND
//     if the maximal ISR is then smaller than min.insync.replicas. The
//     high watermark itself follows the ISR whatever its size, as in
//     Kafka before KIP-966: acks=1 consumers see records on a one-replica
//     ISR.
//   - Fencing (KIP-320): fetches and epoch queries carry the leader epoch
//     the follower believes in; an older one gets FENCED_LEADER_EPOCH, a
//     newer one UNKNOWN_LEADER_EPOCH (the receiver was deposed or has not
//     heard yet). A deposed leader learns it from Update (ErrNotLeader).
//
// # Follower rules
//
//   - On every new leader epoch a follower with anything in its log asks
//     the leader for the end offset of its newest epoch
//     (OffsetForLeaderEpoch); the leader answers from its checkpoint with
//     the largest epoch at or below the one asked and where it ends
//     (Epochs.EndOffsetFor, KIP-279).
//   - If the follower has that epoch, it truncates to the smaller of its
//     own end for the epoch and the leader's (KIP-101). If not, it
//     truncates to the end of its largest earlier epoch and asks again
//     about that one, until the answers agree (KIP-279: logs that diverged
//     over several leader changes). Never to its own high watermark: that
//     lost committed records after two quick failovers (KIP-101's
//     scenarios: testdata/kip101-*.txt).
//   - An answer about an epoch newer than the one asked, or with a negative
//     end, is refused (ErrInvalidAnswer): it is network input, and
//     following it could truncate wrongly or ask forever
//     (FuzzFollowerTruncation).
//   - Truncation drops the checkpoint entries at or after the offset too,
//     even when nothing of the log goes (an epoch that wrote nothing).
//   - Then it fetches from its log end and appends batches verbatim, with
//     their epochs; its high watermark is the leader's, capped by its log
//     end.
//
// # Using it
//
// A broker's partition owner, serializing calls: on a state naming it
// leader, NewLeader, then assign EpochStart() in the checkpoint before
// serving; after each local append, Appended; per follower fetch, Fetch,
// sending back the records [offset, LogEnd()) and the returned high
// watermark, and any returned proposal to the controller; per epoch query,
// AnswerEpochQuery; every few hundred milliseconds, Tick; controller
// answers and metadata go to Update or Refused; an ErrNotLeader from
// Update means follow instead. For acks=all produces, CheckProduce before
// the append and CheckCommit after every high watermark change. On a
// state naming another leader, NewFollower, then EpochQuery and
// OnEpochAnswer (truncating as told) until not Truncating, then
// FetchRequest and OnFetched.
//
// # Tests
//
// testdata/*.txt are scenario scripts (the format is in script_test.go)
// run against a simulator of replicas with in-memory logs, a controller
// and a network that cuts replicas off; invariants are checked after
// every step: acknowledged records on every ISR member, logs that hold the
// same epoch at an offset hold the same record, checkpoints matching the
// records, leader high watermarks monotone and at most every ISR member's
// log end. TestRandomFaults runs thousands of random scripts the same way
// and TestHighWatermarkAgainstNaive compares a Leader with a from-scratch
// replay of its history.
//
// Not modelled: log start offsets (retention), Kafka 4's rule that the
// high watermark stops under min.insync.replicas and eligible leader
// replicas (KIP-966), and Kafka's counting of caught-up replicas that are
// not yet in the ISR in the high watermark (this core proposes them at
// once and counts them as pending instead).
package replication
