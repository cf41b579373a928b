package wire

import "fmt"

// APIKey identifies a request type (int16 on the wire).
type APIKey int16

// The implemented APIs. Keys 20-29 are reserved for further consumer-group
// APIs and 31-39 for more admin APIs (see docs/protocol.md); the broker answers
// any key it does not implement with UnsupportedVersion
// (AppendUnsupportedVersionResponse).
const (
	APIVersionsKey  APIKey = 0
	MetadataKey     APIKey = 1
	CreateTopicsKey APIKey = 2
	DeleteTopicsKey APIKey = 3
	ProduceKey      APIKey = 4
	FetchKey        APIKey = 5
	ListOffsetsKey  APIKey = 6
	// InitProducerIDKey takes key 7 from the admin range: it is answered by
	// any broker, like an admin request, and is not on a hot path.
	InitProducerIDKey APIKey = 7
	// Topic administration beyond create and delete (configs.go).
	DescribeConfigsKey APIKey = 8
	AlterConfigsKey    APIKey = 9
	// The consumer-group APIs (group.go, groupoffsets.go, groupadmin.go),
	// answered by the group's coordinator.
	FindCoordinatorKey APIKey = 10
	JoinGroupKey       APIKey = 11
	SyncGroupKey       APIKey = 12
	HeartbeatKey       APIKey = 13
	LeaveGroupKey      APIKey = 14
	OffsetCommitKey    APIKey = 15
	OffsetFetchKey     APIKey = 16
	ListGroupsKey      APIKey = 17
	DescribeGroupsKey  APIKey = 18
	DeleteGroupsKey    APIKey = 19
	// DeleteRecordsKey opens the 30-39 admin range: 8 and 9 were the
	// last free keys below the group range.
	DeleteRecordsKey APIKey = 30
	// The cluster's administration (cluster.go).
	CreatePartitionsKey APIKey = 31
	DescribeClusterKey  APIKey = 32
	// OffsetForLeaderEpochKey is inter-broker: a follower's epoch query
	// to its leader before it fetches (epoch.go).
	OffsetForLeaderEpochKey APIKey = 33
	// Moving replicas between brokers (reassign.go).
	AlterPartitionReassignmentsKey APIKey = 34
	ListPartitionReassignmentsKey  APIKey = 35
)

// String returns the API's name, e.g. "Produce".
func (k APIKey) String() string {
	switch k {
	case APIVersionsKey:
		return "ApiVersions"
	case MetadataKey:
		return "Metadata"
	case CreateTopicsKey:
		return "CreateTopics"
	case DeleteTopicsKey:
		return "DeleteTopics"
	case ProduceKey:
		return "Produce"
	case FetchKey:
		return "Fetch"
	case ListOffsetsKey:
		return "ListOffsets"
	case InitProducerIDKey:
		return "InitProducerId"
	case DescribeConfigsKey:
		return "DescribeConfigs"
	case AlterConfigsKey:
		return "AlterConfigs"
	case DeleteRecordsKey:
		return "DeleteRecords"
	case CreatePartitionsKey:
		return "CreatePartitions"
	case OffsetForLeaderEpochKey:
		return "OffsetForLeaderEpoch"
	case DescribeClusterKey:
		return "DescribeCluster"
	case AlterPartitionReassignmentsKey:
		return "AlterPartitionReassignments"
	case ListPartitionReassignmentsKey:
		return "ListPartitionReassignments"
	case FindCoordinatorKey:
		return "FindCoordinator"
	case JoinGroupKey:
		return "JoinGroup"
	case SyncGroupKey:
		return "SyncGroup"
	case HeartbeatKey:
		return "Heartbeat"
	case LeaveGroupKey:
		return "LeaveGroup"
	case OffsetCommitKey:
		return "OffsetCommit"
	case OffsetFetchKey:
		return "OffsetFetch"
	case ListGroupsKey:
		return "ListGroups"
	case DescribeGroupsKey:
		return "DescribeGroups"
	case DeleteGroupsKey:
		return "DeleteGroups"
	}
	return fmt.Sprintf("APIKey(%d)", int16(k))
}

