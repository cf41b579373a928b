package broker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
)

func TestConfigPrecedenceFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spate.properties")
	body := "# comment\n! also a comment\n\ndata.dir = /from/file\nlog.flush.policy=interval\nlog.retention.ms=-1\nnum.partitions=3\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	unknown, err := c.LoadEnv([]string{"SPATE_DATA_DIR=/from/env", "SPATE_BROKERS=x:1", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" {
		t.Errorf("env must override file: data.dir = %q", c.DataDir)
	}
	if c.FlushPolicy != "interval" || c.RetentionAge != -1 || c.NumPartitions != 3 {
		t.Errorf("file values not applied: %+v", c)
	}
	if len(unknown) != 1 || unknown[0] != "SPATE_BROKERS" {
		t.Errorf("unknown env = %v, want [SPATE_BROKERS]", unknown)
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	cases := []struct{ file, want string }{
		{"no.such.key=1\n", `unknown key "no.such.key"`},
		{"log.flush.policy=sometimes\n", "is not never, interval or always"},
		{"num.partitions=0\n", "below the minimum"},
		{"broker.id=99999999999\n", "out of range"},
		{"log.segment.ms=-1\n", "negative"},
		{"just words\n", "want key=value"},
		{"auto.create.topics.enable=maybe\n", "not true or false"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		err := c.loadProperties("t.properties", strings.NewReader(tc.file))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want ErrConfig containing %q", tc.file, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "t.properties:1") {
			t.Errorf("%q: error does not name file and line: %v", tc.file, err)
		}
	}
}

func TestConfigValidateRelations(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults must validate: %v", err)
	}
	c.MaxMessageBytes = c.MaxFrameBytes + 1
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("message.max.bytes > socket.request.max.bytes accepted: %v", err)
	}
}

func TestConfigKeysRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.RetentionAge = 90 * time.Minute
	for _, kv := range c.Keys() {
		d := DefaultConfig()
		if err := d.Set(kv[0], kv[1]); err != nil {
			t.Errorf("value printed for %s does not parse back: %v", kv[0], err)
		}
	}
	if got, want := EnvName("log.flush.policy"), "SPATE_LOG_FLUSH_POLICY"; got != want {
		t.Errorf("EnvName = %q, want %q", got, want)
	}
}

func TestConfigGroupKeysMapOntoCoordinator(t *testing.T) {
	c := DefaultConfig()
	def := c.groupConfig()
	if def.InitialRebalanceDelay != 3*time.Second || def.MinSessionTimeout != 6*time.Second ||
		def.MaxSessionTimeout != 30*time.Minute || def.OffsetsTopicPartitions != 50 {
		t.Errorf("defaults are not Kafka's: %+v", def)
	}
	if def.OffsetsRetention != 7*24*time.Hour || def.OffsetsRetentionCheckInterval != 10*time.Minute {
		t.Errorf("offset retention defaults are not Kafka's: %v every %v", def.OffsetsRetention, def.OffsetsRetentionCheckInterval)
	}
	body := "group.initial.rebalance.delay.ms=0\ngroup.min.session.timeout.ms=1500\ngroup.max.session.timeout.ms=60000\noffsets.topic.num.partitions=7\n" +
		"offsets.retention.minutes=90\noffsets.retention.check.interval.ms=5000\n"
	if err := c.loadProperties("g.properties", strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	g := c.groupConfig()
	if g.InitialRebalanceDelay != 0 || g.MinSessionTimeout != 1500*time.Millisecond ||
		g.MaxSessionTimeout != time.Minute || g.OffsetsTopicPartitions != 7 ||
		g.OffsetsRetention != 90*time.Minute || g.OffsetsRetentionCheckInterval != 5*time.Second {
		t.Errorf("group config = %+v, want delay 0, sessions [1.5s, 1m], 7 partitions", g)
	}
	// Keys without a broker setting keep the engine's defaults.
	if g.CommitTimeout != def.CommitTimeout || g.TickInterval != def.TickInterval {
		t.Errorf("unmapped fields changed: %+v", g)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid group settings rejected: %v", err)
	}
	got := map[string]string{}
	for _, k := range c.Keys() {
		got[k[0]] = k[1]
	}
	if got["group.min.session.timeout.ms"] != "1500" || got["offsets.topic.num.partitions"] != "7" {
		t.Errorf("Keys shows %q and %q", got["group.min.session.timeout.ms"], got["offsets.topic.num.partitions"])
	}
}

func TestConfigGroupKeysRejected(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"offsets.topic.num.partitions=0\n", "below the minimum"},
		{"group.initial.rebalance.delay.ms=-1\n", "negative"},
	} {
		c := DefaultConfig()
		if err := c.loadProperties("g.properties", strings.NewReader(tc.file)); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want ErrConfig containing %q", tc.file, err, tc.want)
		}
	}
	for _, mutate := range []func(*Config){
		func(c *Config) { c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout = time.Minute, time.Second },
		func(c *Config) { c.GroupMinSessionTimeout = 0 },
		func(c *Config) { c.OffsetsTopicPartitions = 10001 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig", c, err)
		}
	}
}

