package wire

// ListGroups, DescribeGroups and DeleteGroups: group administration,
// answered by each group's coordinator.

// ListGroupsRequest lists the groups a coordinator hosts.
type ListGroupsRequest struct {
	// StatesFilter keeps only groups in these states ("Empty", "Stable",
	// ...); empty lists every group.
	StatesFilter []string
}

// APIKey implements Request.
func (*ListGroupsRequest) APIKey() APIKey { return ListGroupsKey }

// AppendTo implements Request.
func (q *ListGroupsRequest) AppendTo(dst []byte) []byte {
	return appendStrings(dst, q.StatesFilter)
}

// Decode implements Request.
func (q *ListGroupsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "ListGroups request")
}

func (q *ListGroupsRequest) decode(r *reader) {
	q.StatesFilter = r.strings(q.StatesFilter, "states_filter")
}

// ListedGroup is one group of a ListGroupsResponse.
type ListedGroup struct {
	GroupID      string
	ProtocolType string
	State        string
}

// ListGroupsResponse answers a ListGroupsRequest.
type ListGroupsResponse struct {
	ErrorCode ErrorCode
	Groups    []ListedGroup
}

// APIKey implements Response.
func (*ListGroupsResponse) APIKey() APIKey { return ListGroupsKey }

// AppendTo implements Response.
func (p *ListGroupsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Groups))
	for _, g := range p.Groups {
		dst = appendString(dst, g.GroupID)
		dst = appendString(dst, g.ProtocolType)
		dst = appendString(dst, g.State)
	}
	return dst
}

// Decode implements Response.
func (p *ListGroupsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "ListGroups response")
}

func (p *ListGroupsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Groups = p.Groups[:0]
		return
	}
	n, _ := r.count("groups", 6)
	p.Groups = resize(p.Groups, n)
	for i := range p.Groups {
		g := &p.Groups[i]
		g.GroupID = r.string("group_id")
		g.ProtocolType = r.string("protocol_type")
		g.State = r.string("group_state")
	}
}

// DescribeGroupsRequest describes groups by id.
type DescribeGroupsRequest struct {
	Groups []string
}

// APIKey implements Request.
func (*DescribeGroupsRequest) APIKey() APIKey { return DescribeGroupsKey }

// AppendTo implements Request.
func (q *DescribeGroupsRequest) AppendTo(dst []byte) []byte {
	return appendStrings(dst, q.Groups)
}

// Decode implements Request.
func (q *DescribeGroupsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DescribeGroups request")
}

func (q *DescribeGroupsRequest) decode(r *reader) {
	q.Groups = r.strings(q.Groups, "groups")
}

// DescribedMember is one member of a DescribedGroup. Metadata is its
// subscription for the group's protocol and Assignment what the leader
// assigned it (both opaque to the coordinator).
type DescribedMember struct {
	MemberID        string
	GroupInstanceID string
	ClientID        string
	ClientHost      string
	Metadata        []byte
	Assignment      []byte
}

// DescribedGroup is one group of a DescribeGroupsResponse. An unknown group
// is answered with State "Dead" and no error, as Kafka does.
type DescribedGroup struct {
	ErrorCode    ErrorCode
	GroupID      string
	State        string
	ProtocolType string
	Protocol     string
	Members      []DescribedMember
}

// DescribeGroupsResponse answers a DescribeGroupsRequest, one group per
// requested id, in request order.
type DescribeGroupsResponse struct {
	ErrorCode ErrorCode
	Groups    []DescribedGroup
}

// APIKey implements Response.
func (*DescribeGroupsResponse) APIKey() APIKey { return DescribeGroupsKey }

// AppendTo implements Response.
func (p *DescribeGroupsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Groups))
	for _, g := range p.Groups {
		dst = appendInt16(dst, int16(g.ErrorCode))
		dst = appendString(dst, g.GroupID)
		dst = appendString(dst, g.State)
		dst = appendString(dst, g.ProtocolType)
		dst = appendString(dst, g.Protocol)
		dst = appendCount(dst, len(g.Members))
		for _, m := range g.Members {
			dst = appendString(dst, m.MemberID)
			dst = appendMessage(dst, m.GroupInstanceID)
			dst = appendString(dst, m.ClientID)
			dst = appendString(dst, m.ClientHost)
			dst = appendBytes(dst, m.Metadata)
			dst = appendBytes(dst, m.Assignment)
		}
	}
	return dst
}

// Decode implements Response.
func (p *DescribeGroupsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DescribeGroups response")
}

func (p *DescribeGroupsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Groups = p.Groups[:0]
		return
	}
	n, _ := r.count("groups", 14)
	p.Groups = resize(p.Groups, n)
	for i := range p.Groups {
		g := &p.Groups[i]
		g.ErrorCode = ErrorCode(r.int16("group error_code"))
		g.GroupID = r.string("group_id")
		g.State = r.string("group_state")
		g.ProtocolType = r.string("protocol_type")
		g.Protocol = r.string("protocol_data")
		n, _ := r.count("members", 16)
		g.Members = resize(g.Members, n)
		for j := range g.Members {
			m := &g.Members[j]
			m.MemberID = r.string("member_id")
			m.GroupInstanceID = r.string("group_instance_id")
			m.ClientID = r.string("client_id")
			m.ClientHost = r.string("client_host")
			m.Metadata = r.bytes("member_metadata")
			m.Assignment = r.bytes("member_assignment")
		}
	}
}

// DeleteGroupsRequest deletes groups and their committed offsets. Only
// groups without members can be deleted (NON_EMPTY_GROUP otherwise).
type DeleteGroupsRequest struct {
	Groups []string
}

// APIKey implements Request.
func (*DeleteGroupsRequest) APIKey() APIKey { return DeleteGroupsKey }

// AppendTo implements Request.
func (q *DeleteGroupsRequest) AppendTo(dst []byte) []byte {
	return appendStrings(dst, q.Groups)
}

// Decode implements Request.
func (q *DeleteGroupsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "DeleteGroups request")
}

func (q *DeleteGroupsRequest) decode(r *reader) {
	q.Groups = r.strings(q.Groups, "groups")
}

// DeleteGroupResult is the outcome for one group.
type DeleteGroupResult struct {
	GroupID   string
	ErrorCode ErrorCode
}

// DeleteGroupsResponse answers a DeleteGroupsRequest, one result per group
// in request order.
type DeleteGroupsResponse struct {
	ErrorCode ErrorCode
	Results   []DeleteGroupResult
}

// APIKey implements Response.
func (*DeleteGroupsResponse) APIKey() APIKey { return DeleteGroupsKey }

// AppendTo implements Response.
func (p *DeleteGroupsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.Results))
	for _, g := range p.Results {
		dst = appendString(dst, g.GroupID)
		dst = appendInt16(dst, int16(g.ErrorCode))
	}
	return dst
}

// Decode implements Response.
func (p *DeleteGroupsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "DeleteGroups response")
}

func (p *DeleteGroupsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.Results = p.Results[:0]
		return
	}
	n, _ := r.count("results", 4)
	p.Results = resize(p.Results, n)
	for i := range p.Results {
		p.Results[i].GroupID = r.string("group_id")
		p.Results[i].ErrorCode = ErrorCode(r.int16("group error_code"))
	}
}

func appendStrings(dst []byte, ss []string) []byte {
	dst = appendCount(dst, len(ss))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

func (r *reader) strings(dst []string, what string) []string {
	n, _ := r.count(what, 2)
	dst = resize(dst, n)
	for i := range dst {
		dst[i] = r.string(what)
	}
	return dst
}
