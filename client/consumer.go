package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// Offset is where a consumer starts reading a partition.
type Offset struct {
	at     int64 // an offset, or wire.EarliestTimestamp / LatestTimestamp, or a time in ms
	byTime bool
}

// Earliest starts at the log start offset.
func Earliest() Offset { return Offset{at: wire.EarliestTimestamp} }

// Latest starts at the log end offset: only records produced from now on.
func Latest() Offset { return Offset{at: wire.LatestTimestamp} }

// logEnd designates the log end offset, records above the high watermark
// included: for DescribeTopics only, since a consumer cannot read there.
func logEnd() Offset { return Offset{at: wire.LogEndTimestamp} }

// At starts at an exact offset. An offset out of range is handled by the
// OffsetReset policy.
func At(offset int64) Offset { return Offset{at: offset} }

// AtTime starts at the first record whose timestamp is at or after t; when
// there is none, at the log end.
func AtTime(t time.Time) Offset { return Offset{at: t.UnixMilli(), byTime: true} }

// resolved reports whether the offset needs no ListOffsets.
func (o Offset) resolved() bool { return !o.byTime && o.at >= 0 }

// listTimestamp is the ListOffsets timestamp that resolves o.
func (o Offset) listTimestamp() int64 { return o.at }

type assignment struct {
	topic      string
	partitions []int32 // nil: every partition
	start      Offset
}

// Assign makes a new consumer read the given partitions of topic (all of
// them when partitions is nil) from start. It may be given more than once.
func Assign(topic string, partitions []int32, start Offset) Opt {
	return func(c *config) { c.assign = append(c.assign, assignment{topic, partitions, start}) }
}

type topicPartition struct {
	topic     string
	partition int32
}

// consumerPartition is the fetch position of one assigned partition.
type consumerPartition struct {
	tp       topicPartition
	offset   int64  // next offset to fetch; valid when start.resolved()
	start    Offset // how to find the offset when it is not known
	inflight bool
	stopped  bool // a non-retriable error was reported; waits for reassignment
	retryAt  time.Time
	failures int
	// leaderEpoch is the leader epoch the metadata named with the leader
	// of the fetch in flight: the fetch carries it, and a broker at
	// another epoch answers FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH
	// (KIP-320), which refresh the metadata.
	leaderEpoch int32
}

// fetchesAhead is how many answered fetches per broker may wait for Poll
// before the consumer stops asking for more. With one, the next fetch went
// out only when Poll took the last answer, so a consumer that reads as fast
// as the socket delivers waited a round trip (and three goroutine hand-offs)
// per fetch. With two, the next fetch leaves as soon as an answer lands, and
// the socket keeps delivering while the application works on the last Poll.
const fetchesAhead = 2

// leaderState limits the fetch pipeline per broker: one fetch in flight
// and up to fetchesAhead answered fetches waiting for Poll, so memory stays
// bounded at about fetchesAhead+1 responses per broker, plus the ones the
// last Poll returned.
type leaderState struct {
	inflight bool
	buffered int
}

// fetchResult is one fetch response waiting for Poll; the partitions alias f.
type fetchResult struct {
	leader int32
	f      *frame
	parts  []FetchPartition
}

// Consumer reads assigned partitions, pipelining fetches. Poll and Close
// may be called from different goroutines, but Poll itself from one at a
// time: records it returns stay valid until the next Poll.
type Consumer struct {
	cl  *cluster
	cfg *config

	mu struct {
		sync.Mutex
		parts   map[topicPartition]*consumerPartition
		leaders map[int32]*leaderState
		results []*fetchResult
		ready   chan struct{} // closed and replaced when results grow
	}
	wake   chan struct{} // capacity 1: wakes the fetch loop
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	held   []*frame // frames of the last Poll, released by the next
}

// NewConsumer returns a consumer of the partitions given with Assign (more
// can be added with (*Consumer).Assign). Fetching starts at once.
func NewConsumer(opts ...Opt) (*Consumer, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Consumer{cl: newCluster(cfg, false), cfg: cfg, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	c.mu.parts = make(map[topicPartition]*consumerPartition)
	c.mu.leaders = make(map[int32]*leaderState)
	c.mu.ready = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), cfg.reqTO)
	defer cancel()
	for _, a := range cfg.assign {
		if err := c.Assign(ctx, a.topic, a.partitions, a.start); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.wg.Add(1)
	go c.fetchLoop()
	return c, nil
}

