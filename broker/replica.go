package broker

// Behavior: followers copy their leaders' logs (issue 13). A cluster member
// runs one fetcher goroutine per broker that leads partitions it follows;
// the engine's ISR core (engine/replica.go) says per partition what comes
// next, and the fetcher does it over one native connection to the leader:
//
//   - Truncating (a new leader epoch): an OffsetForLeaderEpoch request for
//     every such partition; each answer goes to engine.TruncateFollower,
//     which truncates as replication.TruncationFor says (and asks again
//     about an older epoch when the logs diverged over several leaders).
//   - Otherwise one long-polling Fetch (replica_id = this broker, each
//     partition at its leader epoch and log end) for all of them; the
//     leader answers when it has anything past those offsets, or after
//     fetchMaxWait, and its answer's batches go verbatim to
//     engine.AppendFollower with the leader's high watermark.
//
// A fetch below the leader's log start (OFFSET_OUT_OF_RANGE after the
// leader deleted records the follower never had) empties the follower's log
// to start at the leader's log start, as Kafka's follower does
// (restartBelowLogStart); a leader's log start above the follower's moves
// the follower's up (engine.FollowLogStart). Other errors for a partition (not the leader any
// more, a fenced or unknown epoch) leave it to the next metadata change; a connection error closes the
// connection and the fetcher dials again. The set of fetchers follows
// engine.Followed every fetcherCheckInterval. The leader side is the native
// Fetch with replica_id >= 0 (native_fetch.go) and epochQuery below.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

const (
	// fetchMaxWait is a follower fetch's long poll: a leader append
	// answers it at once, so this only bounds how late a new partition
	// or a stop is noticed.
	fetchMaxWait = 500 * time.Millisecond
	// fetchMaxBytes caps one follower fetch answer (all partitions);
	// fetchPartitionMaxBytes one partition's share.
	fetchMaxBytes          = 16 << 20
	fetchPartitionMaxBytes = 1 << 20
	// fetcherCheckInterval is how often the set of fetchers is matched to
	// the partitions followed, and how long a fetcher waits after an error.
	fetcherCheckInterval = 100 * time.Millisecond
	// peerTimeout bounds a dial and one request to a leader beyond its
	// long poll.
	peerTimeout = 5 * time.Second
	// peerReadBuffer is a peer connection's read buffer: room for the
	// answers of small fetches in one read.
	peerReadBuffer = 64 << 10
)

