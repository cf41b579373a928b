package client

// GroupConsumer: a consumer that shares topics' partitions with the other
// members of its group through the broker's group coordinator (Kafka's
// classic group protocol, eager or cooperative; docs/groups.md has both
// sides).
//
// A background goroutine owns the membership: FindCoordinator, then
// JoinGroup (twice for a new member: the broker hands out the member id),
// SyncGroup (the leader computes every member's assignment with the
// assignor the group chose, groupassign.go), then a Heartbeat every
// HeartbeatInterval until the coordinator answers REBALANCE_IN_PROGRESS (or
// the member lost its place), which starts the next round.
//
// What a round does to the partitions depends on the protocol the broker
// chose for the generation (it picks one every member lists):
//
//   - Eager (range, roundrobin, sticky): before each rejoin the member gives
//     up its whole assignment: it stops fetching, commits the processed
//     positions and runs OnRevoked. After the sync it reads the committed
//     offsets of its new partitions, runs OnAssigned and fetches them.
//   - Cooperative (cooperative-sticky, KIP-429): the member commits its
//     processed positions and rejoins while it goes on fetching. After the
//     sync it gives up only the partitions it owned and was not assigned
//     (stop fetching, commit, OnRevoked), starts the ones it gained
//     (committed offsets, OnAssigned, fetch) and keeps the rest without a
//     pause. The leader assigns a partition that moves between members to
//     nobody in that generation; its old owner gives it up and rejoins at
//     once, and the follow-up rebalance hands it to its new owner. So no
//     partition is fetched by two members at a time.
//
// A member that lost its place (unknown member id, illegal generation, a
// dead coordinator connection) gives up every partition under both
// protocols: another member may own them already.
//
// The group traffic has its own connection to the coordinator, not the
// shared per-broker one of the fetches: a JoinGroup parks on the broker
// until the rebalance completes, and the broker answers a connection's
// requests in order, so a parked join would hold every fetch behind it.
//
// Fetching is one Consumer for the GroupConsumer's life; partitions are
// added to it and removed from it as the group reassigns them. Records it
// fetched before a partition was removed may still come out of its Poll:
// GroupConsumer.Poll drops every partition's records that are not assigned
// now or that do not start exactly at the partition's position (a fetch
// from before the partition was taken away and given back), so the
// application never sees a record of a partition it does not own, nor one
// twice or out of order within an assignment. Invariant: the member knows
// the position of every partition it owns (Start is resolved before
// fetching, and the member applies the OffsetReset policy itself), and the
// Consumer's next fetch of a partition starts at that position.
//
// # Delivery: at least once
//
// By default a record counts as processed once the application calls Poll
// again after the Poll that returned it. With GroupSettings.CommitMarked
// the application says it instead, with MarkProcessed, and nothing else
// counts. Auto-commit and the commit when partitions are given up store the
// processed positions only; CommitOffsets and Close store the positions of
// everything Poll returned (call them after processing), or with
// CommitMarked the processed positions again, so records fetched but never
// processed are read by the next consumer of the partition. A member that
// dies before its processed records are committed, or whose commit fails,
// leaves them to be read again by the next owner of the partition: records
// are never skipped but may be read twice.
//
// A partition given up after a sync (cooperative) is committed with the
// new generation: the coordinator takes commits of the current generation
// only, and the leader assigned the partition to nobody in it, so the
// commit cannot race its next owner. Its processed positions were also
// committed before the rejoin, with the old generation.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
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
	// The broker chooses one every member lists (docs/groups.md tells how);
	// AssignCooperativeSticky makes the generation cooperative.
	Assignors []string
	// Start is where a partition without a committed offset starts
	// (default Latest(), Kafka's auto.offset.reset=latest).
	Start *Offset
	// AutoCommitInterval commits the processed positions this often
	// (default 5 s, Kafka's auto.commit.interval.ms); negative turns
	// auto-commit off.
	AutoCommitInterval time.Duration
	// CommitMarked: only records the application passed to MarkProcessed
	// count as processed, and every commit (auto-commit, giving up
	// partitions, CommitOffsets, Close) stores the processed positions
	// only. Without it a record counts as processed at the next Poll, and
	// CommitOffsets and Close store everything Poll returned.
	CommitMarked bool
	// InstanceID makes the member static (KIP-345): Close does not leave
	// the group, and a restart with the same id within the session timeout
	// gets its partitions back without a rebalance. Meanwhile nobody reads
	// them.
	InstanceID string
	// OnAssigned runs on the group goroutine after each sync, with the
	// partitions the member gained (eager: its whole new assignment;
	// cooperative: the new ones only, possibly none), before fetching them
	// starts.
	OnAssigned func(partitions []TopicPartition)
	// OnRevoked runs on the group goroutine with the partitions the member
	// gave up, after it stopped fetching them and committed their processed
	// positions.
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
		if !slices.Contains([]string{AssignRange, AssignRoundRobin, AssignSticky, AssignCooperativeSticky}, a) {
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
	protocol string // the assignor the broker chose
	coord    *conn
}

