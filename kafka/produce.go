package kafka

// Behavior: Produce fans out to engine.Produce once per partition through
// engine.ProduceFanOut, which the native front end shares; the engine
// validates each batch (RecordBatch v2, CRC-32C, size, record count) and
// checks idempotent producers' sequences, so a retried batch is answered
// with its original offset and a gap with OUT_OF_ORDER_SEQUENCE_NUMBER. The
// answer goes out after the last partition's result, and not at all for
// acks=0. A transactional produce is refused: transactions do not exist
// yet, and a transactional producer must not believe its writes are
// fenced. The per-request state is pooled with its callback bound once, so
// the fan-out allocates nothing per partition.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

type produceOp struct {
	h    *Handler
	r    *netio.Responder
	hdr  requestHeader
	req  *kmsg.ProduceRequest // for the answer's shape; its records are not read again
	resp *kmsg.ProduceResponse

	fan      engine.ProduceFanOut
	finishFn func() // op.finish, bound once
}

func newProduceOp() any {
	op := new(produceOp)
	op.finishFn = op.finish
	return op
}

func (h *Handler) produce(r *netio.Responder, hdr requestHeader, q *kmsg.ProduceRequest) {
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = q.Version
	if q.TransactionID != nil {
		for _, t := range q.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.TransactionalIDAuthorizationFailed.Code
				rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		h.answerProduce(r, hdr, q.Acks, resp)
		return
	}
	op := h.produceOps.Get().(*produceOp)
	op.h, op.r, op.hdr, op.req, op.resp = h, r, hdr, q, resp
	op.fan.Reset(op.finishFn)
	for _, t := range q.Topics {
		for _, p := range t.Partitions {
			op.fan.Add(t.Topic, p.Partition, p.Records)
		}
	}
	op.fan.Run(h.cfg.Engine, q.Acks, time.Duration(q.TimeoutMillis)*time.Millisecond)
}

// finish runs after the last partition's result: the answer has the
// request's shape, the results in its order.
func (op *produceOp) finish() {
	i := 0
	for _, t := range op.req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(t.Partitions))
		for range t.Partitions {
			res := &op.fan.Results[i]
			i++
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = res.Partition, op.h.code(res.Err)
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
			if res.Err != nil {
				rp.BaseOffset = -1
				rp.ErrorMessage = ptr(res.Err.Error()) // v8+; kmsg leaves it out of older versions
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		op.resp.Topics = append(op.resp.Topics, rt)
	}
	h, r, hdr, acks, resp := op.h, op.r, op.hdr, op.req.Acks, op.resp
	op.h, op.r, op.req, op.resp = nil, nil, nil, nil
	h.produceOps.Put(op)
	h.answerProduce(r, hdr, acks, resp)
}

// answerProduce sends resp, or nothing for acks=0.
func (h *Handler) answerProduce(r *netio.Responder, hdr requestHeader, acks int16, resp *kmsg.ProduceResponse) {
	if acks == 0 {
		h.m.observe(hdr.api, hdr.start)
		r.NoReply()
		return
	}
	h.reply(r, hdr, resp)
}
