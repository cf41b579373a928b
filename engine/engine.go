package engine

// Behavior: Open loads every topic listed in <DataDir>/topics.json and opens
// its partition logs (in cluster mode the hosted ones, with no role until
// ApplyTopic: roles.go); Close refuses new requests with ErrShuttingDown, fails
// every parked operation with ErrShuttingDown, waits (bounded by its context)
// for requests already inside the engine, then flushes and closes every log.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/segment"
)

// Engine is one broker's topics and partitions. Its methods are safe for
// concurrent use.
type Engine struct {
	cfg Config

	// topics is a copy-on-write snapshot: readers Load it without a lock;
	// writers replace it under admin.
	topics atomic.Pointer[map[string]*topic]

	// lossy says why this start may lack acknowledged records, "" if it
	// does not; start is what Open read of the previous run, acted on once
	// started (lossy.go).
	lossy   atomic.Pointer[string]
	start   *startState
	started atomic.Bool

	// applying serializes ApplyTopic and RemoveTopic (cluster mode) and the
	// group coordinator's registration, so a topic's partitions are opened,
	// dropped and handed to the coordinator by one call at a time. Taken
	// before admin.
	applying sync.Mutex
	// coordinator is the group coordinator to tell about leadership of
	// __consumer_offsets partitions (cluster mode; nil otherwise).
	coordinator atomic.Pointer[GroupCoordinator]
	// soleRole is every partition's role in single-broker mode: leader,
	// sole replica and ISR, epoch 0.
	soleRole *partitionRole

	// admin serializes topic creation and deletion and the writes of
	// topics.json. Never taken on the produce or fetch path, nor while logs
	// close (closing a log may run done callbacks, which may auto-create).
	admin struct {
		sync.Mutex
		// deleting holds topics gone from the map whose logs DeleteTopic is
		// still removing; their names cannot be re-created until it is done,
		// since the new logs would open the same directories.
		deleting map[string]struct{}
	}

	producerIDs *producerIDs
	// creator runs the produce requests that auto-create their topic, off
	// the caller's event loop (offloop.go).
	creator creator
	// lock is the data dir's flock, held from Open until Close: see datadir.go.
	lock *dirLock
	// writeMode is the data dir's calibration when DirectWriteBytes was
	// DirectWriteAuto (zero otherwise), and writePolicy the policy that
	// started from it and adapts while running.
	writeMode   segment.Calibration
	writePolicy *segment.WritePolicy
	logDir      *logDir // guards appends against a full disk; logdir.go

	// replStats counts the ISR changes this broker's leaders proposed
	// (replica.go), for /metrics.
	replStats struct{ shrinks, expands, refused atomic.Int64 }
	// hwCkpt is the high-watermark checkpoint (hwcheckpoint.go).
	hwCkpt hwCheckpoint

	closing  atomic.Bool
	inflight atomic.Int64 // requests inside the engine: see enter/leave

	stopRetention chan struct{}
	retentionDone sync.WaitGroup
	closeOnce     sync.Once
	closeErr      error
}

// topic is immutable but for its settings: DeleteTopic replaces the map
// without it, and ApplyTopic and CreatePartitions replace it with a new
// topic that shares the settings and the partitions it keeps. Its settings are replaced whole by
// AlterTopicConfigs and ApplyTopic, so a reader loads them once per use.
type topic struct {
	name string
	// id is the cluster's topic id; zero in single-broker mode and for a
	// topic topics.json recorded before the broker joined a cluster.
	id       [16]byte
	settings *atomic.Pointer[topicSettings]
	// partitions has one entry per partition of the topic, index ==
	// partition id; an entry is nil where this broker does not host the
	// partition (cluster mode).
	partitions []*partition
	// roles is every partition's role as the metadata last gave it (cluster
	// mode; nil in single-broker mode and until ApplyTopic after a restart).
	roles []PartitionRole
}

// hosted yields the partitions this broker hosts, skipping the nil entries.
func (t *topic) hosted() iter.Seq[*partition] {
	return func(yield func(*partition) bool) {
		for _, p := range t.partitions {
			if p != nil && !yield(p) {
				return
			}
		}
	}
}