// cooperative reports whether the generation runs KIP-429's protocol.
func (gen generation) cooperative() bool { return gen.protocol == AssignCooperativeSticky }

// GroupConsumer reads the partitions its group assigns it. Poll is called
// from one goroutine at a time; the other methods from any.
type GroupConsumer struct {
	group    string
	topics   []string
	s        GroupSettings
	cl       *cluster  // coordinator lookup, metadata, offsets
	consumer *Consumer // fetches the assigned partitions; under ResetError, see resetPartitions
	reset    ResetPolicy

	mu struct {
		sync.Mutex
		gen       generation
		assigned  map[topicPartition]bool
		positions map[topicPartition]int64 // after the records Poll returned
		processed map[topicPartition]int64 // after the records counted processed
		// committed is what this member's last successful commit stored
		// for each partition it holds: giving a partition up commits only
		// what moved since, so a member closing during a rebalance it
		// missed (its generation gone) fails no commit it did not need.
		committed map[topicPartition]int64
		// owned is the assignment of the last sync, sent as the
		// subscription's owned_partitions: the sticky assignors keep it in
		// place, and the cooperative leader withholds what moves.
		owned map[string][]int32
	}

	// leaderCounts is, while this member leads the generation, the
	// partition count of each subscribed topic its assignment used (a topic
	// that did not exist is absent); stable compares it with fresh metadata
	// and rejoins when a topic appears, goes or grows. Only the loop
	// goroutine touches it.
	leaderCounts map[string]int32
	leaderWatch  []string // every member's subscribed topics

	stop      context.CancelFunc
	ctx       context.Context // ends with Close
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewGroupConsumer joins group, subscribed to topics, and starts fetching
// once the group assigns it partitions. opts are the Consumer's (seed
// brokers, fetch sizes, OffsetReset) except Assign, which fails with
// ErrInvalidOption (the group assigns); settings the group's.
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
	if len(cfg.assign) > 0 {
		return nil, fmt.Errorf("client: group %q: Assign is not an option of a group consumer (the group assigns): %w", group, ErrInvalidOption)
	}
	// The group applies the reset policy itself, so that it always knows
	// where the Consumer fetches (advance relies on it).
	c, err := NewConsumer(append(slices.Clone(opts), OffsetReset(ResetError))...)
	if err != nil {
		return nil, err
	}
	topics = slices.Clone(topics)
	slices.Sort(topics)
	g := &GroupConsumer{group: group, topics: slices.Compact(topics), s: settings, consumer: c, reset: cfg.reset,
		cl: newCluster(cfg, false), loopDone: make(chan struct{})}
	g.mu.assigned = make(map[topicPartition]bool)
	g.mu.positions = make(map[topicPartition]int64)
	g.mu.processed = make(map[topicPartition]int64)
	g.ctx, g.stop = context.WithCancel(context.Background())
	go g.loop()
	return g, nil
}

