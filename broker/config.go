package broker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/segment"
)

// ErrConfig is wrapped by every configuration error: an unknown key, a value
// that does not parse, or one out of range. Test with errors.Is.
var ErrConfig = errors.New("broker: invalid configuration")

// Config is everything a broker needs to start. The zero value is not
// usable; start from DefaultConfig and apply sources with Load.
type Config struct {
	DataDir string // data.dir: where partitions and metadata live
	Addr    string // addr: native protocol listener, host:port (port 0 picks one)
	// AdvertisedAddr is advertised.addr: the native host:port this broker
	// registers with the controller and Metadata names, so clients and
	// other brokers' follower fetchers dial it (Kafka's
	// advertised.listeners); empty: Addr as bound.
	AdvertisedAddr string
	AdminAddr      string // admin.addr: HTTP /metrics and /health; empty disables it
	BrokerID       int32  // broker.id

	// KafkaAddr is kafka.addr: the Kafka protocol listener, host:port;
	// empty disables it.
	KafkaAddr string
	// KafkaAdvertisedAddr is kafka.advertised.addr: the host:port Kafka
	// clients are told to dial in Metadata; empty: KafkaAddr as bound.
	KafkaAdvertisedAddr string

	// The cluster (cluster.go). With neither ControllerAddr nor Voters set
	// the broker is a one-voter cluster of itself, on no port.
	ControllerAddr           string        // controller.addr: the metadata quorum's (raft) listener, host:port
	ControllerAdvertisedAddr string        // controller.advertised.addr: what the other nodes dial; empty: ControllerAddr as bound
	Voters                   string        // controller.quorum.voters: 1@host:port,2@host:port,3@host:port
	SessionTimeout           time.Duration // broker.session.timeout.ms: a broker silent this long is fenced
	Rack                     string        // broker.rack: replicas of a partition go to different racks where possible
	DefaultReplicationFactor int32         // default.replication.factor: of auto-created topics and CreateTopics with -1
	ReplicaLagTimeMax        time.Duration // replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR

	// Defaults for new topics (each may be overridden per topic).
	NumPartitions       int32         // num.partitions: for auto-created topics and CreateTopics with -1
	AutoCreateTopics    bool          // auto.create.topics.enable: produce/metadata to an unknown topic creates it
	SegmentBytes        int64         // log.segment.bytes
	SegmentAge          time.Duration // log.segment.ms
	RetentionBytes      int64         // log.retention.bytes (-1: unlimited)
	RetentionAge        time.Duration // log.retention.ms (-1: unlimited)
	RetentionCheckEvery time.Duration // log.retention.check.interval.ms
	FlushPolicy         string        // log.flush.policy: never | interval | always
	FlushInterval       time.Duration // log.flush.interval.ms (for interval)
	IndexIntervalBytes  int           // log.index.interval.bytes
	DirectWriteBytes    int           // log.direct.write.bytes (Spate): batches this big skip the page cache (0: never; engine.DirectWriteAuto: measure and choose)
	MinFreeBytes        int64         // log.dir.min.free.bytes (Spate): refuse appends below this much free space (-1: automatic)
	MaxMessageBytes     int32         // message.max.bytes: largest batch accepted
	MaxFrameBytes       int32         // socket.request.max.bytes: largest frame read off a socket
	MaxInFlightBytes    int64         // connection.max.inflight.bytes: per-connection cap before reads pause
	IdleTimeout         time.Duration // connections.max.idle.ms
	EventLoops          int           // num.event.loops (0: one per core)
	ShutdownTimeout     time.Duration // shutdown.timeout.ms: how long a graceful stop waits for in-flight requests
	FetchWorkers        int           // num.fetch.workers: goroutines that fault cold pages in off the event loops

	// Log cleanup defaults of new topics: log.cleanup.policy and
	// log.cleaner.{delete.retention,min.compaction.lag}.ms and
	// log.cleaner.min.cleanable.ratio, Kafka's broker names for the topic
	// keys cleanup.policy, delete.retention.ms, min.compaction.lag.ms and
	// min.cleanable.dirty.ratio. Only those four fields are used.
	Cleanup engine.TopicConfig
	// CleanerBackoff is log.cleaner.backoff.ms: how often the cleaner looks
	// for compacted partitions with enough to clean (0: never).
	CleanerBackoff time.Duration

	// Group coordinator (engine.GroupConfig; Kafka's names and defaults).
	GroupInitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms: hold an empty group's first rebalance for late joiners
	GroupMinSessionTimeout     time.Duration // group.min.session.timeout.ms: shortest session a member may ask for
	GroupMaxSessionTimeout     time.Duration // group.max.session.timeout.ms: longest session a member may ask for
	OffsetsTopicPartitions     int32         // offsets.topic.num.partitions: partitions __consumer_offsets is created with
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor:
	// replicas of __consumer_offsets in a cluster; -1: 3, or every live
	// broker when fewer are alive at its creation.
	OffsetsTopicReplicationFactor int32
	OffsetsRetentionMinutes       int64         // offsets.retention.minutes: how long offsets outlive their group's use
	OffsetsRetentionCheck         time.Duration // offsets.retention.check.interval.ms
	OffsetMetadataMaxBytes        int32         // offset.metadata.max.bytes: longest metadata string of a committed offset

	// beforeAppendWrite is engine.Config.BeforeAppendWrite: a test hook
	// that makes one partition's disk slow; nil outside tests.
	beforeAppendWrite func(topic string, partition int32)
	// HoldReplicaFetches, when set and returning true, keeps this broker's
	// follower fetchers from fetching (replica.go) while it stays
	// registered: a test hook for a follower that falls behind without
	// being fenced. Exported for tests in other packages; nil outside tests.
	HoldReplicaFetches func() bool
}