// topicSettings is one immutable version of a topic's configs.
type topicSettings struct {
	cfg       TopicConfig
	overrides map[string]string // only the keys set on this topic
}

// config returns the topic's current configs.
func (t *topic) config() *TopicConfig { return &t.settings.Load().cfg }

// Open creates DataDir if needed and opens every topic recorded there.
func Open(cfg Config) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create data dir %s: %w", ErrStorage, cfg.DataDir, err)
	}
	// The lock comes before anything in the directory is read: a second
	// broker must not even recover the logs another one is writing.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ids, err := openProducerIDs(cfg.DataDir, cfg.AllocateProducerIDs)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	dir, err := openLogDir(cfg.DataDir, cfg.MinFreeBytes, cfg.Logf)
	if err != nil {
		lock.unlock()
		return nil, err
	}
	e := &Engine{cfg: cfg, producerIDs: ids, lock: lock, logDir: dir, stopRetention: make(chan struct{})}
	e.soleRole = &partitionRole{leads: true, PartitionRole: PartitionRole{Leader: cfg.BrokerID,
		Replicas: []int32{cfg.BrokerID}, ISR: []int32{cfg.BrokerID}}}
	if cfg.DirectWriteBytes == DirectWriteAuto {
		e.chooseWriteMode()
	}
	e.admin.deleting = map[string]struct{}{}
	empty := map[string]*topic{}
	e.topics.Store(&empty)
	if cfg.Clustered {
		e.loadHWCheckpoint() // before load opens partitions
	}
	if err := e.load(); err != nil {
		e.closeLogs()
		lock.unlock()
		return nil, err
	}
	if err := e.detectLossyRestart(); err != nil {
		e.closeLogs()
		lock.unlock()
		return nil, err
	}
	// Retention runs even on idle partitions, so retention.ms and
	// retention.bytes act without traffic; compaction likewise.
	e.every(cfg.RetentionCheckInterval, func(now time.Time) { e.ApplyRetention(now) })
	e.every(cfg.CompactionCheckInterval, func(now time.Time) { e.Compact(now) })
	e.every(cfg.LogDirCheckInterval, func(time.Time) { e.logDir.refresh() })
	if cfg.Clustered {
		e.every(replicaTickInterval(cfg.ReplicaLagTimeMax), e.tickReplicas)
		e.every(hwCheckpointInterval, func(time.Time) {
			if err := e.WriteHWCheckpoint(); err != nil {
				e.cfg.Logf("spate: %v (retried in %v)", err, hwCheckpointInterval)
			}
		})
	}
	return e, nil
}

// chooseWriteMode measures (or recalls) the data dir's faster write path
// (segment.CalibrateDir) and starts the policy that keeps choosing while
// the broker runs (segment.WritePolicy); every partition's log shares it.
func (e *Engine) chooseWriteMode() {
	c, err := segment.CalibrateDir(e.cfg.DataDir)
	if err != nil {
		c = segment.Calibration{Mode: segment.WritePageCache, Unmeasured: err.Error()}
	}
	e.writeMode = c
	e.cfg.DirectWriteBytes = segment.DirectWriteThreshold
	dir := e.cfg.DataDir
	e.writePolicy = segment.NewWritePolicy(c.Mode, segment.DirectWriteThreshold, c, func(to segment.WriteMode, pc, direct float64) {
		log.Printf("spate: data dir %s: large appends now %s (page cache %.0f MB/s, O_DIRECT %.0f MB/s, measured on recent appends)", dir, to, pc, direct)
	})
}

// WriteMode returns the data dir's start-up calibration and policy when the
// write path is chosen by measurement (policy nil when DirectWriteBytes was
// set by hand), and DirectWriteBytes: from this size appends may go direct.
func (e *Engine) WriteMode() (c segment.Calibration, policy *segment.WritePolicy, directWriteBytes int) {
	return e.writeMode, e.writePolicy, e.cfg.DirectWriteBytes
}

// HasPartition reports whether the topic exists and has the partition,
// wherever it is hosted (an offset commit may name any partition).
func (e *Engine) HasPartition(topic string, partition int32) bool {
	t := (*e.topics.Load())[topic]
	return t != nil && partition >= 0 && int(partition) < len(t.partitions)
}

