package kafka

// Behavior: a Fetch request goes through front.Fetch, which the native
// front end shares: one engine.Fetch over all its partitions (long poll
// included: MaxWait and MinBytes pass through), then the answer sent with
// each partition's records straight from the segment file, so no record
// byte is copied into user space. What is left here is Kafka's wire form:
// the request's fields into the Fetch, and its answers into a frame
// encoded by hand around the records (kmsg's RecordBatches field would
// need them in memory). The per-request state is pooled.
//
// Fetch sessions (KIP-227) are declined: every answer carries session id 0,
// which tells the client to keep sending full fetch requests; a request
// naming a session id gets FETCH_SESSION_ID_NOT_FOUND. Transactions do not
// exist, so the last stable offset is the high watermark and no batch is
// ever aborted. The replica id is not read: a Kafka client is a consumer
// (Spate's followers fetch over the native port), so reads stop at the
// high watermark.

import (
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/front"
	"github.com/spate-io/spate/netio"
)

type fetchOp struct {
	h   *Handler
	hdr requestHeader

	fetch front.Fetch // bound to op.encode and op.finished
}

func newFetchOp() any {
	op := new(fetchOp)
	op.fetch.Bind(op.encode, op.finished)
	return op
}

func (h *Handler) fetch(r *netio.Responder, hdr requestHeader, q *kmsg.FetchRequest) {
	if q.SessionID != 0 {
		buf := netio.GetBuffer()
		buf.B, _ = appendFetchResponse(buf.B, hdr, kerr.FetchSessionIDNotFound.Code, nil, nil, nil)
		h.m.observe(hdr.api, hdr.start)
		r.Reply(netio.BytesChunk(buf))
		return
	}
	op := h.fetchOps.Get().(*fetchOp)
	op.h, op.hdr = h, hdr
	f := &op.fetch
	f.Reset(r, time.Duration(q.MaxWaitMillis)*time.Millisecond, q.MinBytes, q.MaxBytes)
	for _, t := range q.Topics {
		f.AddTopic(t.Topic)
		for _, p := range t.Partitions {
			f.Add(p.Partition, p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch)
		}
	}
	f.Run(h.cfg.Engine, -1)
}

// encode is Kafka's front.FetchEncoder.
func (op *fetchOp) encode(dst []byte, f *front.Fetch, cuts []int) ([]byte, []int) {
	return appendFetchResponse(dst, op.hdr, 0, f.Topics, f.Answers, cuts)
}

// finished counts the answer and pools op again.
func (op *fetchOp) finished(int, bool) {
	op.h.m.observe(op.hdr.api, op.hdr.start)
	h := op.h
	op.h = nil
	h.fetchOps.Put(op)
}

// appendFetchResponse appends a Fetch response frame (size prefix,
// response header, body) for versions 4-12 without any record bytes:
// topics and, in order, their answers. It appends to cuts, per answer with
// records in order, the offset in the returned slice where its RecordsLen
// bytes of records belong. The size prefix counts them. Layout (v12 is
// flexible: compact arrays and strings are uvarint length+1, records a
// compact nullable bytes, and each partition, topic and the response end
// with an empty tagged-field byte):
//
//	throttle_ms int32
//	error_code int16, session_id int32                     v7+
//	topics [name string, partitions [
//	    partition int32, error_code int16, high_watermark int64,
//	    last_stable_offset int64, log_start_offset int64 (v5+),
//	    aborted_transactions [] (always empty),
//	    preferred_read_replica int32 (v11+, -1),
//	    records bytes]]
func appendFetchResponse(dst []byte, hdr requestHeader, errorCode int16, topics []front.FetchTopic, answers []front.FetchAnswer, cuts []int) ([]byte, []int) {
	v := hdr.version
	flexible := v >= 12
	start := len(dst)
	records := 0
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(hdr.correlationID))
	if flexible {
		dst = append(dst, 0)
	}
	dst = binary.BigEndian.AppendUint32(dst, 0) // throttle_ms
	if v >= 7 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(errorCode))
		dst = binary.BigEndian.AppendUint32(dst, 0) // session_id: no session
	}
	dst = appendArrayLen(dst, len(topics), flexible)
	for _, t := range topics {
		dst = appendString(dst, t.Name, flexible)
		dst = appendArrayLen(dst, t.Partitions, flexible)
		for _, p := range answers[:t.Partitions] {
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
			dst = binary.BigEndian.AppendUint16(dst, uint16(p.Code))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.HighWatermark))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.HighWatermark)) // last_stable_offset
			if v >= 5 {
				dst = binary.BigEndian.AppendUint64(dst, uint64(p.LogStartOffset))
			}
			dst = appendArrayLen(dst, 0, flexible) // aborted_transactions
			if v >= 11 {
				dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // preferred_read_replica -1
			}
			if flexible {
				dst = binary.AppendUvarint(dst, uint64(p.RecordsLen)+1)
			} else {
				dst = binary.BigEndian.AppendUint32(dst, uint32(p.RecordsLen))
			}
			if p.RecordsLen > 0 {
				cuts = append(cuts, len(dst))
				records += p.RecordsLen
			}
			if flexible {
				dst = append(dst, 0) // partition tags
			}
		}
		answers = answers[t.Partitions:]
		if flexible {
			dst = append(dst, 0) // topic tags
		}
	}
	if flexible {
		dst = append(dst, 0) // response tags
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+records))
	return dst, cuts
}

func appendArrayLen(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func appendString(dst []byte, s string, flexible bool) []byte {
	if flexible {
		dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	}
	return append(dst, s...)
}
