package client

// GroupConsumer: a consumer that shares topics' partitions with the other
// members of its group through the broker's group coordinator (Kafka's
// classic eager protocol; docs/groups.md has the broker side).
//
// A background goroutine owns the membership: FindCoordinator, then
// JoinGroup (twice for a new member: the broker hands out the member id),
// SyncGroup (the leader computes every member's assignment with the
// assignor the group chose, groupassign.go), then a Heartbeat every
// HeartbeatInterval until the coordinator answers REBALANCE_IN_PROGRESS (or
// the member lost its place), which starts the next round. Before each
// rejoin the member gives up its whole assignment: it commits the
// processed positions, runs OnRevoked and stops fetching. After each sync
// it reads the committed offsets of its new partitions, runs OnAssigned and
// starts fetching from there (Start where nothing was committed).
//
// The group traffic has its own connection to the coordinator, not the
// shared per-broker one of the fetches: a JoinGroup parks on the broker
// until the rebalance completes, and the broker answers a connection's
// requests in order, so a parked join would hold every fetch behind it.
//
// Fetching is a Consumer per assignment: a new generation starts a fresh
// one, so a fetch still buffered from an old assignment can never be
// returned (or move a position) after the partition was handed to
// another member.
//
// # Delivery: at least once
//
// A record counts as processed once the application calls Poll again after
// the Poll that returned it. Auto-commit and the commit before a rebalance
// store the processed positions only; CommitOffsets and Close store the
// positions of everything Poll returned (call them after processing). A
// member that dies before its processed records are committed, or whose
// commit fails, leaves them to be read again by the next owner of the
// partition: records are never skipped but may be read twice.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// GroupSettings configures a GroupConsumer; zero fields take the defaults.
// (They are a struct rather than Opts because Opt's config is shared with
// the producer and admin and does not carry group fields yet.)
type GroupSettings struct {
	// SessionTimeout: the coordinator drops a member silent for this long
	// (default 45 s, Kafka 3.x's session.timeout.ms; the broker accepts
	// 6 s to 30 min).
	SessionTimeout time.Duration
	// HeartbeatInterval between heartbeats (default 3 s, Kafka's
	// heartbeat.interval.ms). A rebalance is noticed at the next heartbeat.
	HeartbeatInterval time.Duration
	// RebalanceTimeout: how long the coordinator waits for every member to
	// rejoin during a rebalance (default 5 min, Kafka's max.poll.interval.ms).
	RebalanceTimeout time.Duration
	// Assignors, in order of preference (default range, then roundrobin).
	// The group uses one every member lists.
	Assignors []string
	// Start is where a partition without a committed offset starts
	// (default Latest(), Kafka's auto.offset.reset=latest).
	Start *Offset
	// AutoCommitInterval commits the processed positions this often
	// (default 5 s, Kafka's auto.commit.interval.ms); negative turns
	// auto-commit off.
	AutoCommitInterval time.Duration
	// InstanceID makes the member static (KIP-345): Close does not leave
	// the group, and a restart with the same id within the session timeout
	// gets its partitions back without a rebalance. Meanwhile nobody reads
	// them.
	InstanceID string
	// OnAssigned runs on the group goroutine after each sync, with the
	// member's new partitions, before fetching them starts.
	OnAssigned func(partitions []TopicPartition)
	// OnRevoked runs on the group goroutine before the member gives up its
	// partitions (after their processed positions were committed).
	OnRevoked func(partitions []TopicPartition)
}

