package engine

// Behavior: replication in cluster mode (issue 13). A hosted partition with
// more than one replica runs the ISR core of package replication, which
// decides; this file does the I/O it asks for:
//
//   - Leader (role leads): a replication.Leader built at each new leader
//     epoch from the log end and the high watermark kept so far. Local
//     appends report the log end (Appended); ReplicaFetch records each
//     follower's fetch offset (Leader.Fetch) and reads past the high
//     watermark up to the log end; the high watermark is the core's (the
//     smallest log end of the ISR), so consumers read below it and acks=all
//     completes once it passes the batch (CheckCommit, which also answers
//     ErrNotEnoughReplicasAfterAppend). acks=all is refused before the
//     append while the committed ISR is under min.insync.replicas
//     (CheckProduce). Every replicaTickInterval the core is ticked for
//     lagging followers. ISR proposals go to Config.AlterPartitionHook on
//     a goroutine; a failed call is Refused (the core forgets it and a
//     later Tick or Fetch proposes again), a committed one comes back as a
//     new partition epoch through ApplyTopic (Leader.Update).
//   - Follower (another broker leads): a replication.Follower per leader
//     epoch. The broker's fetcher asks Followed what to do: an epoch query
//     while truncating (TruncateFollower applies the answer:
//     replication.TruncationFor, never the follower's own high watermark),
//     else a fetch from the log end; AppendFollower appends the batches
//     verbatim (offsets, leader epochs, CRCs, producer ids identical),
//     assigns each new leader epoch in the checkpoint at its first batch and
//     rebuilds the idempotent-producer state.
//   - A partition with one replica, or offline, runs no core: its high
//     watermark is the local one (doc.go).
//
// Lock order: partition.mu, then replica.mu. The core is only called under
// replica.mu; wakes and hook calls happen after it is released.

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/replication"
	"github.com/spate-io/spate/segment"
)

// replica is a partition's ISR core: at most one of leader and follower is
// set.
type replica struct {
	mu       sync.Mutex
	leader   *replication.Leader
	follower *replication.Follower
	// hw is the core's high watermark, read without mu; -1 while no core
	// runs (partition.highWatermark is then the local one).
	hw atomic.Int64
	// lagMax is the broker's replica.lag.time.max.ms, set with the core.
	lagMax time.Duration
	// restored is the high watermark the checkpoint held at open
	// (hwcheckpoint.go), -1 for none: the first core starts from it.
	restored int64
}

// coreConfig is the ISR core's view of the topic's current settings:
// min.insync.replicas may change through the controller at any time, so
// the leader's checks read it afresh.
func (p *partition) coreConfig(lagMax time.Duration) replication.Config {
	return replication.Config{MinInsyncReplicas: int(p.config().MinInsyncReplicas), ReplicaLagTimeMax: lagMax}
}

// replicaTickInterval is how often leaders check their followers' lag: a
// tenth of replica.lag.time.max.ms, so a follower leaves the ISR at most
// 10% late, and at least every second.
func replicaTickInterval(lagMax time.Duration) time.Duration {
	if lagMax <= 0 {
		lagMax = 30 * time.Second
	}
	return min(max(lagMax/10, 10*time.Millisecond), time.Second)
}

func replicaIDs(in []int32) []replication.ReplicaID {
	out := make([]replication.ReplicaID, len(in))
	for i, v := range in {
		out[i] = replication.ReplicaID(v)
	}
	return out
}

func int32s(in []replication.ReplicaID) []int32 {
	out := make([]int32, len(in))
	for i, v := range in {
		out[i] = int32(v)
	}
	return out
}

func stateOf(r *partitionRole) replication.PartitionState {
	return replication.PartitionState{Leader: replication.ReplicaID(r.Leader), LeaderEpoch: r.LeaderEpoch,
		PartitionEpoch: r.PartitionEpoch, Replicas: replicaIDs(r.Replicas), ISR: replicaIDs(r.ISR)}
}

// logEpochs is a log's leader-epoch checkpoint as the core takes it.
func logEpochs(l *segment.Log) replication.Epochs {
	entries := l.Epochs().Entries()
	out := make(replication.Epochs, len(entries))
	for i, e := range entries {
		out[i] = replication.EpochStart{Epoch: e.Epoch, StartOffset: e.StartOffset}
	}
	return out
}

