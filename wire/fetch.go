package wire

// ConsumerReplicaID is the ReplicaID of a fetch from a consumer; followers
// send their broker id.
const ConsumerReplicaID int32 = -1

// FetchRequest reads records from partitions.
//
// Behavior: the broker answers once it has MinBytes of records across all
// partitions, or MaxWaitMs passed, or a partition has an error. The answer
// holds at most MaxBytes of records in total and PartitionMaxBytes per
// partition, except that the first batch of the first non-empty partition
// is returned whole even when larger, so a consumer never stalls on a big
// batch.
type FetchRequest struct {
	ReplicaID int32 // ConsumerReplicaID, or the follower's broker id
	MaxWaitMs int32
	MinBytes  int32
	MaxBytes  int32
	Topics    []FetchTopic
}

// FetchTopic is one topic of a FetchRequest.
type FetchTopic struct {
	Name       string
	Partitions []FetchPartition
}

// FetchPartition asks for records of one partition from FetchOffset on.
type FetchPartition struct {
	Partition int32
	// CurrentLeaderEpoch fences fetches against a stale or future leader;
	// -1 skips the check.
	CurrentLeaderEpoch int32
	FetchOffset        int64
	PartitionMaxBytes  int32
}

// APIKey implements Request.
func (*FetchRequest) APIKey() APIKey { return FetchKey }

// AppendTo implements Request.
func (q *FetchRequest) AppendTo(dst []byte) []byte {
	dst = appendInt32(dst, q.ReplicaID)
	dst = appendInt32(dst, q.MaxWaitMs)
	dst = appendInt32(dst, q.MinBytes)
	dst = appendInt32(dst, q.MaxBytes)
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendInt32(dst, p.CurrentLeaderEpoch)
			dst = appendInt64(dst, p.FetchOffset)
			dst = appendInt32(dst, p.PartitionMaxBytes)
		}
	}
	return dst
}

// Decode implements Request.
func (q *FetchRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "Fetch request")
}

func (q *FetchRequest) decode(r *reader) {
	q.ReplicaID = r.int32("replica_id")
	q.MaxWaitMs = r.int32("max_wait_ms")
	q.MinBytes = r.int32("min_bytes")
	q.MaxBytes = r.int32("max_bytes")
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 20)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Partition = r.int32("partition")
			p.CurrentLeaderEpoch = r.int32("current_leader_epoch")
			p.FetchOffset = r.int64("fetch_offset")
			p.PartitionMaxBytes = r.int32("partition_max_bytes")
		}
	}
}

// FetchResponse answers a FetchRequest.
type FetchResponse struct {
	ErrorCode ErrorCode
	Topics    []FetchTopicResponse
}

// FetchTopicResponse is one topic of a FetchResponse.
type FetchTopicResponse struct {
	Name       string
	Partitions []FetchPartitionResponse
}

// FetchPartitionResponse is the records and offsets of one partition.
type FetchPartitionResponse struct {
	Partition        int32
	ErrorCode        ErrorCode
	HighWatermark    int64
	LastStableOffset int64 // -1: not tracked (no transactions yet)
	LogStartOffset   int64
	// Records is whole RecordBatch v2 batches, except that the last batch
	// may be cut short by a size limit: a reader must stop at the first
	// batch record.Parse reports as record.ErrShort. Nil is sent as null.
	// After Decode it aliases the frame.
	Records []byte
	// RecordsLen is used only by AppendFetchResponseParts, where the
	// records do not pass through this package: it is the number of record
	// bytes the caller will send after this partition's header (-1 for null).
	RecordsLen int32
}

// fetchPartitionHeaderLen is the fixed part of a partition in a fetch
// response, up to and including the records length field.
const fetchPartitionHeaderLen = 4 + 2 + 8 + 8 + 8 + 4

// APIKey implements Response.
func (*FetchResponse) APIKey() APIKey { return FetchKey }

// AppendTo implements Response. It copies each partition's Records into
// dst; the broker's zero-copy path is AppendFetchResponseParts.
func (p *FetchResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for i := range t.Partitions {
			pt := &t.Partitions[i]
			dst = appendFetchPartitionHeader(dst, pt)
			dst = appendBytes(dst, pt.Records)
		}
	}
	return dst
}

// appendFetchPartitionHeader appends a partition's fields before its records.
func appendFetchPartitionHeader(dst []byte, pt *FetchPartitionResponse) []byte {
	dst = appendInt32(dst, pt.Partition)
	dst = appendInt16(dst, int16(pt.ErrorCode))
	dst = appendInt64(dst, pt.HighWatermark)
	dst = appendInt64(dst, pt.LastStableOffset)
	return appendInt64(dst, pt.LogStartOffset)
}

// Part is one piece of a zero-copy fetch response frame produced by
// AppendFetchResponseParts: the header bytes out[start:HeaderEnd], where
// start is the previous Part's HeaderEnd (the frame's first byte for the
// first Part), then RecordsLen bytes of records that the caller sends
// itself — for partition resp.Topics[Topic].Partitions[Partition].
type Part struct {
	HeaderEnd  int
	Topic      int
	Partition  int
	RecordsLen int
}

// AppendFetchResponseParts appends a whole Fetch response frame to dst,
// except the record bytes: for each partition it writes the fields and the
// records length taken from RecordsLen (Records is ignored), and appends a
// Part to parts for each partition with RecordsLen > 0. The frame's size
// field already counts the records the caller will send.
//
// The caller sends, in order: for each Part, the bytes from the previous
// Part's HeaderEnd (or from the frame start, len(dst) on entry) up to
// HeaderEnd, then that partition's RecordsLen record bytes (by sendfile);
// finally the bytes from the last HeaderEnd (or the frame start) to
// len(out). With no Parts the frame is simply out[len(dst):]. The result
// decodes with FetchResponse.Decode like any other frame.
//
// parts is appended to (pass parts[:0] to reuse it); neither the call nor
// the result allocates when dst and parts have the capacity.
func AppendFetchResponseParts(dst []byte, correlationID int32, resp *FetchResponse, parts []Part) ([]byte, []Part) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendInt32(dst, correlationID)
	dst = appendInt16(dst, int16(resp.ErrorCode))
	dst = appendCount(dst, len(resp.Topics))
	external := 0
	for ti, t := range resp.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for pi := range t.Partitions {
			pt := &t.Partitions[pi]
			dst = appendFetchPartitionHeader(dst, pt)
			n := pt.RecordsLen
			if n < 0 {
				n = -1
			}
			dst = appendInt32(dst, n)
			if n > 0 {
				parts = append(parts, Part{HeaderEnd: len(dst), Topic: ti, Partition: pi, RecordsLen: int(n)})
				external += int(n)
			}
		}
	}
	return patchSize(dst, start, external), parts
}

// Decode implements Response.
func (p *FetchResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "Fetch response")
}

func (p *FetchResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", fetchPartitionHeaderLen)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
			pt.HighWatermark = r.int64("high_watermark")
			pt.LastStableOffset = r.int64("last_stable_offset")
			pt.LogStartOffset = r.int64("log_start_offset")
			pt.Records = r.bytes("records")
			pt.RecordsLen = int32(len(pt.Records))
			if pt.Records == nil {
				pt.RecordsLen = -1
			}
		}
	}
}
