package engine

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/segment"
)

// partition is one topic partition hosted by this broker.
type partition struct {
	topic string
	id    int32
	// role is what the metadata says of the partition (roles.go): nil
	// until ApplyTopic gives one in cluster mode; Engine.soleRole in
	// single-broker mode. Replaced under mu, read without it (an append
	// reads it under mu, so it stamps the epoch of a role it checked).
	role atomic.Pointer[partitionRole]
	// settings are the topic's (topic.settings); use config().
	settings *atomic.Pointer[topicSettings]
	log      *segment.Log
	// committedOnFlush: the HW is FlushedOffset (flush.policy=always), so HW
	// moves come from the syncer, not from appends.
	committedOnFlush bool
	// onFlushed is bound once so that registering it with WhenFlushed on every
	// append allocates nothing.
	onFlushed func(error)

	watchers watchers

	// mu serializes appends (so a request's batches are contiguous), the
	// idempotent-producer checks that go with them, and close; closed is
	// written under mu and read without it by parked operations that must
	// not take mu.
	mu        sync.Mutex
	closed    atomic.Bool
	producers producerStates // guarded by mu; see producerstate.go

	// appends queues the appends that run off the caller's event loop
	// (offloop.go).
	appends appendQueue

	// repl is the ISR core in cluster mode (replica.go).
	repl replica
}

// newPartition returns a partition with role r (nil: none yet).
func newPartition(topic string, id int32, settings *atomic.Pointer[topicSettings], log *segment.Log, r *partitionRole) *partition {
	p := &partition{topic: topic, id: id, settings: settings, log: log,
		committedOnFlush: settings.Load().cfg.FlushPolicy == segment.FlushAlways, producers: producerStates{}}
	p.role.Store(r)
	p.repl.hw.Store(-1)
	p.onFlushed = func(error) { p.watchers.wake() }
	return p
}

// leads reports whether this broker leads the partition now.
func (p *partition) leads() bool {
	r := p.role.Load()
	return r != nil && r.leads
}

// leaderErr is nil while this broker leads the partition, and otherwise an
// error wrapping ErrNotLeader that says what the broker is to it.
func (p *partition) leaderErr() error {
	r := p.role.Load()
	switch {
	case r == nil:
		return fmt.Errorf("%w: %s-%d has no role on this broker yet (waiting for the cluster metadata)", ErrNotLeader, p.topic, p.id)
	case r.leads:
		return nil
	case r.Leader < 0:
		return fmt.Errorf("%w: %s-%d has no leader (offline, epoch %d)", ErrNotLeader, p.topic, p.id, r.LeaderEpoch)
	default:
		return fmt.Errorf("%w: %s-%d is led by broker %d (epoch %d); this broker follows", ErrNotLeader, p.topic, p.id, r.Leader, r.LeaderEpoch)
	}
}

// checkLeaderEpoch compares the leader epoch a consumer's fetch believes
// current with the one this broker leads at (KIP-320): older is
// ErrFencedLeaderEpoch (its metadata is stale), newer ErrUnknownLeaderEpoch
// (this broker's is); either way the client refreshes its metadata. A
// partition not led here is left to leaderErr.
func (p *partition) checkLeaderEpoch(epoch int32) error {
	r := p.role.Load()
	switch {
	case r == nil || !r.leads || epoch == r.LeaderEpoch:
		return nil
	case epoch < r.LeaderEpoch:
		return fmt.Errorf("%w: %s-%d: fetch at leader epoch %d, the leader is at %d", ErrFencedLeaderEpoch, p.topic, p.id, epoch, r.LeaderEpoch)
	default:
		return fmt.Errorf("%w: %s-%d: fetch at leader epoch %d, this leader is at %d", ErrUnknownLeaderEpoch, p.topic, p.id, epoch, r.LeaderEpoch)
	}
}

// highWatermark is the exclusive end of the committed log (see doc.go).
// config returns the topic's current configs. flush.policy and flush.ms
// cannot be altered (AlterTopicConfigs), so committedOnFlush and the log's
// flush settings stay true to it.
func (p *partition) config() *TopicConfig { return &p.settings.Load().cfg }

func (p *partition) highWatermark() int64 {
	hw := p.log.LogEndOffset()
	if p.committedOnFlush {
		hw = p.log.FlushedOffset()
	}
	if core := p.repl.hw.Load(); core >= 0 {
		// Replicated: the ISR's (replica.go), and under flush.policy=always
		// also no further than this replica's fdatasync.
		hw = min(hw, core)
	}
	return hw
}

// markClosed sets the closed flag once, after any append in progress, and
// reports whether this call set it. Appends that come later see the flag.
func (p *partition) markClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed.CompareAndSwap(false, true)
}

// close flushes and closes the log once. mu is not held while the log
// closes: segment fires pending WhenFlushed callbacks from inside Close, and
// those run done callbacks, which may produce again.
func (p *partition) close() error {
	if !p.markClosed() {
		return nil
	}
	if err := p.log.Close(); err != nil && !errors.Is(err, segment.ErrClosed) {
		return fmt.Errorf("%w: close %s-%d: %w", ErrStorage, p.topic, p.id, err)
	}
	return nil
}

// remove closes the log and deletes its directory. segment keeps the files
// of FileRanges still held alive until they are released.
func (p *partition) remove() error {
	p.markClosed()
	err := p.log.Delete()
	if errors.Is(err, segment.ErrClosed) {
		// Closed earlier (a failed create); Delete removes nothing then.
		err = os.RemoveAll(p.log.Dir())
	}
	if err != nil {
		return fmt.Errorf("%w: delete %s-%d: %w", ErrStorage, p.topic, p.id, err)
	}
	return nil
}

func (p *partition) applyRetention(now time.Time) (int, error) {
	p.mu.Lock()
	p.producers.expire(now.Add(-producerExpiration).UnixMilli())
	p.mu.Unlock()
	n, err := p.log.ApplyRetention(now)
	if err != nil && !errors.Is(err, segment.ErrClosed) {
		return n, fmt.Errorf("%w: retention on %s-%d: %w", ErrStorage, p.topic, p.id, err)
	}
	return n, nil
}

// storageErr maps a segment error to the engine's sentinels.
func (p *partition) storageErr(op string, offset int64, err error) error {
	switch {
	case errors.Is(err, segment.ErrOffsetOutOfRange):
		return fmt.Errorf("%w: %s %s-%d at offset %d: %w", ErrOffsetOutOfRange, op, p.topic, p.id, offset, err)
	case errors.Is(err, segment.ErrDiskFull):
		// Nothing was written and the log goes on (see package segment).
		return fmt.Errorf("%w: %s %s-%d at offset %d: %w", ErrDiskFull, op, p.topic, p.id, offset, err)
	case errors.Is(err, segment.ErrClosed):
		// Closed under us: the topic was deleted or the engine is closing.
		return fmt.Errorf("%w: %s %s-%d: %w", ErrUnknownTopicOrPartition, op, p.topic, p.id, err)
	}
	return fmt.Errorf("%w: %s %s-%d at offset %d: %w", ErrStorage, op, p.topic, p.id, offset, err)
}
