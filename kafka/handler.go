package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
)

// Config is what the handler needs from the broker that runs it.
type Config struct {
	Engine *engine.Engine
	// Groups answers FindCoordinator (and creates __consumer_offsets on
	// first use, as the native front end does).
	Groups *engine.GroupCoordinator
	// Cluster is the one view of the brokers and of who leads what that
	// Metadata, DescribeCluster and FindCoordinator give clients: the
	// broker's view of the cluster metadata.
	Cluster Cluster
	// Admin creates, deletes and changes topics: the broker, which sends
	// these to the controller. Nil: the engine's own calls (an engine
	// outside cluster mode, as this package's tests run one).
	Admin TopicAdmin
	// OffLoop runs the requests that go through Admin, FindCoordinator
	// and Metadata with auto-creation in a goroutine of their own rather
	// than on the event loop: set when Admin waits on the network (a
	// cluster's controller). Answers still go out in request order.
	OffLoop bool
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes: the longest
	// metadata string an OffsetCommit may store.
	OffsetMetadataMaxBytes int32
	// AutoCreateTopics creates an unknown topic named in Metadata when the
	// request allows it (auto.create.topics.enable).
	AutoCreateTopics bool
	// Registerer, if not nil, gets the Kafka port's metrics
	// (spate_kafka_*).
	Registerer prometheus.Registerer
}

// TopicAdmin is how the Kafka port changes topics; see Config.Admin.
type TopicAdmin interface {
	CreateTopic(name string, partitions int32, replicationFactor int16, configs map[string]string) error
	DeleteTopic(name string) error
	CreatePartitions(name string, total int32, validateOnly bool) error
	AlterTopicConfigs(name string, changes map[string]string, validateOnly bool) error
}

// engineAdmin is TopicAdmin for an engine outside cluster mode: the engine
// itself.
type engineAdmin struct{ e *engine.Engine }

func (a engineAdmin) CreateTopic(name string, partitions int32, rf int16, configs map[string]string) error {
	return a.e.CreateTopicReplicated(name, partitions, rf, configs)
}
func (a engineAdmin) DeleteTopic(name string) error { return a.e.DeleteTopic(name) }
func (a engineAdmin) CreatePartitions(name string, total int32, validateOnly bool) error {
	return a.e.CreatePartitions(name, total, validateOnly)
}
func (a engineAdmin) AlterTopicConfigs(name string, changes map[string]string, validateOnly bool) error {
	return a.e.AlterTopicConfigs(name, changes, validateOnly)
}

// Handler serves Kafka request frames; see the package doc. Run it on a
// netio.Server with Config.Ordered set.
type Handler struct {
	cfg        Config
	m          *metrics
	groups     front.Groups // the group requests, as the native front end makes them
	produceOps sync.Pool    // *produceOp
	fetchOps   sync.Pool    // *fetchOp
}

// NewHandler returns a Handler serving cfg.Engine.
func NewHandler(cfg Config) *Handler {
	if cfg.Admin == nil {
		cfg.Admin = engineAdmin{cfg.Engine}
	}
	h := &Handler{cfg: cfg, m: newMetrics(cfg.Registerer), groups: front.Groups{
		Engine: cfg.Engine, Coordinator: cfg.Groups, OffsetMetadataMaxBytes: cfg.OffsetMetadataMaxBytes,
	}}
	h.produceOps.New = newProduceOp
	h.fetchOps.New = newFetchOp
	return h
}

// ServeFrame implements netio.Handler.
func (h *Handler) ServeFrame(r *netio.Responder, payload []byte) {
	start := time.Now()
	hdr, req, refusal, err := decodeRequest(payload)
	hdr.start = start
	switch {
	case err != nil:
		r.Close(err)
		return
	case refusal != nil: // a version outside ours, answered in its own form
		h.reply(r, hdr, refusal)
		return
	}
	if h.cfg.OffLoop && waitsOnController(req) {
		go h.serve(r, hdr, req) // kmsg decoded copies: nothing aliases payload
		return
	}
	h.serve(r, hdr, req)
}

