// Package brokertest starts real brokers inside a test process, on
// 127.0.0.1 and a temporary directory, for the tests of the packages that
// talk to a broker over its sockets: the client SDK, the CLI and the load
// generator. (The broker package's own tests cannot import it.)
package brokertest

import (
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/segment"
)

// Start starts a broker on a fresh t.TempDir() and 127.0.0.1:0 (the Kafka
// listener on a port of its own) with the admin listener off, and closes
// it when the test ends. mutate, if not nil, changes the config first.
func Start(t testing.TB, mutate func(*broker.Config)) *broker.Broker {
	t.Helper()
	return StartOn(t, t.TempDir(), "127.0.0.1:0", mutate)
}

// StartOn starts a broker on dir and addr, for restarting one on the data
// and address of a broker that was closed. The old listener's port can take
// a moment to be free again, so a failed start is retried for up to 10 s.
func StartOn(t testing.TB, dir, addr string, mutate func(*broker.Config)) *broker.Broker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir, cfg.Addr, cfg.AdminAddr = dir, addr, ""
	cfg.KafkaAddr = "127.0.0.1:0" // never the fixed default: tests run in parallel
	cfg.ShutdownTimeout = 2 * time.Second
	// The write path is pinned: measuring it (log.direct.write.bytes=auto)
	// writes ~400 MB per fresh data dir, and tests of the direct path must
	// not depend on which mode this machine would choose.
	cfg.DirectWriteBytes = segment.DirectWriteThreshold
	if mutate != nil {
		mutate(&cfg)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := start(cfg)
		if err == nil {
			t.Cleanup(func() { b.Close() })
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("start broker on %s, %s: %v", dir, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(cfg broker.Config) (*broker.Broker, error) {
	b, err := broker.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}
