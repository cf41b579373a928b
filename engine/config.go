package engine

// Behavior: the engine's Config and the per-topic configs. Topic configs use
// Kafka's key names and validation ranges; unknown keys and bad values fail
// with ErrInvalidConfig naming the key. Only overrides are persisted, so a
// topic without an override follows the broker default it was opened with.

import (
	"fmt"
	"log"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/segment"
)

// MaxPartitionsPerTopic bounds CreateTopic: every partition holds open files
// and mappings, so a typo of 10^9 partitions must not take the broker down.
const MaxPartitionsPerTopic = 10000

// Config is everything Open needs. Start from DefaultConfig.
type Config struct {
	// DataDir holds topics.json and one directory per partition.
	DataDir string
	// BrokerID is this broker's id: in single-broker mode it is reported as
	// leader, replica and ISR member of every partition; in cluster mode the
	// roles ApplyTopic gives are read against it.
	BrokerID int32
	// Clustered: topics come from the cluster metadata, the broker calls
	// ApplyTopic and RemoveTopic; partitions opened from topics.json start
	// with no role (not served) until ApplyTopic gives one, and
	// CreateTopic, DeleteTopic and AlterTopicConfigs fail with
	// ErrNotController (see doc.go, "Cluster mode").
	Clustered bool
	// CreateTopicHook, when set, creates topics for the engine: auto-create
	// on produce and the group coordinator's creation of __consumer_offsets
	// call it instead of creating locally. The broker forwards it to the
	// controller and returns once the topic has been applied locally
	// (ApplyTopic) or the create failed; an error wrapping ErrTopicExists
	// counts as success. It is called with no engine lock held, never from
	// a produce's event loop.
	CreateTopicHook func(name string, partitions int32, configs map[string]string) error
	// AllocateProducerIDs, when set, gives InitProducerID blocks of ids
	// (the controller's, Kafka's KIP-730) instead of the producer_id_block
	// file: ids [first, first+count) are this broker's alone.
	AllocateProducerIDs func() (first int64, count int32, err error)
	// AlterPartitionHook, when set, sends a partition leader's ISR change
	// to the controller (Kafka's AlterPartition, KIP-497) and returns once
	// it is committed or refused; the committed state comes back through
	// ApplyTopic. It is called from a goroutine of its own, never under an
	// engine lock (replica.go). Without it the ISR never changes.
	AlterPartitionHook func(topic string, partition, leader, leaderEpoch, partitionEpoch int32, isr []int32) error
	// ReplicaLagTimeMax is replica.lag.time.max.ms: how long a follower may
	// go without catching up before its leader asks to drop it from the
	// ISR. 0 means Kafka's default, 30 s.
	ReplicaLagTimeMax time.Duration
	// DefaultPartitions is used by CreateTopic with -1 and by auto-creation.
	DefaultPartitions int32
	// Topic holds the defaults of every topic config (overridable per topic).
	Topic TopicConfig
	// RetentionCheckInterval is the period of the background ApplyRetention
	// pass over every partition; 0 or negative disables it.
	RetentionCheckInterval time.Duration
	// CompactionCheckInterval is the period of the background compaction
	// pass over compacted topics' partitions; 0 or negative disables it.
	CompactionCheckInterval time.Duration
	// AutoCreateTopics: Produce to an unknown topic creates it with the
	// defaults. Off by default, unlike Kafka, because a mistyped topic name
	// silently creating a topic is the more common accident; the broker
	// config layer may turn it on.
	AutoCreateTopics bool
	// IndexIntervalBytes and MaxIndexBytes tune every partition's segments
	// (broker-wide, not per topic).
	IndexIntervalBytes int
	MaxIndexBytes      int
	// DirectWriteBytes: batches of at least this many bytes are appended
	// with O_DIRECT, past the page cache (segment.Config); 0 = never;
	// DirectWriteAuto = measure the data dir at Open and choose
	// (segment.CalibrateDir).
	DirectWriteBytes int
	// BeforeAppendWrite, when set, runs before each append's write to a
	// partition's log, under the log's lock: a test hook that makes one
	// partition's disk slow. nil outside tests.
	BeforeAppendWrite func(topic string, partition int32)
	// MinFreeBytes: appends are refused (ErrDiskFull) while the data dir's
	// filesystem has less free space than this, so metadata writes always
	// fit (logdir.go). -1: the smaller of 64 MiB and 5% of the filesystem;
	// 0: appends go on until the filesystem answers ENOSPC.
	MinFreeBytes int64
	// LogDirCheckInterval is how often the data dir's free space is read
	// even without appends, so /health and appends see space that returns.
	LogDirCheckInterval time.Duration
	// Logf prints the engine's log lines (a full disk, space returning).
	Logf func(format string, args ...any)
}