// requestNames names each request in decode errors, indexed by key, so the
// success path builds no string.
var requestNames = [...]string{
	APIVersionsKey:     "ApiVersions request",
	MetadataKey:        "Metadata request",
	CreateTopicsKey:    "CreateTopics request",
	DeleteTopicsKey:    "DeleteTopics request",
	ProduceKey:         "Produce request",
	FetchKey:           "Fetch request",
	ListOffsetsKey:     "ListOffsets request",
	InitProducerIDKey:  "InitProducerId request",
	DescribeConfigsKey: "DescribeConfigs request",
	AlterConfigsKey:    "AlterConfigs request",
	FindCoordinatorKey: "FindCoordinator request",
	JoinGroupKey:       "JoinGroup request",
	SyncGroupKey:       "SyncGroup request",
	HeartbeatKey:       "Heartbeat request",
	LeaveGroupKey:      "LeaveGroup request",
	OffsetCommitKey:    "OffsetCommit request",
	OffsetFetchKey:     "OffsetFetch request",
	ListGroupsKey:      "ListGroups request",
	DescribeGroupsKey:  "DescribeGroups request",
	DeleteGroupsKey:    "DeleteGroups request",
	// 20-29 are not implemented: Decode never indexes them.
	DeleteRecordsKey:               "DeleteRecords request",
	CreatePartitionsKey:            "CreatePartitions request",
	DescribeClusterKey:             "DescribeCluster request",
	OffsetForLeaderEpochKey:        "OffsetForLeaderEpoch request",
	AlterPartitionReassignmentsKey: "AlterPartitionReassignments request",
	ListPartitionReassignmentsKey:  "ListPartitionReassignments request",
}

// VersionRange is the inclusive range of versions of one API a peer speaks.
type VersionRange struct {
	Key        APIKey
	MinVersion int16
	MaxVersion int16
}

// supported is what this build implements, in key order. Every API is at
// version 0 but Produce, whose v1 response adds an error message per
// partition; a broker answers each version in its own layout. Keys are
// not contiguous (20-29 are reserved), so Supports looks keys up in
// supportedByKey.
var supported = []VersionRange{
	{APIVersionsKey, 0, 0},
	{MetadataKey, 0, 0},
	{CreateTopicsKey, 0, 0},
	{DeleteTopicsKey, 0, 0},
	{ProduceKey, 0, 1},
	{FetchKey, 0, 0},
	{ListOffsetsKey, 0, 0},
	{InitProducerIDKey, 0, 0},
	{DescribeConfigsKey, 0, 0},
	{AlterConfigsKey, 0, 0},
	{FindCoordinatorKey, 0, 0},
	{JoinGroupKey, 0, 0},
	{SyncGroupKey, 0, 0},
	{HeartbeatKey, 0, 0},
	{LeaveGroupKey, 0, 0},
	{OffsetCommitKey, 0, 0},
	{OffsetFetchKey, 0, 0},
	{ListGroupsKey, 0, 0},
	{DescribeGroupsKey, 0, 0},
	{DeleteGroupsKey, 0, 0},
	{DeleteRecordsKey, 0, 0},
	{CreatePartitionsKey, 0, 0},
	{DescribeClusterKey, 0, 0},
	{OffsetForLeaderEpochKey, 0, 0},
	{AlterPartitionReassignmentsKey, 0, 0},
	{ListPartitionReassignmentsKey, 0, 0},
}

// supportedEntry is one slot of supportedByKey; ok is false for a key this
// build does not implement.
type supportedEntry struct {
	VersionRange
	ok bool
}

// supportedByKey indexes supported by key.
var supportedByKey = func() []supportedEntry {
	t := make([]supportedEntry, int(supported[len(supported)-1].Key)+1)
	for _, v := range supported {
		t[v.Key].VersionRange, t[v.Key].ok = v, true
	}
	return t
}()

// SupportedVersions returns the version range of every API this build
// implements, in key order; the broker sends it in its ApiVersions response.
// The caller must not modify it.
func SupportedVersions() []VersionRange { return supported }

// Supports reports whether this build implements version v of key k.
func Supports(k APIKey, v int16) bool {
	if k < 0 || int(k) >= len(supportedByKey) || !supportedByKey[k].ok {
		return false
	}
	r := supportedByKey[k]
	return v >= r.MinVersion && v <= r.MaxVersion
}

