package wire

// The consumer-group membership APIs (Kafka's classic group protocol with
// KIP-345 static membership): FindCoordinator, JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup. docs/protocol.md has the byte layouts; the
// coordinator itself is engine's GroupCoordinator.
//
// Byte fields (protocol metadata, assignments) alias the body they were
// decoded from, like produce records: the broker must copy what it keeps.

// CoordinatorKeyGroup is FindCoordinatorRequest.KeyType for a consumer group
// (Kafka's 0; 1 is a transactional id, which Spate does not have yet).
const CoordinatorKeyGroup int8 = 0

// FindCoordinatorRequest asks any broker which broker coordinates a group.
type FindCoordinatorRequest struct {
	// Key is the group id.
	Key string
	// KeyType is CoordinatorKeyGroup.
	KeyType int8
}

// APIKey implements Request.
func (*FindCoordinatorRequest) APIKey() APIKey { return FindCoordinatorKey }

// AppendTo implements Request.
func (q *FindCoordinatorRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.Key)
	return appendInt8(dst, q.KeyType)
}

// Decode implements Request.
func (q *FindCoordinatorRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "FindCoordinator request")
}

func (q *FindCoordinatorRequest) decode(r *reader) {
	q.Key = r.string("key")
	q.KeyType = r.int8("key_type")
}

// FindCoordinatorResponse names the coordinator: the leader of the group's
// partition of __consumer_offsets. On error NodeID is -1.
type FindCoordinatorResponse struct {
	ErrorCode ErrorCode
	Message   string // human detail for ErrorCode; empty (null) when none
	NodeID    int32
	Host      string
	Port      int32
}

// APIKey implements Response.
func (*FindCoordinatorResponse) APIKey() APIKey { return FindCoordinatorKey }

// AppendTo implements Response.
func (p *FindCoordinatorResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendMessage(dst, p.Message)
	dst = appendInt32(dst, p.NodeID)
	dst = appendString(dst, p.Host)
	return appendInt32(dst, p.Port)
}

// Decode implements Response.
func (p *FindCoordinatorResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "FindCoordinator response")
}

func (p *FindCoordinatorResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Message, p.NodeID, p.Host, p.Port = "", -1, "", -1
		return
	}
	p.Message = r.string("error_message")
	p.NodeID = r.int32("node_id")
	p.Host = r.string("host")
	p.Port = r.int32("port")
}

// GroupProtocol is one assignment protocol a member supports (e.g. "range"
// with its subscription as Metadata), in the member's order of preference.
type GroupProtocol struct {
	Name     string
	Metadata []byte
}

// JoinGroupRequest joins (or rejoins) a group. A dynamic member joins first
// with an empty MemberID and is answered MEMBER_ID_REQUIRED with its id
// (KIP-394); a static member (GroupInstanceID set) gets its id at once.
type JoinGroupRequest struct {
	GroupID            string
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32
	MemberID           string // empty on the first join
	GroupInstanceID    string // empty (null) for a dynamic member
	// ClientID identifies the client software instance in DescribeGroups
	// (Kafka takes it from its request header, which Spate's lacks).
	ClientID     string
	ProtocolType string // "consumer" for consumers
	Protocols    []GroupProtocol
}

// APIKey implements Request.
func (*JoinGroupRequest) APIKey() APIKey { return JoinGroupKey }

// AppendTo implements Request.
func (q *JoinGroupRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	dst = appendInt32(dst, q.SessionTimeoutMs)
	dst = appendInt32(dst, q.RebalanceTimeoutMs)
	dst = appendString(dst, q.MemberID)
	dst = appendMessage(dst, q.GroupInstanceID)
	dst = appendString(dst, q.ClientID)
	dst = appendString(dst, q.ProtocolType)
	dst = appendCount(dst, len(q.Protocols))
	for _, p := range q.Protocols {
		dst = appendString(dst, p.Name)
		dst = appendBytes(dst, p.Metadata)
	}
	return dst
}

// Decode implements Request.
func (q *JoinGroupRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "JoinGroup request")
}

func (q *JoinGroupRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	q.SessionTimeoutMs = r.int32("session_timeout_ms")
	q.RebalanceTimeoutMs = r.int32("rebalance_timeout_ms")
	q.MemberID = r.string("member_id")
	q.GroupInstanceID = r.string("group_instance_id")
	q.ClientID = r.string("client_id")
	q.ProtocolType = r.string("protocol_type")
	n, _ := r.count("protocols", 6)
	q.Protocols = resize(q.Protocols, n)
	for i := range q.Protocols {
		q.Protocols[i].Name = r.string("protocol name")
		q.Protocols[i].Metadata = r.bytes("protocol metadata")
	}
}