// resetCoreLocked makes p's ISR core match role r (p.mu held): a new
// Leader at a new leader epoch, Update at a new partition epoch, a new
// Follower at a new leader or epoch, no core for one replica or no leader.
// It reports whether the high watermark moved up (a committed ISR shrink),
// for the caller to wake parked operations once p.mu is released.
func (p *partition) resetCoreLocked(r *partitionRole, self int32, lagMax time.Duration) (bool, error) {
	c := &p.repl
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.hw.Load()
	if kept < 0 {
		kept = max(c.restored, 0)
	}
	c.lagMax = lagMax
	switch {
	case len(r.Replicas) <= 1 || r.Leader < 0:
		c.leader, c.follower = nil, nil
		c.hw.Store(-1)
		return false, nil
	case r.leads && c.leader != nil && c.leader.LeaderEpoch() == r.LeaderEpoch:
		if err := c.leader.Update(stateOf(r)); err != nil {
			return false, fmt.Errorf("%w: %s-%d: %w", ErrInvalidRequest, p.topic, p.id, err)
		}
	case r.leads:
		l, err := replication.NewLeader(replication.ReplicaID(self), stateOf(r), p.log.LogEndOffset(), kept, p.coreConfig(lagMax), time.Now())
		if err != nil {
			return false, fmt.Errorf("%w: %s-%d: lead at epoch %d: %w", ErrInvalidRequest, p.topic, p.id, r.LeaderEpoch, err)
		}
		c.leader, c.follower = l, nil
	case c.follower != nil && c.follower.Leader() == replication.ReplicaID(r.Leader) && c.followerEpoch(r.LeaderEpoch):
		return false, nil
	default:
		f, err := replication.NewFollower(replication.ReplicaID(self), stateOf(r), logEpochs(p.log), p.log.LogEndOffset(), kept)
		if err != nil {
			return false, fmt.Errorf("%w: %s-%d: follow at epoch %d: %w", ErrInvalidRequest, p.topic, p.id, r.LeaderEpoch, err)
		}
		c.leader, c.follower = nil, f
	}
	c.restored = -1 // the checkpoint serves the first core only
	return c.publishLocked(), nil
}

// followerEpoch reports whether the follower core is at leader epoch e.
func (c *replica) followerEpoch(e int32) bool { return c.follower.EpochQuery().LeaderEpoch == e }

// publishLocked stores the core's high watermark for lock-free readers and
// reports whether it moved up.
func (c *replica) publishLocked() bool {
	var hw int64
	switch {
	case c.leader != nil:
		hw = c.leader.HighWatermark()
	case c.follower != nil:
		hw = c.follower.HighWatermark()
	default:
		return false
	}
	return c.hw.Swap(hw) < hw
}

// replErr maps the core's errors onto the engine's.
func replErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replication.ErrNotEnoughReplicas):
		return fmt.Errorf("%w: %w", ErrNotEnoughReplicas, err)
	case errors.Is(err, replication.ErrNotEnoughReplicasAfterAppend):
		return fmt.Errorf("%w: %w", ErrNotEnoughReplicasAfterAppend, err)
	case errors.Is(err, replication.ErrFencedLeaderEpoch):
		return fmt.Errorf("%w: %w", ErrFencedLeaderEpoch, err)
	case errors.Is(err, replication.ErrUnknownLeaderEpoch):
		return fmt.Errorf("%w: %w", ErrUnknownLeaderEpoch, err)
	case errors.Is(err, replication.ErrOffsetOutOfRange):
		return fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err)
	case errors.Is(err, replication.ErrUnknownReplica):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return err
}

// checkProduce is the acks=all check before an append: the core's when it
// leads with followers, else the role's ISR against min.insync.replicas.
func (p *partition) checkProduce() error {
	c := &p.repl
	c.mu.Lock()
	if c.leader != nil {
		c.leader.SetConfig(p.coreConfig(c.lagMax))
		err := c.leader.CheckProduce()
		c.mu.Unlock()
		return replErr(err)
	}
	c.mu.Unlock()
	// lookup saw a role, and roles are never taken back to nil.
	if cfg, isr := p.config(), len(p.role.Load().ISR); int(cfg.MinInsyncReplicas) > isr {
		return fmt.Errorf("%w: %s-%d has %d in-sync replicas, min.insync.replicas is %d",
			ErrNotEnoughReplicas, p.topic, p.id, isr, cfg.MinInsyncReplicas)
	}
	return nil
}

