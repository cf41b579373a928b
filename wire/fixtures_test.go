package wire

import (
	"encoding/binary"
	"math"

	"github.com/spate-io/spate/record"
)

// testBatch builds a RecordBatch v2 with n records' worth of opaque payload
// bytes. The records section is not real varint records: wire treats batches
// as opaque, and only record.Parse/Validate must accept them.
func testBatch(baseOffset int64, n int, payload int) []byte {
	b := make([]byte, record.HeaderSize+payload)
	binary.BigEndian.PutUint64(b[0:], uint64(baseOffset))
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-record.LogOverhead))
	binary.BigEndian.PutUint32(b[12:], 3) // partition leader epoch
	b[16] = record.Magic
	binary.BigEndian.PutUint32(b[23:], uint32(n-1)) // last offset delta
	binary.BigEndian.PutUint64(b[27:], 1_700_000_000_000)
	binary.BigEndian.PutUint64(b[35:], 1_700_000_000_999)
	binary.BigEndian.PutUint64(b[43:], math.MaxUint64) // producer id -1
	binary.BigEndian.PutUint16(b[51:], math.MaxUint16) // producer epoch -1
	binary.BigEndian.PutUint32(b[53:], math.MaxUint32) // base sequence -1
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	for i := record.HeaderSize; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	binary.BigEndian.PutUint32(b[17:], record.Checksum(b[21:]))
	return b
}

// twoBatches is two concatenated batches, as a producer sends for one partition.
func twoBatches() []byte {
	return append(testBatch(0, 10, 300), testBatch(10, 5, 120)...)
}

// requestCases are realistic and edge-value requests of every API.
func requestCases() map[string]Request {
	return map[string]Request{
		"ApiVersions":     &APIVersionsRequest{},
		"Metadata/all":    &MetadataRequest{AllTopics: true},
		"Metadata/some":   &MetadataRequest{Topics: []string{"orders", "payments.eu-west-1", ""}},
		"Metadata/create": &MetadataRequest{Topics: []string{"orders"}, AutoCreate: true},
		"Metadata/none":   &MetadataRequest{},
		"CreateTopics": &CreateTopicsRequest{
			Topics: []CreateTopic{
				{Name: "orders", Partitions: 12, ReplicationFactor: 3, Configs: []Config{
					{Key: "retention.ms", Value: "604800000"}, {Key: "cleanup.policy", Value: "compact"}, {Key: "segment.bytes", Value: ""}}},
				{Name: "x", Partitions: -1, ReplicationFactor: -1},
			},
			TimeoutMs:    30000,
			ValidateOnly: true,
		},
		"CreateTopics/empty": &CreateTopicsRequest{},
		"DeleteTopics":       &DeleteTopicsRequest{Topics: []string{"orders", "payments"}, TimeoutMs: math.MaxInt32},
		"Produce": &ProduceRequest{Acks: AcksAll, TimeoutMs: 1500, Topics: []ProduceTopic{
			{Name: "orders", Partitions: []ProducePartition{
				{Partition: 0, Records: twoBatches()},
				{Partition: 7, Records: testBatch(0, 1, 0)},
			}},
			{Name: "empty-and-null", Partitions: []ProducePartition{
				{Partition: math.MaxInt32, Records: []byte{}},
				{Partition: -1, Records: nil},
			}},
		}},
		"Produce/acks0": &ProduceRequest{Acks: AcksNone},
		"Produce/v1": &ProduceRequest{Version: 1, Acks: AcksLeader, TimeoutMs: 30000, Topics: []ProduceTopic{
			{Name: "orders", Partitions: []ProducePartition{{Partition: 2, Records: testBatch(0, 3, 40)}}},
		}},
		"Fetch": &FetchRequest{ReplicaID: ConsumerReplicaID, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 50 << 20,
			Topics: []FetchTopic{
				{Name: "orders", Partitions: []FetchPartition{
					{Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: 0, PartitionMaxBytes: 1 << 20},
					{Partition: 1, CurrentLeaderEpoch: 5, FetchOffset: math.MaxInt64, PartitionMaxBytes: 0},
				}},
				{Name: "t2"},
			}},
		"Fetch/follower":        &FetchRequest{ReplicaID: 2, MaxWaitMs: 0, MinBytes: 0, MaxBytes: math.MaxInt32},
		"InitProducerId":        &InitProducerIDRequest{TransactionTimeoutMs: 60000},
		"InitProducerId/txn":    &InitProducerIDRequest{TransactionalID: "orders-writer", TransactionTimeoutMs: math.MinInt32},
		"DescribeConfigs":       &DescribeConfigsRequest{Topics: []string{"orders", ""}},
		"DescribeConfigs/empty": &DescribeConfigsRequest{},
		"AlterConfigs": &AlterConfigsRequest{Topics: []AlterConfigsTopic{
			{Name: "orders", Configs: []Config{{Key: "retention.ms", Value: "3600000"}, {Key: "segment.bytes", Value: ""}}},
			{Name: "x"},
		}, ValidateOnly: true},
		"CreatePartitions": &CreatePartitionsRequest{Topics: []CreatePartitionsTopic{{Name: "orders", Count: 12}, {Name: "x", Count: -1}}},
		"DescribeCluster":  &DescribeClusterRequest{},
		"AlterPartitionReassignments": &ReassignRequest{Partitions: []PartitionReplicas{
			{Topic: "orders", Partition: 0, Replicas: []int32{4, 2, 3}}, {Topic: "x", Partition: math.MaxInt32}}},
		"ListPartitionReassignments": &ListReassignmentsRequest{},
		"OffsetForLeaderEpoch": &EpochQueryRequest{ReplicaID: 2, Topics: []EpochQueryTopic{
			{Name: "orders", Partitions: []EpochQueryPartition{{Partition: 0, CurrentLeaderEpoch: 4, LeaderEpoch: 3}, {Partition: 5, CurrentLeaderEpoch: -1, LeaderEpoch: math.MaxInt32}}},
			{Name: "none"},
		}},
		"DeleteRecords": &DeleteRecordsRequest{Topics: []DeleteRecordsTopic{
			{Name: "orders", Partitions: []DeleteRecordsPartition{{Partition: 0, Offset: 42}, {Partition: 3, Offset: HighWatermarkOffset}}},
			{Name: "none"},
		}, TimeoutMs: 30000},
		"ListOffsets": &ListOffsetsRequest{Topics: []ListOffsetsTopic{
			{Name: "orders", Partitions: []ListOffsetsPartition{
				{Partition: 0, Timestamp: EarliestTimestamp},
				{Partition: 1, Timestamp: LatestTimestamp},
				{Partition: 2, Timestamp: 1_700_000_000_000},
			}},
		}},
	}
}