// DirectWriteAuto as Config.DirectWriteBytes lets Open choose between the
// page cache and O_DIRECT by measuring the data dir.
const DirectWriteAuto = -1

// TopicConfig is the effective configuration of one topic.
type TopicConfig struct {
	RetentionMs       time.Duration       // retention.ms; -1 = unlimited
	RetentionBytes    int64               // retention.bytes; -1 = unlimited
	SegmentBytes      int64               // segment.bytes
	SegmentMs         time.Duration       // segment.ms
	MaxMessageBytes   int32               // max.message.bytes: largest batch accepted
	FlushPolicy       segment.FlushPolicy // flush.policy (Spate): never | interval | always
	FlushMs           time.Duration       // flush.ms: period of flush.policy=interval
	CleanupPolicy     string              // cleanup.policy: "delete", "compact" or "compact,delete"
	MinInsyncReplicas int32               // min.insync.replicas: checked by acks=all
	// Compaction (compact.go); used only when CleanupPolicy includes compact.
	DeleteRetentionMs      time.Duration // delete.retention.ms: how long tombstones outlive their first cleaning
	MinCompactionLagMs     time.Duration // min.compaction.lag.ms: records younger than this are not cleaned
	MinCleanableDirtyRatio float64       // min.cleanable.dirty.ratio: clean once this share of the log is dirty
}

// compacted reports whether cleanup.policy includes compact.
func (c *TopicConfig) compacted() bool { return strings.Contains(c.CleanupPolicy, "compact") }

// deletes reports whether cleanup.policy includes delete (retention applies).
func (c *TopicConfig) deletes() bool { return strings.Contains(c.CleanupPolicy, "delete") }

// DefaultConfig returns the engine defaults (Kafka's where Kafka has one).
func DefaultConfig() Config {
	seg := segment.DefaultConfig()
	return Config{
		DataDir:           "./data",
		DefaultPartitions: 1, // Kafka num.partitions
		Topic: TopicConfig{
			RetentionMs:    7 * 24 * time.Hour, // Kafka log.retention.hours=168
			RetentionBytes: -1,                 // Kafka: unlimited
			SegmentBytes:   1 << 30,            // Kafka log.segment.bytes
			SegmentMs:      7 * 24 * time.Hour, // Kafka log.roll.hours=168
			// 8 MiB, not Kafka's ~1 MiB: a 1 MiB producer batch plus its
			// overhead must fit, and Spate's benchmarks sweep up to 1 MiB.
			MaxMessageBytes:   8 << 20,
			FlushPolicy:       segment.FlushNever, // like Kafka: durability from replication
			FlushMs:           time.Second,        // only used by flush.policy=interval
			CleanupPolicy:     "delete",
			MinInsyncReplicas: 1,
			// Kafka's defaults: delete.retention.ms = 1 day,
			// min.compaction.lag.ms = 0, min.cleanable.dirty.ratio = 0.5.
			DeleteRetentionMs:      24 * time.Hour,
			MinCompactionLagMs:     0,
			MinCleanableDirtyRatio: 0.5,
		},
		CompactionCheckInterval: 15 * time.Second, // Kafka log.cleaner.backoff.ms
		RetentionCheckInterval:  5 * time.Minute,  // Kafka log.retention.check.interval.ms
		AutoCreateTopics:        false,
		IndexIntervalBytes:      seg.IndexIntervalBytes,
		DirectWriteBytes:        seg.DirectWriteBytes,
		MaxIndexBytes:           seg.MaxIndexBytes,
		MinFreeBytes:            -1,
		LogDirCheckInterval:     time.Second,
		Logf:                    log.Printf,
	}
}

// topicKey is one per-topic config: how to apply a string value and how to
// show the effective one.
type topicKey struct {
	set func(c *TopicConfig, v string) error
	get func(c *TopicConfig) string
}

