package client

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// fakeBroker is a small in-memory single-node broker speaking the native
// protocol, for unit tests that must not depend on the real broker: it
// stores batches per partition (stamping base offsets), serves fetches and
// list offsets, and lets a test inject error codes.
type fakeBroker struct {
	t  testing.TB
	ln net.Listener

	mu         sync.Mutex
	logs       map[string][]*fakeLog
	autoCreate int32 // partitions of an auto-created topic; 0 disables it
	// produceErr, when set, is consulted for each produced partition; a
	// non-None code is answered instead of appending.
	produceErr func(topic string, partition int32) wire.ErrorCode
	// leaderEpoch is the leader epoch of every partition, sent in
	// metadata; a fetch carrying another (not -1) is answered as a broker
	// does (KIP-320): older FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
	leaderEpoch int32
	// fetchEpochs records the current_leader_epoch of each fetched partition.
	fetchEpochs []int32
	// stall, when non-nil, holds every produce request until it is closed;
	// set it with stallProduce.
	stall chan struct{}
	// produceParts records how many partitions each produce request carried.
	produceParts []int
	requests     map[wire.APIKey]int
	// nextProducerID is the id the next InitProducerId gets; initIDErrs
	// InitProducerId requests are answered BROKER_NOT_AVAILABLE first.
	nextProducerID int64
	initIDErrs     int
	// lostAcks produce requests are applied and then answered by closing
	// the connection, as a broker that crashed after writing would;
	// duplicates counts idempotent batches recognized as retries.
	lostAcks   int
	duplicates int
	// heldAnswers produce requests are applied and not answered, while the
	// connection goes on serving later ones: the native broker answers a
	// request when it completes, so a later one can overtake it (one
	// waiting on another partition's fsync). The held answers are lost
	// with the connection.
	heldAnswers int
	// outOfOrder counts batches refused with OUT_OF_ORDER_SEQUENCE_NUMBER.
	outOfOrder int
	conns      []net.Conn
	wg         sync.WaitGroup
}

type fakeLog struct {
	batches [][]byte
	next    int64
	// producers holds the last fakeCachedBatches batches of each producer
	// id, oldest first, for the broker's sequence rules (docs/protocol.md).
	producers map[int64][]fakeSeq
}

// fakeCachedBatches is the batches per producer the fake broker remembers,
// as the engine does.
const fakeCachedBatches = 5

type fakeSeq struct {
	epoch       int16
	first, last int32
	base        int64
}

func newFakeBroker(t testing.TB) *fakeBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{t: t, ln: ln, logs: make(map[string][]*fakeLog), requests: make(map[wire.APIKey]int)}
	fb.wg.Add(1)
	go fb.accept()
	t.Cleanup(fb.close)
	return fb
}

func (fb *fakeBroker) addr() string { return fb.ln.Addr().String() }

func (fb *fakeBroker) close() {
	fb.ln.Close()
	fb.mu.Lock()
	for _, c := range fb.conns {
		c.Close()
	}
	fb.mu.Unlock()
	fb.wg.Wait()
}

// dropConns closes every client connection, as a broker restart would.
func (fb *fakeBroker) dropConns() {
	fb.mu.Lock()
	for _, c := range fb.conns {
		c.Close()
	}
	fb.conns = nil
	fb.mu.Unlock()
}

// stallProduce holds every produce request from now on, and the connection
// it came on (the broker reads nothing more from it), until release. release
// may be called more than once.
func (fb *fakeBroker) stallProduce() (release func()) {
	stall := make(chan struct{})
	fb.mu.Lock()
	fb.stall = stall
	fb.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			fb.mu.Lock()
			fb.stall = nil
			fb.mu.Unlock()
			close(stall)
		})
	}
}

func (fb *fakeBroker) createTopic(name string, partitions int) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	logs := make([]*fakeLog, partitions)
	for i := range logs {
		logs[i] = new(fakeLog)
	}
	fb.logs[name] = logs
}

func (fb *fakeBroker) count(k wire.APIKey) int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.requests[k]
}

