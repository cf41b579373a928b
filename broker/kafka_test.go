package broker

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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

// The Kafka port's requests and connections show in /metrics, beside the
// native port's.
func TestKafkaMetrics(t *testing.T) {
	b := startTestBroker(t, nil)
	c, err := net.Dial("tcp", b.KafkaAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// ApiVersions v0, correlation id 1, null client id.
	if _, err := c.Write([]byte{0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("ApiVersions answer: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(size[:]))); err != nil {
		t.Fatalf("ApiVersions answer: %v", err)
	}
	m := httpGet(t, "http://"+b.AdminAddr()+"/metrics", http.StatusOK)
	for _, want := range []string{`spate_kafka_requests_total{api="ApiVersions"} 1`, "spate_kafka_connections_open 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
