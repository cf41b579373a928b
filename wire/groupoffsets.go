package wire

// OffsetCommit and OffsetFetch: committed consumer offsets, stored by the
// group's coordinator in __consumer_offsets.

// OffsetCommitRequest commits offsets for a group. A member of an active
// group sends its generation, member id and (static members) instance id;
// a standalone consumer that uses no group membership sends generation -1
// and an empty member id, which the coordinator accepts only while the
// group has no members.
type OffsetCommitRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
	Topics          []OffsetCommitTopic
}

// OffsetCommitTopic is one topic of an OffsetCommitRequest.
type OffsetCommitTopic struct {
	Name       string
	Partitions []OffsetCommitPartition
}

// OffsetCommitPartition is one committed position: Offset is the next
// offset the consumer will read.
type OffsetCommitPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32  // leader epoch of the last record consumed; -1 if unknown
	Metadata    string // free text kept with the offset; empty (null) when none
}

// APIKey implements Request.
func (*OffsetCommitRequest) APIKey() APIKey { return OffsetCommitKey }

// AppendTo implements Request.
func (q *OffsetCommitRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	dst = appendInt32(dst, q.GenerationID)
	dst = appendString(dst, q.MemberID)
	dst = appendMessage(dst, q.GroupInstanceID)
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendInt64(dst, p.Offset)
			dst = appendInt32(dst, p.LeaderEpoch)
			dst = appendMessage(dst, p.Metadata)
		}
	}
	return dst
}

// Decode implements Request.
func (q *OffsetCommitRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "OffsetCommit request")
}

func (q *OffsetCommitRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	q.GenerationID = r.int32("generation_id")
	q.MemberID = r.string("member_id")
	q.GroupInstanceID = r.string("group_instance_id")
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 18)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = r.int32("partition")
			p.Offset = r.int64("committed_offset")
			p.LeaderEpoch = r.int32("committed_leader_epoch")
			p.Metadata = r.string("committed_metadata")
		}
	}
}

// OffsetCommitResponse answers an OffsetCommitRequest per partition. A
// request-level failure (unknown member, illegal generation) is repeated in
// every partition, as Kafka does.
type OffsetCommitResponse struct {
	ErrorCode ErrorCode
	Topics    []OffsetCommitTopicResponse
}

// OffsetCommitTopicResponse is one topic of an OffsetCommitResponse.
type OffsetCommitTopicResponse struct {
	Name       string
	Partitions []OffsetCommitPartitionResponse
}

// OffsetCommitPartitionResponse is the outcome for one partition.
type OffsetCommitPartitionResponse struct {
	Partition int32
	ErrorCode ErrorCode
}

// APIKey implements Response.
func (*OffsetCommitResponse) APIKey() APIKey { return OffsetCommitKey }

// AppendTo implements Response.
func (p *OffsetCommitResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt16(dst, int16(pt.ErrorCode))
		}
	}
	return dst
}

// Decode implements Response.
func (p *OffsetCommitResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "OffsetCommit response")
}

func (p *OffsetCommitResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 6)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			t.Partitions[j].Partition = r.int32("partition")
			t.Partitions[j].ErrorCode = ErrorCode(r.int16("partition error_code"))
		}
	}
}

// OffsetFetchRequest reads a group's committed offsets.
type OffsetFetchRequest struct {
	GroupID string
	// AllTopics asks for every partition the group has an offset for (sent
	// as a null array); Topics is then ignored.
	AllTopics bool
	Topics    []OffsetFetchTopic
}

// OffsetFetchTopic names the partitions of one topic to read.
type OffsetFetchTopic struct {
	Name       string
	Partitions []int32
}

// APIKey implements Request.
func (*OffsetFetchRequest) APIKey() APIKey { return OffsetFetchKey }

// AppendTo implements Request.
func (q *OffsetFetchRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	if q.AllTopics {
		return appendInt32(dst, -1)
	}
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendInt32s(dst, t.Partitions)
	}
	return dst
}

// Decode implements Request.
func (q *OffsetFetchRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "OffsetFetch request")
}

func (q *OffsetFetchRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	n, null := r.count("topics", 6)
	q.AllTopics = null
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		q.Topics[i].Name = r.name("topic")
		q.Topics[i].Partitions = r.int32s(q.Topics[i].Partitions, "partitions")
	}
}

// OffsetFetchResponse carries the committed offsets.
type OffsetFetchResponse struct {
	ErrorCode ErrorCode
	Topics    []OffsetFetchTopicResponse
}

// OffsetFetchTopicResponse is one topic of an OffsetFetchResponse.
type OffsetFetchTopicResponse struct {
	Name       string
	Partitions []OffsetFetchPartitionResponse
}

// OffsetFetchPartitionResponse is one partition's committed offset; Offset
// is -1 (and LeaderEpoch -1, Metadata empty) when the group has none.
type OffsetFetchPartitionResponse struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	ErrorCode   ErrorCode
}

// APIKey implements Response.
func (*OffsetFetchResponse) APIKey() APIKey { return OffsetFetchKey }

// AppendTo implements Response.
func (p *OffsetFetchResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt64(dst, pt.Offset)
			dst = appendInt32(dst, pt.LeaderEpoch)
			dst = appendMessage(dst, pt.Metadata)
			dst = appendInt16(dst, int16(pt.ErrorCode))
		}
	}
	return dst
}

// Decode implements Response.
func (p *OffsetFetchResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "OffsetFetch response")
}

func (p *OffsetFetchResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 20)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.Offset = r.int64("committed_offset")
			pt.LeaderEpoch = r.int32("committed_leader_epoch")
			pt.Metadata = r.string("metadata")
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
		}
	}
}