// appended tells a leading core the log end after a local append (with an
// ISR of the leader alone the high watermark follows); produce wakes the
// parked operations after every append anyway.
func (p *partition) appended() {
	c := &p.repl
	if c.hw.Load() < 0 {
		return
	}
	c.mu.Lock()
	if c.leader != nil {
		c.leader.Appended(p.log.LogEndOffset())
		c.publishLocked()
	}
	c.mu.Unlock()
}

// commitState says whether an acks=all batch ending at last is committed,
// and with which error (ErrNotEnoughReplicasAfterAppend).
func (p *partition) commitState(last int64) (bool, error) {
	c := &p.repl
	if c.hw.Load() >= 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.leader != nil {
			c.leader.SetConfig(p.coreConfig(c.lagMax))
			done, err := c.leader.CheckCommit(last + 1)
			return done, replErr(err)
		}
	}
	return p.highWatermark() > last, nil
}

// propose sends prop to the controller through the hook, off every lock;
// a failure makes the core forget it (Refused), so a later Tick or Fetch
// proposes again.
func (e *Engine) propose(p *partition, prop *replication.Proposal) {
	hook := e.cfg.AlterPartitionHook
	if prop == nil || hook == nil {
		return
	}
	isr := int32s(prop.ISR)
	// The committed ISR stays what it is until this proposal is answered.
	c := &p.repl
	c.mu.Lock()
	shrink := c.leader != nil && len(isr) < len(c.leader.ISR())
	c.mu.Unlock()
	go func() {
		err := hook(p.topic, p.id, int32(prop.Leader), prop.LeaderEpoch, prop.PartitionEpoch, isr)
		switch {
		case err == nil && shrink:
			e.replStats.shrinks.Add(1)
			return
		case err == nil:
			e.replStats.expands.Add(1)
			return
		}
		e.replStats.refused.Add(1)
		e.cfg.Logf("spate: %s-%d: ISR change to %v at partition epoch %d not committed: %v", p.topic, p.id, isr, prop.PartitionEpoch, err)
		// The core forgets the proposal only after refusedBackoff: until
		// then it stays pending, so the next fetch does not propose the
		// same change again at once (a fenced follower that keeps fetching
		// drew ~57 refusals a second from its leader before).
		time.AfterFunc(refusedBackoff, func() {
			c.mu.Lock()
			moved := false
			if c.leader != nil {
				c.leader.Refused(prop)
				moved = c.publishLocked()
			}
			c.mu.Unlock()
			if moved {
				p.watchers.wake()
			}
		})
	}()
}

// refusedBackoff is how long a refused ISR change stays pending before the
// leader may propose again. A pending expansion counts its replica in the
// maximal ISR meanwhile, which only makes the high watermark wait for one
// replica more (safe); a pending shrink removes nobody until committed.
const refusedBackoff = 250 * time.Millisecond

// tickReplicas lets every leading core check its followers' lag.
func (e *Engine) tickReplicas(now time.Time) {
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			c := &p.repl
			if c.hw.Load() < 0 {
				continue
			}
			c.mu.Lock()
			var prop *replication.Proposal
			if c.leader != nil {
				prop = c.leader.Tick(now)
			}
			c.mu.Unlock()
			e.propose(p, prop)
		}
	}
}

// followerFetched records follower replica's fetch of p at offset, as of
// leader epoch epoch, in the leading core; it wakes what a higher high
// watermark completes and sends any ISR expansion.
func (e *Engine) followerFetched(p *partition, replicaID, epoch int32, offset int64, now time.Time) error {
	c := &p.repl
	c.mu.Lock()
	if c.leader == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s-%d: follower %d fetches, but this broker leads it with no follower", ErrNotLeader, p.topic, p.id, replicaID)
	}
	_, prop, err := c.leader.Fetch(replication.FetchRequest{Replica: replication.ReplicaID(replicaID), LeaderEpoch: epoch, Offset: offset}, now)
	moved := c.publishLocked()
	c.mu.Unlock()
	if moved {
		p.watchers.wake()
	}
	e.propose(p, prop)
	return replErr(err)
}

