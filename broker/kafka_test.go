package broker

import (
	"errors"
	"testing"
)

func TestKafkaListenerConfig(t *testing.T) {
	c := DefaultConfig()
	if c.KafkaAddr != "127.0.0.1:9092" {
		t.Errorf("kafka.addr defaults to %q, want Kafka's 127.0.0.1:9092", c.KafkaAddr)
	}
	if err := c.Set("kafka.advertised.addr", "no-port"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("kafka.advertised.addr without a port accepted: %v", err)
	}

	// Empty kafka.addr: no Kafka listener at all.
	b := startTestBroker(t, func(c *Config) { c.KafkaAddr = "" })
	if a := b.KafkaAddr(); a != "" {
		t.Errorf("kafka.addr empty, yet the broker serves Kafka on %q", a)
	}
}