func parseInt(v string, min, max int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%d is outside [%d, %d]", n, min, max)
	}
	return n, nil
}

const maxInt64 = 1<<63 - 1

func msString(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

var topicKeys = map[string]topicKey{
	"retention.ms": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, -1, maxInt64/int64(time.Millisecond))
			if err != nil {
				return err
			}
			c.RetentionMs = time.Duration(n) * time.Millisecond
			if n < 0 {
				c.RetentionMs = -1
			}
			return nil
		},
		func(c *TopicConfig) string { return msString(c.RetentionMs) }},
	"retention.bytes": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, -1, maxInt64)
			c.RetentionBytes = n
			return err
		},
		func(c *TopicConfig) string { return strconv.FormatInt(c.RetentionBytes, 10) }},
	"segment.bytes": {
		func(c *TopicConfig, v string) error {
			// Below one batch header a segment holds nothing; above 2 GiB-1 the
			// index's 32-bit positions overflow.
			n, err := parseInt(v, 61, 1<<31-1)
			c.SegmentBytes = n
			return err
		},
		func(c *TopicConfig) string { return strconv.FormatInt(c.SegmentBytes, 10) }},
	"segment.ms": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, 1, maxInt64/int64(time.Millisecond))
			c.SegmentMs = time.Duration(n) * time.Millisecond
			return err
		},
		func(c *TopicConfig) string { return msString(c.SegmentMs) }},
	"max.message.bytes": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, 0, 1<<31-1)
			c.MaxMessageBytes = int32(n)
			return err
		},
		func(c *TopicConfig) string { return strconv.FormatInt(int64(c.MaxMessageBytes), 10) }},
	"flush.policy": {
		func(c *TopicConfig, v string) (err error) {
			c.FlushPolicy, err = segment.ParseFlushPolicy(strings.TrimSpace(v))
			return err
		},
		func(c *TopicConfig) string { return c.FlushPolicy.String() }},
	"flush.ms": {
		func(c *TopicConfig, v string) error {
			// Kafka allows 0; here the interval drives a ticker, and a zero
			// period would spin, so the floor is 1 ms.
			n, err := parseInt(v, 1, maxInt64/int64(time.Millisecond))
			c.FlushMs = time.Duration(n) * time.Millisecond
			return err
		},
		func(c *TopicConfig) string { return msString(c.FlushMs) }},
	"cleanup.policy": {
		func(c *TopicConfig, v string) error {
			var compact, del bool
			for _, p := range strings.Split(v, ",") {
				switch strings.TrimSpace(p) {
				case "delete":
					del = true
				case "compact":
					compact = true
				default:
					return fmt.Errorf("%q is not a cleanup policy (delete, compact or both)", v)
				}
			}
			// One spelling per meaning, so Map shows what Describe compares.
			switch {
			case compact && del:
				c.CleanupPolicy = "compact,delete"
			case compact:
				c.CleanupPolicy = "compact"
			default:
				c.CleanupPolicy = "delete"
			}
			return nil
		},
		func(c *TopicConfig) string { return c.CleanupPolicy }},
	"delete.retention.ms": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, 0, maxInt64/int64(time.Millisecond))
			c.DeleteRetentionMs = time.Duration(n) * time.Millisecond
			return err
		},
		func(c *TopicConfig) string { return msString(c.DeleteRetentionMs) }},
	"min.compaction.lag.ms": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, 0, maxInt64/int64(time.Millisecond))
			c.MinCompactionLagMs = time.Duration(n) * time.Millisecond
			return err
		},
		func(c *TopicConfig) string { return msString(c.MinCompactionLagMs) }},
	"min.cleanable.dirty.ratio": {
		func(c *TopicConfig, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			if !(f >= 0 && f <= 1) {
				return fmt.Errorf("%v is outside [0, 1]", f)
			}
			c.MinCleanableDirtyRatio = f
			return nil
		},
		func(c *TopicConfig) string { return strconv.FormatFloat(c.MinCleanableDirtyRatio, 'g', -1, 64) }},
	"min.insync.replicas": {
		func(c *TopicConfig, v string) error {
			n, err := parseInt(v, 1, 1<<31-1)
			c.MinInsyncReplicas = int32(n)
			return err
		},
		func(c *TopicConfig) string { return strconv.FormatInt(int64(c.MinInsyncReplicas), 10) }},
}