// AnswerEpochQuery answers follower replicaID's OffsetForLeaderEpoch for
// topic-partition, sent believing the leader is at leaderEpoch: the largest
// epoch <= epoch this leader's log knows and where it ends. Errors:
// ErrUnknownTopicOrPartition, ErrNotLeader, ErrFencedLeaderEpoch,
// ErrUnknownLeaderEpoch, ErrShuttingDown.
func (e *Engine) AnswerEpochQuery(replicaID int32, topic string, partition, leaderEpoch, epoch int32) (int32, int64, error) {
	if err := e.enter(); err != nil {
		return -1, -1, err
	}
	defer e.leave()
	p, err := e.lookup(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	c := &p.repl
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader == nil {
		return -1, -1, fmt.Errorf("%w: %s-%d: epoch query from %d, but this broker leads it with no follower", ErrNotLeader, topic, partition, replicaID)
	}
	q := replication.EpochQuery{Replica: replication.ReplicaID(replicaID), LeaderEpoch: leaderEpoch, Epoch: epoch}
	ans, err := c.leader.AnswerEpochQuery(q, logEpochs(p.log))
	return ans.Epoch, ans.EndOffset, replErr(err)
}

// FollowedPartition is one partition this broker follows and what its
// fetcher does next: an epoch query about QueryEpoch while Truncating,
// else a fetch from FetchOffset.
type FollowedPartition struct {
	Topic       string
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	Truncating  bool
	QueryEpoch  int32
	FetchOffset int64
	LogStart    int64 // the local log start (FollowLogStart moves it)
}

// Followed lists the partitions this broker follows (a leader elsewhere,
// more than one replica), in no particular order.
func (e *Engine) Followed() []FollowedPartition {
	var out []FollowedPartition
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			c := &p.repl
			if c.hw.Load() < 0 || p.closed.Load() {
				continue
			}
			c.mu.Lock()
			if f := c.follower; f != nil {
				q := f.EpochQuery()
				out = append(out, FollowedPartition{Topic: p.topic, Partition: p.id, Leader: int32(f.Leader()), LeaderEpoch: q.LeaderEpoch,
					Truncating: f.Truncating(), QueryEpoch: q.Epoch, FetchOffset: p.log.LogEndOffset(), LogStart: p.log.LogStartOffset()})
			}
			c.mu.Unlock()
		}
	}
	return out
}

// hosted returns a partition hosted here whatever its role.
func (e *Engine) hosted(name string, id int32) (*partition, error) {
	t := (*e.topics.Load())[name]
	if t == nil || id < 0 || int(id) >= len(t.partitions) || t.partitions[id] == nil {
		return nil, fmt.Errorf("%w: %s-%d is not hosted on broker %d", ErrUnknownTopicOrPartition, name, id, e.cfg.BrokerID)
	}
	return t.partitions[id], nil
}

// follower runs fn on p's follower core at leaderEpoch under p.mu and the
// core's lock; a core gone or at another epoch is ErrNotLeader (stale
// work: the fetcher starts over from Followed).
func (e *Engine) follower(topic string, id, leaderEpoch int32, fn func(p *partition, f *replication.Follower) error) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	p, err := e.hosted(topic, id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return fmt.Errorf("%w: %s-%d is closed", ErrUnknownTopicOrPartition, topic, id)
	}
	c := &p.repl
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.follower == nil || !c.followerEpoch(leaderEpoch) {
		return fmt.Errorf("%w: %s-%d is not followed at leader epoch %d here", ErrNotLeader, topic, id, leaderEpoch)
	}
	err = fn(p, c.follower)
	c.publishLocked()
	return err
}

// TruncateFollower applies the leader's answer (epoch, end) to the
// follower's epoch query at leaderEpoch: it truncates the log and its
// checkpoint as replication.TruncationFor says. Errors: ErrNotLeader (no
// longer followed at that epoch), ErrInvalidRequest (an answer the core
// refuses), ErrStorage.
func (e *Engine) TruncateFollower(topic string, id, leaderEpoch, epoch int32, end int64) error {
	return e.follower(topic, id, leaderEpoch, func(p *partition, f *replication.Follower) error {
		t, err := f.OnEpochAnswer(replication.EpochEndOffset{Epoch: epoch, EndOffset: end}, logEpochs(p.log), p.log.LogEndOffset())
		if err != nil {
			return fmt.Errorf("%w: %s-%d: %w", ErrInvalidRequest, p.topic, p.id, err)
		}
		if leo := p.log.LogEndOffset(); t.To < leo {
			e.cfg.Logf("spate: %s-%d: truncating from %d to %d: leader %d says epoch %d ends at %d", p.topic, p.id, leo, t.To, f.Leader(), epoch, end)
		}
		if err := p.log.TruncateTo(t.To); err != nil {
			return p.storageErr("truncate", t.To, err)
		}
		if t.To < p.log.LogEndOffset() {
			// Unreachable: TruncateTo cuts at or below t.To.
			return fmt.Errorf("%w: %s-%d: log ends at %d after truncating to %d", ErrStorage, p.topic, p.id, p.log.LogEndOffset(), t.To)
		}
		// The producer state may name batches that are gone: replay the
		// log that stays, as at open.
		p.producers = producerStates{}
		return p.rebuildProducers()
	})
}

