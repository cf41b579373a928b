package broker

// Behavior: a Produce request fans out to engine.Produce once per
// partition. Each partition's done may run inside engine.Produce (acks=1
// without a flush wait) or later from another goroutine (flush.policy=always,
// acks=all); the response goes out when the last one has run. acks=0 gets no
// response. The per-request state is pooled, and its done callback is a
// method value bound once per pooled op, so steady state allocates nothing
// here beyond what the response encoding needs.

import (
	"sync"
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

	doneFn func(engine.ProduceResult) // op.done, bound once

	// mu guards pending, failed and resp, which done callbacks from several
	// goroutines fill in.
	mu      sync.Mutex
	pending int
	failed  bool
	resp    wire.ProduceResponse
}

func newProduceOp() any {
	op := new(produceOp)
	op.doneFn = op.done
	return op
}

func (h *nativeHandler) produce(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.ProduceRequest) {
	op := h.produceOps.Get().(*produceOp)
	op.h, op.r, op.hdr, op.start, op.acks = h, r, hdr, start, q.Acks
	op.failed = false
	op.pending = 0
	op.resp.ErrorCode = wire.None
	op.resp.Version = hdr.Version // v1 answers carry error messages
	op.resp.Topics = resizeTopics(op.resp.Topics, len(q.Topics))
	for i, t := range q.Topics {
		rt := &op.resp.Topics[i]
		rt.Name = t.Name
		rt.Partitions = resizePartitions(rt.Partitions, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j] = wire.ProducePartitionResponse{Partition: p.Partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
		}
		op.pending += len(t.Partitions)
	}
	if op.pending == 0 {
		op.pending = 1
		op.finishOne()
		return
	}
	timeout := time.Duration(q.TimeoutMs) * time.Millisecond
	for _, t := range q.Topics {
		for _, p := range t.Partitions {
			h.b.engine.Produce(engine.ProduceRequest{
				Topic: t.Name, Partition: p.Partition, Acks: q.Acks, Timeout: timeout, Records: p.Records,
			}, op.doneFn)
		}
	}
}

// done records one partition's result. Partitions are few per request, so
// a scan finds the slot.
func (op *produceOp) done(res engine.ProduceResult) {
	op.mu.Lock()
	if p := op.slot(res.Topic, res.Partition); p != nil {
		p.ErrorCode = codeOf(res.Err)
		p.BaseOffset, p.LogAppendTime, p.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
		if res.Err != nil {
			op.failed = true
			p.BaseOffset = -1
			if op.resp.Version >= 1 {
				p.ErrorMessage = errMessage(res.Err) // error path only: no allocation on success
			}
		}
	}
	op.mu.Unlock()
	op.finishOne()
}

// slot returns the first unanswered response entry for topic/partition (a
// request may name a partition twice; each gets its own answer).
func (op *produceOp) slot(topic string, partition int32) *wire.ProducePartitionResponse {
	for i := range op.resp.Topics {
		t := &op.resp.Topics[i]
		if t.Name != topic {
			continue
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.Partition == partition && p.BaseOffset == -1 && p.ErrorCode == wire.None {
				return p
			}
		}
	}
	return nil
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
	if op.acks == wire.AcksNone {
		op.h.m.observe(op.hdr.Key, op.start, op.failed)
		op.r.NoReply()
	} else {
		op.h.reply(op.r, op.hdr, op.start, &op.resp, op.failed)
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
