// Command fetchload is a perf harness, not library code: it fills a topic
// through the Go SDK and then reads it back several times, so that a
// fetch-heavy run of a real broker can be traced (perf/fetch-strace.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/spate-io/spate/client"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9192", "broker address")
	topic := flag.String("topic", "fetchload", "topic to fill and read")
	mib := flag.Int("mib", 256, "MiB of record values to produce")
	passes := flag.Int("passes", 4, "times to read the whole topic")
	flag.Parse()
	ctx := context.Background()

	adm, err := client.NewAdmin(client.SeedBrokers(*brokers))
	if err != nil {
		log.Fatal(err)
	}
	if err := adm.CreateTopic(ctx, *topic, 1, 1, nil); err != nil {
		log.Fatal(err)
	}
	adm.Close()

	p, err := client.NewProducer(client.SeedBrokers(*brokers), client.BatchSize(1<<20), client.Linger(5*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	value := make([]byte, 1000)
	n := *mib << 10
	start := time.Now()
	var failed error
	for i := 0; i < n; i++ {
		p.Produce(ctx, &client.Record{Topic: *topic, Value: value}, func(_ *client.Record, err error) {
			if err != nil && failed == nil {
				failed = err
			}
		})
	}
	if err := p.Close(); err != nil || failed != nil {
		log.Fatalf("produce: %v %v", err, failed)
	}
	fmt.Printf("produced %d records (%d MiB of values) in %v\n", n, *mib, time.Since(start).Round(time.Millisecond))

	for pass := 0; pass < *passes; pass++ {
		c, err := client.NewConsumer(client.SeedBrokers(*brokers), client.Assign(*topic, nil, client.Earliest()))
		if err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		got, bytes := 0, 0
		for got < n {
			fs, err := c.Poll(ctx)
			if err != nil {
				log.Fatal(err)
			}
			it := fs.Records()
			for it.Next() {
				got++
				bytes += len(it.Record().Value)
			}
			if err := it.Err(); err != nil {
				log.Fatal(err)
			}
		}
		c.Close()
		el := time.Since(start)
		fmt.Printf("pass %d: read %d records, %.0f MB of values in %v (%.0f MB/s)\n", pass, got, float64(bytes)/1e6, el.Round(time.Millisecond), float64(bytes)/1e6/el.Seconds())
	}
}
