package engine

// Behavior: GroupCoordinator is the thin driver around the deterministic
// group state machine (group.go, groupjoin.go, offsets.go). Each call takes
// the coordinator lock, runs the state machine, releases the lock, issues
// the writes it asked for to __consumer_offsets through Engine.Produce
// (acks=-1, so "written" means committed under the topic's flush policy),
// and then runs the answers. A write's completion re-enters the state
// machine the same way. Writes are issued in the order the state machine
// produced them: one caller at a time drains the queue.
//
// __consumer_offsets is created on first use (FindCoordinator or the first
// write) with OffsetsTopicPartitions partitions, cleanup.policy=compact
// when the engine supports it and otherwise delete with unlimited retention
// (retention.ms=-1, retention.bytes=-1), so nothing is ever lost to
// retention. OpenGroupCoordinator reloads every group from it.
//
// Time: every call takes now; a background goroutine calls Tick every
// TickInterval (none when it is 0: tests drive Tick themselves).

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/record"
)

// GroupConfig configures the group coordinator. Start from
// DefaultGroupConfig.
type GroupConfig struct {
	// OffsetsTopicPartitions is the partition count __consumer_offsets is
	// created with (Kafka's offsets.topic.num.partitions, 50). An existing
	// topic keeps its count: changing it would move groups to other
	// partitions.
	OffsetsTopicPartitions int32
	// OffsetsTopicSegmentBytes is the topic's segment.bytes (Kafka's
	// offsets.topic.segment.bytes, 100 MiB): smaller than a data topic's so
	// that compaction, which never touches the active segment, keeps the
	// reload at open short.
	OffsetsTopicSegmentBytes int64
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (Kafka's group.min/max.session.timeout.ms: 6 s and 30 min).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay holds the first rebalance of an Empty group so
	// that members starting together join one generation (Kafka's
	// group.initial.rebalance.delay.ms, 3 s). It never exceeds the group's
	// rebalance timeout.
	InitialRebalanceDelay time.Duration
	// MaxGroupSize bounds members per group; 0 is unlimited (Kafka's
	// group.max.size defaults to 2^31-1, unlimited in practice).
	MaxGroupSize int
	// CommitTimeout bounds the wait for a write to __consumer_offsets
	// (Kafka's offsets.commit.timeout.ms, 5 s).
	CommitTimeout time.Duration
	// TickInterval is how often the background goroutine expires sessions
	// and rebalance timeouts; 0 starts no goroutine.
	TickInterval time.Duration
	// OffsetsRetention is how long committed offsets outlive their group's
	// use (Kafka's offsets.retention.minutes, 7 days; 0 keeps them
	// forever): a group that has been Empty this long loses its offsets
	// and its metadata; offsets committed without membership expire this
	// long after their commit. Checked every OffsetsRetentionCheckInterval
	// (offsets.retention.check.interval.ms, 10 min).
	OffsetsRetention, OffsetsRetentionCheckInterval time.Duration
}

// DefaultGroupConfig returns Kafka's defaults and a 100 ms tick (sessions
// expire at most one tick late).
func DefaultGroupConfig() GroupConfig {
	return GroupConfig{
		OffsetsTopicPartitions:        50,
		OffsetsTopicSegmentBytes:      100 << 20,
		MinSessionTimeout:             6 * time.Second,
		MaxSessionTimeout:             30 * time.Minute,
		InitialRebalanceDelay:         3 * time.Second,
		CommitTimeout:                 5 * time.Second,
		TickInterval:                  100 * time.Millisecond,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
	}
}

func (c GroupConfig) validate() error {
	switch {
	case c.OffsetsTopicPartitions < 1 || c.OffsetsTopicPartitions > MaxPartitionsPerTopic:
		return fmt.Errorf("%w: OffsetsTopicPartitions %d outside [1, %d]", ErrInvalidConfig, c.OffsetsTopicPartitions, MaxPartitionsPerTopic)
	case c.OffsetsTopicSegmentBytes <= 0:
		return fmt.Errorf("%w: OffsetsTopicSegmentBytes %d", ErrInvalidConfig, c.OffsetsTopicSegmentBytes)
	case c.MinSessionTimeout <= 0 || c.MaxSessionTimeout < c.MinSessionTimeout:
		return fmt.Errorf("%w: session timeout range [%v, %v]", ErrInvalidConfig, c.MinSessionTimeout, c.MaxSessionTimeout)
	case c.InitialRebalanceDelay < 0 || c.MaxGroupSize < 0 || c.CommitTimeout <= 0 || c.TickInterval < 0 ||
		c.OffsetsRetention < 0 || c.OffsetsRetentionCheckInterval < 0:
		return fmt.Errorf("%w: negative group delay, size or interval, or a zero commit timeout", ErrInvalidConfig)
	}
	return nil
}

// GroupCoordinator coordinates every consumer group of this broker and
// stores their offsets. Its methods are safe for concurrent use. Callbacks
// (done) run exactly once, with no lock held, either inside the call or
// later from the goroutine that completed a write or ran Tick.
//
// Lock order: mu is never held while calling into the Engine; the engine's
// done callbacks take it with no engine lock held (see doc.go).
type GroupCoordinator struct {
	e   *Engine
	cfg GroupConfig

	topicMu    sync.Mutex   // serializes creating the offsets topic
	partitions atomic.Int32 // its partition count once known
	// clustered: the engine is in cluster mode, and this coordinator
	// serves only the groups of the __consumer_offsets partitions this
	// broker leads (groupcluster.go).
	clustered bool

	mu struct {
		sync.Mutex
		core    *groupCore
		queue   []groupWrite // writes not yet issued, in order
		writing bool         // a caller is issuing the queue
		closed  bool
		// owned holds the __consumer_offsets partitions whose groups are
		// loaded here (cluster mode only).
		owned map[int32]bool
	}

	stop      chan struct{}
	tickers   sync.WaitGroup
	closeOnce sync.Once
}

// OpenGroupCoordinator loads every group from __consumer_offsets (if the
// topic exists) and starts the tick goroutine. In cluster mode it loads
// only the partitions this broker leads, and the engine tells it when that
// changes (groupcluster.go). Close it before the Engine.
func OpenGroupCoordinator(e *Engine, cfg GroupConfig) (*GroupCoordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &GroupCoordinator{e: e, cfg: cfg, stop: make(chan struct{}), clustered: e.cfg.Clustered}
	c.mu.core = newGroupCore(cfg, newMemberID)
	c.partitions.Store(cfg.OffsetsTopicPartitions)
	if c.clustered {
		if err := c.register(); err != nil {
			return nil, err
		}
	} else if t := c.offsetsTopic(); t != nil {
		if err := c.mu.core.loadGroups(slices.Collect(t.hosted()), time.Now()); err != nil {
			return nil, err
		}
	}
	if cfg.TickInterval > 0 {
		c.tickers.Add(1)
		go c.tickLoop()
	}
	return c, nil
}

// SkippedOnLoad is how many records of __consumer_offsets the load at open
// skipped because their key version is unknown to this build (written by a
// newer version, or by hand before clients were kept out of the topic).
func (c *GroupCoordinator) SkippedOnLoad() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.core.skipped
}