func (s *GroupSettings) fill() error {
	if s.SessionTimeout == 0 {
		s.SessionTimeout = 45 * time.Second
	}
	if s.HeartbeatInterval == 0 {
		s.HeartbeatInterval = 3 * time.Second
	}
	if s.RebalanceTimeout == 0 {
		s.RebalanceTimeout = 5 * time.Minute
	}
	if len(s.Assignors) == 0 {
		s.Assignors = []string{AssignRange, AssignRoundRobin}
	}
	if s.Start == nil {
		latest := Latest()
		s.Start = &latest
	}
	if s.AutoCommitInterval == 0 {
		s.AutoCommitInterval = 5 * time.Second
	}
	for _, a := range s.Assignors {
		if a != AssignRange && a != AssignRoundRobin && a != AssignSticky {
			return fmt.Errorf("client: assignor %q: %w", a, ErrInvalidOption)
		}
	}
	if s.SessionTimeout < 0 || s.HeartbeatInterval < 0 || s.HeartbeatInterval >= s.SessionTimeout || s.RebalanceTimeout < 0 {
		return fmt.Errorf("client: session timeout %v, heartbeat interval %v, rebalance timeout %v: %w",
			s.SessionTimeout, s.HeartbeatInterval, s.RebalanceTimeout, ErrInvalidOption)
	}
	return nil
}

// generation is the member's place in the group.
type generation struct {
	id       int32
	memberID string
	coord    *conn
}

// GroupConsumer reads the partitions its group assigns it. Poll is called
// from one goroutine at a time; CommitOffsets and Close from any.
type GroupConsumer struct {
	group  string
	topics []string
	s      GroupSettings
	opts   []Opt
	cl     *cluster // coordinator lookup and partition counts

	mu struct {
		sync.Mutex
		gen       generation
		consumer  *Consumer // nil while unassigned
		swapped   chan struct{}
		assigned  map[topicPartition]bool
		positions map[topicPartition]int64 // after the records Poll returned
		processed map[topicPartition]int64 // after the records of Polls before the last
		// lastOwned is the assignment revoked before this member rejoins:
		// the eager protocol drops it first, and the sticky assignor needs
		// it in the subscription (owned_partitions) to keep it in place.
		lastOwned map[string][]int32
	}

	stop      context.CancelFunc
	ctx       context.Context // ends with Close
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewGroupConsumer joins group, subscribed to topics, and starts fetching
// once the group assigns it partitions. opts are the Consumer's (seed
// brokers, fetch sizes, OffsetReset); settings the group's.
func NewGroupConsumer(group string, topics []string, settings GroupSettings, opts ...Opt) (*GroupConsumer, error) {
	if group == "" || len(topics) == 0 {
		return nil, fmt.Errorf("client: group %q with %d topics: %w", group, len(topics), ErrInvalidOption)
	}
	if err := settings.fill(); err != nil {
		return nil, err
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	topics = slices.Clone(topics)
	slices.Sort(topics)
	g := &GroupConsumer{group: group, topics: slices.Compact(topics), s: settings, opts: opts,
		cl: newCluster(cfg), loopDone: make(chan struct{})}
	g.mu.swapped = make(chan struct{})
	g.mu.positions = make(map[topicPartition]int64)
	g.mu.processed = make(map[topicPartition]int64)
	g.ctx, g.stop = context.WithCancel(context.Background())
	go g.loop()
	return g, nil
}

// Poll waits until records of the member's partitions are fetched or ctx
// ends, like Consumer.Poll. It marks the records of the previous Poll
// processed (see "Delivery: at least once" at the top of group.go). A Poll
// that races a rebalance waits for the new assignment.
func (g *GroupConsumer) Poll(ctx context.Context) (Fetches, error) {
	g.mu.Lock()
	for tp, off := range g.mu.positions {
		g.mu.processed[tp] = off
	}
	g.mu.Unlock()
	for {
		g.mu.Lock()
		c, swapped := g.mu.consumer, g.mu.swapped
		g.mu.Unlock()
		if c == nil {
			select {
			case <-swapped:
				continue
			case <-ctx.Done():
				return Fetches{}, ctx.Err()
			case <-g.ctx.Done():
				return Fetches{}, ErrClosed
			}
		}
		pctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-swapped:
				cancel()
			case <-pctx.Done():
			}
		}()
		fs, err := c.Poll(pctx)
		cancel()
		if err == nil && g.advance(c, fs) {
			return fs, nil
		}
		if ctx.Err() != nil {
			return Fetches{}, ctx.Err()
		}
		if g.ctx.Err() != nil {
			return Fetches{}, ErrClosed
		}
		// The assignment changed under the Poll: wait on the new consumer.
	}
}

