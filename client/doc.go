// Package client is Spate's Go SDK: a Producer, a Consumer (direct
// partition assignment), a GroupConsumer (consumer groups: the coordinator
// assigns partitions, offsets are committed; see group.go) and an Admin,
// speaking the native
// protocol (package wire) over one pipelined TCP connection per broker.
//
//	p, err := client.NewProducer(client.SeedBrokers("127.0.0.1:9192"))
//	p.Produce(ctx, &client.Record{Topic: "events", Value: v}, func(r *client.Record, err error) { ... })
//	c, err := client.NewConsumer(client.SeedBrokers(addr), client.Assign("events", nil, client.Earliest()))
//	fs, err := c.Poll(ctx)
//
// Options are functional (Opt); metrics attach through the Hook interfaces.
// The package imports wire and record only, never broker code.
//
// # Connections
//
// Each connection starts with ApiVersions and refuses a broker lacking a
// version this client sends. Requests are pipelined and matched to
// responses by correlation id; writes are coalesced (everything queued
// while the previous write ran goes out in one syscall). A request with no
// answer within RequestTimeout closes its connection, because a response
// arriving after a retry was sent could reorder a partition. A closed or
// failed connection fails every request in flight on it with an error
// wrapping wire.ErrNetworkException (retriable); the next request redials
// after a jittered exponential backoff (RetryBackoff). A dial that fails
// is a *ConnectError ("cannot connect to 127.0.0.1:9192: connection
// refused"), retriable too: producers retry it within DeliveryTimeout,
// consumers until their caller gives up, and an Admin until its context
// ends or, with UnreachableTimeout, until no broker could be connected to
// for that long. ConnectErrorLog reports such failures as they happen.
// Produce refuses a topic name the broker would refuse
// (wire.ErrInvalidTopic) without sending anything. Metadata is fetched
// on first use of a topic, after errors that mean it is stale (NOT_LEADER,
// UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, a lost connection) and
// every MetadataMaxAge; each partition's requests go to its leader.
//
// # Delivery guarantees
//
// A record's callback runs exactly once. A nil error means, by acks:
//
//	AcksAll    (default) every in-sync replica has the record: it survives
//	           the loss of any minority of them (min.insync.replicas rules).
//	AcksLeader the leader appended it; lost if the leader dies before a
//	           follower copied it.
//	AcksNone   the batch was written to the connection's socket; nothing
//	           is known about its fate, Offset is -1 and no broker error
//	           is ever reported (a failed write is).
//
// Whether an acknowledged record also survives a power loss depends on the
// broker's log.flush.policy.
//
// Retriable failures (wire errors marked Retriable, lost connections,
// timeouts) are retried with backoff until DeliveryTimeout, then the
// records fail with ErrDeliveryTimeout wrapping the last error. Any other
// error fails the batch's records at once with that error, wrapped with
// the topic and partition: errors.Is(err, wire.ErrMessageTooLarge) works.
// An error means the record may or may not have been written (a lost
// acknowledgement looks like a lost request).
//
// Ordering: records of one partition are written, acknowledged and called
// back in Produce order, retries included. By default at most ONE produce
// request per partition is in flight: its next batch waits until the
// previous one is acknowledged or has finally failed. The cost is one round
// trip per batch per partition; throughput comes from batching and from
// many partitions (a request carries every ready partition of a broker,
// and up to MaxInFlightPerBroker requests pipeline on a connection).
// MaxInFlightPerPartition lets more batches of a partition fly; they
// follow each other on one connection. An idempotent producer allows up to
// 5, as Kafka does, and keeps the order in the log: batches refused as out
// of sequence behind a failed one are resent after it with their sequence
// numbers, and if a batch fails for good, the batches in flight with it
// fail too (ErrSequenceRestarted) rather than be written out of order;
// callbacks keep Produce order although the broker answers each request
// when it is done. A producer that is not idempotent may allow any number;
// batches that fail together are resent in order, but a batch retried
// after a later one succeeded lands after it, as in Kafka with
// max.in.flight.requests.per.connection > 1 without idempotence.
//
// Duplicates: the producer is idempotent by default (Idempotent(true),
// Kafka 3.x's default). On its first Produce it gets a producer id from a
// broker (InitProducerId); every batch carries that id, an epoch and a
// per-partition sequence number, and a retry resends the batch's bytes
// unchanged. The partition leader remembers the sequence ranges and
// offsets of each producer's last 5 batches, so a retried batch that was
// already written is not written again: it is answered with its original
// offset. Under AcksAll with the broker's flush.policy=always, each record
// of one Producer is therefore stored exactly once per partition, in
// Produce order, across lost connections, request timeouts and broker
// crashes (the broker rebuilds that memory from its log's last two
// segments when it restarts; docs/protocol.md says when that is not
// enough). With flush.policy never or interval a crash can lose
// acknowledged records, but still writes none twice.
//
// What stays at least once:
//   - a new Producer (a restarted process) gets a new producer id, so
//     re-sending records an earlier Producer may have written duplicates
//     them: the application must deduplicate across producer sessions;
//   - a record whose callback got an error may or may not have been
//     written (DeliveryTimeout, or an error after the request left), and
//     producing it again is a new record.
//
// When a batch that was sent fails for good (its delivery timeout passed,
// or a non-retriable error such as OUT_OF_ORDER_SEQUENCE_NUMBER), its
// records fail with that error, and the partition starts a new producer
// epoch at sequence 0 so that the following records are accepted whether or
// not the broker kept the failed batch. The producer does not stop: only
// that batch's records fail. DUPLICATE_SEQUENCE_NUMBER (a broker that has
// the batch but not its offset) counts as success, with Offset -1.
//
// Idempotence needs AcksAll: Idempotent(true) with another RequiredAcks
// fails NewProducer with ErrInvalidOption, and when Idempotent is not
// given, RequiredAcks(AcksLeader) or RequiredAcks(AcksNone) turns it off
// (Kafka 3.x's rules). With it off, a batch whose acknowledgement was lost
// is written twice, right after itself: at least once, never reordered.
//
// # Buffers
//
// Produce copies the key, value and headers into the batch before it
// returns: the caller may reuse those slices at once. The *Record is kept
// until its callback (which sets Offset and Partition). Buffered records
// are bounded by MaxBufferedBytes: Produce then blocks until room frees or
// its context ends, or fails with ErrBufferFull under FailWhenBufferFull.
// Steady-state Produce allocates nothing per record (batches, their
// buffers and callback slices are pooled; see BenchmarkProduceAccumulate).
//
// # Bulk produce
//
// ProduceBatch skips the per-record machinery for a producer that knows
// its partition: a fill function appends records straight into a new
// batch's record.Builder, and one callback reports the batch's base offset
// and record count. Ordering, retries, idempotence and acks are Produce's.
// It is what `spate bench produce` uses by default; perf/bench.md compares
// the two paths.
//
// Consumed records alias the fetched response buffers: Key, Value and
// Headers are valid until the next Poll (the buffers are then reused), and
// the *Record a RecordIter returns is overwritten by its next Next. The
// iterator allocates nothing per record for uncompressed batches.
//
// # Consumer
//
// Each broker has one fetch in flight and at most two answered fetches
// waiting for Poll: the next fetch leaves as soon as an answer lands, so
// the socket keeps delivering while the application processes the last
// Poll, and memory stays at about three responses per broker plus the
// last Poll's. Batch CRCs are checked before records
// are handed out, compressed batches are decompressed by the iterator, and
// records below the requested offset (a fetch starts at the batch holding
// it) and control batches are skipped. The position moves past the whole
// batches received, so a reconnect after a broker restart resumes at the
// next offset: no gap, no duplicate. OFFSET_OUT_OF_RANGE follows
// OffsetReset (default: the log start).
//
// # Defaults
//
// BatchSize 16 KiB and Linger 5 ms (Kafka 4.0's batch.size and linger.ms);
// AcksAll; Idempotent on; MaxInFlightPerBroker 5; RequestTimeout 30 s; DeliveryTimeout
// 2 min; MaxBufferedBytes 64 MiB; RetryBackoff 100 ms to 1 s;
// MetadataMaxAge 5 min; MaxWait 500 ms, MinBytes 1, MaxBytes 50 MiB,
// PartitionMaxBytes 1 MiB.
package client
