package front

// Behavior: Fetch carries one fetch request through the engine and back to
// the connection. The front end adds the request's topics and partitions
// in order and calls Run: one engine.Fetch (engine.ReplicaFetch for a
// follower) does the per-partition reads, the long poll (MaxWait,
// MinBytes), the high-watermark cap and the max bytes (KIP-74). When the
// engine answers, at once inside Run or later from the goroutine that
// moved a high watermark or from a timer, Fetch fills Answers and calls the
// front end's encoder, which appends its wire form of the answer without
// any record byte and says where each partition's records belong. Fetch
// then replies with the encoded pieces, copied into pooled buffers, and
// each partition's records as a file chunk that netio sends from the
// segment file (sendfile, or writev of the read-only mmap): no user-space
// copy of record bytes. Ownership of each file range passes to netio,
// which releases it once written; Fetch releases the rest of the engine's
// result. Last it calls the front end's finished, which may pool the
// Fetch again.
//
// A Fetch is meant to be pooled with the front end's per-request state:
// reused, it allocates nothing per partition (its engine callback is bound
// once; its slices keep their capacity).

import (
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

// FetchTopic is one topic of a fetch request, in request order.
type FetchTopic struct {
	Name string
	// Partitions is how many entries of Fetch.Answers are this topic's,
	// after the previous topics'.
	Partitions int
}

// FetchAnswer is one partition's answer, the fields both wire forms carry.
type FetchAnswer struct {
	Partition int32
	Code      wire.ErrorCode
	// HighWatermark and LogStartOffset are -1 when Code is not wire.None.
	HighWatermark  int64
	LogStartOffset int64
	// RecordsLen is how many record bytes follow the partition's header:
	// 0 when it has none (an error included).
	RecordsLen int
}

// FetchEncoder appends the front end's answer frame to dst: every field,
// with each partition's records length from f.Answers, but no record
// bytes; the frame's size field counts them. It appends to cuts, for each
// answer with RecordsLen > 0 in order, the offset in the returned slice
// where that partition's records belong, and returns both slices.
type FetchEncoder func(dst []byte, f *Fetch, cuts []int) ([]byte, []int)

// Fetch is one fetch request on its way through the engine; see the
// Behavior comment. The zero value is ready after Bind and Reset.
type Fetch struct {
	// Request is what Run asks the engine: limits from Reset, partitions
	// from Add.
	Request engine.FetchRequest
	// Topics and Answers have the request's shape once the engine has
	// answered: Answers has one entry per partition added, in order.
	// Both are valid in the encoder and in finished.
	Topics  []FetchTopic
	Answers []FetchAnswer

	r        *netio.Responder
	encode   FetchEncoder
	finished func(bytes int, failed bool)
	answerFn func(*engine.FetchResult) // f.answer, bound once: no closure per request
	frame    []byte
	cuts     []int
	chunks   []netio.Chunk
}

// Bind gives f, once for all its requests, the front end's encode, which
// writes the answer, and finished, which runs last with the answer's size
// in bytes (records included) and whether a partition failed; after it
// the front end may reuse f. Bind them as method values of the pooled
// state that holds f, so that no request allocates a closure.
func (f *Fetch) Bind(encode FetchEncoder, finished func(bytes int, failed bool)) {
	f.encode, f.finished, f.answerFn = encode, finished, f.answer
}

// Reset empties a bound f for a new request answered on r, with the
// request's limits: wait up to maxWait for minBytes, answer at most
// maxBytes (KIP-74; 0 or negative: no cap).
func (f *Fetch) Reset(r *netio.Responder, maxWait time.Duration, minBytes, maxBytes int32) {
	f.r = r
	f.Request = engine.FetchRequest{MaxWait: maxWait, MinBytes: minBytes, MaxBytes: maxBytes, Partitions: f.Request.Partitions[:0]}
	f.Topics, f.Answers = f.Topics[:0], f.Answers[:0]
}

// AddTopic starts a topic of the request; Add appends its partitions.
func (f *Fetch) AddTopic(name string) {
	f.Topics = append(f.Topics, FetchTopic{Name: name})
}

// Add appends a partition of the last topic added: read from offset, at
// most maxBytes (KIP-74 applies). leaderEpoch is the leader epoch the
// fetcher believes in (-1: none given).
func (f *Fetch) Add(partition int32, offset int64, maxBytes, leaderEpoch int32) {
	t := &f.Topics[len(f.Topics)-1]
	t.Partitions++
	f.Request.Partitions = append(f.Request.Partitions, engine.FetchPartition{
		Topic: t.Name, Partition: partition, Offset: offset, MaxBytes: maxBytes, LeaderEpoch: leaderEpoch,
	})
}

// Run asks the engine: a consumer's fetch when replicaID is negative,
// else the fetch of the follower on that broker (engine.ReplicaFetch).
// The answer may be sent, and f finished and reused, before Run returns:
// Run touches nothing of f after the engine call.
func (f *Fetch) Run(e *engine.Engine, replicaID int32) {
	if replicaID >= 0 {
		e.ReplicaFetch(replicaID, f.Request, f.answerFn)
		return
	}
	e.Fetch(f.Request, f.answerFn)
}

// answer replies with the engine's result, which lists partitions in
// request order.
func (f *Fetch) answer(res *engine.FetchResult) {
	failed := false
	for i := range res.Partitions {
		pr := &res.Partitions[i]
		a := FetchAnswer{Partition: pr.Partition, Code: ErrorCode(pr.Err),
			HighWatermark: pr.HighWatermark, LogStartOffset: pr.LogStartOffset}
		if pr.Err != nil {
			failed = true
		} else if pr.Records != nil {
			a.RecordsLen = pr.Records.Len()
		}
		f.Answers = append(f.Answers, a)
	}
	f.frame, f.cuts = f.encode(f.frame[:0], f, f.cuts[:0])
	bytes := len(f.frame)
	f.chunks = f.chunks[:0]
	prev, next := 0, 0
	for i := range f.Answers {
		if f.Answers[i].RecordsLen == 0 {
			continue // an empty range, if any, goes with res.Release
		}
		cut := f.cuts[next]
		next++
		pr := &res.Partitions[i]
		f.chunks = append(f.chunks, bytesChunk(f.frame[prev:cut]), netio.FileChunk(pr.Records))
		pr.Records = nil // netio releases it now
		bytes += f.Answers[i].RecordsLen
		prev = cut
	}
	if prev < len(f.frame) {
		f.chunks = append(f.chunks, bytesChunk(f.frame[prev:]))
	}
	res.Release()
	f.r.Reply(f.chunks...)
	clear(f.chunks) // netio owns the chunks now
	f.r = nil
	f.finished(bytes, failed)
}

// bytesChunk copies b into a pooled buffer for netio, which returns it to
// the pool once written: the frame it comes from is reused by the next
// request while this answer may still be queued.
func bytesChunk(b []byte) netio.Chunk {
	buf := netio.GetBuffer()
	buf.B = append(buf.B, b...)
	return netio.BytesChunk(buf)
}
