package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// versionRange is one API Spate serves and the versions of it.
type versionRange struct {
	key      int16
	min, max int16
}

// served is what ApiVersions advertises (docs/kafka.md explains each
// range). Minimums stay low where an old client needs them to enable a
// feature (librdkafka 2.0 wants Produce v3, Fetch v4 and InitProducerId v0
// in range, or it falls back to magic-1 messages or drops idempotence).
// A maximum is raised only with the semantics it brings: ListOffsets v7
// adds the max-timestamp lookup (-3), which the engine does not have;
// Fetch v13+ names topics by id, OffsetFetch v8 batches groups,
// ListGroups v5 filters by group type, DescribeLogDirs v5 reports cordoned
// dirs and DescribeCluster v2 fenced brokers. Every kmsg version of
// DeleteRecords, OffsetForLeaderEpoch, DescribeConfigs, AlterConfigs,
// CreatePartitions and IncrementalAlterConfigs is served.
var served = []versionRange{
	{key: 0, min: 3, max: 9},  // Produce
	{key: 1, min: 4, max: 12}, // Fetch
	{key: 2, min: 1, max: 6},  // ListOffsets
	{key: 3, min: 0, max: 12}, // Metadata
	{key: 8, min: 2, max: 8},  // OffsetCommit
	{key: 9, min: 1, max: 7},  // OffsetFetch
	{key: 10, min: 0, max: 4}, // FindCoordinator
	{key: 11, min: 0, max: 9}, // JoinGroup
	{key: 12, min: 0, max: 4}, // Heartbeat
	{key: 13, min: 0, max: 5}, // LeaveGroup
	{key: 14, min: 0, max: 5}, // SyncGroup
	{key: 15, min: 0, max: 5}, // DescribeGroups
	{key: 16, min: 0, max: 4}, // ListGroups
	{key: 18, min: 0, max: 3}, // ApiVersions
	{key: 19, min: 0, max: 7}, // CreateTopics
	{key: 20, min: 0, max: 6}, // DeleteTopics
	{key: 21, min: 0, max: 2}, // DeleteRecords
	{key: 22, min: 0, max: 4}, // InitProducerId
	{key: 23, min: 0, max: 4}, // OffsetForLeaderEpoch
	{key: 32, min: 0, max: 4}, // DescribeConfigs
	{key: 33, min: 0, max: 2}, // AlterConfigs
	{key: 35, min: 0, max: 4}, // DescribeLogDirs
	{key: 37, min: 0, max: 3}, // CreatePartitions
	{key: 42, min: 0, max: 2}, // DeleteGroups
	{key: 44, min: 0, max: 1}, // IncrementalAlterConfigs
	{key: 60, min: 0, max: 1}, // DescribeCluster
}

// apiVersionsKey is ApiVersions' key: its too-new versions get an answer
// instead of a closed connection.
const apiVersionsKey = 18

// servedRange returns the versions of key Spate serves and its index in
// served; ok is false for a key it does not serve.
func servedRange(key int16) (r versionRange, index int, ok bool) {
	for i, v := range served {
		if v.key == key {
			return v, i, true
		}
	}
	return versionRange{}, -1, false
}

// apiVersionsResponse lists every served API, as ApiVersions answers it.
func apiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	for _, v := range served {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = v.key, v.min, v.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