// JoinGroupMember is one member as the leader sees it in its JoinGroup
// response: its id and its metadata for the chosen protocol.
type JoinGroupMember struct {
	MemberID        string
	GroupInstanceID string
	Metadata        []byte
}

// JoinGroupResponse ends a member's join: the generation it joined, the
// chosen protocol and the leader. Only the leader gets Members (every
// member, itself included), so that it can compute the assignment.
type JoinGroupResponse struct {
	ErrorCode    ErrorCode
	GenerationID int32
	ProtocolType string
	ProtocolName string
	Leader       string
	MemberID     string // the member's id; with MEMBER_ID_REQUIRED, the id to join with
	Members      []JoinGroupMember
}

// APIKey implements Response.
func (*JoinGroupResponse) APIKey() APIKey { return JoinGroupKey }

// AppendTo implements Response.
func (p *JoinGroupResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendInt32(dst, p.GenerationID)
	dst = appendMessage(dst, p.ProtocolType)
	dst = appendMessage(dst, p.ProtocolName)
	dst = appendString(dst, p.Leader)
	dst = appendString(dst, p.MemberID)
	dst = appendCount(dst, len(p.Members))
	for _, m := range p.Members {
		dst = appendString(dst, m.MemberID)
		dst = appendMessage(dst, m.GroupInstanceID)
		dst = appendBytes(dst, m.Metadata)
	}
	return dst
}

// Decode implements Response.
func (p *JoinGroupResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "JoinGroup response")
}

func (p *JoinGroupResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		*p = JoinGroupResponse{ErrorCode: p.ErrorCode, GenerationID: -1, Members: p.Members[:0]}
		return
	}
	p.GenerationID = r.int32("generation_id")
	p.ProtocolType = r.string("protocol_type")
	p.ProtocolName = r.string("protocol_name")
	p.Leader = r.string("leader")
	p.MemberID = r.string("member_id")
	n, _ := r.count("members", 8)
	p.Members = resize(p.Members, n)
	for i := range p.Members {
		m := &p.Members[i]
		m.MemberID = r.string("member_id")
		m.GroupInstanceID = r.string("group_instance_id")
		m.Metadata = r.bytes("metadata")
	}
}

// SyncGroupAssignment is the leader's assignment for one member.
type SyncGroupAssignment struct {
	MemberID   string
	Assignment []byte
}

// SyncGroupRequest completes a rebalance: the leader sends every member's
// assignment, followers send none and wait for theirs.
type SyncGroupRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
	ProtocolType    string // optional: checked against the group's when set
	ProtocolName    string // optional: checked against the group's when set
	Assignments     []SyncGroupAssignment
}

// APIKey implements Request.
func (*SyncGroupRequest) APIKey() APIKey { return SyncGroupKey }

// AppendTo implements Request.
func (q *SyncGroupRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	dst = appendInt32(dst, q.GenerationID)
	dst = appendString(dst, q.MemberID)
	dst = appendMessage(dst, q.GroupInstanceID)
	dst = appendMessage(dst, q.ProtocolType)
	dst = appendMessage(dst, q.ProtocolName)
	dst = appendCount(dst, len(q.Assignments))
	for _, a := range q.Assignments {
		dst = appendString(dst, a.MemberID)
		dst = appendBytes(dst, a.Assignment)
	}
	return dst
}

// Decode implements Request.
func (q *SyncGroupRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "SyncGroup request")
}

func (q *SyncGroupRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	q.GenerationID = r.int32("generation_id")
	q.MemberID = r.string("member_id")
	q.GroupInstanceID = r.string("group_instance_id")
	q.ProtocolType = r.string("protocol_type")
	q.ProtocolName = r.string("protocol_name")
	n, _ := r.count("assignments", 6)
	q.Assignments = resize(q.Assignments, n)
	for i := range q.Assignments {
		q.Assignments[i].MemberID = r.string("member_id")
		q.Assignments[i].Assignment = r.bytes("assignment")
	}
}

// SyncGroupResponse carries the member's assignment (opaque bytes built by
// the leader's assignor).
type SyncGroupResponse struct {
	ErrorCode    ErrorCode
	ProtocolType string
	ProtocolName string
	Assignment   []byte
}

// APIKey implements Response.
func (*SyncGroupResponse) APIKey() APIKey { return SyncGroupKey }

// AppendTo implements Response.
func (p *SyncGroupResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendMessage(dst, p.ProtocolType)
	dst = appendMessage(dst, p.ProtocolName)
	return appendBytes(dst, p.Assignment)
}

