package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/spate-io/spate/client"
)

func ExampleGroupConsumer() {
	addr, stop := exampleBroker()
	defer stop()
	ctx := context.Background()

	p, err := client.NewProducer(client.SeedBrokers(addr))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	for _, v := range []string{"paid", "shipped", "delivered"} {
		if err := p.ProduceSync(ctx, &client.Record{Topic: "parcels", Value: []byte(v)}); err != nil {
			log.Fatal(err)
		}
	}

	// Members of group "tracking" share the partitions of "parcels". A
	// partition nobody committed an offset for starts at the beginning.
	start := client.Earliest()
	gc, err := client.NewGroupConsumer("tracking", []string{"parcels"},
		client.GroupSettings{Start: &start, Assignors: []string{client.AssignRoundRobin}},
		client.SeedBrokers(addr))
	if err != nil {
		log.Fatal(err)
	}
	for seen := 0; seen < 3; {
		fs, err := gc.Poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fs.EachRecord(func(r *client.Record) {
			fmt.Printf("%d: %s\n", r.Offset, r.Value)
			seen++
		})
	}
	// Processed: store the positions, so that the next member to own the
	// partition starts after these records. (Close commits too.)
	if err := gc.CommitOffsets(ctx); err != nil {
		log.Fatal(err)
	}
	if err := gc.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0: paid
	// 1: shipped
	// 2: delivered
}