// responseCases are realistic and edge-value responses of every API.
func responseCases() map[string]Response {
	recs := twoBatches()
	return map[string]Response{
		"ApiVersions":       &APIVersionsResponse{APIs: append([]VersionRange(nil), SupportedVersions()...)},
		"ApiVersions/error": &APIVersionsResponse{ErrorCode: UnsupportedVersion, APIs: []VersionRange{{ProduceKey, 0, 3}}},
		"Metadata": &MetadataResponse{
			Brokers:      []MetadataBroker{{NodeID: 1, Host: "10.0.0.1", Port: 9092}, {NodeID: 2, Host: "broker-2.spate.internal", Port: 19092}},
			ControllerID: 1,
			Topics: []MetadataTopic{
				{Name: "orders", Partitions: []MetadataPartition{
					{Partition: 0, Leader: 1, LeaderEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}},
					{ErrorCode: LeaderNotAvailable, Partition: 1, Leader: -1, LeaderEpoch: -1, Replicas: []int32{2}},
				}},
				{ErrorCode: UnknownTopicOrPartition, Name: "missing"},
			},
		},
		"Metadata/empty": &MetadataResponse{ControllerID: -1},
		"CreateTopics": &CreateTopicsResponse{Topics: []TopicResult{
			{Name: "orders"},
			{Name: "orders", ErrorCode: TopicAlreadyExists, Message: `topic "orders" already exists`},
		}},
		"DeleteTopics": &DeleteTopicsResponse{Topics: []TopicResult{{Name: "gone", ErrorCode: UnknownTopicOrPartition}}},
		"Produce": &ProduceResponse{Topics: []ProduceTopicResponse{
			{Name: "orders", Partitions: []ProducePartitionResponse{
				{Partition: 0, BaseOffset: 1 << 40, LogAppendTime: -1, LogStartOffset: 0},
				{Partition: 1, ErrorCode: NotLeader, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1},
			}},
		}},
		"Produce/v1": &ProduceResponse{Version: 1, Topics: []ProduceTopicResponse{
			{Name: "orders", Partitions: []ProducePartitionResponse{
				{Partition: 0, BaseOffset: 7, LogAppendTime: -1, LogStartOffset: 0},
				{Partition: 1, ErrorCode: MessageTooLarge, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1,
					ErrorMessage: "orders-1: batch at byte 0: 20000066 bytes > max.message.bytes 8388608"},
			}},
		}},
		"Fetch": &FetchResponse{Topics: []FetchTopicResponse{
			{Name: "orders", Partitions: []FetchPartitionResponse{
				{Partition: 0, HighWatermark: 15, LastStableOffset: -1, LogStartOffset: 0, Records: recs, RecordsLen: int32(len(recs))},
				{Partition: 1, ErrorCode: OffsetOutOfRange, HighWatermark: 100, LastStableOffset: -1, LogStartOffset: 50, Records: nil, RecordsLen: -1},
				{Partition: 2, HighWatermark: 0, LastStableOffset: -1, Records: []byte{}, RecordsLen: 0},
			}},
			{Name: "t2", Partitions: []FetchPartitionResponse{
				{Partition: 9, HighWatermark: math.MaxInt64, LastStableOffset: math.MaxInt64, LogStartOffset: math.MaxInt64,
					Records: recs[:100], RecordsLen: 100},
			}},
		}},
		"InitProducerId":       &InitProducerIDResponse{ProducerID: 1 << 40, ProducerEpoch: 0},
		"InitProducerId/max":   &InitProducerIDResponse{ProducerID: math.MaxInt64, ProducerEpoch: math.MaxInt16},
		"InitProducerId/error": &InitProducerIDResponse{ErrorCode: InvalidRequest, ProducerID: -1, ProducerEpoch: -1},
		"DescribeConfigs": &DescribeConfigsResponse{Topics: []TopicConfigs{
			{Name: "orders", Configs: []ConfigEntry{{Key: "retention.ms", Value: "3600000", Override: true}, {Key: "cleanup.policy", Value: "delete"}}},
			{Name: "missing", ErrorCode: UnknownTopicOrPartition, Message: `topic "missing" does not exist`},
		}},
		"AlterConfigs": &AlterConfigsResponse{Topics: []TopicResult{
			{Name: "orders"},
			{Name: "x", ErrorCode: InvalidConfig, Message: `retention.ms: "soon" is not an integer`},
		}},
		"CreatePartitions": &CreatePartitionsResponse{Topics: []TopicResult{
			{Name: "orders"}, {Name: "x", ErrorCode: InvalidPartitions, Message: "a topic can only grow"},
		}},
		"DescribeCluster": &DescribeClusterResponse{ClusterID: "q1w2e3", ControllerID: 2, MetadataOffset: 88,
			Brokers: []ClusterBroker{
				{ID: 1, Native: "127.0.0.1:9192", Controller: "127.0.0.1:9193", Admin: "127.0.0.1:9194", Kafka: "127.0.0.1:9092", Rack: "a", Epoch: 5, MetadataLag: 0},
				{ID: 2, Native: "127.0.0.1:9292", Fenced: true, Epoch: 9, MetadataLag: -1},
			},
			Offline:         []ClusterPartition{{Topic: "orders", Partition: 3}},
			UnderReplicated: []ClusterPartition{{Topic: "orders", Partition: 3}, {Topic: "x", Partition: 0}},
		},
		"DescribeCluster/error": &DescribeClusterResponse{ErrorCode: NotController},
		"AlterPartitionReassignments": &ReassignResponse{Results: []PartitionResult{
			{Topic: "orders", Partition: 0}, {Topic: "x", Partition: 7, ErrorCode: UnknownTopicOrPartition, Message: "x has 2 partitions"}}},
		"AlterPartitionReassignments/error": &ReassignResponse{ErrorCode: NotController},
		"ListPartitionReassignments": &ListReassignmentsResponse{Reassignments: []Reassignment{
			{Topic: "orders", Partition: 0, Replicas: []int32{4, 2, 3, 1}, ISR: []int32{1, 2, 3}, Target: []int32{4, 2, 3}}}},
		"OffsetForLeaderEpoch": &EpochQueryResponse{Topics: []EpochQueryTopicResponse{
			{Name: "orders", Partitions: []EpochQueryPartitionResponse{
				{Partition: 0, LeaderEpoch: 3, EndOffset: 1200},
				{Partition: 1, ErrorCode: FencedLeaderEpoch, LeaderEpoch: -1, EndOffset: -1},
			}},
		}},
		"DeleteRecords": &DeleteRecordsResponse{Topics: []DeleteRecordsTopicResponse{
			{Name: "orders", Partitions: []DeleteRecordsPartitionResponse{
				{Partition: 0, LowWatermark: 42},
				{Partition: 1, LowWatermark: -1, ErrorCode: OffsetOutOfRange, Message: "offset 900 is above the high watermark 700"},
			}},
		}},
		"ListOffsets": &ListOffsetsResponse{Topics: []ListOffsetsTopicResponse{
			{Name: "orders", Partitions: []ListOffsetsPartitionResponse{
				{Partition: 0, Timestamp: -1, Offset: 0},
				{Partition: 2, Timestamp: 1_700_000_000_123, Offset: 42},
				{Partition: 3, ErrorCode: UnknownTopicOrPartition, Timestamp: -1, Offset: -1},
			}},
		}},
	}
}

