package kafka

// Behavior: a Fetch request becomes one engine.Fetch over all its
// partitions (long poll included: MaxWait and MinBytes pass through). When
// the engine answers, the response is encoded by hand around the record
// bytes: netio sends the encoded pieces from memory and each partition's
// records straight from the segment file (sendfile or writev of the
// read-only mmap), so no record byte is copied into user space. Ownership
// of each file range passes to netio, which releases it once written.
//
// Fetch sessions (KIP-227) are declined: every answer carries session id 0,
// which tells the client to keep sending full fetch requests; a request
// naming a session id gets FETCH_SESSION_ID_NOT_FOUND. Transactions do not
// exist, so the last stable offset is the high watermark and no batch is
// ever aborted.

import (
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
)

// fetchTopic is one topic of a Fetch answer, in request order.
type fetchTopic struct {
	name       string
	partitions []fetchPartition
}

// fetchPartition is one partition of a Fetch answer; its recordsLen bytes
// of records are not part of the encoded frame but sent after its header.
type fetchPartition struct {
	partition      int32
	errorCode      int16
	highWatermark  int64
	logStartOffset int64
	recordsLen     int
}

func (h *Handler) fetch(r *netio.Responder, hdr requestHeader, q *kmsg.FetchRequest) {
	if q.SessionID != 0 {
		buf := netio.GetBuffer()
		buf.B, _ = appendFetchResponse(buf.B, hdr, kerr.FetchSessionIDNotFound.Code, nil, nil)
		h.m.observe(hdr.api, hdr.start)
		r.Reply(netio.BytesChunk(buf))
		return
	}
	req := engine.FetchRequest{
		MaxWait:  time.Duration(q.MaxWaitMillis) * time.Millisecond,
		MinBytes: q.MinBytes,
		MaxBytes: q.MaxBytes,
	}
	topics := make([]fetchTopic, len(q.Topics))
	for i, t := range q.Topics {
		topics[i] = fetchTopic{name: t.Topic, partitions: make([]fetchPartition, len(t.Partitions))}
		for _, p := range t.Partitions {
			req.Partitions = append(req.Partitions, engine.FetchPartition{
				Topic: t.Topic, Partition: p.Partition, Offset: p.FetchOffset, MaxBytes: p.PartitionMaxBytes,
			})
		}
	}
	h.cfg.Engine.Fetch(req, func(res *engine.FetchResult) { h.fetchDone(r, hdr, topics, res) })
}

// fetchDone answers from the engine's result, which lists partitions in
// request order.
func (h *Handler) fetchDone(r *netio.Responder, hdr requestHeader, topics []fetchTopic, res *engine.FetchResult) {
	i := 0
	for ti := range topics {
		for pi := range topics[ti].partitions {
			pr := &res.Partitions[i]
			p := &topics[ti].partitions[pi]
			*p = fetchPartition{partition: pr.Partition, errorCode: h.code(pr.Err),
				highWatermark: pr.HighWatermark, logStartOffset: pr.LogStartOffset}
			if pr.Records != nil {
				p.recordsLen = pr.Records.Len()
			}
			i++
		}
	}
	frame, cuts := appendFetchResponse(nil, hdr, 0, topics, make([]int, 0, i))
	chunks := make([]netio.Chunk, 0, 2*len(cuts)+1)
	prev := 0
	for n, cut := range cuts {
		pr := &res.Partitions[n]
		if pr.Records == nil {
			continue
		}
		chunks = append(chunks, bytesChunk(frame[prev:cut]), netio.FileChunk(pr.Records))
		pr.Records = nil // netio releases it now
		prev = cut
	}
	chunks = append(chunks, bytesChunk(frame[prev:]))
	res.Release()
	h.m.observe(hdr.api, hdr.start)
	r.Reply(chunks...)
}

func bytesChunk(b []byte) netio.Chunk {
	buf := netio.GetBuffer()
	buf.B = append(buf.B, b...)
	return netio.BytesChunk(buf)
}

// appendFetchResponse appends a Fetch response frame (size prefix,
// response header, body) for versions 4-12 without any record bytes, and
// appends to cuts, per partition in order, the offset in the returned
// slice where that partition's recordsLen bytes of records belong. The
// size prefix counts them. Layout (v12 is flexible: compact arrays and
// strings are uvarint length+1, records a compact nullable bytes, and each
// partition, topic and the response end with an empty tagged-field byte):
//
//	throttle_ms int32
//	error_code int16, session_id int32                     v7+
//	topics [name string, partitions [
//	    partition int32, error_code int16, high_watermark int64,
//	    last_stable_offset int64, log_start_offset int64 (v5+),
//	    aborted_transactions [] (always empty),
//	    preferred_read_replica int32 (v11+, -1),
//	    records bytes]]
func appendFetchResponse(dst []byte, hdr requestHeader, errorCode int16, topics []fetchTopic, cuts []int) ([]byte, []int) {
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
		dst = appendString(dst, t.name, flexible)
		dst = appendArrayLen(dst, len(t.partitions), flexible)
		for _, p := range t.partitions {
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.partition))
			dst = binary.BigEndian.AppendUint16(dst, uint16(p.errorCode))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.highWatermark))
			dst = binary.BigEndian.AppendUint64(dst, uint64(p.highWatermark)) // last_stable_offset
			if v >= 5 {
				dst = binary.BigEndian.AppendUint64(dst, uint64(p.logStartOffset))
			}
			dst = appendArrayLen(dst, 0, flexible) // aborted_transactions
			if v >= 11 {
				dst = binary.BigEndian.AppendUint32(dst, 0xffffffff) // preferred_read_replica -1
			}
			if flexible {
				dst = binary.AppendUvarint(dst, uint64(p.recordsLen)+1)
			} else {
				dst = binary.BigEndian.AppendUint32(dst, uint32(p.recordsLen))
			}
			cuts = append(cuts, len(dst))
			records += p.recordsLen
			if flexible {
				dst = append(dst, 0) // partition tags
			}
		}
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