// advance moves the positions past the records of fs, if c is still the
// current consumer (a Poll racing a rebalance returns nothing).
func (g *GroupConsumer) advance(c *Consumer, fs Fetches) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.consumer != c {
		return false
	}
	for _, p := range fs.parts {
		tp := topicPartition{p.Topic, p.Partition}
		if p.Err != nil || !g.mu.assigned[tp] {
			continue
		}
		for rest := p.batches; len(rest) > 0; {
			b, err := record.Parse(rest)
			if err != nil { // validated by the Consumer already
				break
			}
			rest = rest[b.Size():]
			if next := b.NextOffset(); next > g.mu.positions[tp] {
				g.mu.positions[tp] = next
			}
		}
	}
	return true
}

// CommitOffsets commits the positions of every record Poll has returned,
// for the member's current partitions. It fails (wrapping
// wire.ErrRebalanceInProgress, wire.ErrIllegalGeneration, ...) when the
// member is between generations; the records are then read again by the
// partitions' next owner.
func (g *GroupConsumer) CommitOffsets(ctx context.Context) error {
	return g.commit(ctx, false)
}

// commit commits the positions (or the processed ones) of the assigned
// partitions in the current generation.
func (g *GroupConsumer) commit(ctx context.Context, processedOnly bool) error {
	g.mu.Lock()
	gen := g.mu.gen
	src := g.mu.positions
	if processedOnly {
		src = g.mu.processed
	}
	req := &wire.OffsetCommitRequest{GroupID: g.group, GenerationID: gen.id, MemberID: gen.memberID, GroupInstanceID: g.s.InstanceID}
	byTopic := map[string]int{}
	for tp, off := range src {
		if !g.mu.assigned[tp] {
			continue
		}
		i, ok := byTopic[tp.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[tp.topic] = i
			req.Topics = append(req.Topics, wire.OffsetCommitTopic{Name: tp.topic})
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, wire.OffsetCommitPartition{Partition: tp.partition, Offset: off, LeaderEpoch: -1})
	}
	g.mu.Unlock()
	if len(req.Topics) == 0 {
		return nil
	}
	if gen.coord == nil {
		return fmt.Errorf("client: commit for group %q: no coordinator: %w", g.group, wire.ErrCoordinatorNotAvailable)
	}
	var resp wire.OffsetCommitResponse
	if err := gen.coord.request(ctx, req, &resp, g.cl.cfg.reqTO); err != nil {
		return fmt.Errorf("client: commit for group %q: %w", g.group, err)
	}
	if resp.ErrorCode != wire.None {
		return fmt.Errorf("client: commit for group %q: %w", g.group, resp.ErrorCode.Err())
	}
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != wire.None {
				errs = append(errs, partitionErr(t.Name, p.Partition, p.ErrorCode.Err()))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("client: commit for group %q: %w", g.group, err)
	}
	return nil
}

// Close commits the positions of everything Poll returned, leaves the
// group (its partitions move to the other members at once; a static member
// stays, see InstanceID) and stops. It returns the commit's error, if any.
// Records from the last Poll must not be used after it.
func (g *GroupConsumer) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		<-g.loopDone
		g.cl.close()
	})
	return g.closeErr
}

// loop is the membership goroutine.
func (g *GroupConsumer) loop() {
	defer close(g.loopDone)
	var coord *conn
	memberID := ""
	for attempt := 0; g.ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			g.sleep(backoff(g.cl.cfg.retryMin, g.cl.cfg.retryMax, attempt))
		}
		if coord == nil || coord.dead() {
			var err error
			if coord, err = g.findCoordinator(); err != nil {
				continue
			}
		}
		gen, err := g.join(coord, memberID)
		if gen.memberID != "" {
			memberID = gen.memberID
		}
		switch {
		case errors.Is(err, wire.ErrUnknownMemberID), errors.Is(err, wire.ErrFencedInstanceID):
			memberID = ""
			continue
		case err != nil:
			// Closing keeps the connection so that the member can leave.
			if g.ctx.Err() == nil && !errors.Is(err, wire.ErrRebalanceInProgress) && !errors.Is(err, wire.ErrIllegalGeneration) {
				coord.fail(closeErr(coord.node)) // find the coordinator again
				coord = nil
			}
			continue
		}
		attempt = -1 // the next round starts at once
		err = g.stable(gen)
		g.revoke(gen)
		if errors.Is(err, wire.ErrUnknownMemberID) || errors.Is(err, wire.ErrFencedInstanceID) {
			memberID = ""
		} else if err != nil && !errors.Is(err, wire.ErrRebalanceInProgress) && !errors.Is(err, wire.ErrIllegalGeneration) {
			coord.fail(closeErr(coord.node))
			coord = nil
		}
	}
	g.leave(coord, memberID)
	if coord != nil {
		coord.fail(closeErr(coord.node))
	}
}