// Request is the body of one request type. AppendTo appends the encoded
// body (no frame or header) to dst.
type Request interface {
	APIKey() APIKey
	AppendTo(dst []byte) []byte
	// Decode replaces the receiver's contents with body, reusing its slices'
	// capacity. Byte fields alias body (see the package doc for how long
	// they stay valid). It returns an error wrapping ErrMalformed.
	Decode(body []byte) error
	decode(r *reader)
}

// Response is the body of one response type. Every response body starts
// with an int16 error code; when it is non-zero the body may end there (the
// error-only form, see AppendErrorResponse), and Decode accepts that.
type Response interface {
	APIKey() APIKey
	AppendTo(dst []byte) []byte
	// Decode replaces the receiver's contents with body; see Request.Decode.
	Decode(body []byte) error
	decode(r *reader)
}

func decodeBody(body []byte, n *names, v interface{ decode(*reader) }, what string) error {
	var r reader
	return decodeWith(&r, body, n, v, what)
}

// decodeWith decodes body into v with r. The reader escapes (it is passed
// through an interface), so the Decoder keeps its own to stay allocation-free.
func decodeWith(r *reader, body []byte, n *names, v interface{ decode(*reader) }, what string) error {
	r.reset(body, n)
	v.decode(r)
	err := r.done(what)
	r.reset(nil, nil) // drop the reference to the frame
	return err
}

// Decoder decodes request payloads on the broker. It holds one reusable
// request struct per API and an intern table for topic names, so decoding
// a frame allocates nothing in steady state. Give each event loop (or each
// connection) its own Decoder: it is not safe for concurrent use.
type Decoder struct {
	names          names
	r              reader
	APIVersions    APIVersionsRequest
	Metadata       MetadataRequest
	CreateTopics   CreateTopicsRequest
	DeleteTopics   DeleteTopicsRequest
	Produce        ProduceRequest
	Fetch          FetchRequest
	ListOffsets    ListOffsetsRequest
	InitProducerID InitProducerIDRequest

	DescribeConfigs DescribeConfigsRequest
	AlterConfigs    AlterConfigsRequest
	DeleteRecords   DeleteRecordsRequest

	CreatePartitions CreatePartitionsRequest
	DescribeCluster  DescribeClusterRequest
	EpochQuery       EpochQueryRequest
	Reassign         ReassignRequest
	ListReassign     ListReassignmentsRequest

	FindCoordinator FindCoordinatorRequest
	JoinGroup       JoinGroupRequest
	SyncGroup       SyncGroupRequest
	Heartbeat       HeartbeatRequest
	LeaveGroup      LeaveGroupRequest
	OffsetCommit    OffsetCommitRequest
	OffsetFetch     OffsetFetchRequest
	ListGroups      ListGroupsRequest
	DescribeGroups  DescribeGroupsRequest
	DeleteGroups    DeleteGroupsRequest
}

