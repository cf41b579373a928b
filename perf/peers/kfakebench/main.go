// Command kfakebench is a perf harness, not library code: it runs the
// Kafka-protocol peer of the headline comparison (perf/bench.md), franz-go's
// kfake broker driven by a franz-go (kgo) producer, with the same knobs and
// the same JSON fields as `spate bench produce`. The same producer, and a
// kgo consumer, also drive Spate's Kafka port (make bench's Kafka rows).
//
//	kfakebench serve -addr 127.0.0.1:19092            # the broker, in its own process
//	kfakebench produce -brokers 127.0.0.1:19092 -record-size 100 -batch-size 1048576 -duration 5s
//	kfakebench produce -brokers 127.0.0.1:19092 -producers 4 -inflight 4 -topic multi   # several clients, one partition each
//	kfakebench consume -brokers 127.0.0.1:9092 -topic T -records 10000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: kfakebench serve|produce|consume [flags]")
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "produce":
		produce(os.Args[2:])
	case "consume":
		consume(os.Args[2:])
	default:
		log.Fatalf("unknown mode %q", os.Args[1])
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:19092", "listen address")
	fs.Parse(args)
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p), kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "16777216"}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kfake listening on", c.ListenAddrs())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}

// result carries the field names `spate bench` prints.
type result struct {
	Target        string  `json:"target"`
	BatchSize     int     `json:"batch_size"`
	RecordSize    int     `json:"record_size"`
	Records       int64   `json:"records"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	P999Ms        float64 `json:"p999_ms"`
	MaxMs         float64 `json:"max_ms"`
	Errors        int64   `json:"errors"`
	// RecordsTotal is every record acknowledged, warm-up included: what
	// the broker's CPU over the whole run is divided by.
	RecordsTotal int64 `json:"records_total"`
	Producers    int   `json:"producers"`
}

func produce(args []string) {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:19092", "seed broker")
	topic := fs.String("topic", "bench", "topic (auto-created with one partition; created with -producers partitions when more than one)")
	recordSize := fs.Int("record-size", 100, "value bytes per record")
	batchSize := fs.Int("batch-size", 1<<20, "producer batch max bytes")
	linger := fs.Duration("linger", 0, "producer linger")
	acks := fs.Int("acks", 1, "1 (leader) or -1 (all)")
	producers := fs.Int("producers", 1, "kgo clients producing at once, client i to partition i")
	inflight := fs.Int("inflight", 1, "produce requests in flight per client (acks=1 only: idempotent writes allow 1 per partition here)")
	duration := fs.Duration("duration", 5*time.Second, "how long to produce")
	warmup := fs.Duration("warmup", time.Second, "excluded from the results")
	keep := fs.Bool("keep", false, "keep the topic after the run (default: delete it, as make bench does with Spate's)")
	target := fs.String("target", "kfake+franz-go", "the system under test, as the JSON's target field names it")
	fs.Parse(args)
	if *producers < 1 || *inflight < 1 || (*inflight > 1 && *acks == -1) {
		log.Fatalf("-producers %d -inflight %d -acks %d: want at least one of each, and one in flight for acks=-1", *producers, *inflight, *acks)
	}

	ack := kgo.LeaderAck()
	if *acks == -1 {
		ack = kgo.AllISRAcks()
	}
	opts := []kgo.Opt{kgo.SeedBrokers(*brokers), kgo.DefaultProduceTopic(*topic), kgo.RequiredAcks(ack),
		kgo.ProducerBatchMaxBytes(int32(*batchSize)), kgo.ProducerLinger(*linger),
		// The same bound spate bench gives its producer: 4 batches per
		// partition (and room for what is in flight beyond them).
		kgo.MaxBufferedBytes(max(4, *inflight+1) * *batchSize),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.AllowAutoTopicCreation(),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}
	if *acks != -1 {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(*inflight))
	}
	clients := make([]*kgo.Client, *producers)
	for i := range clients {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			log.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	ctx := context.Background()
	if *producers > 1 {
		createTopic(ctx, clients[0], *topic, int32(*producers))
	}

	var measuring atomic.Bool
	var acked, total, errs atomic.Int64
	var mu sync.Mutex
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	record := func(r *kgo.Record, err error) {
		if err != nil {
			errs.Add(1)
			return
		}
		total.Add(1)
		if !measuring.Load() {
			return
		}
		acked.Add(1)
		sent, ok := r.Context.Value(sentKey{}).(time.Time)
		if !ok {
			return
		}
		us := time.Since(sent).Microseconds()
		mu.Lock()
		hist.RecordValue(max(us, 1))
		mu.Unlock()
	}
	start := time.Now()
	var measuredFrom atomic.Int64 // unix ns; the first producer past the warm-up sets it
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			produceUntil(ctx, cl, int32(i), make([]byte, *recordSize), start, *warmup, *duration, &measuring, &measuredFrom, record)
			if err := cl.Flush(ctx); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	el := time.Since(time.Unix(0, measuredFrom.Load())).Seconds()
	if !*keep {
		// kfake keeps every record in its heap: left there, gigabytes of
		// old runs would be marked by each later GC, during later runs of
		// either system.
		deleteTopic(ctx, clients[0], *topic)
	}
	res := result{Target: *target, BatchSize: *batchSize, RecordSize: *recordSize, Records: acked.Load(), RecordsTotal: total.Load(), Producers: *producers, Errors: errs.Load(),
		RecordsPerSec: float64(acked.Load()) / el, MBPerSec: float64(acked.Load()) * float64(*recordSize) / el / 1e6,
		P50Ms: ms(hist.ValueAtQuantile(50)), P99Ms: ms(hist.ValueAtQuantile(99)), P999Ms: ms(hist.ValueAtQuantile(99.9)), MaxMs: ms(hist.Max())}
	json.NewEncoder(os.Stdout).Encode(res)
}

// produceUntil produces records of value to partition through cl until
// warmup+duration after start. The first producer past the warm-up starts
// the measurement (measuring, measuredFrom).
func produceUntil(ctx context.Context, cl *kgo.Client, partition int32, value []byte, start time.Time, warmup, duration time.Duration,
	measuring *atomic.Bool, measuredFrom *atomic.Int64, record func(*kgo.Record, error)) {
	for i := 0; ; i++ {
		r := &kgo.Record{Value: value, Partition: partition, Context: ctx}
		// A clock read costs about 60 ns on this VM's kvm-clock and the
		// context carrying the send time an allocation: at three reads and
		// one context per record the harness took a third of the
		// producer's CPU (pprof), capping the figure of whichever broker
		// it drove. So one record in latencyEvery carries its send time
		// and checks the clock; the latency figures are that sample's.
		if i%latencyEvery == 0 {
			now := time.Now()
			if now.Sub(start) >= warmup+duration {
				return
			}
			if !measuring.Load() && now.Sub(start) >= warmup && measuredFrom.CompareAndSwap(0, now.UnixNano()) {
				measuring.Store(true)
			}
			r.Context = context.WithValue(ctx, sentKey{}, now)
		}
		cl.Produce(ctx, r, record)
	}
}

// createTopic creates topic with partitions partitions; one that exists
// already is an error (a bench run wants a fresh topic).
func createTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		log.Fatalf("create topic %s: %v", topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerrOf(t.ErrorCode); err != nil {
			log.Fatalf("create topic %s: %v", topic, err)
		}
	}
}

func deleteTopic(ctx context.Context, cl *kgo.Client, topic string) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 10_000
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.TopicNames = []string{topic}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		log.Fatalf("delete topic %s: %v", topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerrOf(t.ErrorCode); err != nil {
			log.Fatalf("delete topic %s: %v", topic, err)
		}
	}
}

func kerrOf(code int16) error {
	if code == 0 {
		return nil
	}
	return fmt.Errorf("kafka error code %d", code)
}

type sentKey struct{}

// latencyEvery is how many records there are per record whose send →
// ack latency is measured: at a million records/s that is still 62,500
// samples a second for the percentiles.
const latencyEvery = 16

func ms(us int64) float64 { return float64(us) / 1000 }
