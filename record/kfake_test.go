package record

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests in interop_test.go assemble franz-go batches by hand; these take
// them off the wire. A kgo producer and consumer talk to kfake, franz-go's
// in-process fake cluster (127.0.0.1, random ports), which checks the CRC and
// attributes of every produced batch as a Kafka broker does.

var kgoCodecs = map[Compression]kgo.CompressionCodec{
	None: kgo.NoCompression(), Gzip: kgo.GzipCompression(), Snappy: kgo.SnappyCompression(),
	LZ4: kgo.Lz4Compression(), Zstd: kgo.ZstdCompression(),
}

func newFakeCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	topics := make([]string, 0, len(allCodecs))
	for _, c := range allCodecs {
		topics = append(topics, c.String())
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster
}

func newKgoClient(t *testing.T, cluster *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestReadsKgoProducerBatches captures the batches kgo's producer sends and
// reads them with record/.
func TestReadsKgoProducerBatches(t *testing.T) {
	cluster := newFakeCluster(t)
	// Produce v13+ names topics by id, so batches are collected per subtest
	// (they run one at a time) rather than by topic name.
	var mu sync.Mutex
	var captured [][]byte
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range topic.Partitions {
				captured = append(captured, bytes.Clone(p.Records))
			}
		}
		return nil, nil, false // let the cluster store it as usual
	})
	want := interopRecords()
	for _, codec := range allCodecs {
		t.Run("codec="+codec.String(), func(t *testing.T) {
			mu.Lock()
			captured = nil
			mu.Unlock()
			cl := newKgoClient(t, cluster, kgo.ProducerBatchCompression(kgoCodecs[codec]), kgo.DefaultProduceTopic(codec.String()))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for _, r := range want {
				kr := &kgo.Record{Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
				for _, h := range r.Headers {
					kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: string(h.Key), Value: h.Value})
				}
				cl.Produce(ctx, kr, func(_ *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			raws := captured
			mu.Unlock()
			if len(raws) == 0 {
				t.Fatal("no produce request captured")
			}
			var got []testRecord
			sawCodec := false
			for _, raw := range raws {
				for len(raw) > 0 {
					b, err := Parse(raw)
					if err != nil {
						t.Fatalf("Parse of a kgo batch: %v", err)
					}
					if err := b.Validate(); err != nil {
						t.Fatalf("Validate of a kgo batch: %v", err)
					}
					// kgo may send a batch uncompressed where compression does not pay.
					if b.Compression() != codec && b.Compression() != None {
						t.Fatalf("kgo batch compressed with %s, want %s", b.Compression(), codec)
					}
					sawCodec = sawCodec || b.Compression() == codec
					recs, err := readAll(b)
					if err != nil {
						t.Fatalf("iterating a kgo %s batch: %v", codec, err)
					}
					got = append(got, recs...)
					raw = raw[b.Size():]
				}
			}
			if !sawCodec {
				t.Fatalf("no captured batch used %s", codec)
			}
			for i := range got {
				got[i].Offset = int64(i) // batches arrive unstamped; compare order only
			}
			if err := diffRecords(want, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKgoConsumesSpateBatches produces record/ batches with a raw Produce
// request and reads them back with kgo's consumer.
func TestKgoConsumesSpateBatches(t *testing.T) {
	cluster := newFakeCluster(t)
	want := interopRecords()
	for _, codec := range allCodecs {
		t.Run("codec="+codec.String(), func(t *testing.T) {
			topic := codec.String()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			producer := newKgoClient(t, cluster)
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 10_000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = topic, topicID(ctx, t, producer, topic)
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = build(t, Options{Compression: codec}, want)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, producer)
			if err != nil {
				t.Fatal(err)
			}
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("kfake refused the %s batch: error code %d", codec, code)
			}

			consumer := newKgoClient(t, cluster, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			var got []testRecord
			for len(got) < len(want) {
				fetches := consumer.PollFetches(ctx)
				if err := fetches.Err(); err != nil {
					t.Fatalf("consuming %s: %v", codec, err)
				}
				fetches.EachRecord(func(r *kgo.Record) {
					tr := testRecord{Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
					for _, h := range r.Headers {
						tr.Headers = append(tr.Headers, Header{Key: []byte(h.Key), Value: h.Value})
					}
					got = append(got, tr)
				})
			}
			if err := diffRecords(want, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// topicID looks up the id that Produce v13+ uses in place of the topic name.
func topicID(ctx context.Context, t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata for topic %s: %+v", topic, resp.Topics)
	}
	return resp.Topics[0].TopicID
}
