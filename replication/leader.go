package replication

import (
	"fmt"
	"slices"
	"time"
)

// ReplicaID names a replica by its broker id.
type ReplicaID int32

// NoLeader is the leader of an offline partition (cluster.NoLeader).
const NoLeader ReplicaID = -1

// PartitionState is what the controller committed for a partition: its
// leader, leader epoch, partition epoch (moved by every change, the
// AlterPartition version of KIP-497), replicas and ISR.
type PartitionState struct {
	Leader         ReplicaID
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []ReplicaID
	ISR            []ReplicaID
}

func (s PartitionState) validate() error {
	if s.Leader != NoLeader && !slices.Contains(s.ISR, s.Leader) {
		return fmt.Errorf("%w: leader %d not in ISR %v", ErrInvalidState, s.Leader, s.ISR)
	}
	for i, id := range s.ISR {
		if !slices.Contains(s.Replicas, id) || slices.Contains(s.ISR[:i], id) {
			return fmt.Errorf("%w: ISR %v is not a set of replicas %v", ErrInvalidState, s.ISR, s.Replicas)
		}
	}
	return nil
}

// Config holds the topic settings the ISR core follows.
type Config struct {
	// MinInsyncReplicas is min.insync.replicas: the smallest ISR that may
	// acknowledge an acks=all produce. Zero means Kafka's default, 1; a
	// value above the replica count counts as the replica count.
	MinInsyncReplicas int
	// ReplicaLagTimeMax is replica.lag.time.max.ms: how long a follower may
	// go without catching up before the leader proposes to drop it from
	// the ISR. Zero means Kafka's default, 30 s.
	ReplicaLagTimeMax time.Duration
}

func (c Config) withDefaults() Config {
	if c.MinInsyncReplicas <= 0 {
		c.MinInsyncReplicas = 1
	}
	if c.ReplicaLagTimeMax <= 0 {
		c.ReplicaLagTimeMax = 30 * time.Second
	}
	return c
}

// Proposal is an AlterPartition request: the leader at LeaderEpoch asks
// the controller to set the ISR, computed from the state at
// PartitionEpoch. The controller refuses it unless both epochs are
// current; the leader counts it only once committed (KIP-497). The Leader
// keeps the proposals it returns: callers read them, never change them.
type Proposal struct {
	Leader         ReplicaID
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []ReplicaID
}

// FetchRequest is a follower's fetch: it holds [0, Offset) identical to the
// leader's log (it truncated first) and wants what follows.
type FetchRequest struct {
	Replica     ReplicaID
	LeaderEpoch int32
	Offset      int64
}

// EpochQuery is a follower's OffsetForLeaderEpoch request: where does
// Epoch (or the largest earlier epoch the leader knows) end?
type EpochQuery struct {
	Replica     ReplicaID
	LeaderEpoch int32 // the epoch of the leader the follower believes in
	Epoch       int32
}

// followerState is the leader's view of one follower.
type followerState struct {
	// logEnd is the offset of its last fetch at this leader epoch, -1
	// until it fetches: Kafka's unknown offset, which holds the high
	// watermark back.
	logEnd int64
	// leaderEndAtLastFetch and lastFetch are the leader's log end and the
	// time at its previous fetch.
	leaderEndAtLastFetch int64
	lastFetch            time.Time
	// lastCaughtUp is the last time the follower was known to hold all
	// the leader held; zero for never.
	lastCaughtUp time.Time
}

// Leader is the ISR core of a partition's leader: it tracks each follower's
// log end and last caught-up time, keeps the high watermark, and says when
// to ask the controller for an ISR change. It does no I/O and reads no
// clock; calls come from one goroutine (the partition's owner serializes
// them). The rules are in the package documentation.
type Leader struct {
	id             ReplicaID
	cfg            Config
	leaderEpoch    int32
	partitionEpoch int32
	epochStart     int64
	replicas       []ReplicaID
	isr            []ReplicaID // committed by the controller
	pending        *Proposal   // sent, not yet committed or refused
	logEnd         int64
	highWatermark  int64
	followers      map[ReplicaID]*followerState
	// started is when this leader began (NewLeader's now): the lag of a
	// follower never caught up counts from it.
	started time.Time
}

