package wire

// OffsetForLeaderEpoch: a follower asks its leader where a leader epoch
// ends in the leader's log (Kafka's OffsetForLeaderEpoch, KIP-101 and
// KIP-279), to know where its own log stops matching before it fetches.

// EpochQueryRequest asks, per partition, for the end offset of LeaderEpoch
// (or of the largest earlier epoch the leader knows).
type EpochQueryRequest struct {
	ReplicaID int32 // the asking follower's broker id
	Topics    []EpochQueryTopic
}

// EpochQueryTopic is one topic of an EpochQueryRequest.
type EpochQueryTopic struct {
	Name       string
	Partitions []EpochQueryPartition
}

// EpochQueryPartition asks about one partition.
type EpochQueryPartition struct {
	Partition int32
	// CurrentLeaderEpoch is the epoch of the leader the follower believes
	// in: older than the leader's is FENCED_LEADER_EPOCH, newer
	// UNKNOWN_LEADER_EPOCH.
	CurrentLeaderEpoch int32
	// LeaderEpoch is the epoch asked about.
	LeaderEpoch int32
}

// APIKey implements Request.
func (*EpochQueryRequest) APIKey() APIKey { return OffsetForLeaderEpochKey }

// AppendTo implements Request.
func (q *EpochQueryRequest) AppendTo(dst []byte) []byte {
	dst = appendInt32(dst, q.ReplicaID)
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendInt32(dst, p.CurrentLeaderEpoch)
			dst = appendInt32(dst, p.LeaderEpoch)
		}
	}
	return dst
}

// Decode implements Request.
func (q *EpochQueryRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "OffsetForLeaderEpoch request")
}

func (q *EpochQueryRequest) decode(r *reader) {
	q.ReplicaID = r.int32("replica_id")
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 12)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = r.int32("partition")
			p.CurrentLeaderEpoch = r.int32("current_leader_epoch")
			p.LeaderEpoch = r.int32("leader_epoch")
		}
	}
}

// EpochQueryResponse answers an EpochQueryRequest in the order asked.
type EpochQueryResponse struct {
	ErrorCode ErrorCode
	Topics    []EpochQueryTopicResponse
}

// EpochQueryTopicResponse is one topic of an EpochQueryResponse.
type EpochQueryTopicResponse struct {
	Name       string
	Partitions []EpochQueryPartitionResponse
}

// EpochQueryPartitionResponse is the leader's answer for one partition:
// the largest epoch at or below the one asked that its log knows and the
// offset where that epoch ends; -1 and -1 when it knows none.
type EpochQueryPartitionResponse struct {
	Partition   int32
	ErrorCode   ErrorCode
	LeaderEpoch int32
	EndOffset   int64
}

// APIKey implements Response.
func (*EpochQueryResponse) APIKey() APIKey { return OffsetForLeaderEpochKey }

// AppendTo implements Response.
func (p *EpochQueryResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt16(dst, int16(pt.ErrorCode))
			dst = appendInt32(dst, pt.LeaderEpoch)
			dst = appendInt64(dst, pt.EndOffset)
		}
	}
	return dst
}

// Decode implements Response.
func (p *EpochQueryResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "OffsetForLeaderEpoch response")
}

func (p *EpochQueryResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 18)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.ErrorCode = ErrorCode(r.int16("error_code"))
			pt.LeaderEpoch = r.int32("leader_epoch")
			pt.EndOffset = r.int64("end_offset")
		}
	}
}
