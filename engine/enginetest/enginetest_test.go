package enginetest

import (
	"slices"
	"testing"

	"github.com/spate-io/spate/engine"
)

func TestOpen(t *testing.T) {
	e := Open(t, func(c *engine.Config) { c.DefaultPartitions = 2 })
	if err := e.CreateTopic("t", -1, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.Topics(); !slices.Equal(got, []string{"t"}) {
		t.Fatalf("Topics() = %v", got)
	}
	if n := len(e.Describe("t")[0].Partitions); n != 2 {
		t.Errorf("%d partitions, want the mutated default 2", n)
	}
}