// DefaultConfig returns the embedded defaults `make run` uses.
func DefaultConfig() Config {
	return Config{
		DataDir:   "./data",
		Addr:      "127.0.0.1:9192",
		AdminAddr: "127.0.0.1:9644",
		KafkaAddr: "127.0.0.1:9092", // Kafka's port: clients' defaults find it
		BrokerID:  0,

		SessionTimeout:           9 * time.Second, // Kafka's broker.session.timeout.ms
		DefaultReplicationFactor: 1,
		ReplicaLagTimeMax:        30 * time.Second, // Kafka's replica.lag.time.max.ms

		NumPartitions:       1,    // Kafka's default
		AutoCreateTopics:    true, // Kafka's default: `spate produce t` just works
		SegmentBytes:        1 << 30,
		SegmentAge:          7 * 24 * time.Hour,
		RetentionBytes:      -1,
		RetentionAge:        7 * 24 * time.Hour,
		RetentionCheckEvery: 5 * time.Minute,
		FlushPolicy:         "never", // like Kafka: durability comes from replication; see docs/durability.md
		FlushInterval:       time.Second,
		IndexIntervalBytes:  4096,
		DirectWriteBytes:    engine.DirectWriteAuto,              // docs/architecture.md, "Direct writes"
		MinFreeBytes:        engine.DefaultConfig().MinFreeBytes, // the smaller of 64 MiB and 5% of the filesystem
		MaxMessageBytes:     8 << 20,                             // a 1 MiB producer batch fits with room to spare
		MaxFrameBytes:       100 << 20,                           // Kafka's socket.request.max.bytes
		MaxInFlightBytes:    64 << 20,
		IdleTimeout:         10 * time.Minute,
		EventLoops:          0,
		ShutdownTimeout:     10 * time.Second,
		FetchWorkers:        4,
		Cleanup:             engine.DefaultConfig().Topic,
		CleanerBackoff:      engine.DefaultConfig().CompactionCheckInterval,

		GroupInitialRebalanceDelay:    3 * time.Second,  // Kafka's default
		GroupMinSessionTimeout:        6 * time.Second,  // Kafka's default
		GroupMaxSessionTimeout:        30 * time.Minute, // Kafka's default
		OffsetsTopicPartitions:        50,               // Kafka's default
		OffsetsTopicReplicationFactor: -1,
		OffsetsRetentionMinutes:       7 * 24 * 60,      // Kafka's default: 7 days
		OffsetsRetentionCheck:         10 * time.Minute, // Kafka's default
		OffsetMetadataMaxBytes:        4096,             // Kafka's default
	}
}

