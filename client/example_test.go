package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/record"
)

// exampleBroker starts a broker on a temporary directory and a free port;
// stop closes it and removes the directory.
func exampleBroker() (addr string, stop func()) {
	dir, err := os.MkdirTemp("", "spate-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := broker.DefaultConfig()
	cfg.DataDir, cfg.Addr, cfg.KafkaAddr, cfg.AdminAddr = dir, "127.0.0.1:0", "", ""
	b, err := broker.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(); err != nil {
		log.Fatal(err)
	}
	return b.Addr(), func() {
		b.Close()
		os.RemoveAll(dir)
	}
}

func ExampleProducer() {
	addr, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	p, err := client.NewProducer(client.SeedBrokers(addr), client.Linger(time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// Asynchronous: the callback runs once the broker acknowledged the
	// record (all in-sync replicas, the default acks) or it failed.
	for _, v := range []string{"hello", "world"} {
		p.Produce(ctx, &client.Record{Topic: "greetings", Key: []byte("k"), Value: []byte(v)},
			func(r *client.Record, err error) {
				if err != nil {
					log.Print(err)
					return
				}
				fmt.Printf("%s at offset %d\n", r.Value, r.Offset)
			})
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	// Synchronous.
	r := &client.Record{Topic: "greetings", Key: []byte("k"), Value: []byte("again")}
	if err := p.ProduceSync(ctx, r); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s at offset %d\n", r.Value, r.Offset)
	// Output:
	// hello at offset 0
	// world at offset 1
	// again at offset 2
}

func ExampleProducer_ProduceBatch() {
	addr, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	p, err := client.NewProducer(client.SeedBrokers(addr))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// One batch of 1,000 records for partition 0, built in place; one
	// callback for all of them.
	done := make(chan struct{})
	p.ProduceBatch(ctx, "metrics", 0, func(b *record.Builder) {
		now := time.Now().UnixMilli()
		for i := range 1000 {
			b.Append(now, nil, fmt.Appendf(nil, "sample-%d", i), nil)
		}
	}, func(r client.BatchResult, err error) {
		defer close(done)
		if err != nil {
			log.Print(err)
			return
		}
		fmt.Printf("%d records at offsets %d to %d\n", r.Records, r.BaseOffset, r.BaseOffset+int64(r.Records)-1)
	})
	<-done
	// Output:
	// 1000 records at offsets 0 to 999
}

func ExampleConsumer() {
	addr, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	p, err := client.NewProducer(client.SeedBrokers(addr))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	var recs []*client.Record
	for i := range 5 {
		recs = append(recs, &client.Record{Topic: "orders", Value: fmt.Appendf(nil, "order-%d", i)})
	}
	if err := p.ProduceSync(ctx, recs...); err != nil {
		log.Fatal(err)
	}

	// Read partition 0 from offset 2.
	c, err := client.NewConsumer(client.SeedBrokers(addr), client.Assign("orders", []int32{0}, client.At(2)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for seen := 0; seen < 3; {
		fs, err := c.Poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		// Records alias the fetched buffers: valid until the next Poll.
		it := fs.Records()
		for it.Next() {
			r := it.Record()
			fmt.Printf("%d: %s\n", r.Offset, r.Value)
			seen++
		}
		if err := it.Err(); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// 2: order-2
	// 3: order-3
	// 4: order-4
}

func ExampleAdmin() {
	addr, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	a, err := client.NewAdmin(client.SeedBrokers(addr))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "clicks", 2, 1, map[string]string{"retention.ms": "3600000"}); err != nil {
		log.Fatal(err)
	}

	p, err := client.NewProducer(client.SeedBrokers(addr), client.Partitioner(client.PartitionManual))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	if err := p.ProduceSync(ctx, &client.Record{Topic: "clicks", Partition: 1, Value: []byte("x")}); err != nil {
		log.Fatal(err)
	}

	descs, err := a.DescribeTopics(ctx, "clicks")
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range descs {
		for _, pd := range d.Partitions {
			fmt.Printf("%s/%d leader %d log start %d high watermark %d\n",
				d.Name, pd.Partition, pd.Leader, pd.LogStartOffset, pd.HighWatermark)
		}
	}
	names, err := a.ListTopics(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
	// Output:
	// clicks/0 leader 0 log start 0 high watermark 0
	// clicks/1 leader 0 log start 0 high watermark 1
	// [clicks]
}
