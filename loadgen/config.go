package loadgen

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/record"
)

// ErrInvalidConfig is returned (wrapped) by every run for a Config that
// cannot be run; the message names the field.
var ErrInvalidConfig = errors.New("loadgen: invalid config")

// Sizes is a record value size: fixed when Min == Max, otherwise drawn
// uniformly from [Min, Max] for every record.
type Sizes struct {
	Min, Max int
}

// ParseSizes reads "100" (fixed) or "64..1024" (uniform, bounds included).
func ParseSizes(s string) (Sizes, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "..")
	min, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return Sizes{}, fmt.Errorf("loadgen: record size %q: want N or MIN..MAX: %w", s, err)
	}
	max := min
	if isRange {
		if max, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return Sizes{}, fmt.Errorf("loadgen: record size %q: want N or MIN..MAX: %w", s, err)
		}
	}
	return Sizes{Min: min, Max: max}, nil
}

// String returns the form ParseSizes reads.
func (s Sizes) String() string {
	if s.Min == s.Max {
		return strconv.Itoa(s.Min)
	}
	return fmt.Sprintf("%d..%d", s.Min, s.Max)
}

// ParseCompression maps a codec name (none, gzip, snappy, lz4, zstd) to
// its record.Compression.
func ParseCompression(name string) (record.Compression, error) {
	for c, n := range compressionNames {
		if strings.EqualFold(name, n) {
			return record.Compression(c), nil
		}
	}
	return 0, fmt.Errorf("loadgen: compression %q: want none, gzip, snappy, lz4 or zstd: %w", name, ErrInvalidConfig)
}

// compressionNames is indexed by record.Compression.
var compressionNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

func compressionName(c record.Compression) string {
	if int(c) >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return strconv.Itoa(int(c))
}

// Config describes one run. The zero value of an optional field means the
// default given beside it.
type Config struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string
	// Topic is the topic to write or read. Required. Produce and E2E create
	// it with Partitions partitions when it does not exist.
	Topic string
	// Partitions is the partition count of a topic created by the run
	// (default 1). An existing topic keeps its own.
	Partitions int32
	// ReplicationFactor of a created topic (default: the broker's).
	ReplicationFactor int16

	// Producers and Consumers are the number of client instances, each
	// with its own connections (default 1 each, for the runs that use them).
	Producers int
	Consumers int

	// RecordSize is the value size in bytes (default 100). E2E needs at
	// least 8 bytes for the send timestamp. Values are random bytes (see
	// payloadBytes): compressed runs show the codec's CPU cost more than
	// its gain.
	RecordSize Sizes
	// KeySpace: 0 sends records without a key; K > 0 gives each record a
	// key drawn uniformly from K distinct keys.
	KeySpace int

	// Producer settings, passed to client.NewProducer. Acks has no
	// default: its zero value is client.AcksNone, as in Kafka's acks=0.
	Acks        client.Acks
	Compression record.Compression
	BatchSize   int           // default 1 MiB
	Linger      time.Duration // 0 means the client's "send when idle"
	MaxInFlight int           // per broker connection; default 5
	// PartitionInFlight is client.MaxInFlightPerPartition: batches of one
	// partition in flight at once. Default 2 for a producer that is not
	// idempotent (acks 0 or 1), else 1, the client's default. With acks=all
	// the producer is idempotent whatever the window, which the client
	// then bounds at 5 (Kafka's max.in.flight.requests.per.connection).
	PartitionInFlight int
	// BufferBytes bounds each producer's records awaiting acknowledgement
	// (client.MaxBufferedBytes); default 4 × BatchSize × Partitions. In a
	// closed loop the buffer is always full, so its size, not the broker,
	// sets most of the latency (Little's law): a buffer much larger than
	// the batches that can be in flight adds queueing and no throughput.
	BufferBytes int64
	// ClientOpts are appended to every client the run builds (producers,
	// consumers and the admin), after the options above.
	ClientOpts []client.Opt

	// PerRecord sends every record with client.Producer.Produce (a
	// *Record and a callback each, the way Kafka clients send). Without it
	// a closed-loop run without keys builds whole batches with
	// client.Producer.ProduceBatch, each for the next partition in turn.
	// Open-loop runs, keyed runs and E2E always send per record: they need
	// a send time per record, or the key's partition. Result.API says which
	// ran.
	PerRecord bool

	// Rate is the open-loop target in records/s across all producers; 0
	// runs closed-loop (as fast as possible).
	Rate float64
	// Warmup is sent before measuring starts; its records are excluded.
	Warmup time.Duration
	// Duration is how long to measure (after Warmup). Records, when set,
	// stops after that many measured records instead (whichever comes
	// first when both are set). One of the two is required.
	Duration time.Duration
	Records  int64

	// Progress receives a fixed-width line per second; nil prints none.
	Progress io.Writer
}

