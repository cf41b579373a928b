// Package loadgen is the load generator behind `spate bench`: it drives a
// Spate cluster with real clients (package client) over real sockets and
// reports throughput and latency.
//
// # Runs
//
// Produce runs N producers, each with its own client.Producer (so its own
// connections), writing records of a fixed size or of a size drawn
// uniformly from [min, max], with no key or a key drawn from a keyspace of
// K keys. Consume runs M consumers, each assigned a share of the
// partitions, reading from the log start. E2E runs both at once and
// measures the time from a record's send to its receipt by a consumer.
// Sweep repeats Produce over a grid of batch sizes (and optionally
// lingers, record sizes and acks), each on a fresh topic.
//
// # Two send paths
//
// A closed-loop produce run without keys builds whole batches with
// client.Producer.ProduceBatch: records are appended straight into the
// batch, and one callback acknowledges the batch (Result.API "batch").
// With Config.PerRecord, and always for open-loop, keyed and E2E runs,
// every record goes through client.Producer.Produce with its own *Record
// and callback, as with a Kafka client (Result.API "record"). Both paths
// use the same producer: batching, buffer, retries, idempotence and acks
// are the same; perf/bench.md compares them.
//
// # What is measured
//
// Produce latency is send → acknowledgement. On the per-record path the
// callbacks of one acknowledged batch share a clock read, at most 64 in a
// row: reading the clock per record cost a fifth of the load generator's
// CPU (perf/bench.md). On the batch path records are appended in groups
// of up to 64 that share the clock read taken before the group's first
// record, so a recorded send time is early by at most one group's append
// time (a microsecond or two) and latency is overstated by that much,
// never understated; the ack is one clock read for the whole batch.
// E2E latency is send → consumer receive; the send time travels in the
// first 8 bytes of the value (Unix nanoseconds, big endian), since the
// record timestamp only has milliseconds. Both clocks are the same host's
// wall clock in the usual single-machine setup; across machines they are
// only as good as the clock sync.
//
// Closed-loop runs (Rate 0) send as fast as the producer accepts records;
// a record's send time is when Produce was called (on the batch path: when
// the record was appended). Open-loop runs (Rate >
// 0) spread Rate records/s over the producers on a fixed schedule, and a
// record's send time is its INTENDED time on that schedule, not the moment
// Produce was finally called: when the client or broker stalls, the
// records that should have gone out meanwhile are charged the stall, so
// the percentiles do not suffer from coordinated omission.
//
// Throughput counts only records the broker acknowledged (callback with a
// nil error); failed records are counted separately as errors. Records
// whose send time falls in the warm-up period are sent and acknowledged
// but are left out of every reported figure. Elapsed time runs from the end
// of the warm-up to the last acknowledgement.
//
// After a produce run the topic's high watermarks are read again with
// Admin.DescribeTopics: HWDelta (the sum of the high watermark moves) must
// equal AckedTotal (every acknowledged record, warm-up included). Without
// idempotence (the client turns it off for acks 0 and 1) a retried batch
// whose first acknowledgement was lost is written twice, so HWDelta can
// then exceed AckedTotal; it never falls short of it. Nothing else may
// write to the topic during a run. Under acks=0 "acknowledged" means sent,
// and the broker may still be appending when the producer is done, so the
// high watermarks are read until their move reaches AckedTotal or has not
// changed for a second (10 s at most).
//
// # Closed-loop latency
//
// In a closed loop the producer's buffer is always full, so the buffer
// size, not the broker, sets most of the latency (Little's law). The
// default buffer is 4 batches per partition: one in flight and the next
// ones filling. A larger buffer adds queueing, not throughput (measured
// in perf/bench.md).
//
// # Histograms
//
// Latencies go into HDR histograms (microsecond resolution, 3 significant
// digits, up to one hour) kept per producer or consumer and per one-second
// interval. Each interval's histograms feed the progress line and are
// merged into the run's total once the warm-up is over.
//
// MB/s is 10^6 bytes of record payload (key plus value) per second; batch
// and protocol overhead are not counted.
package loadgen