// waitsOnController reports whether req may wait on a cluster's controller:
// topic changes, and lookups that may create a topic.
func waitsOnController(req kmsg.Request) bool {
	switch q := req.(type) {
	case *kmsg.CreateTopicsRequest, *kmsg.DeleteTopicsRequest, *kmsg.CreatePartitionsRequest,
		*kmsg.AlterConfigsRequest, *kmsg.IncrementalAlterConfigsRequest, *kmsg.FindCoordinatorRequest:
		return true
	case *kmsg.MetadataRequest:
		return q.Topics != nil && (q.Version < 4 || q.AllowAutoTopicCreation)
	}
	return false
}

// serve answers one decoded request.
func (h *Handler) serve(r *netio.Responder, hdr requestHeader, req kmsg.Request) {
	switch q := req.(type) {
	case *kmsg.ApiVersionsRequest:
		h.reply(r, hdr, apiVersionsResponse(q.Version))
	case *kmsg.MetadataRequest:
		h.metadata(r, hdr, q)
	case *kmsg.ProduceRequest:
		h.produce(r, hdr, q)
	case *kmsg.FetchRequest:
		h.fetch(r, hdr, q)
	case *kmsg.ListOffsetsRequest:
		h.listOffsets(r, hdr, q)
	case *kmsg.CreateTopicsRequest:
		h.createTopics(r, hdr, q)
	case *kmsg.DeleteTopicsRequest:
		h.deleteTopics(r, hdr, q)
	case *kmsg.InitProducerIDRequest:
		h.initProducerID(r, hdr, q)
	case *kmsg.FindCoordinatorRequest:
		h.findCoordinator(r, hdr, q)
	case *kmsg.JoinGroupRequest:
		h.joinGroup(r, hdr, q)
	case *kmsg.SyncGroupRequest:
		h.syncGroup(r, hdr, q)
	case *kmsg.HeartbeatRequest:
		h.heartbeat(r, hdr, q)
	case *kmsg.LeaveGroupRequest:
		h.leaveGroup(r, hdr, q)
	case *kmsg.OffsetCommitRequest:
		h.offsetCommit(r, hdr, q)
	case *kmsg.OffsetFetchRequest:
		h.offsetFetch(r, hdr, q)
	case *kmsg.ListGroupsRequest:
		h.listGroups(r, hdr, q)
	case *kmsg.DescribeGroupsRequest:
		h.describeGroups(r, hdr, q)
	case *kmsg.DeleteGroupsRequest:
		h.deleteGroups(r, hdr, q)
	case *kmsg.DescribeClusterRequest:
		h.describeCluster(r, hdr, q)
	case *kmsg.CreatePartitionsRequest:
		h.createPartitions(r, hdr, q)
	case *kmsg.DeleteRecordsRequest:
		h.deleteRecords(r, hdr, q)
	case *kmsg.OffsetForLeaderEpochRequest:
		h.offsetForLeaderEpoch(r, hdr, q)
	case *kmsg.DescribeLogDirsRequest:
		h.describeLogDirs(r, hdr, q)
	case *kmsg.DescribeConfigsRequest:
		h.describeConfigs(r, hdr, q)
	case *kmsg.AlterConfigsRequest:
		h.alterConfigs(r, hdr, q)
	case *kmsg.IncrementalAlterConfigsRequest:
		h.incrementalAlterConfigs(r, hdr, q)
	default:
		// Unreachable while served and this switch list the same keys.
		r.Close(fmt.Errorf("%w: key %d has no handler", ErrUnsupportedRequest, hdr.key))
	}
}

