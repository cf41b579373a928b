package broker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