// applyOverrides returns base with the overrides applied, or an error
// wrapping ErrInvalidConfig that names the first bad key (in sorted order,
// so the message is stable).
func applyOverrides(base TopicConfig, overrides map[string]string) (TopicConfig, error) {
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := base
	for _, k := range keys {
		if err := c.Set(k, overrides[k]); err != nil {
			return base, err
		}
	}
	return c, nil
}

// Set applies one topic-level key by its Kafka name (e.g. "cleanup.policy")
// with the checks of a per-topic override. Errors wrap ErrInvalidConfig
// and name the key.
func (c *TopicConfig) Set(name, value string) error {
	tk, ok := topicKeys[name]
	if !ok {
		return fmt.Errorf("%w: unknown key %q", ErrInvalidConfig, name)
	}
	if err := tk.set(c, value); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, name, err)
	}
	return nil
}

// Get returns the effective value of one topic-level key by its Kafka
// name, "" for an unknown key.
func (c TopicConfig) Get(name string) string {
	if tk, ok := topicKeys[name]; ok {
		return tk.get(&c)
	}
	return ""
}

// Map returns every topic config by its Kafka name, as strings.
func (c TopicConfig) Map() map[string]string {
	m := make(map[string]string, len(topicKeys))
	for k, tk := range topicKeys {
		m[k] = tk.get(&c)
	}
	return m
}

// segmentConfig maps the topic config onto one partition log's config.
func (e *Engine) segmentConfig(c TopicConfig) segment.Config {
	s := segment.DefaultConfig()
	s.SegmentBytes = c.SegmentBytes
	s.SegmentAge = c.SegmentMs
	s.IndexIntervalBytes = e.cfg.IndexIntervalBytes
	s.DirectWriteBytes = e.cfg.DirectWriteBytes
	s.WritePolicy = e.writePolicy
	s.MaxIndexBytes = e.cfg.MaxIndexBytes
	s.Flush = c.FlushPolicy
	s.FlushInterval = c.FlushMs
	s.RetentionBytes = c.RetentionBytes
	switch {
	case c.RetentionMs < 0:
		s.RetentionAge = -1
	case c.RetentionMs == 0:
		// Kafka's retention.ms=0 means "keep nothing past its segment";
		// segment reads 0 as unlimited, so ask for the smallest positive age.
		s.RetentionAge = time.Nanosecond
	default:
		s.RetentionAge = c.RetentionMs
	}
	if !c.deletes() {
		// cleanup.policy=compact alone: Kafka deletes nothing by age or
		// size, the cleaner alone bounds the log.
		s.RetentionBytes, s.RetentionAge = -1, -1
	}
	return s
}

// validate checks the engine config itself at Open.
func (c Config) validate() error {
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%w: DataDir is empty", ErrInvalidConfig)
	case c.DefaultPartitions < 1 || c.DefaultPartitions > MaxPartitionsPerTopic:
		return fmt.Errorf("%w: DefaultPartitions %d outside [1, %d]", ErrInvalidConfig, c.DefaultPartitions, MaxPartitionsPerTopic)
	case c.DirectWriteBytes < 0 && c.DirectWriteBytes != DirectWriteAuto:
		return fmt.Errorf("%w: DirectWriteBytes must be DirectWriteAuto or not negative", ErrInvalidConfig)
	case c.IndexIntervalBytes <= 0 || c.MaxIndexBytes <= 0:
		return fmt.Errorf("%w: IndexIntervalBytes and MaxIndexBytes must be positive", ErrInvalidConfig)
	case c.MinFreeBytes < -1:
		return fmt.Errorf("%w: MinFreeBytes %d: want -1 (automatic), 0 or more", ErrInvalidConfig, c.MinFreeBytes)
	case c.Logf == nil:
		return fmt.Errorf("%w: Logf is nil", ErrInvalidConfig)
	}
	// The defaults must pass the same checks as an override would.
	if _, err := applyOverrides(c.Topic, c.Topic.Map()); err != nil {
		return fmt.Errorf("default topic config: %w", err)
	}
	return nil
}
