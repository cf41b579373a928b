package kafka_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
)

// BenchmarkKafkaProduce measures one Produce round trip through the Kafka
// port over loopback: decode with kmsg, the per-partition fan-out to the
// engine, the answer encoded with kmsg. allocs/op counts the broker's (the
// client side reuses one encoded frame).
func BenchmarkKafkaProduce(b *testing.B) {
	for _, partitions := range []int32{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d,acks=1", partitions), func(b *testing.B) {
			br := brokertest.Start(b, func(c *broker.Config) { c.SegmentBytes = 64 << 20; c.RetentionBytes = 256 << 20 })
			k := dial(b, br.KafkaAddr())
			req := kmsg.NewPtrProduceRequest()
			req.SetVersion(9)
			req.Acks, req.TimeoutMillis = 1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			for p := range partitions {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition, rp.Records = p, batch(b, 0, 40) // ~1 KiB
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
			frame := appendRequestFrame(nil, req, 1)
			create := kmsg.NewPtrCreateTopicsRequest()
			ct := kmsg.NewCreateTopicsRequestTopic()
			ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "bench", partitions, 1
			create.Topics = append(create.Topics, ct)
			do[*kmsg.CreateTopicsResponse](k, create, 7)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				roundTrip(b, k, frame)
			}
			b.StopTimer()
			for _, p := range do[*kmsg.ProduceResponse](k, req, 9).Topics[0].Partitions {
				if p.ErrorCode != 0 {
					b.Fatalf("partition %d: error %d", p.Partition, p.ErrorCode)
				}
			}
		})
	}
}

func roundTrip(b *testing.B, k *kconn, frame []byte) {
	if _, err := k.c.Write(frame); err != nil {
		b.Fatal(err)
	}
	if _, err := k.readFrame(); err != nil {
		b.Fatal(err)
	}
}
