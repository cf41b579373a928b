package wire

// CreateTopicsRequest creates topics. The controller answers it.
type CreateTopicsRequest struct {
	Topics    []CreateTopic
	TimeoutMs int32
	// ValidateOnly checks the request and reports what would happen
	// without creating anything.
	ValidateOnly bool
}

// CreateTopic is one topic to create.
type CreateTopic struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Configs are topic config overrides (e.g. "retention.ms"), in the
	// order sent; an empty Value is sent as null, meaning "the default".
	Configs []Config
}

// Config is one key/value config entry.
type Config struct {
	Key   string
	Value string
}

// APIKey implements Request.
func (*CreateTopicsRequest) APIKey() APIKey { return CreateTopicsKey }

// AppendTo implements Request.
func (q *CreateTopicsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendInt32(dst, t.Partitions)
		dst = appendInt16(dst, t.ReplicationFactor)
		dst = appendCount(dst, len(t.Configs))
		for _, c := range t.Configs {
			dst = appendString(dst, c.Key)
			dst = appendMessage(dst, c.Value)
		}
	}
	dst = appendInt32(dst, q.TimeoutMs)
	return appendBool(dst, q.ValidateOnly)
}

// Decode implements Request.
func (q *CreateTopicsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "CreateTopics request")
}

func (q *CreateTopicsRequest) decode(r *reader) {
	n, _ := r.count("topics", 12)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		t := &q.Topics[i]
		t.Name = r.name("topic")
		t.Partitions = r.int32("partitions")
		t.ReplicationFactor = r.int16("replication_factor")
		n, _ := r.count("configs", 4)
		t.Configs = resize(t.Configs, n)
		for j := range t.Configs {
			t.Configs[j].Key = r.string("config key")
			t.Configs[j].Value = r.string("config value")
		}
	}
	q.TimeoutMs = r.int32("timeout_ms")
	q.ValidateOnly = r.bool("validate_only")
}

// TopicResult is the outcome for one topic of CreateTopics or DeleteTopics.
type TopicResult struct {
	Name      string
	ErrorCode ErrorCode
	Message   string // human detail for ErrorCode; empty (null) when none
}

// CreateTopicsResponse answers CreateTopicsRequest, one result per topic.
type CreateTopicsResponse struct {
	ErrorCode ErrorCode
	Topics    []TopicResult
}

// APIKey implements Response.
func (*CreateTopicsResponse) APIKey() APIKey { return CreateTopicsKey }

// AppendTo implements Response.
func (p *CreateTopicsResponse) AppendTo(dst []byte) []byte {
	return appendTopicResults(dst, p.ErrorCode, p.Topics)
}

// Decode implements Response.
func (p *CreateTopicsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "CreateTopics response")
}

func (p *CreateTopicsResponse) decode(r *reader) {
	p.ErrorCode, p.Topics = decodeTopicResults(r, p.Topics)
}

// DeleteTopicsRequest deletes topics and their data. The controller answers it.
type DeleteTopicsRequest struct {
	Topics    []string
	TimeoutMs int32
}

// APIKey implements Request.
func (*DeleteTopicsRequest) APIKey() APIKey { return DeleteTopicsKey }

// AppendTo implements Request.
func (q *DeleteTopicsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t)
	}
	return appendInt32(dst, q.TimeoutMs)
}

// Decode implements Request.
func (q *DeleteTopicsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DeleteTopics request")
}

func (q *DeleteTopicsRequest) decode(r *reader) {
	n, _ := r.count("topics", 2)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		q.Topics[i] = r.name("topic")
	}
	q.TimeoutMs = r.int32("timeout_ms")
}

// DeleteTopicsResponse answers DeleteTopicsRequest, one result per topic.
type DeleteTopicsResponse struct {
	ErrorCode ErrorCode
	Topics    []TopicResult
}

// APIKey implements Response.
func (*DeleteTopicsResponse) APIKey() APIKey { return DeleteTopicsKey }

// AppendTo implements Response.
func (p *DeleteTopicsResponse) AppendTo(dst []byte) []byte {
	return appendTopicResults(dst, p.ErrorCode, p.Topics)
}

// Decode implements Response.
func (p *DeleteTopicsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DeleteTopics response")
}

func (p *DeleteTopicsResponse) decode(r *reader) {
	p.ErrorCode, p.Topics = decodeTopicResults(r, p.Topics)
}

func appendTopicResults(dst []byte, code ErrorCode, ts []TopicResult) []byte {
	dst = appendInt16(dst, int16(code))
	dst = appendCount(dst, len(ts))
	for _, t := range ts {
		dst = appendString(dst, t.Name)
		dst = appendInt16(dst, int16(t.ErrorCode))
		dst = appendMessage(dst, t.Message)
	}
	return dst
}

func decodeTopicResults(r *reader, ts []TopicResult) (ErrorCode, []TopicResult) {
	code := ErrorCode(r.int16("error_code"))
	if errorOnly(r, code) {
		return code, ts[:0]
	}
	n, _ := r.count("topics", 6)
	ts = resize(ts, n)
	for i := range ts {
		ts[i].Name = r.name("topic")
		ts[i].ErrorCode = ErrorCode(r.int16("topic error_code"))
		ts[i].Message = r.string("error_message")
	}
	return code, ts
}
