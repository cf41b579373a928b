package wire

// MetadataRequest asks for the cluster's brokers and for topic layouts.
type MetadataRequest struct {
	// AllTopics asks for every topic (sent as a null array); Topics is then ignored.
	AllTopics bool
	Topics    []string
	// AutoCreate lets the broker create named topics that do not exist, if
	// its auto.create.topics.enable allows (Kafka's
	// allow_auto_topic_creation). Producers set it; consumers and admin
	// requests do not, so describing a deleted topic does not bring it back.
	AutoCreate bool
}

// APIKey implements Request.
func (*MetadataRequest) APIKey() APIKey { return MetadataKey }

// AppendTo implements Request.
func (q *MetadataRequest) AppendTo(dst []byte) []byte {
	if q.AllTopics {
		dst = appendInt32(dst, -1)
	} else {
		dst = appendCount(dst, len(q.Topics))
		for _, t := range q.Topics {
			dst = appendString(dst, t)
		}
	}
	return appendBool(dst, q.AutoCreate)
}

// Decode implements Request.
func (q *MetadataRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "Metadata request")
}

func (q *MetadataRequest) decode(r *reader) {
	n, null := r.count("topics", 2)
	q.AllTopics = null
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		q.Topics[i] = r.name("topic")
	}
	q.AutoCreate = r.bool("allow_auto_topic_creation")
}

// MetadataResponse describes the cluster.
type MetadataResponse struct {
	ErrorCode    ErrorCode
	Brokers      []MetadataBroker
	ControllerID int32 // -1 when there is no controller
	Topics       []MetadataTopic
}

// MetadataBroker is one live broker and the address clients dial.
type MetadataBroker struct {
	NodeID int32
	Host   string
	Port   int32
}

// MetadataTopic is one topic; ErrorCode is e.g. UnknownTopicOrPartition.
type MetadataTopic struct {
	ErrorCode  ErrorCode
	Name       string
	Partitions []MetadataPartition
}

// MetadataPartition is one partition's replica set.
type MetadataPartition struct {
	ErrorCode   ErrorCode // e.g. LeaderNotAvailable during an election
	Partition   int32
	Leader      int32 // node id, -1 when there is none
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
}

// APIKey implements Response.
func (*MetadataResponse) APIKey() APIKey { return MetadataKey }

// AppendTo implements Response.
func (p *MetadataResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Brokers))
	for _, b := range p.Brokers {
		dst = appendInt32(dst, b.NodeID)
		dst = appendString(dst, b.Host)
		dst = appendInt32(dst, b.Port)
	}
	dst = appendInt32(dst, p.ControllerID)
	dst = appendCount(dst, len(p.Topics))
	for _, t := range p.Topics {
		dst = appendInt16(dst, int16(t.ErrorCode))
		dst = appendString(dst, t.Name)
		dst = appendCount(dst, len(t.Partitions))
		for _, pt := range t.Partitions {
			dst = appendInt16(dst, int16(pt.ErrorCode))
			dst = appendInt32(dst, pt.Partition)
			dst = appendInt32(dst, pt.Leader)
			dst = appendInt32(dst, pt.LeaderEpoch)
			dst = appendInt32s(dst, pt.Replicas)
			dst = appendInt32s(dst, pt.ISR)
		}
	}
	return dst
}

// Decode implements Response.
func (p *MetadataResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "Metadata response")
}

func (p *MetadataResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Brokers, p.ControllerID, p.Topics = p.Brokers[:0], -1, p.Topics[:0]
		return
	}
	n, _ := r.count("brokers", 10)
	p.Brokers = resize(p.Brokers, n)
	for i := range p.Brokers {
		b := &p.Brokers[i]
		b.NodeID = r.int32("node_id")
		b.Host = r.string("host")
		b.Port = r.int32("port")
	}
	p.ControllerID = r.int32("controller_id")
	n, _ = r.count("topics", 8)
	p.Topics = resize(p.Topics, n)
	for i := range p.Topics {
		t := &p.Topics[i]
		t.ErrorCode = ErrorCode(r.int16("topic error_code"))
		t.Name = r.name("topic")
		n, _ := r.count("partitions", 22)
		t.Partitions = resize(t.Partitions, n)
		for j := range t.Partitions {
			pt := &t.Partitions[j]
			pt.ErrorCode = ErrorCode(r.int16("partition error_code"))
			pt.Partition = r.int32("partition")
			pt.Leader = r.int32("leader")
			pt.LeaderEpoch = r.int32("leader_epoch")
			pt.Replicas = r.int32s(pt.Replicas, "replicas")
			pt.ISR = r.int32s(pt.ISR, "isr")
		}
	}
}
