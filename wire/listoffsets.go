package wire

// Special timestamps of a ListOffsetsPartition.
const (
	// EarliestTimestamp asks for the log start offset.
	EarliestTimestamp int64 = -2
	// LatestTimestamp asks for the high watermark: the end of what
	// consumers may read, the offset the next committed record will get.
	LatestTimestamp int64 = -1
	// LogEndTimestamp (a Spate extension; Kafka has no such value) asks for
	// the log end offset: the offset the next appended record will get,
	// including records not yet committed (above the high watermark, e.g.
	// waiting for an fdatasync under flush.policy=always). For operators'
	// tools such as `spate topic describe`; consumers use LatestTimestamp.
	LogEndTimestamp int64 = -3
)

// ListOffsetsRequest finds offsets by time.
type ListOffsetsRequest struct {
	Topics []ListOffsetsTopic
}

// ListOffsetsTopic is one topic of a ListOffsetsRequest.
type ListOffsetsTopic struct {
	Name       string
	Partitions []ListOffsetsPartition
}

// ListOffsetsPartition asks for the first offset whose timestamp is at or
// after Timestamp (ms), or for EarliestTimestamp / LatestTimestamp.
type ListOffsetsPartition struct {
	Partition int32
	Timestamp int64
}

// APIKey implements Request.
func (*ListOffsetsRequest) APIKey() APIKey { return ListOffsetsKey }

// AppendTo implements Request.
func (q *ListOffsetsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendInt64(dst, p.Timestamp)
		}
	}
	return dst
}

// Decode implements Request.
func (q *ListOffsetsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "ListOffsets request")
}

func (q *ListOffsetsRequest) decode(r *reader) {
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 12)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			t.Partitions[j].Partition = r.int32("partition")
			t.Partitions[j].Timestamp = r.int64("timestamp")
		}
	}
}

// ListOffsetsResponse answers a ListOffsetsRequest.
type ListOffsetsResponse struct {
	ErrorCode ErrorCode
	Topics    []ListOffsetsTopicResponse
}

// ListOffsetsTopicResponse is one topic of a ListOffsetsResponse.
type ListOffsetsTopicResponse struct {
	Name       string
	Partitions []ListOffsetsPartitionResponse
}

// ListOffsetsPartitionResponse is the offset found for one partition.
// When no record is at or after the requested time, Offset is -1 and
// Timestamp is -1.
type ListOffsetsPartitionResponse struct {
	Partition int32
	ErrorCode ErrorCode
	Timestamp int64 // timestamp of the record at Offset; -1 for earliest/latest
	Offset    int64
}

// APIKey implements Response.
func (*ListOffsetsResponse) APIKey() APIKey { return ListOffsetsKey }

// AppendTo implements Response.
func (p *ListOffsetsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt16(dst, int16(pt.ErrorCode))
			dst = appendInt64(dst, pt.Timestamp)
			dst = appendInt64(dst, pt.Offset)
		}
	}
	return dst
}

// Decode implements Response.
func (p *ListOffsetsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "ListOffsets response")
}

func (p *ListOffsetsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 22)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
			pt.Timestamp = r.int64("timestamp")
			pt.Offset = r.int64("offset")
		}
	}
}
