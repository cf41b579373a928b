package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

// TestClusterFigures measures what perf/cluster.md records, on three real
// broker processes: controller failover after SIGKILL (10 times), the
// creation of a 1,000-partition topic, and Metadata request latency. It
// runs only with SPATE_CLUSTER_FIGURES=1 (perf/cluster/run.sh): figures are
// logged, never asserted.
func TestClusterFigures(t *testing.T) {
	if os.Getenv("SPATE_CLUSTER_FIGURES") == "" {
		t.Skip("set SPATE_CLUSTER_FIGURES=1 (perf/cluster/run.sh)")
	}
	c := startProcCluster(t, 3)

	var failovers []time.Duration
	for range 10 {
		// A broker just restarted may not know the controller yet.
		ctrl, err := c.describe(c.bootstrap())
		for deadline := time.Now().Add(30 * time.Second); err != nil || ctrl < 1; ctrl, err = c.describe(c.bootstrap()) {
			if time.Now().After(deadline) {
				t.Fatalf("controller %d, %v", ctrl, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		other := c.natives[ctrl%3]
		killed := time.Now()
		c.procs[ctrl-1].kill()
		for {
			if id, err := c.describe(other); err == nil && id >= 1 && id != ctrl {
				break
			}
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("no new controller within 60s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		failovers = append(failovers, time.Since(killed))
		c.start(int(ctrl))
		c.waitHealthy()
	}
	slices.Sort(failovers)
	t.Logf("controller failover after SIGKILL, 10 runs: min %v median %v max %v (all: %v)",
		failovers[0].Round(time.Millisecond), failovers[5].Round(time.Millisecond), failovers[9].Round(time.Millisecond), failovers)

	a, err := client.NewAdmin(client.SeedBrokers(c.natives[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for run := range 3 {
		name := "thousand-" + string(rune('a'+run))
		start := time.Now()
		if err := a.CreateTopic(ctx, name, 1000, 1, nil); err != nil {
			t.Fatal(err)
		}
		created := time.Since(start)
		// Every broker has applied it once each answers a Metadata with
		// 1,000 led partitions.
		for _, addr := range c.natives {
			b, err := client.NewAdmin(client.SeedBrokers(addr))
			if err != nil {
				t.Fatal(err)
			}
			for {
				ds, err := b.DescribeTopics(ctx, name)
				if err == nil && len(ds) == 1 && len(ds[0].Partitions) == 1000 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.Close()
		}
		t.Logf("create a 1,000-partition topic over 3 brokers: %v until the create answered, %v until every broker described it",
			created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}

	lat := make([]time.Duration, 0, 2000)
	for range 2000 {
		start := time.Now()
		if _, err := a.ListTopics(ctx); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("Metadata request (all topics: 3 of 1,000 partitions and more), 2,000 sequential: p50 %v p99 %v max %v",
		lat[1000], lat[1980], lat[1999])
}
