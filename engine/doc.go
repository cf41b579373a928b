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
//	<DataDir>/topics.json              topic names, partition counts, config overrides
//	<DataDir>/<topic>-<partition>/     one segment.Log per partition (Kafka's layout)
//	<DataDir>/producer_id_block        end of the producer id block in use (producerid.go)
//
// topics.json is replaced atomically (write a temp file, fsync, rename, fsync
// the directory), so after a crash it is either the old or the new version.
// A topic is created by opening its partition logs first and then persisting
// topics.json; it is deleted by persisting topics.json first and then removing
// the directories. Open removes partition directories whose topic is not in
// topics.json (left by a crash between the two steps), so a topic re-created
// under the same name never sees stale data.
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
// later from another goroutine: a segment syncer goroutine (flush.policy
// always), a timer goroutine (timeouts, max wait), the goroutine of another
// Produce call whose append moved the HW, or the goroutine closing a log
// (DeleteTopic, Close). done must therefore not block, must be safe to call
// from any goroutine (netio hands the answer to gnet's AsyncWrite). It runs
// with no engine lock held, so it may call back into the engine.
//
// # Lock order
//
// Locks are taken in this order, and never the other way round:
//
//	Engine.admin       create/delete topic, persist topics.json; never on a hot path
//	producerIDs.mu     InitProducerID; taken alone
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
package engine
