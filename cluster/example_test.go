package cluster_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/spate-io/spate/cluster"
)

// A broker with no controller.quorum.voters is a one-voter cluster of
// itself: it starts, becomes the controller, registers, heartbeats until
// unfenced, and creates a topic; the metadata is then read from the local
// image.
func Example() {
	dir, err := os.MkdirTemp("", "spate-cluster-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	node, err := cluster.Start(cluster.Config{BrokerID: 1, ControllerAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := node.WaitForController(ctx); err != nil {
		log.Fatal(err)
	}
	epoch, err := node.RegisterBroker(cluster.RegisterBroker{
		BrokerID: 1, Incarnation: cluster.ID16{1},
		Addrs: cluster.BrokerAddrs{Native: "127.0.0.1:9192", Controller: node.Addr()},
	}, false) // false: not a restart that may lack acknowledged records
	if err != nil {
		log.Fatal(err)
	}
	// The broker is unfenced once its heartbeat shows it applied the
	// metadata up to its registration.
	if fenced, err := node.Heartbeat(1, epoch, node.Image().Offset()); err != nil || fenced {
		log.Fatal(fenced, err)
	}
	if _, err := node.CreateTopic("orders", 3, 1, map[string]string{"retention.ms": "3600000"}); err != nil {
		log.Fatal(err)
	}
	img := node.Image()
	for _, r := range img.ReplicasOf(1) {
		fmt.Printf("%s-%d leader %d epoch %d ISR %v\n", r.Topic, r.Partition, r.State.Leader, r.State.LeaderEpoch, r.State.ISR)
	}
	fmt.Println("retention.ms", img.Topic("orders").Configs["retention.ms"])
	// Output:
	// orders-0 leader 1 epoch 0 ISR [1]
	// orders-1 leader 1 epoch 0 ISR [1]
	// orders-2 leader 1 epoch 0 ISR [1]
	// retention.ms 3600000
}