// TestConfigCleanerKeysMapOntoEngine: log.cleanup.policy and log.cleaner.*
// start at Kafka's defaults, set the cleanup defaults of new topics and the
// cleaner's period, and are checked like the topic keys they stand for.
func TestConfigCleanerKeysMapOntoEngine(t *testing.T) {
	c := DefaultConfig()
	ec, err := engineConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if tc := ec.Topic; tc.CleanupPolicy != "delete" || tc.DeleteRetentionMs != 24*time.Hour ||
		tc.MinCleanableDirtyRatio != 0.5 || tc.MinCompactionLagMs != 0 || ec.CompactionCheckInterval != 15*time.Second {
		t.Errorf("defaults are not Kafka's: %+v, cleaner every %v", tc, ec.CompactionCheckInterval)
	}
	body := "log.cleanup.policy=delete,compact\nlog.cleaner.backoff.ms=250\nlog.cleaner.delete.retention.ms=1000\n" +
		"log.cleaner.min.cleanable.ratio=0.01\nlog.cleaner.min.compaction.lag.ms=60000\n"
	if err := c.loadProperties("c.properties", strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if ec, err = engineConfig(c); err != nil {
		t.Fatal(err)
	}
	if tc := ec.Topic; tc.CleanupPolicy != "compact,delete" || tc.DeleteRetentionMs != time.Second ||
		tc.MinCleanableDirtyRatio != 0.01 || tc.MinCompactionLagMs != time.Minute || ec.CompactionCheckInterval != 250*time.Millisecond {
		t.Errorf("engine config = %+v, cleaner every %v", tc, ec.CompactionCheckInterval)
	}
	for k, v := range map[string]string{"log.cleanup.policy": "shred", "log.cleaner.min.cleanable.ratio": "1.5",
		"log.cleaner.delete.retention.ms": "-5", "log.cleaner.backoff.ms": "soon"} {
		if err := c.Set(k, v); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), k) {
			t.Errorf("Set(%s=%s) = %v, want ErrConfig naming the key", k, v, err)
		}
	}
}

// log.direct.write.bytes takes auto (the default: measure at start) or a
// size, and nothing else.
func TestDirectWriteBytesKey(t *testing.T) {
	c := DefaultConfig()
	if got := keyValue(&c, "log.direct.write.bytes"); got != "auto" {
		t.Fatalf("default log.direct.write.bytes = %q, want auto", got)
	}
	for v, want := range map[string]int{"0": 0, "65536": 65536, " auto ": engine.DirectWriteAuto} {
		if err := c.Set("log.direct.write.bytes", v); err != nil || c.DirectWriteBytes != want {
			t.Errorf("Set(%q): DirectWriteBytes %d, err %v; want %d", v, c.DirectWriteBytes, err, want)
		}
	}
	for _, v := range []string{"-1", "fast", ""} {
		if err := c.Set("log.direct.write.bytes", v); err == nil {
			t.Errorf("Set(%q) succeeded", v)
		}
	}
}

func keyValue(c *Config, name string) string {
	for _, kv := range c.Keys() {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// TestAdvertisedAddrKeys: each advertised key needs host:port with a real
// port, and the native one is what a broker alone names itself as.
func TestAdvertisedAddrKeys(t *testing.T) {
	for _, key := range []string{"advertised.addr", "controller.advertised.addr", "kafka.advertised.addr"} {
		for _, v := range []string{"no-port", "127.0.0.1:0"} {
			c := DefaultConfig()
			if err := c.Set(key, v); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), key) {
				t.Errorf("%s=%s: err %v, want ErrConfig naming the key", key, v, err)
			}
		}
	}
	b := startTestBroker(t, func(c *Config) { c.AdvertisedAddr = "proxy.example:19192" })
	if b.AdvertisedAddr() != "proxy.example:19192" || b.Addr() == b.AdvertisedAddr() {
		t.Fatalf("Addr %s, AdvertisedAddr %s", b.Addr(), b.AdvertisedAddr())
	}
	if got := b.describeCluster().Brokers[0].Native; got != "proxy.example:19192" {
		t.Errorf("DescribeCluster names native address %s, want the advertised one", got)
	}
}