// newMemberID is Kafka's form: the client id, a dash and a random suffix.
func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand's documented guarantee)
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b[:])
}

func (c *GroupCoordinator) tickLoop() {
	defer c.tickers.Done()
	t := time.NewTicker(c.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.Tick(now)
		}
	}
}

// Close stops the tick goroutine and answers every parked join and sync
// with ErrNotCoordinator; later calls fail with ErrNotCoordinator. Writes
// already issued complete normally.
func (c *GroupCoordinator) Close() {
	c.closeOnce.Do(func() {
		c.e.coordinator.CompareAndSwap(c, nil)
		close(c.stop)
		c.tickers.Wait()
		c.run(func(o *outbox) error {
			c.mu.core.shutdown(o)
			c.mu.closed = true
			return nil
		})
	})
}

// run runs op on the state machine under the lock, then issues the writes
// and runs the answers it produced. It returns op's error, or
// ErrNotCoordinator once closed.
func (c *GroupCoordinator) run(op func(o *outbox) error) error {
	var o outbox
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return ErrNotCoordinator
	}
	err := op(&o)
	c.mu.queue = append(c.mu.queue, o.writes...)
	c.mu.Unlock()
	c.issueWrites()
	for _, a := range o.answers {
		a()
	}
	return err
}

// complete feeds a write's outcome back into the state machine. Unlike
// run it works after Close, so that writes issued before Close answer.
func (c *GroupCoordinator) complete(w groupWrite, base int64, err error) {
	var o outbox
	c.mu.Lock()
	w.then(&o, base, err)
	c.mu.queue = append(c.mu.queue, o.writes...)
	c.mu.Unlock()
	c.issueWrites()
	for _, a := range o.answers {
		a()
	}
}

