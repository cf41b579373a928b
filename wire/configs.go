package wire

// DescribeConfigs, AlterConfigs and DeleteRecords: topic administration
// beyond create and delete. Any broker answers them for the partitions and
// topics it hosts.

// DescribeConfigsRequest asks for the configs of topics (none named: every
// topic).
type DescribeConfigsRequest struct {
	Topics []string
}

// APIKey implements Request.
func (*DescribeConfigsRequest) APIKey() APIKey { return DescribeConfigsKey }

// AppendTo implements Request.
func (q *DescribeConfigsRequest) AppendTo(dst []byte) []byte { return appendStrings(dst, q.Topics) }

// Decode implements Request.
func (q *DescribeConfigsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DescribeConfigs request")
}

func (q *DescribeConfigsRequest) decode(r *reader) { q.Topics = r.strings(q.Topics, "topics") }

// ConfigEntry is one config of a topic: its effective value, and whether
// it is set on the topic (an override) rather than the broker's default.
type ConfigEntry struct {
	Key      string
	Value    string
	Override bool
}

// TopicConfigs is one topic of a DescribeConfigsResponse.
type TopicConfigs struct {
	Name      string
	ErrorCode ErrorCode
	Message   string // human detail for ErrorCode; empty (null) when none
	Configs   []ConfigEntry
}

// DescribeConfigsResponse answers DescribeConfigsRequest, one entry per
// topic asked for, in the order asked.
type DescribeConfigsResponse struct {
	ErrorCode ErrorCode
	Topics    []TopicConfigs
}

// APIKey implements Response.
func (*DescribeConfigsResponse) APIKey() APIKey { return DescribeConfigsKey }

// AppendTo implements Response.
func (p *DescribeConfigsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendInt16(dst, int16(t.ErrorCode))
		dst = appendMessage(dst, t.Message)
		dst = appendCount(dst, len(t.Configs))
		for _, c := range t.Configs {
			dst = appendString(dst, c.Key)
			dst = appendString(dst, c.Value)
			dst = appendBool(dst, c.Override)
		}
	}
	return dst
}

// Decode implements Response.
func (p *DescribeConfigsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DescribeConfigs response")
}

func (p *DescribeConfigsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 10)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		t.ErrorCode = ErrorCode(r.int16("topic error_code"))
		t.Message = r.string("error_message")
		n, _ := r.count("configs", 5)
		t.Configs = resize(t.Configs, n)
		for j := range t.Configs {
			c := &t.Configs[j]
			c.Key = r.string("config key")
			c.Value = r.string("config value")
			c.Override = r.bool("override")
		}
	}
}

// AlterConfigsRequest changes topic configs incrementally: each named key
// is set, or with an empty (null) value its override is removed so the
// broker default applies again; keys not named keep their values.
type AlterConfigsRequest struct {
	Topics []AlterConfigsTopic
	// ValidateOnly checks the changes without applying them.
	ValidateOnly bool
}

// AlterConfigsTopic is the changes to one topic.
type AlterConfigsTopic struct {
	Name    string
	Configs []Config
}

// APIKey implements Request.
func (*AlterConfigsRequest) APIKey() APIKey { return AlterConfigsKey }

// AppendTo implements Request.
func (q *AlterConfigsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Configs))
		for _, c := range t.Configs {
			dst = appendString(dst, c.Key)
			dst = appendMessage(dst, c.Value)
		}
	}
	return appendBool(dst, q.ValidateOnly)
}

// Decode implements Request.
func (q *AlterConfigsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "AlterConfigs request")
}

func (q *AlterConfigsRequest) decode(r *reader) {
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("configs", 4)
		t.Configs = resize(t.Configs, n)
		for j := range t.Configs {
			t.Configs[j].Key = r.string("config key")
			t.Configs[j].Value = r.string("config value")
		}
	}
	q.ValidateOnly = r.bool("validate_only")
}

// AlterConfigsResponse answers AlterConfigsRequest, one result per topic.
type AlterConfigsResponse struct {
	ErrorCode ErrorCode
	Topics    []TopicResult
}

// APIKey implements Response.
func (*AlterConfigsResponse) APIKey() APIKey { return AlterConfigsKey }

// AppendTo implements Response.
func (p *AlterConfigsResponse) AppendTo(dst []byte) []byte {
	return appendTopicResults(dst, p.ErrorCode, p.Topics)
}

// Decode implements Response.
func (p *AlterConfigsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "AlterConfigs response")
}

func (p *AlterConfigsResponse) decode(r *reader) {
	p.ErrorCode, p.Topics = decodeTopicResults(r, p.Topics)
}

// DeleteRecordsRequest moves partitions' log start offsets up (Kafka's
// DeleteRecords): records below the offset are no longer readable, and
// segments wholly below it are deleted. The leader answers it.
type DeleteRecordsRequest struct {
	Topics    []DeleteRecordsTopic
	TimeoutMs int32
}

// DeleteRecordsTopic is one topic of a DeleteRecordsRequest.
type DeleteRecordsTopic struct {
	Name       string
	Partitions []DeleteRecordsPartition
}

// DeleteRecordsPartition names the new log start offset of one partition;
// Offset -1 (HighWatermarkOffset) means the high watermark: delete every
// committed record.
type DeleteRecordsPartition struct {
	Partition int32
	Offset    int64
}

// HighWatermarkOffset in a DeleteRecordsPartition stands for the
// partition's high watermark.
const HighWatermarkOffset int64 = -1

// APIKey implements Request.
func (*DeleteRecordsRequest) APIKey() APIKey { return DeleteRecordsKey }

// AppendTo implements Request.
func (q *DeleteRecordsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, p := range t.Partitions {
			dst = appendInt32(dst, p.Partition)
			dst = appendInt64(dst, p.Offset)
		}
	}
	return appendInt32(dst, q.TimeoutMs)
}

// Decode implements Request.
func (q *DeleteRecordsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DeleteRecords request")
}

func (q *DeleteRecordsRequest) decode(r *reader) {
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 12)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			t.Partitions[j].Partition = r.int32("partition")
			t.Partitions[j].Offset = r.int64("offset")
		}
	}
	q.TimeoutMs = r.int32("timeout_ms")
}

// DeleteRecordsResponse answers DeleteRecordsRequest.
type DeleteRecordsResponse struct {
	ErrorCode ErrorCode
	Topics    []DeleteRecordsTopicResponse
}

// DeleteRecordsTopicResponse is one topic of a DeleteRecordsResponse.
type DeleteRecordsTopicResponse struct {
	Name       string
	Partitions []DeleteRecordsPartitionResponse
}

// DeleteRecordsPartitionResponse is the outcome for one partition.
type DeleteRecordsPartitionResponse struct {
	Partition    int32
	LowWatermark int64 // the log start offset after the call; -1 on error
	ErrorCode    ErrorCode
	Message      string // human detail for ErrorCode; empty (null) when none
}

// APIKey implements Response.
func (*DeleteRecordsResponse) APIKey() APIKey { return DeleteRecordsKey }

// AppendTo implements Response.
func (p *DeleteRecordsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt64(dst, pt.LowWatermark)
			dst = appendInt16(dst, int16(pt.ErrorCode))
			dst = appendMessage(dst, pt.Message)
		}
	}
	return dst
}

// Decode implements Response.
func (p *DeleteRecordsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DeleteRecords response")
}

func (p *DeleteRecordsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Topics = p.Topics[:0]
		return
	}
	n, _ := r.count("topics", 6)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 16)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.Partition = r.int32("partition")
			pt.LowWatermark = r.int64("low_watermark")
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
			pt.Message = r.string("error_message")
		}
	}
}
