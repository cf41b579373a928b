package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/kafka"
	"github.com/spate-io/spate/netio"
)

// threeBrokers is a Cluster view as a cluster member would give it: three
// brokers, broker 2 the controller, partition 1 of every topic led by
// broker 1 at epoch 7 and partition 2 without a leader.
type threeBrokers struct{ e *engine.Engine }

func (threeBrokers) ID() string          { return "three" }
func (threeBrokers) ControllerID() int32 { return 2 }
func (threeBrokers) Brokers() []kafka.Broker {
	rack := "r1"
	return []kafka.Broker{{NodeID: 0, Host: "b0.example", Port: 9092}, {NodeID: 1, Host: "b1.example", Port: 9092, Rack: &rack},
		{NodeID: 2, Host: "b2.example", Port: 9092}}
}

func (c threeBrokers) Topics(names ...string) []engine.TopicInfo {
	infos := c.e.Describe(names...)
	for _, t := range infos {
		for i := range t.Partitions {
			p := &t.Partitions[i]
			p.Replicas, p.ISR = []int32{0, 1, 2}, []int32{0, 1}
			switch p.Partition {
			case 1:
				p.Leader, p.LeaderEpoch = 1, 7
			case 2:
				p.Leader = -1
			}
		}
	}
	return infos
}

// The handler tells clients only what its Cluster view says: Metadata,
// DescribeCluster and FindCoordinator describe three brokers when the view
// has three, with the view's leaders, epochs, replicas and ISR, and a
// leaderless partition is LEADER_NOT_AVAILABLE. OffsetForLeaderEpoch
// fences a client's epoch against the view's.
func TestClusterView(t *testing.T) {
	ecfg := engine.DefaultConfig()
	ecfg.DataDir, ecfg.MaxIndexBytes = t.TempDir(), 64<<10
	e, err := engine.Open(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	groups, err := engine.OpenGroupCoordinator(e, engine.DefaultGroupConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(groups.Close)
	if err := e.CreateTopic("viewed", 3, nil); err != nil {
		t.Fatal(err)
	}
	h := kafka.NewHandler(kafka.Config{Engine: e, Groups: groups, Cluster: threeBrokers{e}})
	srv, err := netio.NewServer(netio.Config{Addr: "127.0.0.1:0", Ordered: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Stop(ctx)
	})
	k := dial(t, srv.Addr().String())

	meta := do[*kmsg.MetadataResponse](k, kmsg.NewPtrMetadataRequest(), 12)
	if len(meta.Brokers) != 3 || meta.ControllerID != 2 || *meta.ClusterID != "three" || *meta.Brokers[1].Rack != "r1" {
		t.Fatalf("Metadata brokers %+v, controller %d", meta.Brokers, meta.ControllerID)
	}
	ps := meta.Topics[0].Partitions
	if len(ps) != 3 || ps[0].Leader != 0 || ps[1].Leader != 1 || ps[1].LeaderEpoch != 7 || len(ps[1].Replicas) != 3 ||
		len(ps[1].ISR) != 2 || ps[2].ErrorCode != kerr.LeaderNotAvailable.Code || ps[0].ErrorCode != 0 {
		t.Fatalf("Metadata partitions %+v", ps)
	}

	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.EndpointType = 1
	dc := do[*kmsg.DescribeClusterResponse](k, dreq, 1)
	if dc.ErrorCode != 0 || len(dc.Brokers) != 3 || dc.ControllerID != 2 || dc.ClusterID != "three" || dc.Brokers[2].Host != "b2.example" {
		t.Fatalf("DescribeCluster %+v", dc)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	if r := do[*kmsg.FindCoordinatorResponse](k, fc, 3); r.ErrorCode != 0 || r.NodeID != 0 || r.Host != "b0.example" {
		t.Fatalf("FindCoordinator %+v: want broker 0 as the view names it", r)
	}

	ask := func(current int32) int16 {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "viewed"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 1, current, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return do[*kmsg.OffsetForLeaderEpochResponse](k, req, 4).Topics[0].Partitions[0].ErrorCode
	}
	if code := ask(6); code != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("current epoch 6 against the view's 7: error %d, want FENCED_LEADER_EPOCH", code)
	}
	if code := ask(8); code != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("current epoch 8 against the view's 7: error %d, want UNKNOWN_LEADER_EPOCH", code)
	}
}