// groupConfig maps the group keys onto the coordinator's configuration;
// the fields without a broker key keep engine.DefaultGroupConfig's values.
func (c *Config) groupConfig() engine.GroupConfig {
	g := engine.DefaultGroupConfig()
	g.InitialRebalanceDelay = c.GroupInitialRebalanceDelay
	g.MinSessionTimeout = c.GroupMinSessionTimeout
	g.MaxSessionTimeout = c.GroupMaxSessionTimeout
	g.OffsetsTopicPartitions = c.OffsetsTopicPartitions
	g.OffsetsRetention = time.Duration(c.OffsetsRetentionMinutes) * time.Minute
	g.OffsetsRetentionCheckInterval = c.OffsetsRetentionCheck
	return g
}

// key describes one configuration key: its name in a config file, and how
// to set and show it. Env var and flag names derive from the name.
type key struct {
	name string
	doc  string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

func strKey(name, doc string, p func(*Config) *string) key {
	return key{name, doc,
		func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }}
}

func intKey[T int | int32 | int64](name, doc string, min int64, p func(*Config) *T) key {
	return key{name, doc,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			if n < min {
				return fmt.Errorf("%d is below the minimum %d", n, min)
			}
			if int64(T(n)) != n {
				return fmt.Errorf("%d is out of range", n)
			}
			*p(c) = T(n)
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(int64(*p(c)), 10) }}
}

// cleanupKey is a broker key that sets the default of a topic-level
// cleanup key (Config.Cleanup), with the topic key's own checks.
func cleanupKey(name, doc, topicKey string) key {
	return key{name, doc,
		func(c *Config, v string) error { return c.Cleanup.Set(topicKey, v) },
		func(c *Config) string { return c.Cleanup.Get(topicKey) }}
}

// msKey is a duration given in milliseconds, Kafka style; -1 means "never" where allowed.
func msKey(name, doc string, allowNever bool, p func(*Config) *time.Duration) key {
	return key{name, doc,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a whole number of milliseconds", v)
			}
			switch {
			case n == -1 && allowNever:
				*p(c) = -1
			case n < 0:
				return fmt.Errorf("%d is negative", n)
			default:
				*p(c) = time.Duration(n) * time.Millisecond
			}
			return nil
		},
		func(c *Config) string {
			if *p(c) < 0 {
				return "-1"
			}
			return strconv.FormatInt(p(c).Milliseconds(), 10)
		}}
}