// RestartFollower handles a follower, at leaderEpoch, whose log ends below
// its leader's log start logStart (the leader answered OFFSET_OUT_OF_RANGE
// after deleting records or retention): what it lacks is gone, so, as
// Kafka's follower does, it empties its log to start at logStart and
// fetches from there. A log ending at or past logStart is left alone (the
// fetch was out of range above the leader's end: truncation by epoch
// handles that). Errors: ErrNotLeader (no longer followed at that epoch),
// ErrStorage.
func (e *Engine) RestartFollower(topic string, id, leaderEpoch int32, logStart int64) error {
	return e.follower(topic, id, leaderEpoch, func(p *partition, f *replication.Follower) error {
		end := p.log.LogEndOffset()
		if end >= logStart {
			return nil
		}
		e.cfg.Logf("spate: %s-%d: log ends at %d, below leader %d's log start %d: emptying it to start there", p.topic, p.id, end, f.Leader(), logStart)
		if err := p.log.TruncateFullyAndStartAt(logStart); err != nil {
			return p.storageErr("restart", logStart, err)
		}
		p.producers = producerStates{} // nothing of the log stays
		return nil
	})
}

// FollowLogStart moves the log start of the partition followed at
// leaderEpoch up to the leader's, logStart, capped at the local log end
// (Kafka's follower does the same with the log start its fetches carry), so
// records the leader deleted (DeleteRecords, retention) go from every
// replica and a later leader does not serve them again. Errors:
// ErrNotLeader (no longer followed at that epoch), ErrStorage, ErrDiskFull.
func (e *Engine) FollowLogStart(topic string, id, leaderEpoch int32, logStart int64) error {
	return e.follower(topic, id, leaderEpoch, func(p *partition, _ *replication.Follower) error {
		to := min(logStart, p.log.LogEndOffset())
		if to <= p.log.LogStartOffset() {
			return nil
		}
		if err := p.log.DeleteRecordsBefore(to); err != nil {
			return p.storageErr("follow the leader's log start", to, err)
		}
		return nil
	})
}

// AppendFollower appends the batches of a fetch answer verbatim to the
// partition followed at leaderEpoch and takes the leader's high watermark
// hw. Batches wholly below the log end are skipped and a batch cut short at
// the end of records is ignored; any other batch must start at the log end,
// pass its CRC and carry no leader epoch older than the checkpoint's
// newest. It returns the bytes appended; under flush.policy=always the
// log's syncer starts on them at once, and the caller waits for it with
// SyncFollower before its next fetch. Errors: ErrNotLeader (no longer
// followed at that epoch), ErrCorruptMessage, ErrStorage, ErrDiskFull.
func (e *Engine) AppendFollower(topic string, id, leaderEpoch int32, records []byte, hw int64) (int, error) {
	n := 0
	err := e.follower(topic, id, leaderEpoch, func(p *partition, f *replication.Follower) error {
		var err error
		n, err = p.appendVerbatimLocked(records)
		f.OnFetched(hw, p.log.LogEndOffset())
		return err
	})
	return n, err
}

// SyncFollower returns once what AppendFollower appended to a followed
// partition is fdatasync'd, under flush.policy=always (at once otherwise).
// A follower calls it for every partition of a fetch answer before its next
// fetch, which reports its log ends to the leader: the leader's high
// watermark then counts only records on the disk of every ISR member, so an
// acks=all record survives a power loss of every machine at once and a
// restart under always is never lossy (lossy.go). The partitions' syncers
// were started by their appends, so their fdatasyncs overlap. Errors:
// ErrUnknownTopicOrPartition, ErrStorage, ErrDiskFull.
func (e *Engine) SyncFollower(topic string, id int32) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	p, err := e.hosted(topic, id)
	if err != nil || !p.committedOnFlush {
		return err
	}
	if err := p.log.Flush(); err != nil {
		return p.storageErr("sync fetched batches", p.log.LogEndOffset(), err)
	}
	return nil
}

