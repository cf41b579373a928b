package client_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/cluster"
)

// scrapeMetric GETs broker b's /metrics and returns the value of the
// sample name{labels} (labels as in the text format, e.g.
// `follower="2",partition="0",topic="t"`), and whether it is there.
func scrapeMetric(t *testing.T, b *broker.Broker, name, labels string) (float64, bool) {
	t.Helper()
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + b.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := name + "{" + labels + "} "
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s%s: %v", name, labels, err)
			}
			return f, true
		}
	}
	return 0, false
}

// TestReplicationMetrics scrapes /metrics: a leader reports each
// follower's lag in records and seconds, which grows while one follower's
// fetches are held and returns to 0 once it catches up; the controller
// counts the clean elections that a broker's controlled shutdown makes.
func TestReplicationMetrics(t *testing.T) {
	var held [4]atomic.Bool
	c := brokertest.StartCluster(t, 3, func(cfg *broker.Config) {
		cfg.AdminAddr = "127.0.0.1:0"
		cfg.ReplicaLagTimeMax = time.Second
		id := cfg.BrokerID
		cfg.HoldReplicaFetches = func() bool { return held[id].Load() }
	})
	if err := c.Brokers[0].CreateTopic("lag", 3, 3, nil); err != nil {
		t.Fatal(err)
	}
	tp := c.WaitLeaders("lag")
	var ctrlID int32
	c.Wait("a controller", func(*cluster.Image) bool {
		var ok bool
		ctrlID, ok = c.Brokers[0].Node().ControllerID()
		return ok
	})
	// Partition part's leader is not the controller: it stops later.
	part := 0
	for i, p := range tp.Partitions {
		if p.Leader != ctrlID {
			part = i
		}
	}
	p := tp.Partitions[part]
	leader := c.Brokers[p.Leader-1]
	follower := aFollower(p)
	labels := func(f int32) string {
		return `follower="` + strconv.Itoa(int(f)) + `",partition="` + strconv.Itoa(part) + `",topic="lag"`
	}
	held[follower].Store(true)
	// acks=1: nothing waits for the held follower.
	prod, err := client.NewProducer(client.SeedBrokers(leader.Addr()), client.Partitioner(client.PartitionManual), client.RequiredAcks(client.AcksLeader))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*client.Record
	for i := range 500 {
		recs = append(recs, &client.Record{Topic: "lag", Partition: int32(part), Value: []byte(strconv.Itoa(i))})
	}
	if err := prod.ProduceSync(ctxFor(t), recs...); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, brokertest.Deadline, func() bool {
		records, _ := scrapeMetric(t, leader, "spate_replica_lag_records", labels(follower))
		seconds, _ := scrapeMetric(t, leader, "spate_replica_lag_seconds", labels(follower))
		return records >= 500 && seconds > 0
	})
	held[follower].Store(false)
	waitUntil(t, brokertest.Deadline, func() bool {
		records, ok := scrapeMetric(t, leader, "spate_replica_lag_records", labels(follower))
		seconds, _ := scrapeMetric(t, leader, "spate_replica_lag_seconds", labels(follower))
		return ok && records == 0 && seconds == 0
	})

	controller := c.Brokers[ctrlID-1]
	before, _ := scrapeMetric(t, controller, "spate_leader_elections_total", `kind="clean"`)
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	c.Brokers[p.Leader-1] = nil
	waitUntil(t, brokertest.Deadline, func() bool {
		after, _ := scrapeMetric(t, controller, "spate_leader_elections_total", `kind="clean"`)
		return after > before
	})
	if unclean, ok := scrapeMetric(t, controller, "spate_leader_elections_total", `kind="unclean"`); !ok || unclean != 0 {
		t.Fatalf("unclean elections %v (reported: %v), want 0", unclean, ok)
	}
}
