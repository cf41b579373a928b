package broker

// Behavior: the native-protocol handler. It runs on a gnet event loop with
// one frame at a time, decodes it with a pooled wire.Decoder, calls the
// engine, and answers through the netio.Responder, now or later:
//
//	a payload too short for a header      close the connection (no header to answer)
//	unknown api_key or version            UNSUPPORTED_VERSION error response, connection kept
//	malformed body                        INVALID_REQUEST error response, connection kept
//	Produce acks=0                        no response (Kafka semantics)
//	everything else                       a response with per-partition error codes
//
// Frame payloads alias gnet's inbound buffer: the produce path hands the
// record bytes to engine.Produce, which appends them before returning (the
// one copy), so nothing here keeps a reference past ServeFrame.

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

type nativeHandler struct {
	b          *Broker
	m          *metrics
	groups     front.Groups // the group requests, as the Kafka front end makes them
	decoders   sync.Pool    // *wire.Decoder
	produceOps sync.Pool    // *produceOp
	fetchOps   sync.Pool    // *fetchOp
}

func newNativeHandler(b *Broker, m *metrics) *nativeHandler {
	h := &nativeHandler{b: b, m: m, groups: front.Groups{
		Engine: b.engine, Coordinator: b.groups, OffsetMetadataMaxBytes: b.cfg.OffsetMetadataMaxBytes,
	}}
	h.decoders.New = func() any { return new(wire.Decoder) }
	h.produceOps.New = newProduceOp
	h.fetchOps.New = newFetchOp
	return h
}

// OnOpen implements netio.ConnObserver.
func (h *nativeHandler) OnOpen(netio.ConnInfo) {
	h.m.connsOpen.Inc()
	h.m.connsTotal.Inc()
}

// OnClose implements netio.ConnObserver.
func (h *nativeHandler) OnClose(_ netio.ConnInfo, err error) {
	h.m.connsOpen.Dec()
	if err != nil {
		h.m.connsFailed.Inc()
	}
}

// ServeFrame implements netio.Handler.
func (h *nativeHandler) ServeFrame(r *netio.Responder, payload []byte) {
	start := time.Now()
	h.m.bytesIn.Add(float64(len(payload) + 4))
	d := h.decoders.Get().(*wire.Decoder)
	defer h.decoders.Put(d)
	hdr, req, err := d.Decode(payload)
	if len(payload) >= wire.RequestHeaderLen && !servesKey(hdr.Key) {
		// Known to wire or not, this broker does not answer it: refuse it
		// as unsupported before looking at its body.
		err = fmt.Errorf("%s: %w", hdr.Key, wire.ErrUnsupportedVersion)
	}
	if hdr.Key >= 0 && int(hdr.Key) < numAPIs {
		h.m.requests[hdr.Key].Inc()
	} else if err == nil || errors.Is(err, wire.ErrUnsupportedVersion) {
		h.m.unknownAPI.Inc()
	}
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrUnsupportedVersion):
		buf := netio.GetBuffer()
		buf.B = wire.AppendUnsupportedVersionResponse(buf.B, hdr)
		h.m.bytesOut.Add(float64(len(buf.B)))
		r.Reply(netio.BytesChunk(buf))
		return
	case len(payload) < wire.RequestHeaderLen:
		// No correlation id to answer with: the peer is not speaking our protocol.
		r.Close(err)
		return
	default:
		h.replyError(r, hdr, start, wire.InvalidRequest)
		return
	}
	switch q := req.(type) {
	case *wire.APIVersionsRequest:
		h.reply(r, hdr, start, &wire.APIVersionsResponse{APIs: servedAPIs}, false)
	case *wire.MetadataRequest:
		h.metadata(r, hdr, start, q)
	case *wire.CreateTopicsRequest:
		h.createTopics(r, hdr, start, q)
	case *wire.DeleteTopicsRequest:
		h.deleteTopics(r, hdr, start, q)
	case *wire.ProduceRequest:
		h.produce(r, hdr, start, q)
	case *wire.FetchRequest:
		h.fetch(r, hdr, start, q)
	case *wire.ListOffsetsRequest:
		h.listOffsets(r, hdr, start, q)
	case *wire.InitProducerIDRequest:
		h.initProducerID(r, hdr, start, q)
	case *wire.DescribeConfigsRequest:
		h.describeConfigs(r, hdr, start, q)
	case *wire.AlterConfigsRequest:
		h.alterConfigs(r, hdr, start, q)
	case *wire.DeleteRecordsRequest:
		h.deleteRecords(r, hdr, start, q)
	case *wire.CreatePartitionsRequest:
		h.createPartitions(r, hdr, start, q)
	case *wire.DescribeClusterRequest:
		// The controller's liveness view takes its call lock: off the loop.
		go func() { h.reply(r, hdr, start, h.b.describeCluster(), false) }()
	case *wire.EpochQueryRequest:
		h.epochQuery(r, hdr, start, q)
	case *wire.ReassignRequest:
		h.reassign(r, hdr, start, q)
	case *wire.ListReassignmentsRequest:
		h.reply(r, hdr, start, &wire.ListReassignmentsResponse{Reassignments: h.b.Reassignments()}, false)
	case *wire.FindCoordinatorRequest:
		h.findCoordinator(r, hdr, start, q)
	case *wire.JoinGroupRequest:
		h.joinGroup(r, hdr, start, q)
	case *wire.SyncGroupRequest:
		h.syncGroup(r, hdr, start, q)
	case *wire.HeartbeatRequest:
		h.heartbeat(r, hdr, start, q)
	case *wire.LeaveGroupRequest:
		h.leaveGroup(r, hdr, start, q)
	case *wire.OffsetCommitRequest:
		h.offsetCommit(r, hdr, start, q)
	case *wire.OffsetFetchRequest:
		h.offsetFetch(r, hdr, start, q)
	case *wire.ListGroupsRequest:
		h.listGroups(r, hdr, start, q)
	case *wire.DescribeGroupsRequest:
		h.describeGroups(r, hdr, start, q)
	case *wire.DeleteGroupsRequest:
		h.deleteGroups(r, hdr, start, q)
	default:
		h.replyError(r, hdr, start, wire.UnsupportedVersion)
	}
}

