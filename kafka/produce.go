package kafka

// Behavior: Produce fans out to engine.Produce once per partition; the
// engine validates each batch (RecordBatch v2, CRC-32C, size, record
// count) and checks idempotent producers' sequences, so a retried batch
// is answered with its original offset and a gap with
// OUT_OF_ORDER_SEQUENCE_NUMBER. Each partition's done runs inside
// engine.Produce or later from another goroutine (acks=-1,
// flush.policy=always); the answer goes out after the last one, and not at
// all for acks=0. A transactional produce is refused: transactions do not
// exist yet, and a transactional producer must not believe its writes are
// fenced.

import (
	"sync"
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
	acks int16

	// mu guards pending and resp, filled in by done callbacks from
	// several goroutines.
	mu      sync.Mutex
	pending int
	resp    *kmsg.ProduceResponse
}

func (h *Handler) produce(r *netio.Responder, hdr requestHeader, q *kmsg.ProduceRequest) {
	op := &produceOp{h: h, r: r, hdr: hdr, acks: q.Acks, resp: kmsg.NewPtrProduceResponse()}
	op.resp.Version = q.Version
	refuse := int16(0)
	if q.TransactionID != nil {
		refuse = kerr.TransactionalIDAuthorizationFailed.Code
	}
	for _, t := range q.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, refuse
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		op.pending += len(t.Partitions)
		op.resp.Topics = append(op.resp.Topics, rt)
	}
	if refuse != 0 || op.pending == 0 {
		op.pending = 1
		op.finishOne()
		return
	}
	timeout := time.Duration(q.TimeoutMillis) * time.Millisecond
	for ti, t := range q.Topics {
		for pi, p := range t.Partitions {
			h.cfg.Engine.Produce(engine.ProduceRequest{
				Topic: t.Topic, Partition: p.Partition, Acks: q.Acks, Timeout: timeout, Records: p.Records,
			}, func(res engine.ProduceResult) { op.done(ti, pi, res) })
		}
	}
}

// done records the result of request topic ti, partition pi.
func (op *produceOp) done(ti, pi int, res engine.ProduceResult) {
	op.mu.Lock()
	p := &op.resp.Topics[ti].Partitions[pi]
	p.ErrorCode = op.h.code(res.Err)
	if res.Err != nil {
		msg := res.Err.Error()
		p.ErrorMessage = &msg // v8+; kmsg leaves it out of older versions
	} else {
		p.BaseOffset, p.LogAppendTime, p.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
	}
	op.mu.Unlock()
	op.finishOne()
}

// finishOne counts one partition done and answers after the last.
func (op *produceOp) finishOne() {
	op.mu.Lock()
	op.pending--
	last := op.pending == 0
	op.mu.Unlock()
	if !last {
		return
	}
	if op.acks == 0 {
		op.h.m.observe(op.hdr.api, op.hdr.start)
		op.r.NoReply()
		return
	}
	op.h.reply(op.r, op.hdr, op.resp)
}
