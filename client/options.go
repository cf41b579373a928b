package client

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spate-io/spate/record"
)

// Opt configures a Producer, Consumer or Admin. Options that do not apply to
// the thing being built are ignored (a producer ignores MaxWait), so one
// option list can be shared.
type Opt func(*config)

// Acks is how many replicas must have a batch before the broker answers.
type Acks int16

// The acks settings, with Kafka's meanings.
const (
	// AcksNone: the broker sends no response. A record counts as delivered
	// once its batch is written to the socket (so the buffer limit paces
	// the producer); broker errors are never seen.
	AcksNone Acks = 0
	// AcksLeader: answered after the partition leader appended the batch.
	// Acknowledged records are lost if the leader dies before a follower
	// copied them.
	AcksLeader Acks = 1
	// AcksAll: answered once every in-sync replica has the batch (the
	// default, like Kafka 3.x).
	AcksAll Acks = -1
)

// ResetPolicy says what a consumer does when its position is out of range
// (below the log start after retention, or above the log end after an
// unclean leader change).
type ResetPolicy int8

// The reset policies.
const (
	// ResetEarliest moves to the log start offset (the default, so a consumer
	// loses nothing retention has not already removed).
	ResetEarliest ResetPolicy = iota
	// ResetLatest moves to the log end offset.
	ResetLatest
	// ResetError reports ErrOffsetOutOfRange in Fetches and stops fetching
	// the partition until it is assigned again.
	ResetError
)

// Partitioning selects how the producer picks a partition.
type Partitioning int8

// The partitioners.
const (
	// PartitionDefault: records with a key go to
	// toPositive(murmur2(key)) % partitions, the partition Kafka's default
	// partitioner (and franz-go's StickyKeyPartitioner) picks for the same
	// key and count; records without a key stick to one partition until its
	// batch closes, then move to another (Kafka's sticky partitioner).
	PartitionDefault Partitioning = iota
	// PartitionManual: every record goes to Record.Partition.
	PartitionManual
)

// config is every setting; defaults come from defaultConfig.
type config struct {
	seeds         []string
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	dialTO        time.Duration
	reqTO         time.Duration
	retryMin      time.Duration
	retryMax      time.Duration
	metaMaxAge    time.Duration
	maxFrame      int
	hooks         []Hook
	unreachableTO time.Duration // Admin only

	// producer
	acks             Acks
	batchSize        int
	linger           time.Duration
	compression      record.Compression
	maxInFlight      int
	partInFlight     int // batches of one partition in flight
	deliveryTimeout  time.Duration
	maxBufferedBytes int64
	failWhenFull     bool
	partitioning     Partitioning
	idempotent       bool
	idempotentSet    bool // Idempotent was given: a conflict with acks is an error

	// consumer
	assign            []assignment
	maxWait           time.Duration
	minBytes          int32
	maxBytes          int32
	partitionMaxBytes int32
	reset             ResetPolicy
}

func defaultConfig() config {
	var d net.Dialer
	return config{
		dial:   d.DialContext,
		dialTO: 10 * time.Second,
		// Kafka's request.timeout.ms is 30s; a request still unanswered after
		// that is presumed lost and its connection is closed.
		reqTO:      30 * time.Second,
		retryMin:   100 * time.Millisecond, // Kafka's retry.backoff.ms
		retryMax:   time.Second,            // Kafka's retry.backoff.max.ms
		metaMaxAge: 5 * time.Minute,        // Kafka's metadata.max.age.ms
		maxFrame:   100 << 20,

		acks: AcksAll, // Kafka 3.x's default: acknowledged means on every in-sync replica
		// 16 KiB and 5 ms are Kafka 4.0's batch.size and linger.ms, so a
		// Kafka user's latency expectations carry over; throughput-minded
		// users raise BatchSize (spate bench sweeps it).
		batchSize:        16 << 10,
		linger:           5 * time.Millisecond,
		maxInFlight:      5,               // Kafka's max.in.flight.requests.per.connection
		partInFlight:     1,               // see MaxInFlightPerPartition
		deliveryTimeout:  2 * time.Minute, // Kafka's delivery.timeout.ms
		maxBufferedBytes: 64 << 20,        // a little above Kafka's 32 MiB buffer.memory
		idempotent:       true,            // Kafka 3.x's enable.idempotence default

		maxWait:           500 * time.Millisecond, // Kafka's fetch.max.wait.ms
		minBytes:          1,                      // answer as soon as anything is there
		maxBytes:          50 << 20,               // Kafka's fetch.max.bytes
		partitionMaxBytes: 1 << 20,                // Kafka's max.partition.fetch.bytes
	}
}