var keys = []key{
	strKey("data.dir", "directory holding partitions and metadata", func(c *Config) *string { return &c.DataDir }),
	strKey("addr", "native protocol listener host:port (port 0 picks a free port)", func(c *Config) *string { return &c.Addr }),
	strKey("advertised.addr", "native host:port registered with the controller and named in Metadata, for clients and other brokers to dial, e.g. behind NAT or a proxy (empty: addr as bound)", func(c *Config) *string { return &c.AdvertisedAddr }),
	strKey("admin.addr", "admin HTTP listener for /metrics and /health (empty disables)", func(c *Config) *string { return &c.AdminAddr }),
	strKey("kafka.addr", "Kafka protocol listener host:port (empty disables; port 0 picks a free port)", func(c *Config) *string { return &c.KafkaAddr }),
	strKey("kafka.advertised.addr", "host:port Kafka clients are told to dial (empty: kafka.addr as bound)", func(c *Config) *string { return &c.KafkaAdvertisedAddr }),
	intKey("broker.id", "this broker's id", 0, func(c *Config) *int32 { return &c.BrokerID }),
	strKey("controller.addr", "the metadata quorum's (raft) listener host:port; empty, with no voters: a one-voter cluster of this broker alone, on no port", func(c *Config) *string { return &c.ControllerAddr }),
	strKey("controller.advertised.addr", "host:port the other metadata nodes dial to reach this one (raft's advertise address); a voter's entry in controller.quorum.voters must name it (empty: controller.addr as bound)", func(c *Config) *string { return &c.ControllerAdvertisedAddr }),
	{"controller.quorum.voters", "the metadata quorum: id@host:port,... of up to three voting brokers (their controller.addr); empty with controller.addr set: a one-voter cluster of this broker",
		func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if _, err := cluster.ParseVoters(v); err != nil {
				return err
			}
			c.Voters = v
			return nil
		},
		func(c *Config) string { return c.Voters }},
	msKey("replica.lag.time.max.ms", "a follower that has not caught up with its leader for this long is dropped from the ISR (through the controller)", false, func(c *Config) *time.Duration { return &c.ReplicaLagTimeMax }),
	msKey("broker.session.timeout.ms", "a broker that sent the controller no heartbeat for this long is fenced and its partitions get new leaders", false, func(c *Config) *time.Duration { return &c.SessionTimeout }),
	strKey("broker.rack", "this broker's rack: a partition's replicas are spread over racks", func(c *Config) *string { return &c.Rack }),
	intKey("default.replication.factor", "replicas of an auto-created topic and of CreateTopics with -1", 1, func(c *Config) *int32 { return &c.DefaultReplicationFactor }),
	intKey("num.partitions", "partitions of an auto-created topic", 1, func(c *Config) *int32 { return &c.NumPartitions }),
	{"auto.create.topics.enable", "create unknown topics on produce or metadata",
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			c.AutoCreateTopics = b
			return nil
		},
		func(c *Config) string { return strconv.FormatBool(c.AutoCreateTopics) }},
	intKey("log.segment.bytes", "roll a segment at this size", 1<<14, func(c *Config) *int64 { return &c.SegmentBytes }),
	msKey("log.segment.ms", "roll a segment at this age", false, func(c *Config) *time.Duration { return &c.SegmentAge }),
	intKey("log.retention.bytes", "delete old segments above this partition size (-1: unlimited)", -1, func(c *Config) *int64 { return &c.RetentionBytes }),
	msKey("log.retention.ms", "delete segments older than this (-1: unlimited)", true, func(c *Config) *time.Duration { return &c.RetentionAge }),
	msKey("log.retention.check.interval.ms", "how often retention runs", false, func(c *Config) *time.Duration { return &c.RetentionCheckEvery }),
	{"log.flush.policy", "when appends are fdatasync'd: never | interval | always",
		func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if _, err := segment.ParseFlushPolicy(v); err != nil {
				return err
			}
			c.FlushPolicy = v
			return nil
		},
		func(c *Config) string { return c.FlushPolicy }},
	msKey("log.flush.interval.ms", "fdatasync period under log.flush.policy=interval", false, func(c *Config) *time.Duration { return &c.FlushInterval }),
	intKey("log.index.interval.bytes", "bytes of log between sparse index entries", 1, func(c *Config) *int { return &c.IndexIntervalBytes }),
	{"log.direct.write.bytes", "auto: measure the data dir at start and write large batches through the page cache or with O_DIRECT, whichever is faster; or batches of at least this many bytes are written with O_DIRECT (0: never)",
		func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if v == "auto" {
				c.DirectWriteBytes = engine.DirectWriteAuto
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is neither auto nor a non-negative integer", v)
			}
			c.DirectWriteBytes = n
			return nil
		},
		func(c *Config) string {
			if c.DirectWriteBytes == engine.DirectWriteAuto {
				return "auto"
			}
			return strconv.Itoa(c.DirectWriteBytes)
		}},
	intKey("log.dir.min.free.bytes", "refuse appends (KAFKA_STORAGE_ERROR) while the data dir's filesystem has less free space than this, so metadata writes always fit (-1: the smaller of 64 MiB and 5% of the filesystem; 0: only when the filesystem is full)", -1, func(c *Config) *int64 { return &c.MinFreeBytes }),
	intKey("message.max.bytes", "largest record batch accepted", 64, func(c *Config) *int32 { return &c.MaxMessageBytes }),
	intKey("socket.request.max.bytes", "largest request frame accepted", 1024, func(c *Config) *int32 { return &c.MaxFrameBytes }),
	intKey("connection.max.inflight.bytes", "per-connection request+response bytes before reads pause", 1<<16, func(c *Config) *int64 { return &c.MaxInFlightBytes }),
	msKey("connections.max.idle.ms", "close connections idle this long", false, func(c *Config) *time.Duration { return &c.IdleTimeout }),
	intKey("num.event.loops", "gnet event loops (0: one per core)", 0, func(c *Config) *int { return &c.EventLoops }),
	intKey("num.fetch.workers", "goroutines that fault cold segment pages in", 1, func(c *Config) *int { return &c.FetchWorkers }),
	msKey("shutdown.timeout.ms", "graceful stop: wait this long for in-flight requests", false, func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	cleanupKey("log.cleanup.policy", "cleanup.policy of new topics: delete, compact (keep the latest record per key) or compact,delete", "cleanup.policy"),
	msKey("log.cleaner.backoff.ms", "how often the cleaner looks for compacted partitions to clean (0: never)", false, func(c *Config) *time.Duration { return &c.CleanerBackoff }),
	cleanupKey("log.cleaner.delete.retention.ms", "delete.retention.ms of new topics: how long a tombstone outlives the first compaction that kept it", "delete.retention.ms"),
	cleanupKey("log.cleaner.min.cleanable.ratio", "min.cleanable.dirty.ratio of new topics: compact once this share of the log is uncleaned", "min.cleanable.dirty.ratio"),
	cleanupKey("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms of new topics: records younger than this are not compacted", "min.compaction.lag.ms"),
	msKey("group.initial.rebalance.delay.ms", "hold an empty group's first rebalance this long so members starting together join one generation", false, func(c *Config) *time.Duration { return &c.GroupInitialRebalanceDelay }),
	msKey("group.min.session.timeout.ms", "shortest session timeout a group member may ask for", false, func(c *Config) *time.Duration { return &c.GroupMinSessionTimeout }),
	msKey("group.max.session.timeout.ms", "longest session timeout a group member may ask for", false, func(c *Config) *time.Duration { return &c.GroupMaxSessionTimeout }),
	intKey("offsets.retention.minutes", "committed offsets are deleted once their group has been empty this long (offsets committed without a group membership: this long after their commit)", 1, func(c *Config) *int64 { return &c.OffsetsRetentionMinutes }),
	msKey("offsets.retention.check.interval.ms", "how often expired offsets are looked for", false, func(c *Config) *time.Duration { return &c.OffsetsRetentionCheck }),
	intKey("offset.metadata.max.bytes", "longest metadata string a committed offset may carry (longer: OFFSET_METADATA_TOO_LARGE)", 0, func(c *Config) *int32 { return &c.OffsetMetadataMaxBytes }),
	intKey("offsets.topic.num.partitions", "partitions __consumer_offsets is created with (an existing topic keeps its count)", 1, func(c *Config) *int32 { return &c.OffsetsTopicPartitions }),
	intKey("offsets.topic.replication.factor", "replicas of __consumer_offsets in a cluster (-1: 3, or every live broker when fewer are alive at its creation)", -1, func(c *Config) *int32 { return &c.OffsetsTopicReplicationFactor }),
}

