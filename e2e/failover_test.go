package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

// TestFailoverFigure measures, ten times, the time from SIGKILL of a
// partition's leader to the producer's next acknowledged write of a record
// produced after the kill, with the fault suite's three brokers (a topic of
// one partition, replication factor 3, min.insync.replicas=2, an
// idempotent acks=all producer writing all the time). A measurement, not a
// check: it runs only with SPATE_FAILOVER=1 (perf/replication/failover.sh);
// SPATE_FAILOVER_SESSION_MS sets broker.session.timeout.ms (default 9000,
// the broker's default), SPATE_FAILOVER_REPORT a file for the result.
func TestFailoverFigure(t *testing.T) {
	if os.Getenv("SPATE_FAILOVER") != "1" {
		t.Skip("a measurement: SPATE_FAILOVER=1 runs it (perf/replication/failover.sh)")
	}
	session := 9 * time.Second
	if v := os.Getenv("SPATE_FAILOVER_SESSION_MS"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		session = time.Duration(ms) * time.Millisecond
	}
	const topic = "failover"
	c := startFaultCluster(t, 3, session, "never")
	a, err := c.admin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	err = a.CreateTopic(ctx, topic, 1, 3, map[string]string{"min.insync.replicas": "2"})
	cancel()
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	c.waitSettled(topic, 60*time.Second)

	p, err := client.NewProducer(client.SeedBrokers(c.seeds()...), client.RequiredAcks(client.AcksAll), client.Idempotent(true),
		client.RequestTimeout(5*time.Second), client.RetryBackoff(20*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var mu sync.Mutex
	var acked []time.Time // ack times of records produced after killedAt
	var killedAt time.Time
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		inflight := make(chan struct{}, 8)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case inflight <- struct{}{}:
			}
			sent := time.Now()
			v := []byte(strconv.Itoa(i))
			p.Produce(context.Background(), &client.Record{Topic: topic, Value: v}, func(_ *client.Record, err error) {
				<-inflight
				now := time.Now()
				mu.Lock()
				if err == nil && !killedAt.IsZero() && sent.After(killedAt) {
					acked = append(acked, now)
				}
				mu.Unlock()
			})
			time.Sleep(time.Millisecond)
		}
	}()

	var took []time.Duration
	alsoController := 0
	for range 10 {
		time.Sleep(2 * time.Second) // steady writes before the kill
		id := c.leaderOf(topic, 0)
		role := "leader"
		if c.controller() == id {
			// Its partition waits for a new controller first, which then
			// counts a whole session from its election.
			role, alsoController = "leader and controller", alsoController+1
		}
		mu.Lock()
		acked, killedAt = nil, time.Time{} // until the kill, no ack counts
		mu.Unlock()
		c.kill(id) // returns once the process is gone: no later answer from it
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		deadline := time.Now().Add(120 * time.Second)
		for {
			mu.Lock()
			n, first, at := len(acked), time.Time{}, killedAt
			if n > 0 {
				first = acked[0]
			}
			mu.Unlock()
			if n > 0 {
				took = append(took, first.Sub(at))
				t.Logf("SIGKILL of %s broker %d: next acknowledged write after %v", role, id, first.Sub(at).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no write acknowledged within 120s of SIGKILL of broker %d", id)
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.restart(id)
		c.waitSettled(topic, 120*time.Second)
	}
	close(stop)
	<-done

	slices.Sort(took)
	var parts []string
	for _, d := range took {
		parts = append(parts, d.Round(time.Millisecond).String())
	}
	median := (took[4] + took[5]) / 2
	res := fmt.Sprintf("failover, SIGKILL of the leader to the next acknowledged write, 10 runs, broker.session.timeout.ms=%d:\n"+
		"median %v, max %v (all, sorted: %s); the leader was also the controller in %d of 10\n",
		session.Milliseconds(), median.Round(time.Millisecond), took[9].Round(time.Millisecond), strings.Join(parts, " "), alsoController)
	t.Log(res)
	if out := os.Getenv("SPATE_FAILOVER_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(res), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