// issueWrites issues queued writes in order. Only one caller issues at a
// time; a caller that finds another one at work leaves its writes to it.
func (c *GroupCoordinator) issueWrites() {
	for {
		c.mu.Lock()
		if c.mu.writing || len(c.mu.queue) == 0 {
			c.mu.Unlock()
			return
		}
		c.mu.writing = true
		q := c.mu.queue
		c.mu.queue = nil
		ts := c.mu.core.now.UnixMilli()
		c.mu.Unlock()
		for _, w := range q {
			c.issue(w, ts)
		}
		c.mu.Lock()
		c.mu.writing = false
		c.mu.Unlock()
	}
}

// issue appends one write's records as one batch (so a multi-partition
// commit is all or nothing) to the group's partition.
func (c *GroupCoordinator) issue(w groupWrite, ts int64) {
	if _, err := c.ensureTopic(); err != nil {
		c.complete(w, -1, err)
		return
	}
	var b record.Builder
	b.Reset(nil, record.Options{})
	for _, r := range w.records {
		b.Append(ts, r.key, r.value, nil)
	}
	batch, err := b.Finish()
	if err != nil {
		c.complete(w, -1, fmt.Errorf("build batch for group %q: %w", w.group, err))
		return
	}
	req := ProduceRequest{Topic: OffsetsTopic, Partition: OffsetsPartitionFor(w.group, c.partitions.Load()),
		Acks: -1, Timeout: c.cfg.CommitTimeout, Records: batch, internal: true}
	c.e.Produce(req, func(res ProduceResult) { c.complete(w, res.BaseOffset, res.Err) })
}

// offsetsTopic returns __consumer_offsets if it exists, noting its
// partition count.
func (c *GroupCoordinator) offsetsTopic() *topic {
	t := (*c.e.topics.Load())[OffsetsTopic]
	if t != nil {
		c.partitions.Store(int32(len(t.partitions)))
	}
	return t
}

// ensureTopic returns __consumer_offsets, creating it if it does not exist
// yet: locally, or in cluster mode through Config.CreateTopicHook.
func (c *GroupCoordinator) ensureTopic() (*topic, error) {
	if t := c.offsetsTopic(); t != nil {
		return t, nil
	}
	c.topicMu.Lock()
	defer c.topicMu.Unlock()
	if t := c.offsetsTopic(); t != nil {
		return t, nil
	}
	n := c.cfg.OffsetsTopicPartitions
	create := func(configs map[string]string) error { return c.e.createTopic(OffsetsTopic, n, -1, configs) }
	if c.clustered || c.e.cfg.CreateTopicHook != nil {
		create = func(configs map[string]string) error { return c.e.createThroughHook(OffsetsTopic, n, configs) }
	}
	segmentBytes := strconv.FormatInt(c.cfg.OffsetsTopicSegmentBytes, 10)
	keep := map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": segmentBytes}
	compact := map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1", "segment.bytes": segmentBytes}
	err := create(compact)
	if errors.Is(err, ErrInvalidConfig) {
		// This build has no log compaction: keep everything instead (a
		// bad segment.bytes fails this create too, naming the key).
		err = create(keep)
	}
	if err != nil && !errors.Is(err, ErrTopicExists) {
		return nil, fmt.Errorf("%w: create %s with %d partitions: %w", ErrCoordinatorNotAvailable, OffsetsTopic, n, err)
	}
	t := c.offsetsTopic()
	if t == nil {
		// Created, and deleted again or (cluster mode) not applied here yet.
		return nil, fmt.Errorf("%w: %s was created but is not there", ErrCoordinatorNotAvailable, OffsetsTopic)
	}
	return t, nil
}

