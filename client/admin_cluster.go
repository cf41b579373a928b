package client

import (
	"context"
	"fmt"
	"time"

	"github.com/spate-io/spate/wire"
)

// ClusterDescription is the cluster as one broker's metadata has it.
type ClusterDescription = wire.DescribeClusterResponse

// DescribeCluster asks a broker (any one) for the cluster: its brokers and
// their states, the controller, the metadata offset, and the partitions
// that are offline or under-replicated.
func (a *Admin) DescribeCluster(ctx context.Context) (*ClusterDescription, error) {
	var resp wire.DescribeClusterResponse
	if err := a.cl.requestAny(ctx, &wire.DescribeClusterRequest{}, &resp); err != nil {
		return nil, fmt.Errorf("client: describe cluster: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("client: describe cluster: %w", err)
	}
	return &resp, nil
}

// CreatePartitions grows topic to total partitions (a cluster's controller
// places the new ones). Records with keys map to other partitions from then
// on, as in Kafka.
func (a *Admin) CreatePartitions(ctx context.Context, topic string, total int32) error {
	req := &wire.CreatePartitionsRequest{Topics: []wire.CreatePartitionsTopic{{Name: topic, Count: total}}}
	var resp wire.CreatePartitionsResponse
	if err := a.controllerRequest(ctx, req, &resp, func() wire.ErrorCode { return resp.ErrorCode }); err != nil {
		return fmt.Errorf("client: create partitions: %w", err)
	}
	if err := topicResultsErr("add partitions to", resp.Topics); err != nil {
		return err
	}
	_ = a.cl.refresh(ctx, []string{topic}, time.Time{}) // the new partitions, for this admin's producers and tests
	return nil
}
