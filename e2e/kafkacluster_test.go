package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaCluster: franz-go against three real brokers, given one
// bootstrap address. Metadata names all three and each partition's
// leader; kadm's create of a 3-replica topic reaches the controller; an
// idempotent acks=all producer writes to the leaders (each record on every
// in-sync replica), a two-member group reads every record and commits with
// the coordinator the metadata names.
func TestKafkaCluster(t *testing.T) {
	const n, partitions, topic = 6000, 6, "kspread"
	c := startProcCluster(t, 3)
	seed := c.procs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := newKgo(t, seed, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(prod)
	if res, err := adm.CreateTopic(ctx, partitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic); err != nil || res.Err != nil || res.ReplicationFactor != 3 {
		t.Fatalf("create topic: %v %v, replication factor %d", err, res.Err, res.ReplicationFactor)
	}
	// Each broker applies the metadata at its own pace (as in Kafka): the
	// create answered once the controller had it; Metadata may ask another.
	var md kadm.Metadata
	for deadline := time.Now().Add(30 * time.Second); len(md.Topics[topic].Partitions) != partitions; {
		if time.Now().After(deadline) {
			t.Fatalf("metadata of %s: %v", topic, md.Topics[topic])
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		if md, err = adm.Metadata(ctx, topic); err != nil {
			t.Fatal(err)
		}
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3: %v", len(md.Brokers), md.Brokers)
	}
	leaders := map[int32]int{}
	for _, p := range md.Topics[topic].Partitions {
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v: want the 6 partitions over all three brokers", leaders)
	}

	for i := range n {
		v := []byte(strconv.Itoa(i))
		prod.Produce(ctx, &kgo.Record{Key: v, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce %s: %v", v, err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 2*n)
	for range 2 {
		startGroupMember(ctx, t, c.procs[0], seen, kgo.ConsumerGroup("kc"), kgo.ConsumeTopics(topic))
	}
	if got := readDistinct(ctx, seen, n); got < n {
		t.Fatalf("group kc consumed %d of %d records", got, n)
	}
	deadline := time.Now().Add(60 * time.Second)
	for committed := int64(0); committed != n; {
		if time.Now().After(deadline) {
			t.Fatalf("group kc committed offsets summing to %d, want %d", committed, n)
		}
		time.Sleep(100 * time.Millisecond)
		committed = committedSum(ctx, t, prod, "kc")
	}
}