// versionOf is the header version AppendRequestFrame writes for req.
func versionOf(req Request) int16 {
	if v, ok := req.(versioned); ok {
		return v.version()
	}
	return 0
}

// responseVersion is the version a response was built for: Produce's
// Version field, else 0.
func responseVersion(resp Response) int16 {
	if p, ok := resp.(*ProduceResponse); ok {
		return p.Version
	}
	return 0
}

// setVersion sets the version a response decodes as (Produce only).
func setVersion(resp Response, v int16) {
	if p, ok := resp.(*ProduceResponse); ok {
		p.Version = v
	}
}

// newResponse returns an empty response of the same type as p.
func newResponse(k APIKey) Response {
	switch k {
	case APIVersionsKey:
		return &APIVersionsResponse{}
	case MetadataKey:
		return &MetadataResponse{}
	case CreateTopicsKey:
		return &CreateTopicsResponse{}
	case DeleteTopicsKey:
		return &DeleteTopicsResponse{}
	case ProduceKey:
		return &ProduceResponse{}
	case FetchKey:
		return &FetchResponse{}
	case ListOffsetsKey:
		return &ListOffsetsResponse{}
	case InitProducerIDKey:
		return &InitProducerIDResponse{}
	case DescribeConfigsKey:
		return &DescribeConfigsResponse{}
	case AlterConfigsKey:
		return &AlterConfigsResponse{}
	case DeleteRecordsKey:
		return &DeleteRecordsResponse{}
	case CreatePartitionsKey:
		return &CreatePartitionsResponse{}
	case DescribeClusterKey:
		return &DescribeClusterResponse{}
	case OffsetForLeaderEpochKey:
		return &EpochQueryResponse{}
	case AlterPartitionReassignmentsKey:
		return &ReassignResponse{}
	case ListPartitionReassignmentsKey:
		return &ListReassignmentsResponse{}
	}
	return newGroupResponse(k)
}