// decodeRequest parses the header, checks the key and version against
// served before touching the body, and decodes the body with kmsg. A
// version outside ours is not decoded: it gets refusal, the answer that
// says UNSUPPORTED_VERSION (see unsupportedVersion), or an error when no
// answer can say it.
func decodeRequest(payload []byte) (hdr requestHeader, req kmsg.Request, refusal kmsg.Response, err error) {
	hdr, rest, err := parseFixedHeader(payload)
	if err != nil {
		return hdr, nil, nil, err
	}
	vr, api, ok := servedRange(hdr.key)
	if !ok {
		return hdr, nil, nil, fmt.Errorf("%w: key %d", ErrUnsupportedRequest, hdr.key)
	}
	hdr.api = api
	if hdr.version < vr.min || hdr.version > vr.max {
		if refusal = unsupportedVersion(hdr.key, hdr.version); refusal != nil {
			return hdr, nil, refusal, nil
		}
		return hdr, nil, nil, fmt.Errorf("%w: key %d version %d (served %d-%d)", ErrUnsupportedRequest, hdr.key, hdr.version, vr.min, vr.max)
	}
	req = kmsg.RequestForKey(hdr.key)
	req.SetVersion(hdr.version)
	if req.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return hdr, nil, nil, fmt.Errorf("key %d version %d request header: %w", hdr.key, hdr.version, err)
		}
	}
	// ReadFrom, not UnsafeReadFrom: strings (topic names) outlive the
	// frame in the engine's maps and in parked answers. Byte fields alias
	// payload either way.
	if err := req.ReadFrom(rest); err != nil {
		return hdr, nil, nil, fmt.Errorf("%w: key %d version %d: %v", ErrMalformedRequest, hdr.key, hdr.version, err)
	}
	return hdr, req, nil, nil
}

// unsupportedVersion is the answer to key at a version Spate does not
// serve, or nil when there is none and the connection must be closed.
// ApiVersions answers in its v0 form, with UNSUPPORTED_VERSION and our
// ApiVersions range, so the client retries at a version it finds there
// (KIP-511). Any other key is answered in its own response form at the
// request's version when that form has a top-level error code
// (Fetch v7+, the group APIs, InitProducerId, ...): the client learns
// why instead of seeing a dropped connection. A form without one (Produce,
// Metadata, errors only per topic) cannot say it without the request's
// topics, which are not decoded at a version we do not serve; nor can a
// version newer than kmsg knows.
func unsupportedVersion(key, version int16) kmsg.Response {
	if key == apiVersionsKey {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		vr, _, _ := servedRange(apiVersionsKey)
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = vr.key, vr.min, vr.max
		resp.ApiKeys = append(resp.ApiKeys, k)
		return resp
	}
	req := kmsg.RequestForKey(key)
	if version < 0 || version > req.MaxVersion() {
		return nil
	}
	resp := req.ResponseKind()
	resp.SetVersion(version)
	code := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode")
	if !code.IsValid() || code.Kind() != reflect.Int16 {
		return nil
	}
	// kmsg encodes a field only in the versions that have it: if setting
	// the code changes nothing on the wire, this version's form lacks it.
	without := resp.AppendTo(nil)
	code.SetInt(int64(kerr.UnsupportedVersion.Code))
	if bytes.Equal(without, resp.AppendTo(nil)) {
		return nil
	}
	return resp
}

// reply encodes resp at the request's version into a pooled buffer and
// queues it. resp's version must already be set (kmsg encodes by it).
func (h *Handler) reply(r *netio.Responder, hdr requestHeader, resp kmsg.Response) {
	buf := netio.GetBuffer()
	buf.B = appendResponseFrame(buf.B, hdr, resp)
	h.m.observe(hdr.api, hdr.start)
	r.Reply(netio.BytesChunk(buf))
}

// appendResponseFrame appends size, response header and body.
func appendResponseFrame(dst []byte, hdr requestHeader, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(hdr.correlationID))
	if resp.IsFlexible() && hdr.key != apiVersionsKey {
		dst = append(dst, 0) // no tagged fields in the response header
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// code maps an engine error (nil included) to Kafka's error code: the
// mapping the native front end uses too (front.ErrorCode, whose codes are
// Kafka's numbers), so both front doors answer a failure alike.
func (h *Handler) code(err error) int16 { return int16(front.ErrorCode(err)) }