func (g *GroupConsumer) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.ctx.Done():
	}
}

// findCoordinator asks any broker for the group's coordinator and
// connects to it.
func (g *GroupConsumer) findCoordinator() (*conn, error) {
	ctx, cancel := context.WithTimeout(g.ctx, g.cl.cfg.reqTO)
	defer cancel()
	var resp wire.FindCoordinatorResponse
	err := g.cl.requestAny(ctx, &wire.FindCoordinatorRequest{Key: g.group, KeyType: wire.CoordinatorKeyGroup}, &resp)
	if err == nil && resp.ErrorCode != wire.None {
		err = resp.ErrorCode.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("client: find coordinator of group %q: %w", g.group, err)
	}
	addr := net.JoinHostPort(resp.Host, strconv.Itoa(int(resp.Port)))
	return dial(ctx, g.cl.cfg, g.cl.hooks, resp.NodeID, addr)
}

// join runs JoinGroup (twice for a new dynamic member) and SyncGroup, and
// starts fetching the assignment.
func (g *GroupConsumer) join(coord *conn, memberID string) (generation, error) {
	g.mu.Lock()
	sub := encodeSubscriptionOwned(g.topics, g.mu.lastOwned)
	g.mu.Unlock()
	req := &wire.JoinGroupRequest{GroupID: g.group, MemberID: memberID, GroupInstanceID: g.s.InstanceID,
		SessionTimeoutMs: int32(g.s.SessionTimeout / time.Millisecond), RebalanceTimeoutMs: int32(g.s.RebalanceTimeout / time.Millisecond),
		ProtocolType: GroupProtocolType}
	for _, a := range g.s.Assignors {
		req.Protocols = append(req.Protocols, wire.GroupProtocol{Name: a, Metadata: sub})
	}
	// The broker holds a join up to the rebalance timeout (plus its
	// initial delay for a new group).
	timeout := g.s.RebalanceTimeout + g.cl.cfg.reqTO
	var resp wire.JoinGroupResponse
	for {
		if err := coord.request(g.ctx, req, &resp, timeout); err != nil {
			return generation{}, fmt.Errorf("client: join group %q: %w", g.group, err)
		}
		if resp.ErrorCode != wire.MemberIDRequired {
			break
		}
		req.MemberID = resp.MemberID
	}
	gen := generation{id: resp.GenerationID, memberID: resp.MemberID, coord: coord}
	if resp.ErrorCode != wire.None {
		return generation{memberID: req.MemberID}, fmt.Errorf("client: join group %q: %w", g.group, resp.ErrorCode.Err())
	}
	sync := &wire.SyncGroupRequest{GroupID: g.group, GenerationID: gen.id, MemberID: gen.memberID,
		GroupInstanceID: g.s.InstanceID, ProtocolType: GroupProtocolType, ProtocolName: resp.ProtocolName}
	if resp.Leader == gen.memberID {
		assignments, err := g.leaderAssign(resp.ProtocolName, resp.Members)
		if err != nil {
			return gen, err
		}
		sync.Assignments = assignments
	}
	var sresp wire.SyncGroupResponse
	if err := coord.request(g.ctx, sync, &sresp, timeout); err != nil {
		return gen, fmt.Errorf("client: sync group %q generation %d: %w", g.group, gen.id, err)
	}
	if sresp.ErrorCode != wire.None {
		return gen, fmt.Errorf("client: sync group %q generation %d: %w", g.group, gen.id, sresp.ErrorCode.Err())
	}
	parts, err := decodeAssignment(sresp.Assignment)
	if err != nil {
		return gen, fmt.Errorf("client: group %q generation %d: %w", g.group, gen.id, err)
	}
	return gen, g.startFetching(gen, parts)
}

