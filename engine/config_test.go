package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/segment"
)

func TestTopicConfigValidation(t *testing.T) {
	good := []struct{ key, value string }{
		{"retention.ms", "-1"}, {"retention.ms", "0"}, {"retention.ms", "86400000"},
		{"retention.bytes", "-1"}, {"retention.bytes", "1073741824"},
		{"segment.bytes", "1048576"}, {"segment.ms", "1"},
		{"max.message.bytes", "1048588"}, {"flush.policy", "never"},
		{"flush.policy", "interval"}, {"flush.policy", "always"},
		{"flush.ms", "10"}, {"cleanup.policy", "delete"}, {"min.insync.replicas", "1"},
		{"cleanup.policy", "compact"}, {"cleanup.policy", "compact,delete"}, {"cleanup.policy", "delete, compact"},
		{"delete.retention.ms", "0"}, {"min.compaction.lag.ms", "1000"},
		{"min.cleanable.dirty.ratio", "0"}, {"min.cleanable.dirty.ratio", "0.99"},
	}
	for _, g := range good {
		if _, err := applyOverrides(DefaultConfig().Topic, map[string]string{g.key: g.value}); err != nil {
			t.Errorf("%s=%s: %v", g.key, g.value, err)
		}
	}
	bad := []struct{ key, value string }{
		{"retention.ms", "-2"}, {"retention.ms", "1h"}, {"retention.bytes", "-5"},
		{"segment.bytes", "10"}, {"segment.bytes", "4294967296"}, {"segment.ms", "0"},
		{"max.message.bytes", "-1"}, {"max.message.bytes", "3000000000"},
		{"flush.policy", "sometimes"}, {"flush.ms", "0"},
		{"cleanup.policy", "shred"}, {"cleanup.policy", "compact,shred"},
		{"delete.retention.ms", "-1"}, {"min.compaction.lag.ms", "-1"},
		{"min.cleanable.dirty.ratio", "1.5"}, {"min.cleanable.dirty.ratio", "NaN"}, {"min.cleanable.dirty.ratio", "x"},
		{"min.insync.replicas", "0"}, {"no.such.key", "1"},
	}
	for _, b := range bad {
		_, err := applyOverrides(DefaultConfig().Topic, map[string]string{b.key: b.value})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), b.key) {
			t.Errorf("%s=%s: %v, want ErrInvalidConfig naming the key", b.key, b.value, err)
		}
	}
	c, err := applyOverrides(DefaultConfig().Topic, map[string]string{"cleanup.policy": "delete,compact"})
	if err != nil || c.CleanupPolicy != "compact,delete" || !c.compacted() || !c.deletes() {
		t.Errorf("cleanup.policy=delete,compact gives %q, %v; want compact,delete", c.CleanupPolicy, err)
	}
}

func TestTopicConfigMapping(t *testing.T) {
	e := openTestEngine(t, nil)
	c, err := applyOverrides(e.cfg.Topic, map[string]string{
		"retention.ms": "0", "segment.ms": "60000", "flush.policy": "interval", "flush.ms": "250", "segment.bytes": "4096",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := e.segmentConfig(c)
	if s.RetentionAge <= 0 || s.RetentionAge > time.Millisecond {
		t.Errorf("retention.ms=0 maps to RetentionAge %v, want a tiny positive age", s.RetentionAge)
	}
	if s.SegmentAge != time.Minute || s.Flush != segment.FlushInterval || s.FlushInterval != 250*time.Millisecond || s.SegmentBytes != 4096 {
		t.Errorf("segment config %+v", s)
	}
	c, _ = applyOverrides(e.cfg.Topic, map[string]string{"retention.ms": "-1"})
	if s := e.segmentConfig(c); s.RetentionAge >= 0 {
		t.Errorf("retention.ms=-1 maps to RetentionAge %v, want unlimited (<0)", s.RetentionAge)
	}
	c, _ = applyOverrides(e.cfg.Topic, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000", "retention.bytes": "4096"})
	if s := e.segmentConfig(c); s.RetentionAge >= 0 || s.RetentionBytes >= 0 {
		t.Errorf("cleanup.policy=compact keeps retention %v / %d bytes, want none", s.RetentionAge, s.RetentionBytes)
	}
}

func TestEngineConfigValidation(t *testing.T) {
	for _, mutate := range []func(*Config){
		func(c *Config) { c.DataDir = "" },
		func(c *Config) { c.DefaultPartitions = 0 },
		func(c *Config) { c.Topic.FlushMs = 0 },
	} {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		mutate(&cfg)
		if _, err := Open(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}