func lookupKey(name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// Set sets one key by its config-file name, e.g. Set("log.flush.policy", "always").
func (c *Config) Set(name, value string) error {
	k, ok := lookupKey(name)
	if !ok {
		return fmt.Errorf("%w: unknown key %q", ErrConfig, name)
	}
	if err := k.set(c, value); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrConfig, name, err)
	}
	return nil
}

// EnvName returns the environment variable for a key: SPATE_ and the name
// upper-cased with dots as underscores (log.flush.policy → SPATE_LOG_FLUSH_POLICY).
func EnvName(name string) string {
	return "SPATE_" + strings.ToUpper(strings.ReplaceAll(name, ".", "_"))
}

// LoadFile applies a config file in Kafka's server.properties form:
// `key=value` lines, `#` or `!` comments, blank lines ignored. An unknown key
// or a bad value is an error naming the file and line.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	defer f.Close()
	return c.loadProperties(path, f)
}

func (c *Config) loadProperties(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("%w: %s:%d: want key=value, got %q", ErrConfig, name, line, s)
		}
		if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: reading %s: %v", ErrConfig, name, err)
	}
	return nil
}

// LoadEnv applies every SPATE_* variable that names a key. environ is in
// os.Environ form. Variables that name no broker key are returned so the
// caller can warn about them (the CLI's own, like SPATE_BROKERS, are fine).
func (c *Config) LoadEnv(environ []string) (unknown []string, err error) {
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "SPATE_") {
			continue
		}
		matched := false
		for _, k := range keys {
			if EnvName(k.name) == name {
				if err := c.Set(k.name, v); err != nil {
					return nil, fmt.Errorf("environment %s: %w", name, err)
				}
				matched = true
				break
			}
		}
		if !matched {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	return unknown, nil
}