// leaderAssign computes every member's assignment.
func (g *GroupConsumer) leaderAssign(protocol string, members []wire.JoinGroupMember) ([]wire.SyncGroupAssignment, error) {
	ctx, cancel := context.WithTimeout(g.ctx, g.cl.cfg.reqTO)
	defer cancel()
	ms := make([]groupMember, len(members))
	counts := map[string]int32{}
	for i, m := range members {
		topics, owned, err := decodeSubscriptionOwned(m.Metadata)
		if err != nil {
			return nil, fmt.Errorf("client: group %q member %s: %w", g.group, m.MemberID, err)
		}
		ms[i] = groupMember{id: m.MemberID, topics: topics, owned: owned}
		for _, t := range topics {
			counts[t] = 0
		}
	}
	for t := range counts {
		// Fresh metadata: a topic may have gained partitions.
		if err := g.cl.refresh(ctx, []string{t}, time.Now()); err != nil {
			return nil, fmt.Errorf("client: group %q: metadata of topic %q: %w", g.group, t, err)
		}
		tm := g.cl.topic(t)
		if tm == nil || tm.err != wire.None || len(tm.partitions) == 0 {
			// Not there (yet): nobody gets it this generation. Like Kafka's
			// consumer, a topic created later is picked up by the next
			// rebalance, not by this one.
			delete(counts, t)
			continue
		}
		counts[t] = int32(len(tm.partitions))
	}
	plan, err := assign(protocol, ms, counts)
	if err != nil {
		return nil, err
	}
	out := make([]wire.SyncGroupAssignment, 0, len(plan))
	for _, m := range ms {
		out = append(out, wire.SyncGroupAssignment{MemberID: m.id, Assignment: encodeAssignment(plan[m.id])})
	}
	return out, nil
}

// startFetching reads the committed offsets of parts and starts a Consumer
// on them.
func (g *GroupConsumer) startFetching(gen generation, parts map[string][]int32) error {
	ctx, cancel := context.WithTimeout(g.ctx, g.cl.cfg.reqTO)
	defer cancel()
	req := &wire.OffsetFetchRequest{GroupID: g.group}
	var tps []TopicPartition
	for t, ps := range parts {
		req.Topics = append(req.Topics, wire.OffsetFetchTopic{Name: t, Partitions: ps})
		for _, p := range ps {
			tps = append(tps, TopicPartition{t, p})
		}
	}
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	committed := map[topicPartition]int64{}
	if len(tps) > 0 {
		var resp wire.OffsetFetchResponse
		if err := gen.coord.request(ctx, req, &resp, g.cl.cfg.reqTO); err != nil {
			return fmt.Errorf("client: committed offsets of group %q: %w", g.group, err)
		}
		if resp.ErrorCode != wire.None {
			return fmt.Errorf("client: committed offsets of group %q: %w", g.group, resp.ErrorCode.Err())
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == wire.None && p.Offset >= 0 {
					committed[topicPartition{t.Name, p.Partition}] = p.Offset
				}
			}
		}
	}
	opts := slices.Clone(g.opts)
	assigned := make(map[topicPartition]bool, len(tps))
	for _, tp := range tps {
		start := *g.s.Start
		if off, ok := committed[topicPartition{tp.Topic, tp.Partition}]; ok {
			start = At(off)
		}
		opts = append(opts, Assign(tp.Topic, []int32{tp.Partition}, start))
		assigned[topicPartition{tp.Topic, tp.Partition}] = true
	}
	if g.s.OnAssigned != nil {
		g.s.OnAssigned(tps)
	}
	var c *Consumer
	if len(tps) > 0 {
		var err error
		if c, err = NewConsumer(opts...); err != nil {
			return fmt.Errorf("client: group %q generation %d: start fetching: %w", g.group, gen.id, err)
		}
	}
	g.mu.Lock()
	g.mu.gen = gen
	g.mu.assigned = assigned
	clear(g.mu.positions)
	clear(g.mu.processed)
	for tp, off := range committed {
		g.mu.positions[tp], g.mu.processed[tp] = off, off
	}
	g.mu.consumer = c
	close(g.mu.swapped)
	g.mu.swapped = make(chan struct{})
	g.mu.Unlock()
	return nil
}