// FindCoordinator returns the broker that coordinates the group and the
// group's partition of __consumer_offsets, creating the topic on first use:
// this broker in single-broker mode; in cluster mode the leader of that
// partition, or ErrCoordinatorNotAvailable while it has none.
func (c *GroupCoordinator) FindCoordinator(groupID string) (brokerID, partition int32, err error) {
	if groupID == "" {
		return -1, -1, fmt.Errorf("%w: empty group id", ErrInvalidGroupID)
	}
	t, err := c.ensureTopic()
	if err != nil {
		return -1, -1, err
	}
	partition = OffsetsPartitionFor(groupID, int32(len(t.partitions)))
	if !c.clustered {
		return c.e.cfg.BrokerID, partition, nil
	}
	return c.leaderOf(t, groupID, partition)
}

// JoinGroup joins a member to a group; done gets the generation, or an error
// wrapping ErrMemberIDRequired (with the id to use), ErrUnknownMemberID,
// ErrFencedInstanceID, ErrInconsistentGroupProtocol, ErrInvalidSessionTimeout,
// ErrInvalidGroupID, ErrGroupMaxSizeReached, ErrRebalanceInProgress (a
// retried join replaced this one), ErrCoordinatorNotAvailable or
// ErrNotCoordinator. It parks until the join barrier completes.
func (c *GroupCoordinator) JoinGroup(req JoinGroupRequest, now time.Time, done func(JoinGroupResult)) {
	err := c.runGroup(req.GroupID, func(o *outbox) error {
		c.mu.core.join(req, now, done, o)
		return nil
	})
	if err != nil {
		done(JoinGroupResult{Err: err, GenerationID: -1, MemberID: req.MemberID})
	}
}

// SyncGroup hands out the leader's assignment; done gets the member's
// assignment, or an error wrapping ErrUnknownMemberID, ErrFencedInstanceID,
// ErrIllegalGeneration, ErrInconsistentGroupProtocol, ErrRebalanceInProgress,
// ErrCoordinatorNotAvailable or ErrNotCoordinator. A follower parks until
// the leader's assignment is written.
func (c *GroupCoordinator) SyncGroup(req SyncGroupRequest, now time.Time, done func(SyncGroupResult)) {
	err := c.runGroup(req.GroupID, func(o *outbox) error {
		c.mu.core.sync(req, now, done, o)
		return nil
	})
	if err != nil {
		done(SyncGroupResult{Err: err})
	}
}

// Heartbeat renews a member's session. It returns nil, or an error wrapping
// ErrRebalanceInProgress (rejoin), ErrUnknownMemberID, ErrFencedInstanceID,
// ErrIllegalGeneration or ErrNotCoordinator.
func (c *GroupCoordinator) Heartbeat(req HeartbeatRequest, now time.Time) error {
	return c.runGroup(req.GroupID, func(*outbox) error { return c.mu.core.heartbeat(req, now) })
}

// LeaveGroup removes members at once and returns one error (or nil) per
// member: ErrUnknownMemberID or ErrFencedInstanceID. The group rebalances
// without them. The returned error is ErrNotCoordinator after Close.
func (c *GroupCoordinator) LeaveGroup(groupID string, members []LeavingMember, now time.Time) ([]error, error) {
	var errs []error
	err := c.runGroup(groupID, func(o *outbox) error {
		errs = c.mu.core.leave(groupID, members, now, o)
		return nil
	})
	return errs, err
}

