package wire

// CreatePartitions and DescribeCluster: the cluster's administration. Any
// broker answers them: CreatePartitions reaches the controller through it,
// DescribeCluster comes from its copy of the metadata.

// CreatePartitionsRequest grows topics to a total partition count each.
type CreatePartitionsRequest struct {
	Topics []CreatePartitionsTopic
}

// CreatePartitionsTopic is one topic and its new total partition count.
type CreatePartitionsTopic struct {
	Name  string
	Count int32
}

// APIKey implements Request.
func (*CreatePartitionsRequest) APIKey() APIKey { return CreatePartitionsKey }

// AppendTo implements Request.
func (q *CreatePartitionsRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Topics))
	for _, t := range q.Topics {
		dst = appendString(dst, t.Name)
		dst = appendInt32(dst, t.Count)
	}
	return dst
}

// Decode implements Request.
func (q *CreatePartitionsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "CreatePartitions request")
}

func (q *CreatePartitionsRequest) decode(r *reader) {
	n, _ := r.count("topics", 6)
	q.Topics = resize(q.Topics, n)
	for i := range q.Topics {
		q.Topics[i] = CreatePartitionsTopic{Name: r.name("topic"), Count: r.int32("count")}
	}
}

// CreatePartitionsResponse answers CreatePartitionsRequest, one result per
// topic, in the order asked.
type CreatePartitionsResponse struct {
	ErrorCode ErrorCode
	Topics    []TopicResult
}

// APIKey implements Response.
func (*CreatePartitionsResponse) APIKey() APIKey { return CreatePartitionsKey }

// AppendTo implements Response.
func (p *CreatePartitionsResponse) AppendTo(dst []byte) []byte {
	return appendTopicResults(dst, p.ErrorCode, p.Topics)
}

// Decode implements Response.
func (p *CreatePartitionsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "CreatePartitions response")
}

func (p *CreatePartitionsResponse) decode(r *reader) {
	p.ErrorCode, p.Topics = decodeTopicResults(r, p.Topics)
}

// DescribeClusterRequest asks a broker for the cluster as its metadata has
// it. It has no fields.
type DescribeClusterRequest struct{}

// APIKey implements Request.
func (*DescribeClusterRequest) APIKey() APIKey { return DescribeClusterKey }

// AppendTo implements Request.
func (*DescribeClusterRequest) AppendTo(dst []byte) []byte { return dst }

// Decode implements Request.
func (q *DescribeClusterRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DescribeCluster request")
}

func (*DescribeClusterRequest) decode(*reader) {}

// ClusterBroker is one registered broker.
type ClusterBroker struct {
	ID                               int32
	Native, Controller, Admin, Kafka string // listener addresses; empty: none
	Rack                             string
	Fenced                           bool  // not serving: silent, stopping, or catching up
	Epoch                            int64 // broker epoch: the metadata offset of its registration
	MetadataLag                      int64 // metadata entries behind the controller; -1 unknown
}

// ClusterPartition names one partition.
type ClusterPartition struct {
	Topic     string
	Partition int32
}

// DescribeClusterResponse describes the cluster. A broker alone answers
// with itself and ControllerID -1 is never the case there: it is its own
// controller.
type DescribeClusterResponse struct {
	ErrorCode      ErrorCode
	ClusterID      string // empty before the first controller named it
	ControllerID   int32  // -1: none elected now
	MetadataOffset int64  // the answering broker's applied metadata offset
	Brokers        []ClusterBroker
	// Offline partitions have no leader; UnderReplicated ones have fewer
	// in-sync replicas than replicas.
	Offline, UnderReplicated []ClusterPartition
}

// APIKey implements Response.
func (*DescribeClusterResponse) APIKey() APIKey { return DescribeClusterKey }

// AppendTo implements Response.
func (p *DescribeClusterResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendString(dst, p.ClusterID)
	dst = appendInt32(dst, p.ControllerID)
	dst = appendInt64(dst, p.MetadataOffset)
	dst = appendCount(dst, len(p.Brokers))
	for _, b := range p.Brokers {
		dst = appendInt32(dst, b.ID)
		for _, s := range [...]string{b.Native, b.Controller, b.Admin, b.Kafka, b.Rack} {
			dst = appendString(dst, s)
		}
		dst = appendBool(dst, b.Fenced)
		dst = appendInt64(dst, b.Epoch)
		dst = appendInt64(dst, b.MetadataLag)
	}
	dst = appendClusterPartitions(dst, p.Offline)
	return appendClusterPartitions(dst, p.UnderReplicated)
}

func appendClusterPartitions(dst []byte, ps []ClusterPartition) []byte {
	dst = appendCount(dst, len(ps))
	for _, tp := range ps {
		dst = appendString(dst, tp.Topic)
		dst = appendInt32(dst, tp.Partition)
	}
	return dst
}

// Decode implements Response.
func (p *DescribeClusterResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DescribeCluster response")
}

func (p *DescribeClusterResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		*p = DescribeClusterResponse{ErrorCode: p.ErrorCode}
		return
	}
	p.ClusterID = r.string("cluster_id")
	p.ControllerID = r.int32("controller_id")
	p.MetadataOffset = r.int64("metadata_offset")
	n, _ := r.count("brokers", 4+5*2+1+8+8)
	p.Brokers = resize(p.Brokers, n)
	for i := range p.Brokers {
		b := &p.Brokers[i]
		b.ID = r.int32("broker id")
		b.Native, b.Controller, b.Admin = r.string("native addr"), r.string("controller addr"), r.string("admin addr")
		b.Kafka, b.Rack = r.string("kafka addr"), r.string("rack")
		b.Fenced = r.bool("fenced")
		b.Epoch = r.int64("broker epoch")
		b.MetadataLag = r.int64("metadata lag")
	}
	p.Offline = decodeClusterPartitions(r, p.Offline, "offline")
	p.UnderReplicated = decodeClusterPartitions(r, p.UnderReplicated, "under_replicated")
}

func decodeClusterPartitions(r *reader, ps []ClusterPartition, what string) []ClusterPartition {
	n, _ := r.count(what, 6)
	ps = resize(ps, n)
	for i := range ps {
		ps[i] = ClusterPartition{Topic: r.name("topic"), Partition: r.int32("partition")}
	}
	return ps
}