// stable heartbeats and auto-commits until the group rebalances, the
// member loses its place, or Close. It returns why it stopped (nil for
// Close).
func (g *GroupConsumer) stable(gen generation) error {
	hb := time.NewTicker(g.s.HeartbeatInterval)
	defer hb.Stop()
	var autoCommit <-chan time.Time
	if g.s.AutoCommitInterval > 0 {
		t := time.NewTicker(g.s.AutoCommitInterval)
		defer t.Stop()
		autoCommit = t.C
	}
	req := &wire.HeartbeatRequest{GroupID: g.group, GenerationID: gen.id, MemberID: gen.memberID, GroupInstanceID: g.s.InstanceID}
	for {
		select {
		case <-g.ctx.Done():
			return nil
		case <-autoCommit:
			ctx, cancel := context.WithTimeout(g.ctx, g.cl.cfg.reqTO)
			g.commit(ctx, true) // a failed auto-commit is retried at the next tick or the revoke
			cancel()
		case <-hb.C:
			var resp wire.HeartbeatResponse
			ctx, cancel := context.WithTimeout(g.ctx, g.s.SessionTimeout)
			err := gen.coord.request(ctx, req, &resp, g.s.SessionTimeout)
			cancel()
			if err == nil && resp.ErrorCode != wire.None {
				err = resp.ErrorCode.Err()
			}
			if err != nil {
				if g.ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("client: heartbeat of group %q generation %d: %w", g.group, gen.id, err)
			}
		}
	}
}

// revoke gives up the assignment: commit (processed positions while the
// group rebalances; everything Poll returned on Close), OnRevoked, stop
// fetching.
func (g *GroupConsumer) revoke(gen generation) {
	closing := g.ctx.Err() != nil
	ctx, cancel := context.WithTimeout(context.Background(), g.cl.cfg.reqTO)
	err := g.commit(ctx, !closing)
	cancel()
	if closing {
		g.closeErr = err
	}
	g.mu.Lock()
	var tps []TopicPartition
	owned := make(map[string][]int32)
	for tp := range g.mu.assigned {
		tps = append(tps, TopicPartition{tp.topic, tp.partition})
		owned[tp.topic] = append(owned[tp.topic], tp.partition)
	}
	g.mu.lastOwned = owned
	c := g.mu.consumer
	g.mu.consumer = nil
	g.mu.assigned = nil
	close(g.mu.swapped)
	g.mu.swapped = make(chan struct{})
	g.mu.Unlock()
	if g.s.OnRevoked != nil && len(tps) > 0 {
		g.s.OnRevoked(tps)
	}
	// The records of the last Poll stay valid: a closed Consumer only
	// recycles buffers in its next Poll, which never comes.
	if c != nil {
		c.Close()
	}
}

// leave tells the coordinator the member is gone, so the group rebalances
// now rather than after the session timeout. A static member does not
// leave (Kafka's rule): its partitions wait for it to come back within the
// session timeout, without a rebalance.
func (g *GroupConsumer) leave(coord *conn, memberID string) {
	if coord == nil || coord.dead() || memberID == "" || g.s.InstanceID != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cl.cfg.reqTO)
	defer cancel()
	var resp wire.LeaveGroupResponse
	coord.request(ctx, &wire.LeaveGroupRequest{GroupID: g.group,
		Members: []wire.LeaveGroupMember{{MemberID: memberID}}}, &resp, g.cl.cfg.reqTO)
}
