package broker

// Behavior: DescribeConfigs, AlterConfigs and DeleteRecords, one engine
// call per topic (or partition) each, answered at once. Errors are
// per topic or partition, with the engine's message, so `spate topic
// alter` can say which key was refused and why.

import (
	"slices"
	"sort"
	"time"

	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

func (h *nativeHandler) describeConfigs(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DescribeConfigsRequest) {
	resp := &wire.DescribeConfigsResponse{Topics: make([]wire.TopicConfigs, 0, len(q.Topics))}
	failed := false
	for _, info := range h.b.engine.Describe(q.Topics...) {
		tc := wire.TopicConfigs{Name: info.Name, ErrorCode: codeOf(info.Err)}
		if info.Err != nil {
			tc.Message, failed = errMessage(info.Err), true
		}
		for k, v := range info.Configs {
			_, override := info.Overrides[k]
			tc.Configs = append(tc.Configs, wire.ConfigEntry{Key: k, Value: v, Override: override})
		}
		sort.Slice(tc.Configs, func(i, j int) bool { return tc.Configs[i].Key < tc.Configs[j].Key })
		resp.Topics = append(resp.Topics, tc)
	}
	h.reply(r, hdr, start, resp, failed)
}

func (h *nativeHandler) alterConfigs(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.AlterConfigsRequest) {
	// q is the loop's decoder's, overwritten by the next request: copied.
	c := &wire.AlterConfigsRequest{ValidateOnly: q.ValidateOnly}
	for _, t := range q.Topics {
		c.Topics = append(c.Topics, wire.AlterConfigsTopic{Name: t.Name, Configs: slices.Clone(t.Configs)})
	}
	go h.alterConfigsNow(r, hdr, start, c) // waits for the controller: off the event loop
}

func (h *nativeHandler) alterConfigsNow(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.AlterConfigsRequest) {
	resp := &wire.AlterConfigsResponse{Topics: make([]wire.TopicResult, 0, len(q.Topics))}
	failed := false
	for _, t := range q.Topics {
		err := h.b.AlterTopicConfigs(t.Name, configMap(t.Configs), q.ValidateOnly)
		res := wire.TopicResult{Name: t.Name, ErrorCode: codeOf(err)}
		if err != nil {
			res.Message, failed = errMessage(err), true
		}
		resp.Topics = append(resp.Topics, res)
	}
	h.reply(r, hdr, start, resp, failed)
}

func (h *nativeHandler) deleteRecords(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.DeleteRecordsRequest) {
	resp := &wire.DeleteRecordsResponse{Topics: make([]wire.DeleteRecordsTopicResponse, 0, len(q.Topics))}
	failed := false
	for _, t := range q.Topics {
		rt := wire.DeleteRecordsTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			low, err := h.b.engine.DeleteRecords(t.Name, p.Partition, p.Offset)
			rp := wire.DeleteRecordsPartitionResponse{Partition: p.Partition, LowWatermark: low, ErrorCode: codeOf(err)}
			if err != nil {
				rp.Message, failed = errMessage(err), true
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, start, resp, failed)
}