// acksName names the acks setting the way Kafka users write it.
func acksName(a client.Acks) string {
	if a == client.AcksAll {
		return "all"
	}
	return strconv.Itoa(int(a))
}

// ParseAcks reads "0", "1", "all" or "-1".
func ParseAcks(s string) (client.Acks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0":
		return client.AcksNone, nil
	case "1":
		return client.AcksLeader, nil
	case "all", "-1":
		return client.AcksAll, nil
	}
	return 0, fmt.Errorf("loadgen: acks %q: want 0, 1 or all: %w", s, ErrInvalidConfig)
}

// withDefaults fills the defaults and checks what every run needs.
func (c Config) withDefaults() (Config, error) {
	if len(c.Brokers) == 0 {
		return c, fmt.Errorf("loadgen: no brokers: %w", ErrInvalidConfig)
	}
	if c.Topic == "" {
		return c, fmt.Errorf("loadgen: no topic: %w", ErrInvalidConfig)
	}
	if c.Partitions == 0 {
		c.Partitions = 1
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Consumers == 0 {
		c.Consumers = 1
	}
	if c.RecordSize == (Sizes{}) {
		c.RecordSize = Sizes{Min: 100, Max: 100}
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1 << 20
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 5
	}
	if c.PartitionInFlight == 0 {
		c.PartitionInFlight = 1
		if c.Acks != client.AcksAll {
			c.PartitionInFlight = 2
		}
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = 4 * int64(c.BatchSize) * int64(c.Partitions)
	}
	switch {
	case c.Partitions < 1:
		return c, fmt.Errorf("loadgen: topic %q: partitions %d: %w", c.Topic, c.Partitions, ErrInvalidConfig)
	case c.Producers < 0 || c.Consumers < 0:
		return c, fmt.Errorf("loadgen: producers %d, consumers %d: %w", c.Producers, c.Consumers, ErrInvalidConfig)
	case c.RecordSize.Min < 0 || c.RecordSize.Max < c.RecordSize.Min:
		return c, fmt.Errorf("loadgen: record size %s: %w", c.RecordSize, ErrInvalidConfig)
	case c.PartitionInFlight < 1:
		return c, fmt.Errorf("loadgen: max in flight per partition %d: %w", c.PartitionInFlight, ErrInvalidConfig)
	case c.KeySpace < 0:
		return c, fmt.Errorf("loadgen: keyspace %d: %w", c.KeySpace, ErrInvalidConfig)
	case c.Rate < 0:
		return c, fmt.Errorf("loadgen: rate %g: %w", c.Rate, ErrInvalidConfig)
	case c.Duration <= 0 && c.Records <= 0:
		return c, fmt.Errorf("loadgen: neither a duration nor a record count: %w", ErrInvalidConfig)
	case c.Warmup < 0:
		return c, fmt.Errorf("loadgen: warm-up %s: %w", c.Warmup, ErrInvalidConfig)
	}
	return c, nil
}

// clientOpts returns the options of every client of the run.
func (c *Config) clientOpts(extra ...client.Opt) []client.Opt {
	opts := append([]client.Opt{client.SeedBrokers(c.Brokers...)}, extra...)
	return append(opts, c.ClientOpts...)
}

// bulk reports whether producers send whole batches (see PerRecord).
func (c *Config) bulk() bool { return !c.PerRecord && c.Rate == 0 && c.KeySpace == 0 }

// producerOpts returns a producer's options.
func (c *Config) producerOpts() []client.Opt {
	return c.clientOpts(client.RequiredAcks(c.Acks), client.Compression(c.Compression),
		client.BatchSize(c.BatchSize), client.Linger(c.Linger), client.MaxInFlightPerBroker(c.MaxInFlight),
		client.MaxInFlightPerPartition(c.PartitionInFlight),
		client.MaxBufferedBytes(c.BufferBytes))
}

// idempotent reports whether producers are idempotent: with acks=all, the
// client's default.
func (c *Config) idempotent() bool { return c.Acks == client.AcksAll }
