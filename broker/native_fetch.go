package broker

// Behavior: a Fetch request goes through front.Fetch, which the Kafka
// front end shares: one engine.Fetch over all its partitions (or
// engine.ReplicaFetch for a follower, replica_id >= 0: past the high
// watermark, recorded in the leader's ISR core), then the answer sent with
// each partition's records straight from the segment file. What is left
// here is the native wire form: the request's fields into the Fetch, and
// its answers into a frame without record bytes
// (wire.AppendFetchResponseParts). The per-request state is pooled, so
// steady state allocates nothing per partition here.

import (
	"time"

	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

type fetchOp struct {
	h     *nativeHandler
	hdr   wire.RequestHeader
	start time.Time

	fetch front.Fetch // bound to op.encode and op.finished
	resp  wire.FetchResponse
	parts []wire.Part
}

func newFetchOp() any {
	op := new(fetchOp)
	op.fetch.Bind(op.encode, op.finished)
	return op
}

func (h *nativeHandler) fetch(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.FetchRequest) {
	op := h.fetchOps.Get().(*fetchOp)
	op.h, op.hdr, op.start = h, hdr, start
	f := &op.fetch
	f.Reset(r, time.Duration(q.MaxWaitMs)*time.Millisecond, q.MinBytes, q.MaxBytes)
	for _, t := range q.Topics {
		f.AddTopic(t.Name)
		for _, p := range t.Partitions {
			f.Add(p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch)
		}
	}
	f.Run(h.b.engine, q.ReplicaID)
}

// encode is the native front.FetchEncoder.
func (op *fetchOp) encode(dst []byte, f *front.Fetch, cuts []int) ([]byte, []int) {
	op.resp.ErrorCode = wire.None
	op.resp.Topics = op.resp.Topics[:0]
	answers := f.Answers
	for _, t := range f.Topics {
		if len(op.resp.Topics) < cap(op.resp.Topics) {
			op.resp.Topics = op.resp.Topics[:len(op.resp.Topics)+1]
		} else {
			op.resp.Topics = append(op.resp.Topics, wire.FetchTopicResponse{})
		}
		rt := &op.resp.Topics[len(op.resp.Topics)-1]
		rt.Name, rt.Partitions = t.Name, rt.Partitions[:0]
		for _, a := range answers[:t.Partitions] {
			p := wire.FetchPartitionResponse{
				Partition: a.Partition, ErrorCode: a.Code,
				HighWatermark: a.HighWatermark, LogStartOffset: a.LogStartOffset,
				LastStableOffset: -1, RecordsLen: int32(a.RecordsLen),
			}
			if a.Code != wire.None {
				p.RecordsLen = -1 // null records
			}
			rt.Partitions = append(rt.Partitions, p)
		}
		answers = answers[t.Partitions:]
	}
	dst, op.parts = wire.AppendFetchResponseParts(dst, op.hdr.CorrelationID, &op.resp, op.parts[:0])
	for _, p := range op.parts {
		cuts = append(cuts, p.HeaderEnd)
	}
	return dst, cuts
}

// finished counts the answer and pools op again.
func (op *fetchOp) finished(bytes int, failed bool) {
	op.h.m.bytesOut.Add(float64(bytes))
	op.h.m.observe(op.hdr.Key, op.start, failed)
	h := op.h
	op.h = nil
	h.fetchOps.Put(op)
}
func (h *nativeHandler) listOffsets(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.ListOffsetsRequest) {
	resp := &wire.ListOffsetsResponse{Topics: make([]wire.ListOffsetsTopicResponse, 0, len(q.Topics))}
	failed := false
	for _, t := range q.Topics {
		rt := wire.ListOffsetsTopicResponse{Name: t.Name, Partitions: make([]wire.ListOffsetsPartitionResponse, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			off, err := h.b.engine.ListOffsets(t.Name, p.Partition, p.Timestamp)
			if err != nil {
				failed = true
			}
			rt.Partitions = append(rt.Partitions, wire.ListOffsetsPartitionResponse{
				Partition: p.Partition, ErrorCode: codeOf(err), Timestamp: -1, Offset: off,
			})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, start, resp, failed)
}
