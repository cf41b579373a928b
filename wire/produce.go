package wire

// Acks values of a ProduceRequest.
const (
	AcksNone   int16 = 0  // no response at all
	AcksLeader int16 = 1  // answer after the leader appended
	AcksAll    int16 = -1 // answer after every in-sync replica has the records
)

// ProduceRequest appends record batches to partitions.
//
// Behavior: with Acks == AcksNone the broker sends no response, not even
// for errors; the client learns of failures only from later requests.
//
// Versions: the body is the same in v0 and v1; a v1 response carries an
// error message per partition (ProducePartitionResponse.ErrorMessage).
type ProduceRequest struct {
	// Version is the request header's version (0 or 1; not in the body):
	// AppendRequestFrame writes it, Decoder.Decode sets it.
	Version   int16
	Acks      int16
	TimeoutMs int32 // how long acks=all may wait for the ISR
	Topics    []ProduceTopic
}

// ProduceTopic is one topic of a ProduceRequest.
type ProduceTopic struct {
	Name       string
	Partitions []ProducePartition
}

// ProducePartition carries the records for one partition.
type ProducePartition struct {
	Partition int32
	// Records is one or more concatenated RecordBatch v2 batches (see
	// record.Parse). After Decode it aliases the frame: valid only until the
	// frame buffer is reused. The broker validates, stamps and writes it
	// before its handler returns, or copies it.
	Records []byte
}

// APIKey implements Request.
func (*ProduceRequest) APIKey() APIKey { return ProduceKey }

func (q *ProduceRequest) version() int16 { return q.Version }

// AppendTo implements Request.
func (q *ProduceRequest) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, q.Acks)
	dst = appendInt32(dst, q.TimeoutMs)
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendBytes(dst, p.Records)
		}
	}
	return dst
}

// Decode implements Request.
func (q *ProduceRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "Produce request")
}

func (q *ProduceRequest) decode(r *reader) {
	q.Acks = r.int16("acks")
	q.TimeoutMs = r.int32("timeout_ms")
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 8)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = r.int32("partition")
			p.Records = r.bytes("records")
		}
	}
}

// ProduceResponse answers a ProduceRequest with acks 1 or -1.
type ProduceResponse struct {
	// Version is the request's: it is not on the wire, so the broker sets
	// it before AppendTo and the client before Decode. From 1 each
	// partition carries ErrorMessage.
	Version   int16
	ErrorCode ErrorCode
	Topics    []ProduceTopicResponse
}

// ProduceTopicResponse is one topic of a ProduceResponse.
type ProduceTopicResponse struct {
	Name       string
	Partitions []ProducePartitionResponse
}

// ProducePartitionResponse is the outcome for one partition.
type ProducePartitionResponse struct {
	Partition  int32
	ErrorCode  ErrorCode
	BaseOffset int64 // offset given to the first record; -1 on error
	// LogAppendTime is the broker's timestamp (ms) when the topic uses
	// LogAppendTime, else -1.
	LogAppendTime  int64
	LogStartOffset int64 // the partition's first offset after the append; -1 on error
	// ErrorMessage (v1) says what the error code cannot, e.g. "batch at
	// byte 0: 20000066 bytes > max.message.bytes 8388608"; empty (null)
	// when none.
	ErrorMessage string
}

// APIKey implements Response.
func (*ProduceResponse) APIKey() APIKey { return ProduceKey }

// AppendTo implements Response.
func (p *ProduceResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt16(dst, int16(pt.ErrorCode))
			dst = appendInt64(dst, pt.BaseOffset)
			dst = appendInt64(dst, pt.LogAppendTime)
			dst = appendInt64(dst, pt.LogStartOffset)
			if p.Version >= 1 {
				dst = appendMessage(dst, pt.ErrorMessage)
			}
		}
	}
	return dst
}

// Decode implements Response.
func (p *ProduceResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "Produce response")
}

func (p *ProduceResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 30)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
			pt.BaseOffset = r.int64("base_offset")
			pt.LogAppendTime = r.int64("log_append_time")
			pt.LogStartOffset = r.int64("log_start_offset")
			pt.ErrorMessage = ""
			if p.Version >= 1 {
				pt.ErrorMessage = r.string("error_message")
			}
		}
	}
}
