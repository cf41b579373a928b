package kafka_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Fetch's current_leader_epoch (v9+) reaches the engine's KIP-320 check:
// on a broker alone, at leader epoch 0, epoch 1 is unknown, 0 and -1 (none)
// read.
func TestFetchCurrentLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "epochs", 1)
	produce(t, k, 9, "epochs", 0, batch(t, 0, 3))
	for _, c := range []struct {
		current int32
		code    int16
	}{{-1, 0}, {0, 0}, {1, kerr.UnknownLeaderEpoch.Code}} {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.SessionEpoch = 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "epochs"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 1<<20, c.current
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p := do[*kmsg.FetchResponse](k, req, 12).Topics[0].Partitions[0]
		if p.ErrorCode != c.code || (c.code == 0 && len(p.RecordBatches) == 0) {
			t.Errorf("current leader epoch %d: error %d, %d bytes; want error %d", c.current, p.ErrorCode, len(p.RecordBatches), c.code)
		}
	}
}