// lookup returns the partition if this broker leads it, or an error
// wrapping ErrUnknownTopicOrPartition, or ErrNotLeader for a partition
// hosted elsewhere, followed here, or given no role yet (cluster mode). It
// takes no lock.
func (e *Engine) lookup(name string, id int32) (*partition, error) {
	t := (*e.topics.Load())[name]
	if t == nil {
		return nil, fmt.Errorf("%w: topic %q", ErrUnknownTopicOrPartition, name)
	}
	if id < 0 || int(id) >= len(t.partitions) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownTopicOrPartition, name, id)
	}
	p := t.partitions[id]
	if p == nil {
		return nil, fmt.Errorf("%w: %s-%d is not hosted on broker %d", ErrNotLeader, name, id, e.cfg.BrokerID)
	}
	if err := p.leaderErr(); err != nil {
		return nil, err
	}
	return p, nil
}

// enter registers a request; it fails once Close has begun. Every successful
// enter is paired with one leave when the request's done has run.
//
// Invariant: the counter is raised before closing is read, and Close sets
// closing before it reads the counter, so Close never misses a request that
// got in (both are sequentially consistent atomics).
func (e *Engine) enter() error {
	e.inflight.Add(1)
	if e.closing.Load() {
		e.inflight.Add(-1)
		return ErrShuttingDown
	}
	return nil
}

func (e *Engine) leave() { e.inflight.Add(-1) }

// Close stops the engine: new requests fail with ErrShuttingDown, parked
// acks=all produces and long-poll fetches complete with ErrShuttingDown,
// requests already running get until ctx is done to finish, and then every
// log is flushed and closed. It returns ctx's error if requests were still
// running when ctx ended (the logs are closed anyway, and those requests get
// storage errors), and the first log close error otherwise. Later calls
// return the first call's result.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() { e.closeErr = e.close(ctx) })
	return e.closeErr
}

func (e *Engine) close(ctx context.Context) error {
	e.closing.Store(true)
	close(e.stopRetention)
	e.retentionDone.Wait()
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			p.watchers.failAll(ErrShuttingDown)
		}
	}
	var waitErr error
	// Polling, not a condition variable: it runs once per shutdown, and it
	// keeps the hot path to two atomic adds.
	tick := time.NewTicker(time.Millisecond)
	for e.inflight.Load() > 0 && waitErr == nil {
		select {
		case <-ctx.Done():
			waitErr = fmt.Errorf("%w: %d requests still running: %w", ErrShuttingDown, e.inflight.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	tick.Stop()
	var ckptErr error
	if e.cfg.Clustered {
		// Every request is done: the high watermarks are final.
		ckptErr = e.WriteHWCheckpoint()
	}
	// The lock goes last, once every log is closed: a broker started right
	// after this one must not open files this one still writes.
	logsErr := e.closeLogs()
	var markErr error
	if waitErr == nil && ckptErr == nil && logsErr == nil {
		markErr = e.markCleanShutdown()
	}
	return errors.Join(waitErr, ckptErr, logsErr, markErr, e.lock.unlock())
}

// closeLogs closes every partition's log; partitions that a concurrent
// DeleteTopic already closed are skipped.
func (e *Engine) closeLogs() error {
	var errs []error
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			if err := p.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// every runs fn at each tick of interval until Close (nothing when
// interval <= 0). Close stops every such loop through stopRetention and
// waits for them with retentionDone.
func (e *Engine) every(interval time.Duration, fn func(now time.Time)) {
	if interval <= 0 {
		return
	}
	e.retentionDone.Add(1)
	go func() {
		defer e.retentionDone.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-e.stopRetention:
				return
			case now := <-tick.C:
				fn(now)
			}
		}
	}()
}

// ApplyRetention runs one retention pass over every partition now and
// returns the number of segments deleted and the partitions that failed.
// The background loop calls it every RetentionCheckInterval.
func (e *Engine) ApplyRetention(now time.Time) (deleted int, err error) {
	var errs []error
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			n, err := p.applyRetention(now)
			deleted += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return deleted, errors.Join(errs...)
}
