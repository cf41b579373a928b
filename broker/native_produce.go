package broker

// Behavior: a Produce request fans out to engine.Produce once per
// partition through engine.ProduceFanOut, which the Kafka front end shares;
// the response goes out when the last partition's result is in, and not at
// all for acks=0. The per-request state is pooled, and its callback is a
// method value bound once per pooled op, so steady state allocates nothing
// here beyond what the response encoding needs.

import (
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

type produceOp struct {
	h     *nativeHandler
	r     *netio.Responder
	hdr   wire.RequestHeader
	start time.Time
	acks  int16

	fan      engine.ProduceFanOut
	finishFn func() // op.finish, bound once
	resp     wire.ProduceResponse
}

func newProduceOp() any {
	op := new(produceOp)
	op.finishFn = op.finish
	return op
}

func (h *nativeHandler) produce(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.ProduceRequest) {
	op := h.produceOps.Get().(*produceOp)
	op.h, op.r, op.hdr, op.start, op.acks = h, r, hdr, start, q.Acks
	op.resp.ErrorCode = wire.None
	op.resp.Version = hdr.Version // v1 answers carry error messages
	op.resp.Topics = resizeTopics(op.resp.Topics, len(q.Topics))
	op.fan.Reset(op.finishFn)
	for i, t := range q.Topics {
		rt := &op.resp.Topics[i]
		rt.Name = t.Name
		rt.Partitions = resizePartitions(rt.Partitions, len(t.Partitions))
		for _, p := range t.Partitions {
			op.fan.Add(t.Name, p.Partition, p.Records)
		}
	}
	op.fan.Run(h.b.engine, q.Acks, time.Duration(q.TimeoutMs)*time.Millisecond)
}

// finish runs after the last partition's result: it fills the response in
// request order and answers.
func (op *produceOp) finish() {
	failed, i := false, 0
	for ti := range op.resp.Topics {
		parts := op.resp.Topics[ti].Partitions
		for pi := range parts {
			res := &op.fan.Results[i]
			i++
			p := wire.ProducePartitionResponse{Partition: res.Partition, ErrorCode: codeOf(res.Err),
				BaseOffset: res.BaseOffset, LogAppendTime: res.LogAppendTime, LogStartOffset: res.LogStartOffset}
			if res.Err != nil {
				failed, p.BaseOffset = true, -1
				if op.resp.Version >= 1 {
					p.ErrorMessage = errMessage(res.Err) // error path only: no allocation on success
				}
			}
			parts[pi] = p
		}
	}
	if op.acks == wire.AcksNone {
		op.h.m.observe(op.hdr.Key, op.start, failed)
		op.r.NoReply()
	} else {
		op.h.reply(op.r, op.hdr, op.start, &op.resp, failed)
	}
	h := op.h
	op.h, op.r = nil, nil
	h.produceOps.Put(op)
}

func resizeTopics(s []wire.ProduceTopicResponse, n int) []wire.ProduceTopicResponse {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]wire.ProduceTopicResponse, n)
}

func resizePartitions(s []wire.ProducePartitionResponse, n int) []wire.ProducePartitionResponse {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]wire.ProducePartitionResponse, n)
}