// epochQuery answers a follower's OffsetForLeaderEpoch from the engine.
func (h *nativeHandler) epochQuery(r *netio.Responder, hdr wire.RequestHeader, start time.Time, q *wire.EpochQueryRequest) {
	resp := &wire.EpochQueryResponse{Topics: make([]wire.EpochQueryTopicResponse, 0, len(q.Topics))}
	failed := false
	for _, t := range q.Topics {
		rt := wire.EpochQueryTopicResponse{Name: t.Name, Partitions: make([]wire.EpochQueryPartitionResponse, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			epoch, end, err := h.b.engine.AnswerEpochQuery(q.ReplicaID, t.Name, p.Partition, p.CurrentLeaderEpoch, p.LeaderEpoch)
			failed = failed || err != nil
			rt.Partitions = append(rt.Partitions, wire.EpochQueryPartitionResponse{Partition: p.Partition, ErrorCode: codeOf(err), LeaderEpoch: epoch, EndOffset: end})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	h.reply(r, hdr, start, resp, failed)
}

// alterPartition sends a leader's ISR change to the controller; nil once
// committed.
func (m *member) alterPartition(topic string, partition, leader, leaderEpoch, partitionEpoch int32, isr []int32) error {
	_, err := m.node.AlterPartition(topic, partition, leader, leaderEpoch, partitionEpoch, isr)
	return err
}

// fetchersLoop keeps one fetcher per leader of a followed partition until
// the member stops.
func (m *member) fetchersLoop() {
	defer m.wg.Done()
	var fetchers sync.WaitGroup
	running := map[int32]chan struct{}{}
	defer func() {
		for _, stop := range running {
			close(stop)
		}
		fetchers.Wait()
	}()
	for {
		leaders := map[int32]bool{}
		for _, f := range m.b.engine.Followed() {
			leaders[f.Leader] = true
		}
		for id := range leaders {
			if running[id] == nil {
				stop := make(chan struct{})
				running[id] = stop
				fetchers.Add(1)
				go func() {
					defer fetchers.Done()
					m.fetchFrom(id, stop)
				}()
			}
		}
		for id, stop := range running {
			if !leaders[id] {
				close(stop)
				delete(running, id)
			}
		}
		select {
		case <-m.stop:
			return
		case <-time.After(fetcherCheckInterval):
		}
	}
}

// fetchFrom replicates the partitions led by broker leader until stop.
func (m *member) fetchFrom(leader int32, stop <-chan struct{}) {
	var c *peerConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	logEvery := m.newRateLog()
	for {
		select {
		case <-stop:
			return
		default:
		}
		var parts []engine.FollowedPartition
		for _, f := range m.b.engine.Followed() {
			if f.Leader == leader {
				parts = append(parts, f)
			}
		}
		if m.held() {
			parts = nil
		}
		var err error
		if len(parts) > 0 && c == nil {
			c, err = m.dialBroker(leader)
		}
		if err == nil && c != nil && len(parts) > 0 {
			var progress bool
			progress, err = m.replicateOnce(c, parts, logEvery)
			if err == nil && progress {
				continue
			}
		}
		if err != nil {
			logEvery.printf("replicating from broker %d: %v (retrying)", leader, err)
			if c != nil {
				c.close()
				c = nil
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(fetcherCheckInterval):
		}
	}
}

// held reports whether the HoldReplicaFetches test hook holds fetches now.
func (m *member) held() bool {
	hold := m.b.cfg.HoldReplicaFetches
	return hold != nil && hold()
}

// dialBroker connects to broker id's native listener as the metadata has it.
func (m *member) dialBroker(id int32) (*peerConn, error) {
	b := m.node.Image().Broker(id)
	if b == nil || b.Addrs.Native == "" {
		return nil, fmt.Errorf("broker %d is not registered", id)
	}
	nc, err := net.DialTimeout("tcp", b.Addrs.Native, peerTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial broker %d at %s: %w", id, b.Addrs.Native, err)
	}
	return &peerConn{c: nc, r: bufio.NewReaderSize(nc, peerReadBuffer), addr: b.Addrs.Native}, nil
}

// replicateOnce sends one epoch query (if any partition is truncating) or
// one fetch, and applies the answer. progress is false when every
// partition failed, so the caller waits before asking again.
func (m *member) replicateOnce(c *peerConn, parts []engine.FollowedPartition, logEvery *rateLog) (progress bool, err error) {
	e := m.b.engine
	var truncating []engine.FollowedPartition
	for _, f := range parts {
		if f.Truncating {
			truncating = append(truncating, f)
		}
	}
	if len(truncating) > 0 {
		return m.queryEpochs(c, truncating, logEvery)
	}
	q := &wire.FetchRequest{ReplicaID: m.b.cfg.BrokerID, MaxWaitMs: int32(fetchMaxWait / time.Millisecond), MinBytes: 1, MaxBytes: fetchMaxBytes}
	for _, f := range parts {
		q.Topics = append(q.Topics, wire.FetchTopic{Name: f.Topic, Partitions: []wire.FetchPartition{
			{Partition: f.Partition, CurrentLeaderEpoch: f.LeaderEpoch, FetchOffset: f.FetchOffset, PartitionMaxBytes: fetchPartitionMaxBytes}}})
	}
	var resp wire.FetchResponse
	if err := c.call(q, &resp, fetchMaxWait+peerTimeout); err != nil {
		return false, err
	}
	if m.held() {
		return false, nil // a long poll that returned after the hold began
	}
	if resp.ErrorCode != wire.None || len(resp.Topics) != len(parts) {
		return false, fmt.Errorf("fetch answered %v with %d topics for %d asked", resp.ErrorCode, len(resp.Topics), len(parts))
	}
	var appended []engine.FollowedPartition
	for i, f := range parts {
		t := resp.Topics[i]
		if len(t.Partitions) != 1 {
			return false, fmt.Errorf("fetch answered %d partitions of %s for 1 asked", len(t.Partitions), f.Topic)
		}
		pr := t.Partitions[0]
		if pr.ErrorCode == wire.OffsetOutOfRange {
			if err := m.restartBelowLogStart(c, f); err != nil {
				logEvery.printf("%s-%d: leader %d has no offset %d at epoch %d: %v", f.Topic, f.Partition, f.Leader, f.FetchOffset, f.LeaderEpoch, err)
				continue
			}
			progress = true
			continue
		}
		if pr.ErrorCode != wire.None {
			continue
		}
		n, err := e.AppendFollower(f.Topic, f.Partition, f.LeaderEpoch, pr.Records, pr.HighWatermark)
		if err != nil && !errors.Is(err, engine.ErrNotLeader) {
			logEvery.printf("%s-%d: append from leader %d: %v", f.Topic, f.Partition, f.Leader, err)
			continue
		}
		if n > 0 {
			appended = append(appended, f)
		}
		if pr.LogStartOffset > f.LogStart {
			if err := e.FollowLogStart(f.Topic, f.Partition, f.LeaderEpoch, pr.LogStartOffset); err != nil && !errors.Is(err, engine.ErrNotLeader) {
				logEvery.printf("%s-%d: log start %d from leader %d: %v", f.Topic, f.Partition, pr.LogStartOffset, f.Leader, err)
			}
		}
		progress = true
	}
	// Under flush.policy=always, the next fetch reports only durable log
	// ends: wait for the fdatasyncs the appends started, all at once.
	for _, f := range appended {
		if err := e.SyncFollower(f.Topic, f.Partition); err != nil {
			return false, fmt.Errorf("%s-%d: sync what leader %d sent: %w", f.Topic, f.Partition, f.Leader, err)
		}
	}
	return progress, nil
}

// restartBelowLogStart handles a fetch the leader answered
// OFFSET_OUT_OF_RANGE: as Kafka's ReplicaFetcher does, it asks the leader
// for its log start (ListOffsets, earliest), and a follower whose log ends
// below it empties its log to start there (engine.RestartFollower). An
// offset out of range above the leader's end is left to epoch truncation.
func (m *member) restartBelowLogStart(c *peerConn, f engine.FollowedPartition) error {
	q := &wire.ListOffsetsRequest{Topics: []wire.ListOffsetsTopic{{Name: f.Topic,
		Partitions: []wire.ListOffsetsPartition{{Partition: f.Partition, Timestamp: wire.EarliestTimestamp}}}}}
	var resp wire.ListOffsetsResponse
	if err := c.call(q, &resp, peerTimeout); err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("log start query answered %v with %d topics for 1 asked", resp.ErrorCode, len(resp.Topics))
	}
	a := resp.Topics[0].Partitions[0]
	if err := a.ErrorCode.Err(); err != nil {
		return fmt.Errorf("log start query: %w", err)
	}
	if f.FetchOffset >= a.Offset {
		return fmt.Errorf("offset %d is not below the leader's log start %d", f.FetchOffset, a.Offset)
	}
	return m.b.engine.RestartFollower(f.Topic, f.Partition, f.LeaderEpoch, a.Offset)
}

// queryEpochs asks the leader where each truncating partition's epoch ends
// and truncates accordingly.
func (m *member) queryEpochs(c *peerConn, parts []engine.FollowedPartition, logEvery *rateLog) (progress bool, err error) {
	q := &wire.EpochQueryRequest{ReplicaID: m.b.cfg.BrokerID}
	for _, f := range parts {
		q.Topics = append(q.Topics, wire.EpochQueryTopic{Name: f.Topic, Partitions: []wire.EpochQueryPartition{
			{Partition: f.Partition, CurrentLeaderEpoch: f.LeaderEpoch, LeaderEpoch: f.QueryEpoch}}})
	}
	var resp wire.EpochQueryResponse
	if err := c.call(q, &resp, peerTimeout); err != nil {
		return false, err
	}
	if resp.ErrorCode != wire.None || len(resp.Topics) != len(parts) {
		return false, fmt.Errorf("epoch query answered %v with %d topics for %d asked", resp.ErrorCode, len(resp.Topics), len(parts))
	}
	for i, f := range parts {
		t := resp.Topics[i]
		if len(t.Partitions) != 1 {
			return false, fmt.Errorf("epoch query answered %d partitions of %s for 1 asked", len(t.Partitions), f.Topic)
		}
		a := t.Partitions[0]
		if a.ErrorCode != wire.None {
			continue
		}
		if err := m.b.engine.TruncateFollower(f.Topic, f.Partition, f.LeaderEpoch, a.LeaderEpoch, a.EndOffset); err != nil {
			if !errors.Is(err, engine.ErrNotLeader) {
				logEvery.printf("%s-%d: truncating for leader %d at epoch %d: %v", f.Topic, f.Partition, f.Leader, f.LeaderEpoch, err)
			}
			continue
		}
		progress = true
	}
	return progress, nil
}

// peerConn is a broker's synchronous native connection to another broker:
// one request at a time, each answered before the next is sent.
type peerConn struct {
	c net.Conn
	// r reads c through a buffer so that a small answer (a follower
	// fetch of one record batch) takes one read instead of two, its size
	// and its body; larger bodies bypass the buffer.
	r    *bufio.Reader
	addr string
	corr int32
	out  []byte
	in   []byte
}

// call sends req and decodes the answer into resp within timeout. resp
// may alias the connection's buffer until the next call.
func (pc *peerConn) call(req wire.Request, resp wire.Response, timeout time.Duration) error {
	pc.corr++
	pc.out = wire.AppendRequestFrame(pc.out[:0], pc.corr, req)
	if err := pc.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%s to %s: %w", req.APIKey(), pc.addr, err)
	}
	if _, err := pc.c.Write(pc.out); err != nil {
		return fmt.Errorf("send %s to %s: %w", req.APIKey(), pc.addr, err)
	}
	var size [wire.SizeLen]byte
	if _, err := io.ReadFull(pc.r, size[:]); err != nil {
		return fmt.Errorf("read %s answer from %s: %w", req.APIKey(), pc.addr, err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > wire.DefaultMaxFrameSize {
		return fmt.Errorf("%s answer from %s: frame of %d bytes is above the %d limit", req.APIKey(), pc.addr, n, wire.DefaultMaxFrameSize)
	}
	if cap(pc.in) < int(n) {
		pc.in = make([]byte, n)
	}
	pc.in = pc.in[:n]
	if _, err := io.ReadFull(pc.r, pc.in); err != nil {
		return fmt.Errorf("read %s answer from %s: %w", req.APIKey(), pc.addr, err)
	}
	corr, body, err := wire.ParseResponseHeader(pc.in)
	if err != nil {
		return fmt.Errorf("%s answer from %s: %w", req.APIKey(), pc.addr, err)
	}
	if corr != pc.corr {
		return fmt.Errorf("%s answer from %s: correlation id %d, sent %d", req.APIKey(), pc.addr, corr, pc.corr)
	}
	if err := resp.Decode(body); err != nil {
		return fmt.Errorf("%s answer from %s: %w", req.APIKey(), pc.addr, err)
	}
	return nil
}

func (pc *peerConn) close() { pc.c.Close() }