// Assign adds partitions of topic (all of them when partitions is nil,
// which needs the topic's metadata) starting at start. A partition already
// assigned is moved to start.
func (c *Consumer) Assign(ctx context.Context, topic string, partitions []int32, start Offset) error {
	if partitions == nil {
		tm, err := c.cl.waitTopic(ctx, topic)
		if err != nil {
			return err
		}
		for i := range tm.partitions {
			partitions = append(partitions, int32(i))
		}
	}
	c.mu.Lock()
	for _, p := range partitions {
		tp := topicPartition{topic, p}
		cp := &consumerPartition{tp: tp, start: start, offset: start.at}
		if old := c.mu.parts[tp]; old != nil && old.inflight {
			// The fetch in flight will land on the old struct and be dropped.
			old.stopped = true
		}
		c.mu.parts[tp] = cp
	}
	c.mu.Unlock()
	c.wakeFetcher()
	return nil
}

// Unassign stops fetching the given partitions of topic (all when nil).
// Records of them already fetched may still be returned by the next Poll.
func (c *Consumer) Unassign(topic string, partitions []int32) {
	c.mu.Lock()
	for tp, cp := range c.mu.parts {
		if tp.topic == topic && (partitions == nil || containsInt32(partitions, tp.partition)) {
			cp.stopped = true
			delete(c.mu.parts, tp)
		}
	}
	c.mu.Unlock()
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Poll waits until fetched records (or partition errors) are available or
// ctx ends, and returns everything fetched so far. It releases the buffers
// of the previous Poll: records from it must not be used any more.
func (c *Consumer) Poll(ctx context.Context) (Fetches, error) {
	for _, f := range c.held {
		putFrame(f)
	}
	c.held = c.held[:0]
	for {
		c.mu.Lock()
		if len(c.mu.results) > 0 {
			var fs Fetches
			for _, r := range c.mu.results {
				fs.parts = append(fs.parts, r.parts...)
				if r.f != nil {
					c.held = append(c.held, r.f)
				}
				if ls := c.mu.leaders[r.leader]; ls != nil {
					ls.buffered--
				}
			}
			clear(c.mu.results)
			c.mu.results = c.mu.results[:0]
			c.mu.Unlock()
			c.wakeFetcher()
			return fs, nil
		}
		ready := c.mu.ready
		c.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Fetches{}, ctx.Err()
		case <-c.closed:
			return Fetches{}, ErrClosed
		}
	}
}

// Close stops fetching and closes the connections. Records from the last
// Poll must not be used after it.
func (c *Consumer) Close() {
	c.once.Do(func() {
		close(c.closed)
		c.cl.close()
		c.wg.Wait()
	})
}