// Decode implements Response.
func (p *SyncGroupResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "SyncGroup response")
}

func (p *SyncGroupResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		*p = SyncGroupResponse{ErrorCode: p.ErrorCode}
		return
	}
	p.ProtocolType = r.string("protocol_type")
	p.ProtocolName = r.string("protocol_name")
	p.Assignment = r.bytes("assignment")
}

// HeartbeatRequest keeps a member alive; its answer says whether the group
// is rebalancing (REBALANCE_IN_PROGRESS: rejoin).
type HeartbeatRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
}

// APIKey implements Request.
func (*HeartbeatRequest) APIKey() APIKey { return HeartbeatKey }

// AppendTo implements Request.
func (q *HeartbeatRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	dst = appendInt32(dst, q.GenerationID)
	dst = appendString(dst, q.MemberID)
	return appendMessage(dst, q.GroupInstanceID)
}

// Decode implements Request.
func (q *HeartbeatRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "Heartbeat request")
}

func (q *HeartbeatRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	q.GenerationID = r.int32("generation_id")
	q.MemberID = r.string("member_id")
	q.GroupInstanceID = r.string("group_instance_id")
}

// HeartbeatResponse is only an error code.
type HeartbeatResponse struct {
	ErrorCode ErrorCode
}

// APIKey implements Response.
func (*HeartbeatResponse) APIKey() APIKey { return HeartbeatKey }

// AppendTo implements Response.
func (p *HeartbeatResponse) AppendTo(dst []byte) []byte {
	return appendInt16(dst, int16(p.ErrorCode))
}

// Decode implements Response.
func (p *HeartbeatResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "Heartbeat response")
}

func (p *HeartbeatResponse) decode(r *reader) {
	p.ErrorCode = ErrorCode(r.int16("error_code"))
}

// LeaveGroupMember names one member leaving: by MemberID, or for a static
// member by GroupInstanceID (MemberID may then be empty).
type LeaveGroupMember struct {
	MemberID        string
	GroupInstanceID string
}

// LeaveGroupRequest removes members from a group at once, without waiting
// for their session timeout (Kafka's batch form, KIP-345).
type LeaveGroupRequest struct {
	GroupID string
	Members []LeaveGroupMember
}

// APIKey implements Request.
func (*LeaveGroupRequest) APIKey() APIKey { return LeaveGroupKey }

// AppendTo implements Request.
func (q *LeaveGroupRequest) AppendTo(dst []byte) []byte {
	dst = appendString(dst, q.GroupID)
	return appendLeaveMembers(dst, q.Members)
}

func appendLeaveMembers(dst []byte, ms []LeaveGroupMember) []byte {
	dst = appendCount(dst, len(ms))
	for _, m := range ms {
		dst = appendString(dst, m.MemberID)
		dst = appendMessage(dst, m.GroupInstanceID)
	}
	return dst
}

// Decode implements Request.
func (q *LeaveGroupRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "LeaveGroup request")
}

func (q *LeaveGroupRequest) decode(r *reader) {
	q.GroupID = r.string("group_id")
	n, _ := r.count("members", 4)
	q.Members = resize(q.Members, n)
	for i := range q.Members {
		q.Members[i].MemberID = r.string("member_id")
		q.Members[i].GroupInstanceID = r.string("group_instance_id")
	}
}

// LeaveGroupMemberResponse is the outcome for one leaving member.
type LeaveGroupMemberResponse struct {
	MemberID        string
	GroupInstanceID string
	ErrorCode       ErrorCode
}

// LeaveGroupResponse answers a LeaveGroupRequest, one result per member in
// request order.
type LeaveGroupResponse struct {
	ErrorCode ErrorCode
	Members   []LeaveGroupMemberResponse
}

// APIKey implements Response.
func (*LeaveGroupResponse) APIKey() APIKey { return LeaveGroupKey }

// AppendTo implements Response.
func (p *LeaveGroupResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Members))
	for _, m := range p.Members {
		dst = appendString(dst, m.MemberID)
		dst = appendMessage(dst, m.GroupInstanceID)
		dst = appendInt16(dst, int16(m.ErrorCode))
	}
	return dst
}

// Decode implements Response.
func (p *LeaveGroupResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "LeaveGroup response")
}

func (p *LeaveGroupResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Members = p.Members[:0]
		return
	}
	n, _ := r.count("members", 6)
	p.Members = resize(p.Members, n)
	for i := range p.Members {
		m := &p.Members[i]
		m.MemberID = r.string("member_id")
		m.GroupInstanceID = r.string("group_instance_id")
		m.ErrorCode = ErrorCode(r.int16("member error_code"))
	}
}