// records returns every record stored in a partition, in offset order.
func (fb *fakeBroker) records(topic string, partition int32) []record.Record {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	var out []record.Record
	var it record.Iter
	for _, raw := range fb.logs[topic][partition].batches {
		b, err := record.Parse(raw)
		if err != nil {
			fb.t.Fatal(err)
		}
		if err := it.Reset(b); err != nil {
			fb.t.Fatal(err)
		}
		for it.Next() {
			r := *it.Record()
			r.Key = append([]byte(nil), r.Key...)
			r.Value = append([]byte(nil), r.Value...)
			r.Headers = append([]record.Header(nil), r.Headers...)
			out = append(out, r)
		}
		if err := it.Err(); err != nil {
			fb.t.Fatal(err)
		}
	}
	return out
}

func (fb *fakeBroker) accept() {
	defer fb.wg.Done()
	for {
		c, err := fb.ln.Accept()
		if err != nil {
			return
		}
		fb.mu.Lock()
		fb.conns = append(fb.conns, c)
		fb.mu.Unlock()
		fb.wg.Add(1)
		go fb.serve(c)
	}
}

func (fb *fakeBroker) serve(c net.Conn) {
	defer fb.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	var d wire.Decoder
	var out []byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		payload := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		h, req, err := d.Decode(payload)
		if err != nil {
			out = wire.AppendErrorResponse(out[:0], h.CorrelationID, wire.InvalidRequest)
		} else {
			resp := fb.handle(req)
			if resp == nil {
				continue // acks=0
			}
			if fb.loseAck(req) {
				return // the produce was applied; its answer is lost with the connection
			}
			if fb.holdAnswer(req) {
				continue
			}
			out = wire.AppendResponseFrame(out[:0], h.CorrelationID, resp)
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (fb *fakeBroker) handle(req wire.Request) wire.Response {
	fb.mu.Lock()
	fb.requests[req.APIKey()]++
	fb.mu.Unlock()
	switch q := req.(type) {
	case *wire.APIVersionsRequest:
		return &wire.APIVersionsResponse{APIs: wire.SupportedVersions()}
	case *wire.MetadataRequest:
		return fb.metadata(q)
	case *wire.CreateTopicsRequest:
		resp := &wire.CreateTopicsResponse{}
		for _, t := range q.Topics {
			r := wire.TopicResult{Name: t.Name}
			fb.mu.Lock()
			_, exists := fb.logs[t.Name]
			fb.mu.Unlock()
			if exists {
				r.ErrorCode = wire.TopicAlreadyExists
			} else {
				fb.createTopic(t.Name, int(t.Partitions))
			}
			resp.Topics = append(resp.Topics, r)
		}
		return resp
	case *wire.ProduceRequest:
		return fb.produce(q)
	case *wire.FetchRequest:
		return fb.fetch(q)
	case *wire.ListOffsetsRequest:
		return fb.listOffsets(q)
	case *wire.InitProducerIDRequest:
		fb.mu.Lock()
		defer fb.mu.Unlock()
		if fb.initIDErrs > 0 {
			fb.initIDErrs--
			return &wire.InitProducerIDResponse{ErrorCode: wire.BrokerNotAvailable, ProducerID: -1, ProducerEpoch: -1}
		}
		fb.nextProducerID++
		return &wire.InitProducerIDResponse{ProducerID: fb.nextProducerID - 1}
	}
	return &wire.DeleteTopicsResponse{ErrorCode: wire.UnsupportedVersion}
}

func (fb *fakeBroker) metadata(q *wire.MetadataRequest) *wire.MetadataResponse {
	host, port, _ := net.SplitHostPort(fb.addr())
	p, _ := strconv.Atoi(port)
	resp := &wire.MetadataResponse{Brokers: []wire.MetadataBroker{{NodeID: 0, Host: host, Port: int32(p)}}}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	names := q.Topics
	if q.AllTopics {
		names = nil
		for n := range fb.logs {
			names = append(names, n)
		}
	}
	for _, n := range names {
		logs, ok := fb.logs[n]
		if !ok && fb.autoCreate > 0 {
			logs = make([]*fakeLog, fb.autoCreate)
			for i := range logs {
				logs[i] = new(fakeLog)
			}
			fb.logs[n] = logs
			ok = true
		}
		t := wire.MetadataTopic{Name: n}
		if !ok {
			t.ErrorCode = wire.UnknownTopicOrPartition
		}
		for i := range logs {
			t.Partitions = append(t.Partitions, wire.MetadataPartition{Partition: int32(i), Leader: 0, LeaderEpoch: fb.leaderEpoch,
				Replicas: []int32{0}, ISR: []int32{0}})
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (fb *fakeBroker) partition(topic string, p int32) *fakeLog {
	logs := fb.logs[topic]
	if p < 0 || int(p) >= len(logs) {
		return nil
	}
	return logs[p]
}

func (fb *fakeBroker) produce(q *wire.ProduceRequest) wire.Response {
	resp := &wire.ProduceResponse{Version: q.Version} // answered in the layout asked for
	fb.mu.Lock()
	inject, stall := fb.produceErr, fb.stall
	fb.mu.Unlock()
	if stall != nil {
		<-stall
	}
	n := 0
	for _, t := range q.Topics {
		n += len(t.Partitions)
	}
	fb.mu.Lock()
	fb.produceParts = append(fb.produceParts, n)
	fb.mu.Unlock()
	for _, t := range q.Topics {
		rt := wire.ProduceTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := wire.ProducePartitionResponse{Partition: p.Partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
			if inject != nil {
				pr.ErrorCode = inject(t.Name, p.Partition)
			}
			if pr.ErrorCode == wire.None {
				pr.ErrorCode, pr.BaseOffset = fb.appendBatches(t.Name, p.Partition, p.Records)
			}
			rt.Partitions = append(rt.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if q.Acks == wire.AcksNone {
		return nil
	}
	return resp
}

func (fb *fakeBroker) appendBatches(topic string, partition int32, records []byte) (wire.ErrorCode, int64) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	l := fb.partition(topic, partition)
	if l == nil {
		return wire.UnknownTopicOrPartition, -1
	}
	base := l.next
	for rest := records; len(rest) > 0; {
		b, err := record.Parse(rest)
		if err == nil {
			err = b.Validate()
		}
		if err != nil {
			return wire.CorruptMessage, -1
		}
		if code, dupBase := l.checkSequence(b, &fb.duplicates); code != wire.None || dupBase >= 0 {
			if code == wire.OutOfOrderSequenceNumber {
				fb.outOfOrder++
			}
			return code, dupBase
		}
		cp := append([]byte(nil), b...)
		record.Batch(cp).SetBaseOffset(l.next)
		l.next += int64(b.RecordCount())
		l.batches = append(l.batches, cp)
		rest = rest[b.Size():]
	}
	return wire.None, base
}

func (fb *fakeBroker) fetch(q *wire.FetchRequest) *wire.FetchResponse {
	deadline := time.Now().Add(time.Duration(q.MaxWaitMs) * time.Millisecond)
	for {
		resp, n := fb.fetchOnce(q)
		if n >= int(q.MinBytes) || !time.Now().Before(deadline) {
			return resp
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (fb *fakeBroker) fetchOnce(q *wire.FetchRequest) (*wire.FetchResponse, int) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	resp := &wire.FetchResponse{}
	total := 0
	for _, t := range q.Topics {
		rt := wire.FetchTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := wire.FetchPartitionResponse{Partition: p.Partition, LastStableOffset: -1}
			l := fb.partition(t.Name, p.Partition)
			fb.fetchEpochs = append(fb.fetchEpochs, p.CurrentLeaderEpoch)
			switch {
			case l == nil:
				pr.ErrorCode = wire.UnknownTopicOrPartition
			case p.CurrentLeaderEpoch >= 0 && p.CurrentLeaderEpoch < fb.leaderEpoch:
				pr.ErrorCode = wire.FencedLeaderEpoch
			case p.CurrentLeaderEpoch > fb.leaderEpoch:
				pr.ErrorCode = wire.UnknownLeaderEpoch
			case p.FetchOffset < 0 || p.FetchOffset > l.next:
				pr.ErrorCode = wire.OffsetOutOfRange
			default:
				pr.HighWatermark = l.next
				for _, b := range l.batches {
					if record.Batch(b).NextOffset() <= p.FetchOffset {
						continue
					}
					if len(pr.Records) > 0 && len(pr.Records)+len(b) > int(p.PartitionMaxBytes) {
						break
					}
					pr.Records = append(pr.Records, b...)
				}
				total += len(pr.Records)
			}
			rt.Partitions = append(rt.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, total
}

func (fb *fakeBroker) listOffsets(q *wire.ListOffsetsRequest) *wire.ListOffsetsResponse {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	resp := &wire.ListOffsetsResponse{}
	for _, t := range q.Topics {
		rt := wire.ListOffsetsTopicResponse{Name: t.Name}
		for _, p := range t.Partitions {
			pr := wire.ListOffsetsPartitionResponse{Partition: p.Partition, Timestamp: -1, Offset: -1}
			l := fb.partition(t.Name, p.Partition)
			switch {
			case l == nil:
				pr.ErrorCode = wire.UnknownTopicOrPartition
			case p.Timestamp == wire.EarliestTimestamp:
				pr.Offset = 0
			case p.Timestamp == wire.LatestTimestamp:
				pr.Offset = l.next
			default:
				pr.Offset, pr.Timestamp = fb.offsetForTime(l, p.Timestamp)
			}
			rt.Partitions = append(rt.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (fb *fakeBroker) offsetForTime(l *fakeLog, ts int64) (int64, int64) {
	var it record.Iter
	for _, b := range l.batches {
		if err := it.Reset(record.Batch(b)); err != nil {
			fb.t.Error(err)
			return -1, -1
		}
		for it.Next() {
			if r := it.Record(); r.Timestamp >= ts {
				return r.Offset, r.Timestamp
			}
		}
	}
	return -1, -1
}

// checkSequence applies the idempotent-producer rules to b: a non-None code
// to refuse it, a base offset >= 0 for a duplicate, or (None, -1) to append
// it, in which case it is remembered at l.next.
func (l *fakeLog) checkSequence(b record.Batch, dups *int) (wire.ErrorCode, int64) {
	id := b.ProducerID()
	if id < 0 {
		return wire.None, -1
	}
	first := b.BaseSequence()
	cur := fakeSeq{epoch: b.ProducerEpoch(), first: first, last: addSeq(first, int(b.LastOffsetDelta())), base: l.next}
	cache := l.producers[id]
	if len(cache) > 0 {
		prev := cache[len(cache)-1]
		switch {
		case cur.epoch < prev.epoch:
			return wire.InvalidProducerEpoch, -1
		case cur.epoch > prev.epoch:
			if first != 0 {
				return wire.OutOfOrderSequenceNumber, -1
			}
			cache = nil
		default:
			for _, c := range cache {
				if first == c.first && cur.last == c.last {
					*dups++
					return wire.None, c.base
				}
			}
			if first != addSeq(prev.last, 1) {
				return wire.OutOfOrderSequenceNumber, -1
			}
		}
	}
	if l.producers == nil {
		l.producers = map[int64][]fakeSeq{}
	}
	if len(cache) == fakeCachedBatches {
		cache = cache[1:]
	}
	l.producers[id] = append(cache, cur)
	return wire.None, -1
}

// loseAck reports whether the answer to req is to be lost (see lostAcks).
func (fb *fakeBroker) loseAck(req wire.Request) bool {
	return fb.takeProduceFault(req, &fb.lostAcks)
}

// holdAnswer reports whether the answer to req is to be held back (see
// heldAnswers).
func (fb *fakeBroker) holdAnswer(req wire.Request) bool {
	return fb.takeProduceFault(req, &fb.heldAnswers)
}

// takeProduceFault uses up one of *n if req is a produce request.
func (fb *fakeBroker) takeProduceFault(req wire.Request, n *int) bool {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if _, ok := req.(*wire.ProduceRequest); !ok || *n == 0 {
		return false
	}
	*n--
	return true
}