func (c *Consumer) wakeFetcher() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// fetchLoop resolves start offsets and keeps a fetch in flight per leader.
func (c *Consumer) fetchLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := c.resolveOffsets()
		if n := c.startFetches(); !n.IsZero() {
			next = earlier(next, n)
		}
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
		select {
		case <-c.wake:
		case <-timer.C:
		case <-c.closed:
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// deliver queues a result for Poll.
func (c *Consumer) deliverLocked(r *fetchResult) {
	c.mu.results = append(c.mu.results, r)
	if ls := c.mu.leaders[r.leader]; ls != nil {
		ls.buffered++
	}
	close(c.mu.ready)
	c.mu.ready = make(chan struct{})
}

// failPartitionLocked reports a non-retriable error for a partition through
// Poll and stops fetching it.
func (c *Consumer) failPartitionLocked(cp *consumerPartition, err error) {
	cp.stopped = true
	c.deliverLocked(&fetchResult{leader: -1, parts: []FetchPartition{{
		Topic: cp.tp.topic, Partition: cp.tp.partition, Err: partitionErr(cp.tp.topic, cp.tp.partition, err)}}})
}

// retryLocked schedules another attempt for a partition after a retriable error.
func (c *Consumer) retryLocked(cp *consumerPartition) {
	cp.failures++
	cp.retryAt = time.Now().Add(backoff(c.cfg.retryMin, c.cfg.retryMax, cp.failures))
}

// resolveOffsets sends ListOffsets for partitions whose start is not an
// exact offset (earliest, latest, a time, or a reset after
// OFFSET_OUT_OF_RANGE), one request per leader. It returns when to try
// again for partitions waiting out a backoff.
func (c *Consumer) resolveOffsets() (next time.Time) {
	byLeader := make(map[int32][]*consumerPartition)
	now := time.Now()
	c.mu.Lock()
	for _, cp := range c.mu.parts {
		if cp.stopped || cp.inflight || cp.start.resolved() {
			continue
		}
		if now.Before(cp.retryAt) {
			next = earlier(next, cp.retryAt)
			continue
		}
		leader, ok := c.cl.leader(cp.tp.topic, cp.tp.partition)
		if !ok {
			c.retryLocked(cp)
			c.cl.refreshSoon([]string{cp.tp.topic})
			next = earlier(next, cp.retryAt)
			continue
		}
		cp.inflight = true
		byLeader[leader] = append(byLeader[leader], cp)
	}
	c.mu.Unlock()
	for leader, cps := range byLeader {
		c.resolveOn(leader, cps)
	}
	return next
}

// earlier returns the earlier of two times, a zero time meaning "never".
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (c *Consumer) resolveOn(leader int32, cps []*consumerPartition) {
	var req wire.ListOffsetsRequest
	for _, cp := range cps {
		req.Topics = appendListOffsets(req.Topics, cp.tp.topic, cp.tp.partition, cp.start.listTimestamp())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.reqTO)
	defer cancel()
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	var resp wire.ListOffsetsResponse
	conn, err := c.cl.connTo(ctx, leader)
	if err == nil {
		err = conn.request(ctx, &req, &resp, c.cfg.reqTO)
	}
	if err == nil {
		err = resp.ErrorCode.Err()
	}
	var latest []*consumerPartition // times with no record after them resolve to the end
	c.mu.Lock()
	for _, cp := range cps {
		cp.inflight = false
		if cp.stopped {
			continue
		}
		perr := err
		var off int64 = -1
		if perr == nil {
			off, perr = listOffsetsResult(&resp, cp.tp.topic, cp.tp.partition)
		}
		switch {
		case perr == nil && off < 0 && cp.start.byTime:
			cp.start = Latest()
			latest = append(latest, cp)
		case perr == nil && off >= 0:
			cp.start, cp.offset, cp.failures = At(off), off, 0
		case perr == nil:
			c.failPartitionLocked(cp, fmt.Errorf("list offsets returned offset %d: %w", off, wire.ErrOffsetNotAvailable))
		case retriable(perr):
			c.retryLocked(cp)
			c.cl.refreshSoon([]string{cp.tp.topic})
		default:
			c.failPartitionLocked(cp, fmt.Errorf("resolving start offset: %w", perr))
		}
	}
	c.mu.Unlock()
	if len(latest) > 0 {
		c.wakeFetcher()
	}
}

func appendListOffsets(ts []wire.ListOffsetsTopic, topic string, partition int32, timestamp int64) []wire.ListOffsetsTopic {
	p := wire.ListOffsetsPartition{Partition: partition, Timestamp: timestamp}
	for i := range ts {
		if ts[i].Name == topic {
			ts[i].Partitions = append(ts[i].Partitions, p)
			return ts
		}
	}
	return append(ts, wire.ListOffsetsTopic{Name: topic, Partitions: []wire.ListOffsetsPartition{p}})
}

func listOffsetsResult(resp *wire.ListOffsetsResponse, topic string, partition int32) (int64, error) {
	for i := range resp.Topics {
		if resp.Topics[i].Name != topic {
			continue
		}
		for _, p := range resp.Topics[i].Partitions {
			if p.Partition == partition {
				return p.Offset, p.ErrorCode.Err()
			}
		}
	}
	return -1, fmt.Errorf("no result in the list offsets response: %w", wire.ErrUnknownServerError)
}

// startFetches sends a fetch to every leader that has fetchable partitions
// and room in its pipeline. It returns when to look again for partitions
// waiting out a retry backoff.
func (c *Consumer) startFetches() (next time.Time) {
	now := time.Now()
	byLeader := make(map[int32][]*consumerPartition)
	c.mu.Lock()
	for _, cp := range c.mu.parts {
		if cp.stopped || cp.inflight || !cp.start.resolved() {
			continue
		}
		if now.Before(cp.retryAt) {
			next = earlier(next, cp.retryAt)
			continue
		}
		leader, epoch, ok := c.cl.leaderAt(cp.tp.topic, cp.tp.partition)
		cp.leaderEpoch = epoch
		if !ok {
			c.retryLocked(cp)
			c.cl.refreshSoon([]string{cp.tp.topic})
			next = earlier(next, cp.retryAt)
			continue
		}
		ls := c.mu.leaders[leader]
		if ls == nil {
			ls = new(leaderState)
			c.mu.leaders[leader] = ls
		}
		if ls.inflight || ls.buffered >= fetchesAhead {
			continue // Poll or the response wakes the loop
		}
		byLeader[leader] = append(byLeader[leader], cp)
	}
	for leader, cps := range byLeader {
		c.mu.leaders[leader].inflight = true
		for _, cp := range cps {
			cp.inflight = true
		}
	}
	c.mu.Unlock()
	for leader, cps := range byLeader {
		c.fetchFrom(leader, cps)
	}
	return next
}

// fetchFrom sends one fetch for cps to leader; the response is handled on
// the connection's reader by onFetch.
func (c *Consumer) fetchFrom(leader int32, cps []*consumerPartition) {
	req := &wire.FetchRequest{ReplicaID: wire.ConsumerReplicaID, MaxWaitMs: int32(c.cfg.maxWait / time.Millisecond),
		MinBytes: c.cfg.minBytes, MaxBytes: c.cfg.maxBytes}
	offsets := make([]int64, len(cps))
	for i, cp := range cps {
		offsets[i] = cp.offset
		fp := wire.FetchPartition{Partition: cp.tp.partition, CurrentLeaderEpoch: cp.leaderEpoch,
			FetchOffset: cp.offset, PartitionMaxBytes: c.cfg.partitionMaxBytes}
		req.Topics = appendFetchPartition(req.Topics, cp.tp.topic, fp)
	}
	send := func(conn *conn) {
		err := conn.send(req, c.cfg.reqTO+c.cfg.maxWait, func(f *frame, body []byte, err error) {
			c.onFetch(leader, cps, offsets, f, body, err)
		})
		if err != nil {
			c.onFetch(leader, cps, offsets, nil, nil, err)
		}
	}
	if conn := c.cl.liveConn(leader); conn != nil {
		send(conn)
		return
	}
	// Dial on another goroutine so one unreachable broker does not hold up
	// fetches from the others.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.dialTO)
		defer cancel()
		go func() {
			select {
			case <-c.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		conn, err := c.cl.connTo(ctx, leader)
		if err != nil {
			c.onFetch(leader, cps, offsets, nil, nil, err)
			return
		}
		send(conn)
	}()
}

func appendFetchPartition(ts []wire.FetchTopic, topic string, p wire.FetchPartition) []wire.FetchTopic {
	for i := range ts {
		if ts[i].Name == topic {
			ts[i].Partitions = append(ts[i].Partitions, p)
			return ts
		}
	}
	return append(ts, wire.FetchTopic{Name: topic, Partitions: []wire.FetchPartition{p}})
}

// onFetch handles a fetch response (or the failure to get one): it
// validates each partition's batches, advances the fetch positions past
// the whole batches received and queues the records for Poll.
func (c *Consumer) onFetch(leader int32, cps []*consumerPartition, offsets []int64, f *frame, body []byte, err error) {
	var resp wire.FetchResponse
	if err == nil {
		err = resp.Decode(body)
	}
	if err == nil {
		err = resp.ErrorCode.Err()
	}
	if err != nil {
		err = fmt.Errorf("client: fetch from broker %d: %w", leader, err)
	}
	// Batches are checked (CRC-32C over every byte) before taking c.mu, so
	// a big response does not hold up Poll.
	type outcome struct {
		fp   FetchPartition
		next int64
		err  error
	}
	outs := make([]outcome, len(cps))
	for i, cp := range cps {
		if err != nil {
			outs[i].err = err
			continue
		}
		outs[i].fp, outs[i].next, outs[i].err = c.partitionRecords(&resp, cp.tp, offsets[i])
	}
	res := &fetchResult{leader: leader, f: f}
	c.mu.Lock()
	if ls := c.mu.leaders[leader]; ls != nil {
		ls.inflight = false
	}
	for i, cp := range cps {
		cp.inflight = false
		switch o := &outs[i]; {
		case cp.stopped: // unassigned or reassigned while the fetch was out
		case o.err != nil:
			c.onPartitionError(cp, o.err)
		default:
			cp.offset, cp.failures = o.next, 0
			if len(o.fp.batches) > 0 {
				res.parts = append(res.parts, o.fp)
			}
		}
	}
	if len(res.parts) > 0 {
		c.deliverLocked(res)
		res = nil
	}
	c.mu.Unlock()
	if res != nil {
		putFrame(f)
	}
	c.wakeFetcher()
}

// onPartitionError applies the error handling rules for one partition;
// called with c.mu held.
func (c *Consumer) onPartitionError(cp *consumerPartition, err error) {
	switch {
	case errors.Is(err, wire.ErrOffsetOutOfRange) && c.cfg.reset != ResetError:
		if c.cfg.reset == ResetLatest {
			cp.start = Latest()
		} else {
			cp.start = Earliest()
		}
	case retriable(err):
		c.retryLocked(cp)
		if !errors.Is(err, wire.ErrNetworkException) && !errors.Is(err, wire.ErrRequestTimedOut) {
			c.cl.refreshSoon([]string{cp.tp.topic})
		}
	default:
		c.failPartitionLocked(cp, err)
	}
}

// partitionRecords finds a partition's answer in resp and checks every
// whole batch (frame, CRC-32C). It returns the records to hand out and the
// position after the last whole batch; a trailing partial batch (cut by a
// size limit) is left for the next fetch.
func (c *Consumer) partitionRecords(resp *wire.FetchResponse, tp topicPartition, from int64) (FetchPartition, int64, error) {
	fp := FetchPartition{Topic: tp.topic, Partition: tp.partition, from: from}
	var pr *wire.FetchPartitionResponse
	for i := range resp.Topics {
		if resp.Topics[i].Name != tp.topic {
			continue
		}
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].Partition == tp.partition {
				pr = &resp.Topics[i].Partitions[j]
			}
		}
	}
	if pr == nil {
		return fp, from, fmt.Errorf("no result in the fetch response: %w", wire.ErrUnknownServerError)
	}
	if err := pr.ErrorCode.Err(); err != nil {
		return fp, from, fmt.Errorf("fetch at offset %d: %w", from, err)
	}
	fp.HighWatermark, fp.LogStartOffset = pr.HighWatermark, pr.LogStartOffset
	rest, next := pr.Records, from
	for len(rest) > 0 {
		b, err := record.Parse(rest)
		if errors.Is(err, record.ErrShort) {
			break
		}
		if err == nil {
			// A fetched batch may have been thinned by compaction: fewer
			// records than its offset range, possibly none.
			err = b.ValidateStored()
		}
		if err != nil {
			return fp, from, fmt.Errorf("batch at offset %d: %w: %w", next, err, wire.ErrCorruptMessage)
		}
		for _, h := range c.cl.hooks.fetched {
			h.OnFetchBatchRead(tp.topic, tp.partition, int(b.RecordCount()), b.Size())
		}
		next = max(next, b.NextOffset())
		rest = rest[b.Size():]
	}
	fp.batches = pr.Records[:len(pr.Records)-len(rest)]
	return fp, next, nil
}