// servedAPIs is what ApiVersions advertises: the APIs ServeFrame answers.
// wire may define more (codecs of APIs whose broker side is not wired yet);
// advertising those would invite requests that can only fail.
var servedAPIs = served(wire.APIVersionsKey, wire.MetadataKey, wire.CreateTopicsKey, wire.DeleteTopicsKey,
	wire.ProduceKey, wire.FetchKey, wire.ListOffsetsKey, wire.InitProducerIDKey,
	wire.DescribeConfigsKey, wire.AlterConfigsKey, wire.DeleteRecordsKey, wire.CreatePartitionsKey, wire.DescribeClusterKey,
	wire.OffsetForLeaderEpochKey, wire.AlterPartitionReassignmentsKey, wire.ListPartitionReassignmentsKey,
	wire.FindCoordinatorKey, wire.JoinGroupKey, wire.SyncGroupKey, wire.HeartbeatKey, wire.LeaveGroupKey,
	wire.OffsetCommitKey, wire.OffsetFetchKey, wire.ListGroupsKey, wire.DescribeGroupsKey, wire.DeleteGroupsKey)

// servedKeys[k] reports whether ServeFrame answers API k (from servedAPIs).
var servedKeys = func() (t [numAPIs]bool) {
	for _, v := range servedAPIs {
		if v.Key >= 0 && int(v.Key) < numAPIs {
			t[v.Key] = true
		}
	}
	return t
}()

func servesKey(k wire.APIKey) bool { return k >= 0 && int(k) < numAPIs && servedKeys[k] }

func served(keys ...wire.APIKey) []wire.VersionRange {
	var out []wire.VersionRange
	for _, v := range wire.SupportedVersions() {
		for _, k := range keys {
			if v.Key == k {
				out = append(out, v)
			}
		}
	}
	return out
}

// reply encodes resp into a pooled buffer and hands it to the network layer.
func (h *nativeHandler) reply(r *netio.Responder, hdr wire.RequestHeader, start time.Time, resp wire.Response, failed bool) {
	buf := netio.GetBuffer()
	buf.B = wire.AppendResponseFrame(buf.B, hdr.CorrelationID, resp)
	h.m.bytesOut.Add(float64(len(buf.B)))
	h.m.observe(hdr.Key, start, failed)
	r.Reply(netio.BytesChunk(buf))
}

func (h *nativeHandler) replyError(r *netio.Responder, hdr wire.RequestHeader, start time.Time, code wire.ErrorCode) {
	buf := netio.GetBuffer()
	buf.B = wire.AppendErrorResponse(buf.B, hdr.CorrelationID, code)
	h.m.bytesOut.Add(float64(len(buf.B)))
	if hdr.Key >= 0 && int(hdr.Key) < numAPIs {
		h.m.observe(hdr.Key, start, true)
	}
	r.Reply(netio.BytesChunk(buf))
}

// codeOf is front.ErrorCode, the mapping of engine errors to codes the
// Kafka front end shares, under the name the native handler's files use.
func codeOf(err error) wire.ErrorCode { return front.ErrorCode(err) }