// CommitOffsets commits offsets; done gets nil once they are written, or an
// error wrapping ErrIllegalGeneration, ErrUnknownMemberID,
// ErrFencedInstanceID, ErrRebalanceInProgress, ErrInvalidGroupID,
// ErrCoordinatorNotAvailable (the write failed; nothing was applied) or
// ErrNotCoordinator. The error applies to every partition of the request.
func (c *GroupCoordinator) CommitOffsets(req OffsetCommitRequest, now time.Time, done func(error)) {
	err := c.runGroup(req.GroupID, func(o *outbox) error {
		c.mu.core.commit(req, now, done, o)
		return nil
	})
	if err != nil {
		done(err)
	}
}

// FetchOffsets returns the group's committed offsets for partitions, in
// that order, or for every partition it has one for (sorted by topic and
// partition) when partitions is nil. Errors: ErrInvalidGroupID,
// ErrNotCoordinator.
func (c *GroupCoordinator) FetchOffsets(groupID string, partitions []TopicPartition) ([]CommittedOffset, error) {
	var out []CommittedOffset
	err := c.runGroup(groupID, func(*outbox) error {
		var err error
		out, err = c.mu.core.fetchOffsets(groupID, partitions)
		return err
	})
	return out, err
}

// ListGroups lists the groups in the given states (all groups when none),
// sorted by id.
func (c *GroupCoordinator) ListGroups(states ...GroupState) []GroupListing {
	var out []GroupListing
	c.run(func(*outbox) error {
		out = c.mu.core.listGroups(states)
		return nil
	})
	return out
}

// DescribeGroups describes the groups in the order given.
func (c *GroupCoordinator) DescribeGroups(ids ...string) []GroupDescription {
	var out []GroupDescription
	c.run(func(*outbox) error {
		out = c.mu.core.describeGroups(ids)
		for i, id := range ids {
			if err := c.coordinatesLocked(id); err != nil {
				out[i] = GroupDescription{GroupID: id, State: GroupDead, Generation: -1, Err: err}
			}
		}
		return nil
	})
	return out
}

// DeleteGroups deletes Empty groups and their offsets; done gets one error
// (or nil) per id: ErrGroupIDNotFound, ErrNonEmptyGroup, or
// ErrCoordinatorNotAvailable when the tombstones could not be written.
func (c *GroupCoordinator) DeleteGroups(ids []string, now time.Time, done func([]error)) {
	err := c.run(func(o *outbox) error {
		// Groups coordinated elsewhere (cluster mode) get their error here;
		// the core deletes the others.
		errs := make([]error, len(ids))
		var mine []string
		var at []int
		for i, id := range ids {
			if errs[i] = c.coordinatesLocked(id); errs[i] == nil {
				mine, at = append(mine, id), append(at, i)
			}
		}
		c.mu.core.deleteGroups(mine, now, func(got []error) {
			for j, err := range got {
				errs[at[j]] = err
			}
			done(errs)
		}, o)
		return nil
	})
	if err != nil {
		errs := make([]error, len(ids))
		for i := range errs {
			errs[i] = err
		}
		done(errs)
	}
}

// DeleteTopicOffsets removes every group's committed offsets of topic,
// which the caller has just deleted; done gets nil, or an error wrapping
// ErrCoordinatorNotAvailable when tombstones could not be written (those
// offsets stay).
func (c *GroupCoordinator) DeleteTopicOffsets(topic string, now time.Time, done func(error)) {
	if err := c.run(func(o *outbox) error {
		c.mu.core.deleteTopicOffsets(topic, now, done, o)
		return nil
	}); err != nil {
		done(err)
	}
}

// Tick expires member sessions, unused member ids and rebalance timeouts
// as of now. The background goroutine calls it every TickInterval.
func (c *GroupCoordinator) Tick(now time.Time) {
	c.run(func(o *outbox) error {
		c.mu.core.tick(now, o)
		return nil
	})
}