// Validate checks relations between keys that no single key can check.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: data.dir is empty", ErrConfig)
	}
	if c.Addr == "" {
		return fmt.Errorf("%w: addr is empty", ErrConfig)
	}
	for _, a := range []struct{ key, v string }{{"advertised.addr", c.AdvertisedAddr}, {"kafka.advertised.addr", c.KafkaAdvertisedAddr},
		{"controller.advertised.addr", c.ControllerAdvertisedAddr}} {
		if a.v == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrConfig, a.key, a.v, err)
		} else if port == "0" {
			return fmt.Errorf("%w: %s %q: an advertised address needs a real port", ErrConfig, a.key, a.v)
		}
	}
	if c.SessionTimeout < time.Second {
		return fmt.Errorf("%w: broker.session.timeout.ms %d is below 1000: a heartbeat could not keep up", ErrConfig, c.SessionTimeout.Milliseconds())
	}
	if c.MaxMessageBytes > c.MaxFrameBytes {
		return fmt.Errorf("%w: message.max.bytes %d exceeds socket.request.max.bytes %d", ErrConfig, c.MaxMessageBytes, c.MaxFrameBytes)
	}
	if c.GroupMinSessionTimeout <= 0 || c.GroupMaxSessionTimeout < c.GroupMinSessionTimeout {
		return fmt.Errorf("%w: group.min.session.timeout.ms %d must be positive and at most group.max.session.timeout.ms %d",
			ErrConfig, c.GroupMinSessionTimeout.Milliseconds(), c.GroupMaxSessionTimeout.Milliseconds())
	}
	if c.OffsetsTopicPartitions > engine.MaxPartitionsPerTopic {
		return fmt.Errorf("%w: offsets.topic.num.partitions %d exceeds %d", ErrConfig, c.OffsetsTopicPartitions, engine.MaxPartitionsPerTopic)
	}
	if int64(c.MaxMessageBytes) > c.SegmentBytes {
		return fmt.Errorf("%w: message.max.bytes %d exceeds log.segment.bytes %d", ErrConfig, c.MaxMessageBytes, c.SegmentBytes)
	}
	return nil
}

// Keys lists every key with its current value and doc, sorted by name, for
// `spate broker --help-config` and the docs.
func (c *Config) Keys() [][3]string {
	out := make([][3]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, [3]string{k.name, k.get(c), k.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