// appendVerbatimLocked appends fetched batches as they are; p.mu held.
func (p *partition) appendVerbatimLocked(records []byte) (int, error) {
	n := 0
	epochs := p.log.Epochs()
	for pos := 0; pos < len(records); {
		b, err := record.Parse(records[pos:])
		if errors.Is(err, record.ErrShort) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%w: %s-%d: fetched batch at byte %d: %w", ErrCorruptMessage, p.topic, p.id, pos, err)
		}
		pos += b.Size()
		if b.LastOffset() < p.log.LogEndOffset() {
			continue
		}
		if err := b.ValidateStored(); err != nil {
			return n, fmt.Errorf("%w: %s-%d: fetched batch at offset %d: %w", ErrCorruptMessage, p.topic, p.id, b.BaseOffset(), err)
		}
		if end := p.log.LogEndOffset(); b.BaseOffset() < end && p.log.LogStartOffset() == end {
			// An empty log started at the leader's log start, which lies
			// inside this batch (RestartFollower): start at the batch, as
			// Kafka's follower does, so it is stored whole.
			if err := p.log.TruncateFullyAndStartAt(b.BaseOffset()); err != nil {
				return n, p.storageErr("restart", b.BaseOffset(), err)
			}
		}
		latest, _ := epochs.Latest()
		switch end := p.log.LogEndOffset(); {
		case b.BaseOffset() != end:
			return n, fmt.Errorf("%w: %s-%d: fetched batch [%d, %d] does not start at the log end %d", ErrCorruptMessage, p.topic, p.id, b.BaseOffset(), b.LastOffset(), end)
		case b.PartitionLeaderEpoch() < latest:
			// A log that truncated right never gets an older epoch's batch.
			return n, fmt.Errorf("%w: %s-%d: fetched batch at offset %d has leader epoch %d, the checkpoint is at %d", ErrCorruptMessage, p.topic, p.id, b.BaseOffset(), b.PartitionLeaderEpoch(), latest)
		}
		if b.PartitionLeaderEpoch() > latest {
			if err := epochs.Assign(b.PartitionLeaderEpoch(), b.BaseOffset()); err != nil {
				return n, fmt.Errorf("%w: %s-%d: record leader epoch %d from offset %d: %w", ErrStorage, p.topic, p.id, b.PartitionLeaderEpoch(), b.BaseOffset(), err)
			}
		}
		if err := p.log.AppendVerbatim(b); err != nil {
			return n, p.storageErr("replicate", b.BaseOffset(), err)
		}
		if b.ProducerID() >= 0 {
			p.producers.record(b, b.BaseOffset(), time.Now().UnixMilli())
		}
		n += b.Size()
	}
	return n, nil
}

// ReplicaEnd is the state of one hosted partition's replica, for tests and
// tools comparing replicas: its log start and end, high watermark, and the
// CRC of every batch from the log start to the log end in offset order.
type ReplicaEnd struct {
	LogStart, LogEnd, HighWatermark int64
	BatchCRCs                       []uint32
}

// DescribeReplica reads topic-partition's local replica whatever its role.
// Errors: ErrUnknownTopicOrPartition, ErrStorage, ErrShuttingDown.
func (e *Engine) DescribeReplica(topic string, partition int32) (ReplicaEnd, error) {
	if err := e.enter(); err != nil {
		return ReplicaEnd{}, err
	}
	defer e.leave()
	p, err := e.hosted(topic, partition)
	if err != nil {
		return ReplicaEnd{}, err
	}
	out := ReplicaEnd{LogStart: p.log.LogStartOffset(), LogEnd: p.log.LogEndOffset(), HighWatermark: p.highWatermark()}
	for off := out.LogStart; off < out.LogEnd; {
		fr, err := p.log.Read(off, 1<<20, out.LogEnd)
		if err != nil {
			return out, p.storageErr("describe", off, err)
		}
		data := slices.Clone(fr.Bytes())
		fr.Release()
		if len(data) == 0 {
			break
		}
		for pos := 0; pos < len(data); {
			b, err := record.Parse(data[pos:])
			if err != nil {
				break
			}
			out.BatchCRCs = append(out.BatchCRCs, b.CRC())
			off = b.NextOffset()
			pos += b.Size()
		}
	}
	return out, nil
}
