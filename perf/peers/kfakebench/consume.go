package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeResult carries the field names `spate bench consume` prints.
type consumeResult struct {
	Target        string  `json:"target"`
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	ElapsedS      float64 `json:"elapsed_s"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	Errors        int64   `json:"errors"`
}

// consume reads one partition from its first offset with a kgo consumer at
// franz-go's default fetch sizes (50 MiB per fetch, 1 MiB per partition,
// Kafka's own defaults, which spate bench consume uses too) until it has
// seen the number of records asked for. The clock starts before the client
// connects, so the figure includes the first metadata and fetch round trips.
func consume(args []string) {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "seed broker")
	topic := fs.String("topic", "bench", "topic to read")
	partition := fs.Int("partition", 0, "partition to read")
	records := fs.Int64("records", 10_000_000, "stop after this many records")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	target := fs.String("target", "spate-kafka+franz-go", "the system under test, as the JSON's target field names it")
	fs.Parse(args)

	start := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(*brokers), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		*topic: {int32(*partition): kgo.NewOffset().AtStart()}}))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var n, bytes, errs, next int64
	for n < *records {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			log.Fatalf("consume %s/%d: %d of %d records after %v: %v", *topic, *partition, n, *records, *timeout, ctx.Err())
		}
		fetches.EachError(func(t string, p int32, err error) {
			errs++
			fmt.Fprintf(os.Stderr, "fetch %s/%d: %v\n", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			// Offsets must come back contiguous from 0: a record lost or
			// served twice counts as an error rather than as throughput.
			if r.Offset != next {
				errs++
			}
			next = r.Offset + 1
			n++
			bytes += int64(len(r.Value))
		})
	}
	el := time.Since(start).Seconds()
	json.NewEncoder(os.Stdout).Encode(consumeResult{Target: *target, Records: n, Bytes: bytes, ElapsedS: el,
		RecordsPerSec: float64(n) / el, MBPerSec: float64(bytes) / el / 1e6, Errors: errs})
}