func newConfig(opts []Opt) (*config, error) {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	if len(c.seeds) == 0 {
		return nil, fmt.Errorf("client: no seed brokers: %w", ErrInvalidOption)
	}
	switch {
	case c.batchSize < 1:
		return nil, fmt.Errorf("client: batch size %d: %w", c.batchSize, ErrInvalidOption)
	case c.maxInFlight < 1:
		return nil, fmt.Errorf("client: max in flight %d: %w", c.maxInFlight, ErrInvalidOption)
	case c.partInFlight < 1:
		return nil, fmt.Errorf("client: max in flight per partition %d: %w", c.partInFlight, ErrInvalidOption)
	case c.acks != AcksNone && c.acks != AcksLeader && c.acks != AcksAll:
		return nil, fmt.Errorf("client: acks %d: %w", c.acks, ErrInvalidOption)
	case !c.compression.Valid():
		return nil, fmt.Errorf("client: compression %d: %w", c.compression, ErrInvalidOption)
	case c.maxBufferedBytes < int64(c.batchSize):
		return nil, fmt.Errorf("client: max buffered bytes %d below batch size %d: %w",
			c.maxBufferedBytes, c.batchSize, ErrInvalidOption)
	case c.idempotent && c.idempotentSet && c.acks != AcksAll:
		return nil, fmt.Errorf("client: Idempotent(true) needs RequiredAcks(AcksAll), got acks=%d: "+
			"only an answer from every in-sync replica tells a retry whether its batch was written; "+
			"use AcksAll or Idempotent(false): %w", c.acks, ErrInvalidOption)
	}
	// Kafka 3.x's rule: idempotence that is on only by default gives way to
	// an explicit acks other than all, so configurations written for an
	// at-least-once producer keep working.
	c.idempotent = c.idempotent && c.acks == AcksAll
	if c.idempotent && c.partInFlight > maxIdempotentInFlight {
		return nil, fmt.Errorf("client: MaxInFlightPerPartition(%d) with an idempotent producer: "+
			"the broker recognizes a retry among a producer's last %d batches only; "+
			"use at most %d, or Idempotent(false): %w", c.partInFlight, maxIdempotentInFlight,
			maxIdempotentInFlight, ErrInvalidOption)
	}
	return &c, nil
}

// SeedBrokers sets the addresses (host:port) tried first; the rest of the
// cluster is learned from metadata. Required.
func SeedBrokers(addrs ...string) Opt {
	return func(c *config) { c.seeds = append(c.seeds, addrs...) }
}

// Dialer replaces net.Dialer.DialContext for every broker connection (a
// proxy, TLS, or a test that routes every broker through one address).
func Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Opt {
	return func(c *config) { c.dial = dial }
}

// DialTimeout bounds one connection attempt including the version
// handshake (default 10s).
func DialTimeout(d time.Duration) Opt { return func(c *config) { c.dialTO = d } }

// RequestTimeout is how long a request may wait for its response before its
// connection is presumed dead and closed, failing every request in flight on
// it with a retriable error (default 30s). Fetches get MaxWait on top.
func RequestTimeout(d time.Duration) Opt { return func(c *config) { c.reqTO = d } }

// UnreachableTimeout makes an Admin request fail once its attempts have
// found no broker to connect to for d, with the connection error (a
// *ConnectError, e.g. "cannot connect to 127.0.0.1:9192: connection
// refused"), rather than retry until its context ends (default 0: no
// bound). A broker that answers, even with a retriable error, resets the
// clock. Producers and consumers ignore it: a producer retries within
// DeliveryTimeout, a consumer until its caller gives up.
func UnreachableTimeout(d time.Duration) Opt { return func(c *config) { c.unreachableTO = d } }

// RetryBackoff sets the backoff between retries and reconnects: it starts at
// min and doubles up to max, each wait jittered by ±20% so that clients cut
// off together do not come back together (default 100ms, 1s).
func RetryBackoff(min, max time.Duration) Opt {
	return func(c *config) { c.retryMin, c.retryMax = min, max }
}

// MetadataMaxAge is how often metadata is refreshed even without an error
// asking for it (default 5 min).
func MetadataMaxAge(d time.Duration) Opt { return func(c *config) { c.metaMaxAge = d } }

// MaxResponseSize bounds the size of a response frame (default 100 MiB); a
// larger one closes the connection.
func MaxResponseSize(n int) Opt { return func(c *config) { c.maxFrame = n } }

// WithHooks attaches metrics hooks; see Hook.
func WithHooks(hooks ...Hook) Opt { return func(c *config) { c.hooks = append(c.hooks, hooks...) } }

// RequiredAcks sets the producer's acks (default AcksAll).
func RequiredAcks(a Acks) Opt { return func(c *config) { c.acks = a } }