// newRequest returns an empty request of key k.
func newRequest(k APIKey) Request {
	switch k {
	case APIVersionsKey:
		return &APIVersionsRequest{}
	case MetadataKey:
		return &MetadataRequest{}
	case CreateTopicsKey:
		return &CreateTopicsRequest{}
	case DeleteTopicsKey:
		return &DeleteTopicsRequest{}
	case ProduceKey:
		return &ProduceRequest{}
	case FetchKey:
		return &FetchRequest{}
	case ListOffsetsKey:
		return &ListOffsetsRequest{}
	case InitProducerIDKey:
		return &InitProducerIDRequest{}
	case DescribeConfigsKey:
		return &DescribeConfigsRequest{}
	case AlterConfigsKey:
		return &AlterConfigsRequest{}
	case DeleteRecordsKey:
		return &DeleteRecordsRequest{}
	case CreatePartitionsKey:
		return &CreatePartitionsRequest{}
	case DescribeClusterKey:
		return &DescribeClusterRequest{}
	case OffsetForLeaderEpochKey:
		return &EpochQueryRequest{}
	case AlterPartitionReassignmentsKey:
		return &ReassignRequest{}
	case ListPartitionReassignmentsKey:
		return &ListReassignmentsRequest{}
	}
	return newGroupRequest(k)
}
