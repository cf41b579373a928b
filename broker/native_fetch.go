package broker

// Behavior: a Fetch request becomes one engine.Fetch over all its
// partitions. When the engine answers (at once, or after a long poll), the
// response frame is encoded without its record bytes
// (wire.AppendFetchResponseParts), and the network layer sends header
// pieces from memory and each partition's records straight from the segment
// file (sendfile, or writev of the read-only mmap): no user-space copy of
// record bytes. Ownership of each file range passes to netio, which
// releases it once written; the rest of the engine's result is released
// here.

import (
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

type fetchOp struct {
	h     *nativeHandler
	r     *netio.Responder
	hdr   wire.RequestHeader
	start time.Time

	doneFn func(*engine.FetchResult) // op.done, bound once
	req    engine.FetchRequest
	resp   wire.FetchResponse
	frame  []byte
	parts  []wire.Part
	chunks []netio.Chunk
	// counts[i] is how many partitions request topic i asked for; the
	// request itself is gone (decoder reused) by the time done runs.
	counts []int
}

func newFetchOp() any {
	op := new(fetchOp)
	op.doneFn = op.done
	return op
}

func (h *nativeHandler) fetch(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.FetchRequest) {
	op := h.fetchOps.Get().(*fetchOp)
	op.h, op.r, op.hdr, op.start = h, r, hdr, start
	op.req.MaxWait = time.Duration(q.MaxWaitMs) * time.Millisecond
	op.req.MinBytes, op.req.MaxBytes = q.MinBytes, q.MaxBytes
	op.req.Partitions = op.req.Partitions[:0]
	op.resp.ErrorCode = wire.None
	op.resp.Topics = op.resp.Topics[:0]
	op.counts = op.counts[:0]
	for _, t := range q.Topics {
		if len(op.resp.Topics) < cap(op.resp.Topics) {
			op.resp.Topics = op.resp.Topics[:len(op.resp.Topics)+1]
		} else {
			op.resp.Topics = append(op.resp.Topics, wire.FetchTopicResponse{})
		}
		op.resp.Topics[len(op.resp.Topics)-1].Name = t.Name
		op.counts = append(op.counts, len(t.Partitions))
		for _, p := range t.Partitions {
			op.req.Partitions = append(op.req.Partitions, engine.FetchPartition{
				Topic: t.Name, Partition: p.Partition, Offset: p.FetchOffset, MaxBytes: p.PartitionMaxBytes,
				LeaderEpoch: p.CurrentLeaderEpoch,
			})
		}
	}
	if q.ReplicaID >= 0 {
		// A follower (replica.go): past the high watermark, recorded in
		// the leader's ISR core.
		h.b.engine.ReplicaFetch(q.ReplicaID, op.req, op.doneFn)
		return
	}
	h.b.engine.Fetch(op.req, op.doneFn)
}

// done builds the response in request order from the engine's result,
// which lists partitions in the same order.
func (op *fetchOp) done(res *engine.FetchResult) {
	failed := false
	i := 0
	for ti := range op.resp.Topics {
		t := &op.resp.Topics[ti]
		t.Partitions = t.Partitions[:0]
		for n := 0; n < op.counts[ti]; n++ {
			pr := &res.Partitions[i]
			out := wire.FetchPartitionResponse{
				Partition: pr.Partition, ErrorCode: codeOf(pr.Err),
				HighWatermark: pr.HighWatermark, LogStartOffset: pr.LogStartOffset,
				LastStableOffset: -1, RecordsLen: 0,
			}
			switch {
			case pr.Err != nil:
				failed = true
				out.RecordsLen = -1
			case pr.Records != nil:
				out.RecordsLen = int32(pr.Records.Len())
			}
			t.Partitions = append(t.Partitions, out)
			i++
		}
	}
	op.frame, op.parts = wire.AppendFetchResponseParts(op.frame[:0], op.hdr.CorrelationID, &op.resp, op.parts[:0])
	op.chunks = op.chunks[:0]
	prev := 0
	for _, p := range op.parts {
		op.chunks = append(op.chunks, op.bytesChunk(op.frame[prev:p.HeaderEnd]))
		pr := op.partitionResult(res, p.Topic, p.Partition)
		op.chunks = append(op.chunks, netio.FileChunk(pr.Records))
		pr.Records = nil // netio releases it now
		prev = p.HeaderEnd
	}
	if prev < len(op.frame) {
		op.chunks = append(op.chunks, op.bytesChunk(op.frame[prev:]))
	}
	res.Release()
	total := len(op.frame)
	for _, p := range op.parts {
		total += p.RecordsLen
	}
	op.h.m.bytesOut.Add(float64(total))
	op.h.m.observe(op.hdr.Key, op.start, failed)
	op.r.Reply(op.chunks...)
	clear(op.chunks)
	h := op.h
	op.h, op.r = nil, nil
	h.fetchOps.Put(op)
}

// partitionResult maps a Part's topic and partition indexes back to the
// engine's flat, request-ordered result.
func (op *fetchOp) partitionResult(res *engine.FetchResult, topic, partition int) *engine.FetchPartitionResult {
	i := 0
	for ti := 0; ti < topic; ti++ {
		i += len(op.resp.Topics[ti].Partitions)
	}
	return &res.Partitions[i+partition]
}

func (op *fetchOp) bytesChunk(b []byte) netio.Chunk {
	buf := netio.GetBuffer()
	buf.B = append(buf.B, b...)
	return netio.BytesChunk(buf)
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
