// Package enginetest starts engines for tests of the packages above engine
// (netio's dispatcher, the Kafka front end): one call opens an engine on a
// fresh t.TempDir() and closes it when the test ends.
package enginetest

import (
	"context"
	"testing"
	"time"

	"github.com/spate-io/spate/engine"
)

// Open opens an engine on t.TempDir() and registers its Close with
// t.Cleanup (failing the test if Close fails). The config is
// engine.DefaultConfig with the background retention pass off and 64 KiB
// index files (the default preallocates 10 MiB per segment index); mutate,
// if not nil, edits it before Open.
func Open(t testing.TB, mutate func(*engine.Config)) *engine.Engine {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.RetentionCheckInterval = 0
	cfg.MaxIndexBytes = 64 << 10
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := engine.Open(cfg)
	if err != nil {
		t.Fatalf("enginetest: open engine in %s: %v", cfg.DataDir, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("enginetest: close engine in %s: %v", cfg.DataDir, err)
		}
	})
	return e
}
