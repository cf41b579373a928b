package wire

// AlterPartitionReassignments and ListPartitionReassignments: moving
// partition replicas between brokers (Kafka's KIP-455, in the native
// layout). Any broker answers both: the first reaches the controller
// through it, the second comes from its copy of the metadata.

// ReassignRequest moves each listed partition to a new replica set.
type ReassignRequest struct {
	Partitions []PartitionReplicas
}

// PartitionReplicas is a partition and a replica set for it, in preference
// order (Replicas[0] is the preferred leader).
type PartitionReplicas struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// APIKey implements Request.
func (*ReassignRequest) APIKey() APIKey { return AlterPartitionReassignmentsKey }

// AppendTo implements Request.
func (q *ReassignRequest) AppendTo(dst []byte) []byte {
	dst = appendCount(dst, len(q.Partitions))
	for _, p := range q.Partitions {
		dst = appendString(dst, p.Topic)
		dst = appendInt32(dst, p.Partition)
		dst = appendInt32s(dst, p.Replicas)
	}
	return dst
}

// Decode implements Request.
func (q *ReassignRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "AlterPartitionReassignments request")
}

func (q *ReassignRequest) decode(r *reader) {
	n, _ := r.count("partitions", 10)
	q.Partitions = resize(q.Partitions, n)
	for i := range q.Partitions {
		p := &q.Partitions[i]
		p.Topic = r.name("topic")
		p.Partition = r.int32("partition")
		p.Replicas = r.int32s(p.Replicas, "replicas")
	}
}

// ReassignResponse answers ReassignRequest, one result per partition in
// the order asked.
type ReassignResponse struct {
	ErrorCode ErrorCode
	Results   []PartitionResult
}

// PartitionResult is the outcome for one partition.
type PartitionResult struct {
	Topic     string
	Partition int32
	ErrorCode ErrorCode
	Message   string // human detail for ErrorCode; empty (null) when none
}

// APIKey implements Response.
func (*ReassignResponse) APIKey() APIKey { return AlterPartitionReassignmentsKey }

// AppendTo implements Response.
func (p *ReassignResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Results))
	for _, res := range p.Results {
		dst = appendString(dst, res.Topic)
		dst = appendInt32(dst, res.Partition)
		dst = appendInt16(dst, int16(res.ErrorCode))
		dst = appendMessage(dst, res.Message)
	}
	return dst
}

// Decode implements Response.
func (p *ReassignResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "AlterPartitionReassignments response")
}

func (p *ReassignResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Results = p.Results[:0]
		return
	}
	n, _ := r.count("results", 12)
	p.Results = resize(p.Results, n)
	for i := range p.Results {
		res := &p.Results[i]
		res.Topic = r.name("topic")
		res.Partition = r.int32("partition")
		res.ErrorCode = ErrorCode(r.int16("error_code"))
		res.Message = r.string("error_message")
	}
}

// ListReassignmentsRequest asks for every reassignment in progress. It
// has no fields.
type ListReassignmentsRequest struct{}

// APIKey implements Request.
func (*ListReassignmentsRequest) APIKey() APIKey { return ListPartitionReassignmentsKey }

// AppendTo implements Request.
func (*ListReassignmentsRequest) AppendTo(dst []byte) []byte { return dst }

// Decode implements Request.
func (q *ListReassignmentsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "ListPartitionReassignments request")
}

func (*ListReassignmentsRequest) decode(*reader) {}

// ListReassignmentsResponse lists the reassignments in progress, in topic
// and partition order.
type ListReassignmentsResponse struct {
	ErrorCode     ErrorCode
	Reassignments []Reassignment
}

// Reassignment is one partition being moved: its replica set now (Target
// followed by the replicas to remove), its ISR, and the target. The
// replicas in Target but not in ISR are still catching up.
type Reassignment struct {
	Topic                 string
	Partition             int32
	Replicas, ISR, Target []int32
}

// APIKey implements Response.
func (*ListReassignmentsResponse) APIKey() APIKey { return ListPartitionReassignmentsKey }

// AppendTo implements Response.
func (p *ListReassignmentsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Reassignments))
	for _, a := range p.Reassignments {
		dst = appendString(dst, a.Topic)
		dst = appendInt32(dst, a.Partition)
		dst = appendInt32s(dst, a.Replicas)
		dst = appendInt32s(dst, a.ISR)
		dst = appendInt32s(dst, a.Target)
	}
	return dst
}

// Decode implements Response.
func (p *ListReassignmentsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "ListPartitionReassignments response")
}

func (p *ListReassignmentsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Reassignments = p.Reassignments[:0]
		return
	}
	n, _ := r.count("reassignments", 18)
	p.Reassignments = resize(p.Reassignments, n)
	for i := range p.Reassignments {
		a := &p.Reassignments[i]
		a.Topic = r.name("topic")
		a.Partition = r.int32("partition")
		a.Replicas = r.int32s(a.Replicas, "replicas")
		a.ISR = r.int32s(a.ISR, "isr")
		a.Target = r.int32s(a.Target, "target")
	}
}
