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

// Reassignment is a partition being moved to new replicas: its replica set
// now (Target followed by the replicas to remove), its ISR and the target.
type Reassignment = wire.Reassignment

// ReassignPartition moves topic's partition to the replica set replicas,
// preferred leader first (Kafka's KIP-455): the new replicas catch up and
// join the ISR, then the controller drops the ones not in replicas. It
// returns once the move has started; ListReassignments shows it until it
// finished. Reassigning a partition again replaces the move in progress.
func (a *Admin) ReassignPartition(ctx context.Context, topic string, partition int32, replicas []int32) error {
	req := &wire.ReassignRequest{Partitions: []wire.PartitionReplicas{{Topic: topic, Partition: partition, Replicas: replicas}}}
	var resp wire.ReassignResponse
	// A partition answered NOT_CONTROLLER (the controller moved while
	// the broker forwarded it) is retried like a request-level one.
	code := func() wire.ErrorCode {
		if resp.ErrorCode == wire.None && len(resp.Results) == 1 && resp.Results[0].ErrorCode == wire.NotController {
			return wire.NotController
		}
		return resp.ErrorCode
	}
	if err := a.controllerRequest(ctx, req, &resp, code); err != nil {
		return fmt.Errorf("client: reassign %s-%d: %w", topic, partition, err)
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("client: reassign %s-%d: %d results for 1 partition", topic, partition, len(resp.Results))
	}
	if err := withMessage(resp.Results[0].ErrorCode, resp.Results[0].Message); err != nil {
		return fmt.Errorf("client: reassign %s-%d to %v: %w", topic, partition, replicas, err)
	}
	return nil
}

// ListReassignments returns the reassignments in progress, as one broker's
// metadata has them, in topic and partition order.
func (a *Admin) ListReassignments(ctx context.Context) ([]Reassignment, error) {
	var resp wire.ListReassignmentsResponse
	if err := a.cl.requestAny(ctx, &wire.ListReassignmentsRequest{}, &resp); err != nil {
		return nil, fmt.Errorf("client: list reassignments: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return nil, fmt.Errorf("client: list reassignments: %w", err)
	}
	return resp.Reassignments, nil
}
