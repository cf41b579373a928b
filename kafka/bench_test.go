package kafka_test

import (
	"encoding/binary"
	"fmt"
	"io"
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
			req := produceRequest("bench", partitions, batch(b, 0, 40)) // ~1 KiB per partition
			req.SetVersion(9)
			frame := appendRequestFrame(nil, req, 1)
			createTopic(b, k, "bench", partitions)
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

// produceRequest is an acks=1 Produce of records to each of partitions
// 0..partitions-1 of topic.
func produceRequest(topic string, partitions int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, records
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func roundTrip(b *testing.B, k *kconn, frame []byte) {
	if _, err := k.c.Write(frame); err != nil {
		b.Fatal(err)
	}
	if _, err := k.readFrame(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkKafkaFetch measures one Fetch round trip through the Kafka port
// over loopback of resident data, every partition answering with about
// 64 KiB: kmsg decode, the engine read, the answer hand-encoded around the
// file ranges, which netio sends without copying them into user space.
// allocs/op counts the broker's (the client side reads into one reused
// buffer).
func BenchmarkKafkaFetch(b *testing.B) {
	for _, partitions := range []int32{1, 8} {
		b.Run(fmt.Sprintf("partitions=%d,partitionMaxBytes=64KiB", partitions), func(b *testing.B) {
			br := brokertest.Start(b, nil)
			k := dial(b, br.KafkaAddr())
			createTopic(b, k, "bench", partitions)
			produce := produceRequest("bench", partitions, batch(b, 0, 2000)) // ~40 KiB per partition
			for range 4 {
				do[*kmsg.ProduceResponse](k, produce, 9)
			}
			fetch := kmsg.NewPtrFetchRequest()
			fetch.ReplicaID, fetch.MaxBytes = -1, 64<<20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = "bench"
			for p := range partitions {
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.Partition, fp.PartitionMaxBytes = p, 64<<10
				ft.Partitions = append(ft.Partitions, fp)
			}
			fetch.Topics = append(fetch.Topics, ft)
			resp := do[*kmsg.FetchResponse](k, fetch, 12)
			got := 0
			for _, p := range resp.Topics[0].Partitions {
				if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
					b.Fatalf("partition %d: error %d, %d record bytes", p.Partition, p.ErrorCode, len(p.RecordBatches))
				}
				got += len(p.RecordBatches)
			}
			frame := appendRequestFrame(nil, fetch, 1)
			buf := make([]byte, 0, 2*got)
			b.SetBytes(int64(got))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := k.c.Write(frame); err != nil {
					b.Fatal(err)
				}
				if buf = readFrameInto(b, k, buf); len(buf) < got {
					b.Fatalf("fetch answer %d bytes, want >= %d", len(buf), got)
				}
			}
		})
	}
}

// readFrameInto reads one response frame's payload into buf, reused.
func readFrameInto(b *testing.B, k *kconn, buf []byte) []byte {
	var size [4]byte
	if _, err := io.ReadFull(k.c, size[:]); err != nil {
		b.Fatal(err)
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(k.c, buf); err != nil {
		b.Fatal(err)
	}
	return buf
}