// NewLeader makes replica id the leader of state, whose local log ends at
// logEnd with high watermark hw (the one it kept as a follower, at most
// logEnd). Before serving, the caller assigns EpochStart() in its epoch
// checkpoint. ISR members count as caught up at now, so they get a full
// lag period to fetch; the others never caught up. The high watermark
// does not move until every ISR member has fetched at this epoch.
func NewLeader(id ReplicaID, state PartitionState, logEnd, hw int64, cfg Config, now time.Time) (*Leader, error) {
	if err := state.validate(); err != nil {
		return nil, err
	}
	if state.Leader != id {
		return nil, fmt.Errorf("%w: replica %d asked to lead a partition led by %d at epoch %d", ErrNotLeader, id, state.Leader, state.LeaderEpoch)
	}
	l := &Leader{
		id:             id,
		cfg:            cfg.withDefaults(),
		leaderEpoch:    state.LeaderEpoch,
		partitionEpoch: state.PartitionEpoch,
		epochStart:     logEnd,
		replicas:       slices.Clone(state.Replicas),
		isr:            slices.Clone(state.ISR),
		logEnd:         logEnd,
		highWatermark:  min(max(hw, 0), logEnd),
		followers:      make(map[ReplicaID]*followerState),
		started:        now,
	}
	for _, r := range l.replicas {
		if r == id {
			continue
		}
		f := &followerState{logEnd: -1, leaderEndAtLastFetch: -1}
		if slices.Contains(l.isr, r) {
			f.lastCaughtUp = now
		}
		l.followers[r] = f
	}
	l.advanceHighWatermark()
	return l, nil
}

// FollowerLag is how far one follower is behind its leader.
type FollowerLag struct {
	Replica ReplicaID
	// Records is the leader's log end minus the follower's last fetch
	// offset at this leader epoch (the whole log end before its first).
	Records int64
	// Time is how long the follower has not held everything the leader
	// held: zero while it does, else since it last did (or since this
	// leader began, if it never did).
	Time time.Duration
}

// Lag returns each follower's lag as of now, in replica order.
func (l *Leader) Lag(now time.Time) []FollowerLag {
	out := make([]FollowerLag, 0, len(l.followers))
	for _, r := range l.replicas {
		f := l.followers[r]
		if f == nil {
			continue
		}
		lag := FollowerLag{Replica: r, Records: l.logEnd - max(f.logEnd, 0)}
		if f.logEnd != l.logEnd {
			lag.Time = max(now.Sub(maxTime(f.lastCaughtUp, l.started)), 0)
		}
		out = append(out, lag)
	}
	return out
}

// SetConfig replaces the topic settings the leader follows (a topic's
// min.insync.replicas changed); the next check uses them.
func (l *Leader) SetConfig(cfg Config) { l.cfg = cfg.withDefaults() }

// HighWatermark returns the offset below which every record is committed.
func (l *Leader) HighWatermark() int64 { return l.highWatermark }

// LogEnd returns the leader's log end offset as last reported.
func (l *Leader) LogEnd() int64 { return l.logEnd }

// LeaderEpoch returns the epoch this leader leads at.
func (l *Leader) LeaderEpoch() int32 { return l.leaderEpoch }

// EpochStart returns the checkpoint entry this leader's epoch adds: its
// epoch at the log end it was elected with. The caller assigns it before
// the first append or answer.
func (l *Leader) EpochStart() EpochStart {
	return EpochStart{Epoch: l.leaderEpoch, StartOffset: l.epochStart}
}

// ISR returns the committed ISR (a copy).
func (l *Leader) ISR() []ReplicaID { return slices.Clone(l.isr) }

// Pending returns the proposal sent and not yet answered, or nil. The
// caller resends it after a lost connection to the controller.
func (l *Leader) Pending() *Proposal { return l.pending }