// Poll waits until records of the member's partitions are fetched or ctx
// ends, like Consumer.Poll, and returns ErrClosed after Close. Without
// CommitMarked it marks the records of the previous Poll processed (see
// "Delivery: at least once" at the top of group.go). Records of a
// partition the member gave up are never returned after it gave it up.
func (g *GroupConsumer) Poll(ctx context.Context) (Fetches, error) {
	if !g.s.CommitMarked {
		g.mu.Lock()
		for tp, off := range g.mu.positions {
			g.mu.processed[tp] = off
		}
		g.mu.Unlock()
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(g.ctx, cancel)()
	for {
		fs, err := g.consumer.Poll(pctx)
		switch {
		case g.ctx.Err() != nil || errors.Is(err, ErrClosed):
			return Fetches{}, ErrClosed
		case err != nil:
			return Fetches{}, err
		}
		fs, resets := g.advance(fs)
		if len(resets) > 0 {
			fs.parts = append(fs.parts, g.resetPartitions(pctx, resets)...)
		}
		if len(fs.parts) > 0 {
			return fs, nil
		}
	}
}

// advance keeps the partitions of fs the member owns and moves their
// positions past the records it keeps. A partition's records are kept only
// when they start at its position: anything else was fetched before the
// partition was taken away and given back (see the file comment). It
// takes out the OFFSET_OUT_OF_RANGE errors that the member's reset policy
// handles and returns those partitions.
func (g *GroupConsumer) advance(fs Fetches) (Fetches, []TopicPartition) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var resets []TopicPartition
	kept := fs.parts[:0] // fs.parts is the Consumer's fresh slice for this Poll
	for _, p := range fs.parts {
		tp := topicPartition{p.Topic, p.Partition}
		if !g.mu.assigned[tp] {
			continue
		}
		if p.Err != nil && errors.Is(p.Err, wire.ErrOffsetOutOfRange) && g.reset != ResetError {
			resets = append(resets, TopicPartition{p.Topic, p.Partition})
			continue
		}
		if p.Err == nil {
			if p.from != g.mu.positions[tp] {
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
		kept = append(kept, p)
	}
	return Fetches{parts: kept}, resets
}

// resetPartitions moves partitions whose position fell out of the log
// (retention removed it, or an unclean leader change cut the log below it)
// to the log start or end, as the OffsetReset policy says, and fetches them
// from there. A partition it cannot move comes back as a partition error.
func (g *GroupConsumer) resetPartitions(ctx context.Context, tps []TopicPartition) []FetchPartition {
	at := Earliest()
	if g.reset == ResetLatest {
		at = Latest()
	}
	a := &Admin{cl: g.cl, cfg: g.cl.cfg} // shares the group's connections; never closed on its own
	listed, err := a.ListOffsets(ctx, at, tps...)
	var failed []FetchPartition
	for _, tp := range tps {
		l := listed[tp]
		if err == nil && l.Err == nil && l.Offset < 0 {
			l.Err = fmt.Errorf("list offsets returned offset %d: %w", l.Offset, wire.ErrOffsetNotAvailable)
		}
		if perr := cmp.Or(err, l.Err); perr != nil {
			failed = append(failed, FetchPartition{Topic: tp.Topic, Partition: tp.Partition,
				Err: partitionErr(tp.Topic, tp.Partition, fmt.Errorf("reset after offset out of range: %w", perr))})
			continue
		}
		k := topicPartition{tp.Topic, tp.Partition}
		g.mu.Lock()
		owned := g.mu.assigned[k]
		if owned {
			g.mu.positions[k], g.mu.processed[k] = l.Offset, l.Offset
		}
		g.mu.Unlock()
		if owned {
			g.consumer.Assign(ctx, tp.Topic, []int32{tp.Partition}, At(l.Offset))
		}
	}
	return failed
}

// MarkProcessed counts the records of partition up to and including offset
// processed, so that the next commit stores offset+1. It is what decides
// the commits under CommitMarked; without it, it only brings forward what
// the next Poll would count. A mark never moves a partition's processed
// position back or past what Poll returned, and marks of a partition the
// member does not own (any more) are ignored.
func (g *GroupConsumer) MarkProcessed(topic string, partition int32, offset int64) {
	tp := topicPartition{topic, partition}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.mu.assigned[tp] {
		return
	}
	next := offset + 1
	if pos, ok := g.mu.positions[tp]; ok {
		next = min(next, pos)
	}
	if done, ok := g.mu.processed[tp]; !ok || next > done {
		g.mu.processed[tp] = next
	}
}

// Assignment returns the partitions the member owns now, sorted.
func (g *GroupConsumer) Assignment() []TopicPartition {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TopicPartition, 0, len(g.mu.assigned))
	for tp := range g.mu.assigned {
		out = append(out, TopicPartition{tp.topic, tp.partition})
	}
	sortTopicPartitions(out)
	return out
}

// CommitOffsets commits the positions of every record Poll has returned
// (with CommitMarked: the processed positions), for the member's current
// partitions. It fails (wrapping wire.ErrRebalanceInProgress,
// wire.ErrIllegalGeneration, ...) when the member is between generations;
// the records are then read again by the partitions' next owner.
func (g *GroupConsumer) CommitOffsets(ctx context.Context) error {
	gen, offsets := g.offsets(g.s.CommitMarked, nil)
	return g.commit(ctx, gen, offsets)
}

// offsets returns the current generation and the positions (processedOnly:
// the processed ones) of the assigned partitions that only accepts (all
// when only is nil).
func (g *GroupConsumer) offsets(processedOnly bool, only func(topicPartition) bool) (generation, map[topicPartition]int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	src := g.mu.positions
	if processedOnly {
		src = g.mu.processed
	}
	out := make(map[topicPartition]int64)
	for tp, off := range src {
		if g.mu.assigned[tp] && (only == nil || only(tp)) {
			out[tp] = off
		}
	}
	return g.mu.gen, out
}

// commit stores offsets in generation gen.
func (g *GroupConsumer) commit(ctx context.Context, gen generation, offsets map[topicPartition]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	if gen.coord == nil {
		return fmt.Errorf("client: commit for group %q: no coordinator: %w", g.group, wire.ErrCoordinatorNotAvailable)
	}
	tps := make([]topicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	req := &wire.OffsetCommitRequest{GroupID: g.group, GenerationID: gen.id, MemberID: gen.memberID, GroupInstanceID: g.s.InstanceID}
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Name != tp.topic {
			req.Topics = append(req.Topics, wire.OffsetCommitTopic{Name: tp.topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, wire.OffsetCommitPartition{Partition: tp.partition, Offset: offsets[tp], LeaderEpoch: -1})
	}
	var resp wire.OffsetCommitResponse
	if err := gen.coord.request(ctx, req, &resp, g.cl.cfg.reqTO); err != nil {
		return fmt.Errorf("client: commit for group %q generation %d: %w", g.group, gen.id, err)
	}
	if resp.ErrorCode != wire.None {
		return fmt.Errorf("client: commit for group %q generation %d: %w", g.group, gen.id, resp.ErrorCode.Err())
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
		return fmt.Errorf("client: commit for group %q generation %d: %w", g.group, gen.id, err)
	}
	g.mu.Lock()
	if g.mu.committed == nil {
		g.mu.committed = make(map[topicPartition]int64)
	}
	for tp, off := range offsets {
		if g.mu.assigned[tp] {
			g.mu.committed[tp] = off
		}
	}
	g.mu.Unlock()
	return nil
}

// Lag returns, for every partition of the group's topics, how many records
// the group has yet to commit: the high watermark minus the group's
// committed offset, or minus the log start offset where the group has no
// commit (0 when that is negative). A topic that does not exist adds
// nothing. It reads the coordinator's committed offsets, not this member's
// positions: commit first to count them. An error names the partition
// whose offsets could not be read.
func (g *GroupConsumer) Lag(ctx context.Context) (map[TopicPartition]int64, error) {
	a := &Admin{cl: g.cl, cfg: g.cl.cfg} // shares the group's connections; never closed on its own
	committed, err := a.FetchGroupOffsets(ctx, g.group)
	if err != nil {
		return nil, err
	}
	descs, err := a.DescribeTopics(ctx, g.topics...)
	if err != nil {
		return nil, fmt.Errorf("client: lag of group %q: %w", g.group, err)
	}
	out := make(map[TopicPartition]int64)
	for _, d := range descs {
		if errors.Is(d.Err, wire.ErrUnknownTopicOrPartition) {
			continue // no partitions, nothing to read
		}
		if d.Err != nil {
			return nil, fmt.Errorf("client: lag of group %q: %w", g.group, d.Err)
		}
		for _, p := range d.Partitions {
			if p.Err != nil {
				return nil, fmt.Errorf("client: lag of group %q: %w", g.group, p.Err)
			}
			tp := TopicPartition{d.Name, p.Partition}
			from, ok := committed[tp]
			if !ok {
				from = p.LogStartOffset
			}
			out[tp] = max(p.HighWatermark-from, 0)
		}
	}
	return out, nil
}

// Close gives up the member's partitions, committing the positions of
// everything Poll returned (with CommitMarked: the processed positions),
// leaves the group (its partitions move to the other members at once; a
// static member stays, see InstanceID) and stops. It returns the commit's
// error, if any. Records from the last Poll must not be used after it.
func (g *GroupConsumer) Close() error {
	g.closeOnce.Do(func() {
		g.stop()
		<-g.loopDone
		g.consumer.Close()
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
		gen, parts, err := g.join(coord, memberID)
		if gen.memberID != "" {
			memberID = gen.memberID
		}
		rejoin := false
		if err == nil {
			rejoin, err = g.apply(gen, parts)
		}
		if err != nil {
			// Still a member only when a new rebalance overtook this one.
			if !errors.Is(err, wire.ErrRebalanceInProgress) {
				g.giveUp(nil)
			}
			switch {
			case errors.Is(err, wire.ErrUnknownMemberID), errors.Is(err, wire.ErrFencedInstanceID):
				memberID = ""
			case g.ctx.Err() == nil && !errors.Is(err, wire.ErrRebalanceInProgress) && !errors.Is(err, wire.ErrIllegalGeneration):
				// Closing keeps the connection so that the member can leave.
				coord.fail(closeErr(coord.node)) // find the coordinator again
				coord = nil
			}
			continue
		}
		attempt = -1 // the next round starts at once
		if rejoin {
			continue
		}
		err = g.stable(gen)
		if gen.cooperative() && errors.Is(err, wire.ErrRebalanceInProgress) && g.ctx.Err() == nil {
			g.commitProcessed() // and go on fetching through the rebalance
		} else {
			g.giveUp(nil)
		}
		if errors.Is(err, wire.ErrUnknownMemberID) || errors.Is(err, wire.ErrFencedInstanceID) {
			memberID = ""
		} else if err != nil && !errors.Is(err, wire.ErrRebalanceInProgress) && !errors.Is(err, wire.ErrIllegalGeneration) {
			coord.fail(closeErr(coord.node))
			coord = nil
		}
	}
	g.giveUp(nil) // Close during a cooperative rejoin
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
// returns the generation and the member's assignment in it.
func (g *GroupConsumer) join(coord *conn, memberID string) (generation, map[string][]int32, error) {
	g.mu.Lock()
	sub := encodeSubscriptionOwned(g.topics, g.mu.owned)
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
			return generation{}, nil, fmt.Errorf("client: join group %q: %w", g.group, err)
		}
		if resp.ErrorCode != wire.MemberIDRequired {
			break
		}
		req.MemberID = resp.MemberID
	}
	gen := generation{id: resp.GenerationID, memberID: resp.MemberID, protocol: resp.ProtocolName, coord: coord}
	if resp.ErrorCode != wire.None {
		return generation{memberID: req.MemberID}, nil, fmt.Errorf("client: join group %q: %w", g.group, resp.ErrorCode.Err())
	}
	sync := &wire.SyncGroupRequest{GroupID: g.group, GenerationID: gen.id, MemberID: gen.memberID,
		GroupInstanceID: g.s.InstanceID, ProtocolType: GroupProtocolType, ProtocolName: resp.ProtocolName}
	g.leaderCounts = nil
	if resp.Leader == gen.memberID {
		assignments, err := g.leaderAssign(resp.ProtocolName, resp.Members)
		if err != nil {
			return gen, nil, err
		}
		sync.Assignments = assignments
	}
	var sresp wire.SyncGroupResponse
	if err := coord.request(g.ctx, sync, &sresp, timeout); err != nil {
		return gen, nil, fmt.Errorf("client: sync group %q generation %d: %w", g.group, gen.id, err)
	}
	if sresp.ErrorCode != wire.None {
		return gen, nil, fmt.Errorf("client: sync group %q generation %d: %w", g.group, gen.id, sresp.ErrorCode.Err())
	}
	parts, err := decodeAssignment(sresp.Assignment)
	if err != nil {
		return gen, nil, fmt.Errorf("client: group %q generation %d: %w", g.group, gen.id, err)
	}
	return gen, parts, nil
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
	watch := slices.Sorted(maps.Keys(counts))
	counts, err := g.partitionCounts(ctx, watch)
	if err != nil {
		return nil, err
	}
	plan, err := assign(protocol, ms, counts)
	if err != nil {
		return nil, err
	}
	g.leaderWatch, g.leaderCounts = watch, counts
	out := make([]wire.SyncGroupAssignment, 0, len(plan))
	for _, m := range ms {
		out = append(out, wire.SyncGroupAssignment{MemberID: m.id, Assignment: encodeAssignment(plan[m.id])})
	}
	return out, nil
}

// partitionCounts reads fresh metadata of topics and returns the partition
// count of each that exists. One that does not (yet) is left out: nobody
// gets it this generation, and the leader's watch (stable) starts a
// rebalance once it appears, as Kafka's consumer does.
func (g *GroupConsumer) partitionCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	if err := g.cl.refresh(ctx, topics, time.Now()); err != nil {
		return nil, fmt.Errorf("client: group %q: metadata of topics %q: %w", g.group, topics, err)
	}
	counts := make(map[string]int32, len(topics))
	for _, t := range topics {
		if tm := g.cl.topic(t); tm != nil && tm.err == wire.None && len(tm.partitions) > 0 {
			counts[t] = int32(len(tm.partitions))
		}
	}
	return counts, nil
}

// apply makes the member's partitions those of parts, the assignment of
// generation gen: eager, it gives up all it still owns and starts all of
// parts; cooperative, only the difference. It reports whether the member
// must rejoin at once (cooperative, it gave partitions up: their new
// owners get them in the follow-up rebalance).
func (g *GroupConsumer) apply(gen generation, parts map[string][]int32) (rejoin bool, err error) {
	assigned := make(map[topicPartition]bool)
	for t, ps := range parts {
		for _, p := range ps {
			assigned[topicPartition{t, p}] = true
		}
	}
	g.mu.Lock()
	g.mu.gen = gen
	g.mu.owned = parts
	var added []TopicPartition
	for tp := range assigned {
		if !gen.cooperative() || !g.mu.assigned[tp] {
			added = append(added, TopicPartition{tp.topic, tp.partition})
		}
	}
	g.mu.Unlock()
	gaveUp := g.giveUp(func(tp topicPartition) bool { return !gen.cooperative() || !assigned[tp] })
	sortTopicPartitions(added)
	if err := g.start(gen, added); err != nil {
		return false, err
	}
	return gen.cooperative() && gaveUp > 0, nil
}

// start reads the committed offsets of tps, resolves where the others
// start, runs OnAssigned and starts fetching them.
func (g *GroupConsumer) start(gen generation, tps []TopicPartition) error {
	ctx, cancel := context.WithTimeout(g.ctx, g.cl.cfg.reqTO)
	defer cancel()
	committed, err := g.committed(ctx, gen, tps)
	if err != nil {
		return err
	}
	var fresh []TopicPartition
	for _, tp := range tps {
		if _, ok := committed[tp]; !ok {
			fresh = append(fresh, tp)
		}
	}
	starts, err := g.resolveStarts(ctx, fresh)
	if err != nil {
		return fmt.Errorf("client: group %q generation %d: %w", g.group, gen.id, err)
	}
	if g.s.OnAssigned != nil {
		g.s.OnAssigned(tps)
	}
	g.mu.Lock()
	for _, tp := range tps {
		k := topicPartition{tp.Topic, tp.Partition}
		g.mu.assigned[k] = true
		delete(g.mu.positions, k)
		delete(g.mu.processed, k)
		off, ok := committed[tp]
		if !ok {
			off = starts[tp]
		}
		g.mu.positions[k], g.mu.processed[k] = off, off
	}
	g.mu.Unlock()
	for _, tp := range tps {
		g.mu.Lock()
		off := g.mu.positions[topicPartition{tp.Topic, tp.Partition}]
		g.mu.Unlock()
		if err := g.consumer.Assign(ctx, tp.Topic, []int32{tp.Partition}, At(off)); err != nil {
			return fmt.Errorf("client: group %q generation %d: fetch %s/%d: %w", g.group, gen.id, tp.Topic, tp.Partition, err)
		}
	}
	return nil
}

// committed reads the group's committed offsets of tps.
func (g *GroupConsumer) committed(ctx context.Context, gen generation, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	if len(tps) == 0 {
		return out, nil
	}
	req := &wire.OffsetFetchRequest{GroupID: g.group}
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Name != tp.Topic {
			req.Topics = append(req.Topics, wire.OffsetFetchTopic{Name: tp.Topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	var resp wire.OffsetFetchResponse
	if err := gen.coord.request(ctx, req, &resp, g.cl.cfg.reqTO); err != nil {
		return nil, fmt.Errorf("client: committed offsets of group %q: %w", g.group, err)
	}
	if resp.ErrorCode != wire.None {
		return nil, fmt.Errorf("client: committed offsets of group %q: %w", g.group, resp.ErrorCode.Err())
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == wire.None && p.Offset >= 0 {
				out[TopicPartition{t.Name, p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}

// resolveStarts turns Start into an offset for each of tps (a time after
// every record: the log end, as Consumer does), so that the member always
// knows its position: it commits it even in a partition it reads nothing
// from, and advance checks every fetch against it.
func (g *GroupConsumer) resolveStarts(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	if g.s.Start.resolved() {
		for _, tp := range tps {
			out[tp] = g.s.Start.at
		}
		return out, nil
	}
	a := &Admin{cl: g.cl, cfg: g.cl.cfg} // shares the group's connections; never closed on its own
	for at := *g.s.Start; len(tps) > 0; at = Latest() {
		listed, err := a.ListOffsets(ctx, at, tps...)
		if err != nil {
			return nil, fmt.Errorf("start offsets: %w", err)
		}
		var after []TopicPartition // no record at or after the time
		for _, tp := range tps {
			switch l := listed[tp]; {
			case l.Err != nil:
				return nil, fmt.Errorf("start offset: %w", l.Err)
			case l.Offset >= 0:
				out[tp] = l.Offset
			case at.byTime:
				after = append(after, tp)
			default:
				return nil, partitionErr(tp.Topic, tp.Partition, fmt.Errorf("start offset %d: %w", l.Offset, wire.ErrOffsetNotAvailable))
			}
		}
		tps = after
	}
	return out, nil
}

// stable heartbeats and auto-commits until the group rebalances, the
// member loses its place, or Close. It returns why it stopped (nil for
// Close).
func (g *GroupConsumer) stable(gen generation) error {
	// Under the cooperative protocol the first heartbeat comes early: the
	// members that gave partitions up in this generation rejoin at once,
	// and a member that only waits for those partitions (a newcomer) would
	// otherwise learn of that follow-up rebalance a whole interval later.
	first := g.s.HeartbeatInterval
	if gen.cooperative() {
		first = min(first, cooperativeFirstBeat)
	}
	hb := time.NewTimer(first)
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
			g.commitProcessed() // a failed auto-commit is retried at the next tick or when partitions are given up
		case <-hb.C:
			hb.Reset(g.s.HeartbeatInterval)
			if err := g.watchTopics(); err != nil {
				return err
			}
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

// cooperativeFirstBeat is when a member heartbeats first after a
// cooperative sync (stable): long enough for the members that gave
// partitions up to have committed and rejoined, which takes a few round
// trips.
const cooperativeFirstBeat = 250 * time.Millisecond

// watchTopics is the leader's check, once per heartbeat, that the
// subscribed topics still have the partition counts its assignment used: a
// topic created, deleted or grown since makes it rejoin, which rebalances
// the group (Kafka's leader does the same). A failed metadata read is
// retried at the next heartbeat.
func (g *GroupConsumer) watchTopics() error {
	if g.leaderCounts == nil {
		return nil
	}
	// Bounded by the heartbeat interval: a slow metadata answer must not
	// delay the heartbeat that follows past the session timeout.
	ctx, cancel := context.WithTimeout(g.ctx, min(g.cl.cfg.reqTO, g.s.HeartbeatInterval))
	defer cancel()
	counts, err := g.partitionCounts(ctx, g.leaderWatch)
	if err != nil || maps.Equal(counts, g.leaderCounts) {
		return nil
	}
	return fmt.Errorf("client: group %q: partition counts of the subscribed topics went from %v to %v: %w",
		g.group, g.leaderCounts, counts, wire.ErrRebalanceInProgress)
}

// commitProcessed commits the processed positions of every assigned
// partition; a failure leaves them to the next commit.
func (g *GroupConsumer) commitProcessed() {
	ctx, cancel := context.WithTimeout(context.Background(), g.cl.cfg.reqTO)
	defer cancel()
	gen, offsets := g.offsets(true, nil)
	g.commit(ctx, gen, offsets)
}

// giveUp gives up the assigned partitions that which accepts (all when nil):
// it stops fetching them, commits their positions (the processed ones,
// unless Close without CommitMarked) and runs OnRevoked. It returns how many
// it gave up. On Close the commit's error becomes Close's.
func (g *GroupConsumer) giveUp(which func(topicPartition) bool) int {
	closing := g.ctx.Err() != nil
	g.mu.Lock()
	gen := g.mu.gen
	src := g.mu.processed
	if closing && !g.s.CommitMarked {
		src = g.mu.positions
	}
	offsets := make(map[topicPartition]int64)
	var tps []TopicPartition
	for tp := range g.mu.assigned {
		if which != nil && !which(tp) {
			continue
		}
		if off, ok := src[tp]; ok {
			if last, done := g.mu.committed[tp]; !done || last != off {
				offsets[tp] = off
			}
		}
		tps = append(tps, TopicPartition{tp.topic, tp.partition})
		delete(g.mu.assigned, tp)
		delete(g.mu.positions, tp)
		delete(g.mu.processed, tp)
		delete(g.mu.committed, tp)
	}
	g.mu.Unlock()
	if len(tps) == 0 {
		return 0
	}
	sortTopicPartitions(tps)
	for _, tp := range tps {
		g.consumer.Unassign(tp.Topic, []int32{tp.Partition})
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cl.cfg.reqTO)
	err := g.commit(ctx, gen, offsets)
	cancel()
	if closing {
		g.closeErr = err
	}
	if g.s.OnRevoked != nil {
		g.s.OnRevoked(tps)
	}
	return len(tps)
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