// Idempotent turns the idempotent producer on or off (default on, as Kafka
// 3.x's enable.idempotence). On, each partition's batches carry the
// producer id and a sequence number, and the broker drops a retried batch
// it already has: see the package doc's delivery guarantees. It needs
// AcksAll: NewProducer fails with ErrInvalidOption when Idempotent(true) is
// given with another acks setting, and the default (not given) turns
// itself off under RequiredAcks(AcksLeader) or RequiredAcks(AcksNone).
func Idempotent(on bool) Opt {
	return func(c *config) { c.idempotent, c.idempotentSet = on, true }
}

// BatchSize is the uncompressed size in bytes at which a partition's open
// batch is closed and sent (default 16 KiB, Kafka's batch.size). A record
// larger than this goes alone in its own batch.
func BatchSize(n int) Opt { return func(c *config) { c.batchSize = n } }

// Linger is how long a batch may wait for more records before it is sent
// (default 5 ms, Kafka 4.0's linger.ms). 0 sends as soon as the partition
// has no request in flight.
func Linger(d time.Duration) Opt { return func(c *config) { c.linger = d } }

// Compression sets the batch codec (default record.None).
func Compression(codec record.Compression) Opt { return func(c *config) { c.compression = codec } }

// MaxInFlightPerBroker caps the produce requests in flight on one broker
// connection (default 5). Each request may carry many partitions; a
// partition is in at most one of them unless MaxInFlightPerPartition
// allows more (see the package doc on ordering).
func MaxInFlightPerBroker(n int) Opt { return func(c *config) { c.maxInFlight = n } }

// MaxInFlightPerPartition lets up to n batches of one partition be in
// flight at once (default 1), within MaxInFlightPerBroker, so the next
// batch travels while the broker writes the last one: about 15% more
// records/s with 1 MiB batches on one partition (perf/bench.md).
//
// With an idempotent producer (the default) n may be at most 5, Kafka's
// limit: the broker remembers a producer's last 5 batches per partition,
// so a retried one is still recognized. Order and exactly-once writes are
// kept: when a batch fails retriably, the ones behind it that the broker
// refused as out of sequence are resent after it in their order with
// their sequence numbers (see seq.go). The window counts from the oldest
// batch not yet answered, whatever the answers of the ones behind it, so
// that batch's retry is always among the 5 the broker remembers. Callbacks
// run in Produce order too: the broker answers each request when it is
// done (one waiting on another partition's fsync is overtaken), and the
// callbacks of a batch answered early wait for the older ones'.
//
// Without idempotence the price is Kafka's for
// max.in.flight.requests.per.connection > 1: when a batch fails and is
// retried after a later one succeeded, the retried records land after it
// (reordered; never lost or duplicated for that reason). Batches that
// fail together (a lost connection) are resent in their original order.
func MaxInFlightPerPartition(n int) Opt { return func(c *config) { c.partInFlight = n } }

// DeliveryTimeout bounds the time from Produce to the callback, retries
// included (default 2 min, Kafka's delivery.timeout.ms). Records still
// unacknowledged then fail with ErrDeliveryTimeout.
func DeliveryTimeout(d time.Duration) Opt { return func(c *config) { c.deliveryTimeout = d } }

// MaxBufferedBytes bounds the memory of records produced but not yet
// acknowledged (default 64 MiB). When it is reached Produce blocks until
// room frees up or its context ends, or fails at once with ErrBufferFull
// under FailWhenBufferFull.
func MaxBufferedBytes(n int64) Opt { return func(c *config) { c.maxBufferedBytes = n } }

// FailWhenBufferFull makes Produce fail with ErrBufferFull instead of
// blocking when MaxBufferedBytes is reached.
func FailWhenBufferFull() Opt { return func(c *config) { c.failWhenFull = true } }

// Partitioner selects the partitioner (default PartitionDefault).
func Partitioner(p Partitioning) Opt { return func(c *config) { c.partitioning = p } }

// MaxWait is how long the broker may hold a fetch waiting for MinBytes
// (default 500 ms).
func MaxWait(d time.Duration) Opt { return func(c *config) { c.maxWait = d } }

// MinBytes is the bytes a fetch waits for before it is answered (default 1).
func MinBytes(n int32) Opt { return func(c *config) { c.minBytes = n } }

// MaxBytes bounds the records of one fetch response (default 50 MiB). The
// first batch is returned whole even when larger, so the consumer never
// stalls.
func MaxBytes(n int32) Opt { return func(c *config) { c.maxBytes = n } }

// PartitionMaxBytes bounds the records of one partition in a fetch response
// (default 1 MiB).
func PartitionMaxBytes(n int32) Opt { return func(c *config) { c.partitionMaxBytes = n } }

// OffsetReset sets what the consumer does on OFFSET_OUT_OF_RANGE (default
// ResetEarliest).
func OffsetReset(p ResetPolicy) Opt { return func(c *config) { c.reset = p } }