// maximalISR is the ISR the high watermark and acks=all wait for while a
// change is in flight (KIP-497): the committed ISR plus any replica a
// pending expansion adds. A pending shrink removes nobody until committed,
// so a leader whose shrink is refused or never answered cannot advance.
func (l *Leader) maximalISR() []ReplicaID {
	if l.pending == nil {
		return l.isr
	}
	out := slices.Clone(l.isr)
	for _, r := range l.pending.ISR {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Appended tells the leader its log now ends at logEnd (after a produce).
// With an ISR of just the leader, the high watermark follows at once.
func (l *Leader) Appended(logEnd int64) {
	l.logEnd = max(l.logEnd, logEnd)
	l.advanceHighWatermark()
}

// advanceHighWatermark sets the high watermark to the smallest log end of
// the maximal ISR, the leader's own included, if that is higher. A member
// that has not fetched at this epoch (log end -1) holds it where it is.
//
// Invariant: the high watermark never decreases during a leader's term and
// is at most the log end of every maximal-ISR member that has fetched.
func (l *Leader) advanceHighWatermark() {
	hw := l.logEnd
	for _, r := range l.maximalISR() {
		if r == l.id {
			continue
		}
		f := l.followers[r]
		if f == nil || f.logEnd < 0 {
			return
		}
		hw = min(hw, f.logEnd)
	}
	l.highWatermark = max(l.highWatermark, hw)
}

// checkEpoch compares a request's leader epoch with this leader's.
func (l *Leader) checkEpoch(from ReplicaID, epoch int32) error {
	switch {
	case epoch < l.leaderEpoch:
		return fmt.Errorf("%w: replica %d at leader epoch %d, leader %d is at %d", ErrFencedLeaderEpoch, from, epoch, l.id, l.leaderEpoch)
	case epoch > l.leaderEpoch:
		return fmt.Errorf("%w: replica %d at leader epoch %d, leader %d is at %d", ErrUnknownLeaderEpoch, from, epoch, l.id, l.leaderEpoch)
	}
	return nil
}

// AnswerEpochQuery answers a follower's OffsetForLeaderEpoch from the
// leader's checkpoint own (which includes EpochStart()).
func (l *Leader) AnswerEpochQuery(q EpochQuery, own Epochs) (EpochEndOffset, error) {
	if err := l.checkEpoch(q.Replica, q.LeaderEpoch); err != nil {
		return undefinedEpochEnd, err
	}
	return own.EndOffsetFor(q.Epoch, l.logEnd), nil
}

// Fetch records a follower's fetch at now: its log end is req.Offset, and
// it caught up if that reaches the leader's log end now, or the leader's
// log end at its previous fetch (then it was caught up as of that fetch:
// Kafka's rule, so a follower that keeps up with a busy leader, always one
// fetch behind, stays in sync). It returns the high watermark to send back
// and, when the follower qualifies to join the ISR and no change is in
// flight, the proposal to send the controller. The caller sends the
// records [req.Offset, LogEnd()).
func (l *Leader) Fetch(req FetchRequest, now time.Time) (hw int64, p *Proposal, err error) {
	f := l.followers[req.Replica]
	if f == nil {
		return 0, nil, fmt.Errorf("%w: replica %d fetching from leader %d of %v", ErrUnknownReplica, req.Replica, l.id, l.replicas)
	}
	if err := l.checkEpoch(req.Replica, req.LeaderEpoch); err != nil {
		return 0, nil, err
	}
	if req.Offset < 0 || req.Offset > l.logEnd {
		return 0, nil, fmt.Errorf("%w: replica %d fetching at %d, leader %d log ends at %d", ErrOffsetOutOfRange, req.Replica, req.Offset, l.id, l.logEnd)
	}
	switch {
	case req.Offset >= l.logEnd:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, now)
	case req.Offset >= f.leaderEndAtLastFetch && f.leaderEndAtLastFetch >= 0:
		f.lastCaughtUp = maxTime(f.lastCaughtUp, f.lastFetch)
	}
	f.logEnd = req.Offset
	f.leaderEndAtLastFetch = l.logEnd
	f.lastFetch = now
	p = l.maybeExpand(req.Replica)
	l.advanceHighWatermark()
	return l.highWatermark, p, nil
}

// maybeExpand proposes adding follower r to the ISR once it reached the
// high watermark and the start of this leader's epoch (so it truncated
// against this leader and holds everything committed), if no change is in
// flight. The proposal counts at once in the maximal ISR: waiting for one
// more replica is always safe.
func (l *Leader) maybeExpand(r ReplicaID) *Proposal {
	if l.pending != nil || slices.Contains(l.isr, r) {
		return nil
	}
	end := l.followers[r].logEnd
	if end < l.highWatermark || end < l.epochStart {
		return nil
	}
	return l.propose(append(slices.Clone(l.isr), r))
}

func (l *Leader) propose(isr []ReplicaID) *Proposal {
	l.pending = &Proposal{Leader: l.id, LeaderEpoch: l.leaderEpoch, PartitionEpoch: l.partitionEpoch, ISR: isr}
	return l.pending
}

// Tick checks the followers' lag at now and returns a shrink proposal
// when no change is in flight and some ISR follower is out of sync: its
// log end is not the leader's and it has not caught up within
// ReplicaLagTimeMax. The ISR may shrink to the leader alone; acks=all
// produces are then refused by min.insync.replicas, not by the ISR rule.
func (l *Leader) Tick(now time.Time) *Proposal {
	if l.pending != nil {
		return nil
	}
	var keep []ReplicaID
	for _, r := range l.isr {
		if r == l.id || l.inSync(l.followers[r], now) {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(l.isr) {
		return nil
	}
	return l.propose(keep)
}

func (l *Leader) inSync(f *followerState, now time.Time) bool {
	return f.logEnd == l.logEnd || now.Sub(f.lastCaughtUp) <= l.cfg.ReplicaLagTimeMax
}

// Refused tells the leader the controller refused p, the pointer Fetch,
// Tick or Pending returned (a stale partition or leader epoch): the leader forgets it and keeps the committed ISR, which
// may let the high watermark pass a replica a refused expansion added. A
// newer state reaches it through Update; a deposed leader gets
// ErrNotLeader there.
func (l *Leader) Refused(p *Proposal) {
	if l.pending == p {
		l.pending = nil
		l.advanceHighWatermark()
	}
}

// Update applies a partition state from the controller: the answer to a
// proposal or a change the controller made itself (fencing a replica). A
// state with an older leader epoch, or not newer than the partition epoch
// the leader has, is ignored. A state naming another leader or a newer
// leader epoch returns ErrNotLeader: the caller stops leading. Otherwise
// the leader adopts its replicas and ISR, forgets any pending proposal
// (it was based on an older epoch) and may advance the high watermark.
func (l *Leader) Update(state PartitionState) error {
	if err := state.validate(); err != nil {
		return err
	}
	if state.LeaderEpoch < l.leaderEpoch || (state.LeaderEpoch == l.leaderEpoch && state.PartitionEpoch <= l.partitionEpoch) {
		return nil
	}
	if state.Leader != l.id || state.LeaderEpoch != l.leaderEpoch {
		return fmt.Errorf("%w: replica %d led at epoch %d; now %d leads at %d", ErrNotLeader, l.id, l.leaderEpoch, state.Leader, state.LeaderEpoch)
	}
	l.partitionEpoch = state.PartitionEpoch
	l.replicas = slices.Clone(state.Replicas)
	l.isr = slices.Clone(state.ISR)
	l.pending = nil
	for r := range l.followers {
		if !slices.Contains(l.replicas, r) {
			delete(l.followers, r)
		}
	}
	for _, r := range l.replicas {
		if r != l.id && l.followers[r] == nil {
			l.followers[r] = &followerState{logEnd: -1, leaderEndAtLastFetch: -1}
		}
	}
	l.advanceHighWatermark()
	return nil
}

// CheckProduce is the acks=all check before an append: the committed ISR
// must have at least min.insync.replicas members (capped at the replica
// count), else ErrNotEnoughReplicas and nothing is appended.
func (l *Leader) CheckProduce() error {
	if n := l.minInsync(); len(l.isr) < n {
		return fmt.Errorf("%w: ISR %v of leader %d at epoch %d has %d, min.insync.replicas is %d", ErrNotEnoughReplicas, l.isr, l.id, l.leaderEpoch, len(l.isr), n)
	}
	return nil
}

func (l *Leader) minInsync() int { return min(l.cfg.MinInsyncReplicas, len(l.replicas)) }

// CheckCommit says whether an acks=all produce whose batch ends at end
// (its last offset + 1) is complete: done once end <= HighWatermark(),
// with ErrNotEnoughReplicasAfterAppend if the maximal ISR is then smaller
// than min.insync.replicas. Not done means wait for more fetches.
func (l *Leader) CheckCommit(end int64) (done bool, err error) {
	if end > l.highWatermark {
		return false, nil
	}
	if isr := l.maximalISR(); len(isr) < l.minInsync() {
		return true, fmt.Errorf("%w: batch ending at %d is committed but ISR %v of leader %d has %d, min.insync.replicas is %d", ErrNotEnoughReplicasAfterAppend, end, isr, l.id, len(isr), l.minInsync())
	}
	return true, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