// configMap is a request's configs by key.
func configMap(configs []wire.Config) map[string]string {
	m := make(map[string]string, len(configs))
	for _, c := range configs {
		m[c.Key] = c.Value
	}
	return m
}

// errMessage is front.ErrorMessage: err's text for an error_message.
func errMessage(err error) string { return front.ErrorMessage(err) }

func (h *nativeHandler) metadata(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.MetadataRequest) {
	m := h.b.member
	// Auto-creation waits for the controller: off the event loop.
	if q.AutoCreate && h.b.cfg.AutoCreateTopics && !q.AllTopics {
		c := *q // the loop's decoder's, overwritten by the next request
		c.Topics = slices.Clone(q.Topics)
		go func() { h.reply(r, hdr, start, m.metadata(&c), false) }()
		return
	}
	h.reply(r, hdr, start, m.metadata(q), false)
}

func (h *nativeHandler) createTopics(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.CreateTopicsRequest) {
	if !q.ValidateOnly {
		// q is the loop's decoder's, overwritten by the next request: copied.
		c := &wire.CreateTopicsRequest{TimeoutMs: q.TimeoutMs}
		for _, t := range q.Topics {
			t.Configs = slices.Clone(t.Configs)
			c.Topics = append(c.Topics, t)
		}
		go h.createTopicsNow(r, hdr, start, c) // waits for the controller: off the event loop
		return
	}
	h.createTopicsNow(r, hdr, start, q)
}

func (h *nativeHandler) createTopicsNow(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.CreateTopicsRequest) {
	resp := &wire.CreateTopicsResponse{Topics: make([]wire.TopicResult, 0, len(q.Topics))}
	failed := false
	for _, t := range q.Topics {
		configs := configMap(t.Configs)
		var err error
		if q.ValidateOnly {
			err = h.b.engine.ValidateCreateTopic(t.Name, t.Partitions, t.ReplicationFactor, configs)
		} else {
			err = h.b.CreateTopic(t.Name, t.Partitions, t.ReplicationFactor, configs)
		}
		res := wire.TopicResult{Name: t.Name, ErrorCode: codeOf(err)}
		if err != nil {
			res.Message = errMessage(err)
			failed = true
		}
		resp.Topics = append(resp.Topics, res)
	}
	h.reply(r, hdr, start, resp, failed)
}

func (h *nativeHandler) deleteTopics(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DeleteTopicsRequest) {
	c := &wire.DeleteTopicsRequest{Topics: slices.Clone(q.Topics), TimeoutMs: q.TimeoutMs} // q is the loop's: copied
	go h.deleteTopicsNow(r, hdr, start, c)                                                 // waits for the controller: off the event loop
}

func (h *nativeHandler) deleteTopicsNow(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DeleteTopicsRequest) {
	resp := &wire.DeleteTopicsResponse{Topics: make([]wire.TopicResult, 0, len(q.Topics))}
	failed := false
	var deleted []int // indexes into resp.Topics
	for _, name := range q.Topics {
		err := h.b.DeleteTopic(name)
		res := wire.TopicResult{Name: name, ErrorCode: codeOf(err)}
		if err != nil {
			res.Message = errMessage(err)
			failed = true
		} else {
			deleted = append(deleted, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, res)
	}
	if len(deleted) == 0 {
		h.reply(r, hdr, start, resp, failed)
		return
	}
	// Then every group's offsets of the deleted topics go (Kafka does the
	// same), so a topic created again under the name starts without them.
	// The answer waits for the tombstones; a failure to write them leaves
	// the topic deleted and says so in its message.
	var mu sync.Mutex
	left := len(deleted)
	for _, i := range deleted {
		h.b.groups.DeleteTopicOffsets(resp.Topics[i].Name, time.Now(), func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				resp.Topics[i].Message = "deleted, but its committed offsets stay: " + err.Error()
			}
			if left--; left == 0 {
				h.reply(r, hdr, start, resp, failed)
			}
		})
	}
}

// initProducerID gives an idempotent producer its id. Transactions do not
// exist yet, so a transactional id is refused rather than ignored: a
// transactional producer must not believe it got fencing it does not have.
func (h *nativeHandler) initProducerID(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.InitProducerIDRequest) {
	resp := &wire.InitProducerIDResponse{ProducerID: -1, ProducerEpoch: -1}
	if q.TransactionalID != "" {
		resp.ErrorCode = wire.InvalidRequest
		h.reply(r, hdr, start, resp, true)
		return
	}
	id, epoch, err := h.b.engine.InitProducerID()
	if err != nil {
		resp.ErrorCode = codeOf(err)
		h.reply(r, hdr, start, resp, true)
		return
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	h.reply(r, hdr, start, resp, false)
}