// Decode parses one request payload (a frame without its size field).
//
// The returned Request is one of the Decoder's own structs (a
// *ProduceRequest for Produce, and so on): the next Decode overwrites it,
// and its byte fields (ProducePartition.Records) alias payload, so both are
// valid only until payload is reused — for netio, until the handler
// returns. Copy what must outlive that. Topic names are ordinary strings and
// may be kept.
//
// Errors, and what the broker does with each:
//   - a payload shorter than the header: ErrMalformed with a zero header;
//     nothing can be answered, close the connection.
//   - an unknown key or unsupported version: ErrUnsupportedVersion with a
//     valid header; answer AppendErrorResponse(UnsupportedVersion), keep the
//     connection.
//   - a malformed body: ErrMalformed with a valid header; answer
//     AppendErrorResponse(InvalidRequest), keep the connection (the frame
//     boundaries are intact).
//
// CodeOf maps both answerable errors to their code.
func (d *Decoder) Decode(payload []byte) (RequestHeader, Request, error) {
	h, body, err := ParseRequestHeader(payload)
	if err != nil {
		return h, nil, err
	}
	if !Supports(h.Key, h.Version) {
		return h, nil, fmt.Errorf("%s version %d (correlation id %d): %w", h.Key, h.Version, h.CorrelationID, ErrUnsupportedVersion)
	}
	var req Request
	switch h.Key {
	case APIVersionsKey:
		req = &d.APIVersions
	case MetadataKey:
		req = &d.Metadata
	case CreateTopicsKey:
		req = &d.CreateTopics
	case DeleteTopicsKey:
		req = &d.DeleteTopics
	case ProduceKey:
		d.Produce.Version = h.Version
		req = &d.Produce
	case FetchKey:
		req = &d.Fetch
	case ListOffsetsKey:
		req = &d.ListOffsets
	case InitProducerIDKey:
		req = &d.InitProducerID
	case DescribeConfigsKey:
		req = &d.DescribeConfigs
	case AlterConfigsKey:
		req = &d.AlterConfigs
	case DeleteRecordsKey:
		req = &d.DeleteRecords
	case CreatePartitionsKey:
		req = &d.CreatePartitions
	case DescribeClusterKey:
		req = &d.DescribeCluster
	case OffsetForLeaderEpochKey:
		req = &d.EpochQuery
	case AlterPartitionReassignmentsKey:
		req = &d.Reassign
	case ListPartitionReassignmentsKey:
		req = &d.ListReassign
	case FindCoordinatorKey:
		req = &d.FindCoordinator
	case JoinGroupKey:
		req = &d.JoinGroup
	case SyncGroupKey:
		req = &d.SyncGroup
	case HeartbeatKey:
		req = &d.Heartbeat
	case LeaveGroupKey:
		req = &d.LeaveGroup
	case OffsetCommitKey:
		req = &d.OffsetCommit
	case OffsetFetchKey:
		req = &d.OffsetFetch
	case ListGroupsKey:
		req = &d.ListGroups
	case DescribeGroupsKey:
		req = &d.DescribeGroups
	case DeleteGroupsKey:
		req = &d.DeleteGroups
	}
	if err := decodeWith(&d.r, body, &d.names, req, requestNames[h.Key]); err != nil {
		return h, nil, fmt.Errorf("correlation id %d: %w", h.CorrelationID, err)
	}
	return h, req, nil
}

// APIVersionsRequest asks the broker which versions it speaks. It has no
// fields; a client sends it first on every connection.
type APIVersionsRequest struct{}

// APIKey implements Request.
func (*APIVersionsRequest) APIKey() APIKey { return APIVersionsKey }

// AppendTo implements Request.
func (*APIVersionsRequest) AppendTo(dst []byte) []byte { return dst }

// Decode implements Request.
func (q *APIVersionsRequest) Decode(body []byte) error {
	return decodeBody(body, nil, q, "ApiVersions request")
}

func (*APIVersionsRequest) decode(*reader) {}

// APIVersionsResponse lists the broker's supported versions. The broker
// fills APIs even when ErrorCode is UnsupportedVersion, so a client that
// sent a version the broker lacks can still pick one.
type APIVersionsResponse struct {
	ErrorCode ErrorCode
	APIs      []VersionRange
}

// APIKey implements Response.
func (*APIVersionsResponse) APIKey() APIKey { return APIVersionsKey }

// AppendTo implements Response.
func (p *APIVersionsResponse) AppendTo(dst []byte) []byte {
	dst = appendInt16(dst, int16(p.ErrorCode))
	dst = appendCount(dst, len(p.APIs))
	for _, a := range p.APIs {
		dst = appendInt16(dst, int16(a.Key))
		dst = appendInt16(dst, a.MinVersion)
		dst = appendInt16(dst, a.MaxVersion)
	}
	return dst
}

// Decode implements Response.
func (p *APIVersionsResponse) Decode(body []byte) error {
	return decodeBody(body, nil, p, "ApiVersions response")
}

func (p *APIVersionsResponse) decode(r *reader) {
	if p.ErrorCode = ErrorCode(r.int16("error_code")); errorOnly(r, p.ErrorCode) {
		p.APIs = p.APIs[:0]
		return
	}
	n, _ := r.count("apis", 6)
	p.APIs = resize(p.APIs, n)
	for i := range p.APIs {
		a := &p.APIs[i]
		a.Key = APIKey(r.int16("api_key"))
		a.MinVersion = r.int16("min_version")
		a.MaxVersion = r.int16("max_version")
	}
}

// errorOnly reports whether a response body is the error-only form: a
// non-zero top-level error code and nothing after it.
func errorOnly(r *reader, code ErrorCode) bool {
	return r.err == nil && code != None && r.remaining() == 0
}
