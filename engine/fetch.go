package engine

// Behavior: Fetch reads each requested partition from its fetch offset up to
// the high watermark (segment.Read: whole batches, at most one segment per
// partition per fetch) and hands back reference-counted file ranges that the
// caller sends zero-copy and then releases with FetchResult.Release. Limits
// follow KIP-74: the partition's MaxBytes and the request's MaxBytes cap the
// response, except that the first partition with data always returns at
// least one whole batch; later partitions return nothing rather than exceed
// a limit. If the total is below MinBytes and MaxWait > 0 (and no partition
// failed), the fetch parks in the purgatory of every partition it reads,
// re-reads when one of their high watermarks moves, and answers when it has
// MinBytes or when MaxWait expires (with what it has then). done runs inside
// Fetch when the answer is immediate, otherwise from the goroutine that moved
// a high watermark or from a timer.
//
// FetchResults are pooled: an immediate fetch with data allocates nothing in
// the engine in steady state; a parked one allocates its delayed operation
// and timer.

import (
	"fmt"
	"sync"
	"time"

	"github.com/spate-io/spate/segment"
)

// FetchRequest asks for records from several partitions.
type FetchRequest struct {
	// MaxWait is how long to wait for MinBytes; 0 answers at once.
	MaxWait time.Duration
	// MinBytes is the response size worth answering for.
	MinBytes int32
	// MaxBytes caps the whole response (KIP-74); 0 or negative: no cap
	// (Fetch v0-v2 had none).
	MaxBytes int32
	// Partitions are read in this order. The engine copies what it needs;
	// the caller may reuse the slice once Fetch returns.
	Partitions []FetchPartition
}

// FetchPartition is one partition of a FetchRequest.
type FetchPartition struct {
	Topic     string
	Partition int32
	Offset    int64 // first offset wanted
	MaxBytes  int32 // cap for this partition (KIP-74 applies)
	// LeaderEpoch is the leader epoch the fetcher believes current, -1
	// for none (a consumer that does not say): older than the leader's is
	// ErrFencedLeaderEpoch, newer ErrUnknownLeaderEpoch (KIP-320). A
	// follower's is recorded in the leader's ISR core (ReplicaFetch).
	// Mind the zero value: it is epoch 0, which a partition led at a later
	// epoch fences; a caller that does not check sets -1.
	LeaderEpoch int32
}

// FetchResult answers a FetchRequest. The caller owns it until it calls
// Release.
type FetchResult struct {
	// Partitions are in request order.
	Partitions []FetchPartitionResult

	e        *Engine
	parts    []*partition // looked up once; nil where the lookup failed
	minBytes int64
	maxBytes int64
	// replica is the follower's broker id for ReplicaFetch (reads up to
	// the log end), -1 for a consumer (up to the high watermark).
	replica int32
}

// FetchPartitionResult is one partition's answer.
type FetchPartitionResult struct {
	Topic     string
	Partition int32
	Offset    int64 // the fetch offset asked for
	// Err is nil or wraps ErrUnknownTopicOrPartition, ErrNotLeader,
	// ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch, ErrOffsetOutOfRange,
	// ErrStorage or ErrShuttingDown.
	Err            error
	HighWatermark  int64 // -1 when Err is set
	LogStartOffset int64 // -1 when Err is set
	// Records holds whole batches from Offset's batch on (possibly
	// starting below Offset: clients skip records before it), or is nil.
	// Send it with Records.Bytes(), or with Records.File()/Pos()/Len()
	// (sendfile) where File is not nil (sealed segments keep no descriptor).
	Records *segment.FileRange

	maxBytes int32
}

var fetchResultPool = sync.Pool{New: func() any { return new(FetchResult) }}

// Release releases every file range still in r and recycles r; r must not
// be used afterwards. A caller that hands a range to another owner (the
// network layer, which releases it once sent) sets that Records field to nil
// first, and Release leaves it alone.
func (r *FetchResult) Release() {
	r.releaseRanges()
	clear(r.Partitions)
	clear(r.parts)
	r.Partitions, r.parts = r.Partitions[:0], r.parts[:0]
	r.e = nil
	fetchResultPool.Put(r)
}

func (r *FetchResult) releaseRanges() {
	for i := range r.Partitions {
		if fr := r.Partitions[i].Records; fr != nil {
			fr.Release()
			r.Partitions[i].Records = nil
		}
	}
}

// Fetch reads the requested partitions and calls done exactly once with the
// result, which the caller must Release after sending it.
func (e *Engine) Fetch(req FetchRequest, done func(*FetchResult)) {
	e.fetch(req, -1, done)
}

// ReplicaFetch is Fetch for the follower on broker replicaID (replica.go):
// each partition's offset is recorded as the follower's log end in the
// leader's ISR core, at the partition's LeaderEpoch, and records are read up
// to the log end rather than the high watermark; the result's
// HighWatermark is the leader's. A partition led here with no follower
// core answers ErrNotLeader; a stale or future epoch ErrFencedLeaderEpoch
// or ErrUnknownLeaderEpoch; an offset past the log end ErrOffsetOutOfRange.
func (e *Engine) ReplicaFetch(replicaID int32, req FetchRequest, done func(*FetchResult)) {
	e.fetch(req, replicaID, done)
}

func (e *Engine) fetch(req FetchRequest, replica int32, done func(*FetchResult)) {
	res := e.newFetchResult(&req)
	res.replica = replica
	if err := e.enter(); err != nil {
		res.failAll(err)
		done(res)
		return
	}
	if replica >= 0 {
		now := time.Now()
		for i, p := range res.parts {
			if p == nil {
				continue
			}
			pr := &res.Partitions[i]
			if err := e.followerFetched(p, replica, req.Partitions[i].LeaderEpoch, pr.Offset, now); err != nil {
				pr.Err, res.parts[i] = err, nil
			}
		}
	} else {
		for i, p := range res.parts {
			if epoch := req.Partitions[i].LeaderEpoch; p != nil && epoch >= 0 {
				if err := p.checkLeaderEpoch(epoch); err != nil {
					res.Partitions[i].Err, res.parts[i] = err, nil
				}
			}
		}
	}
	total, failed := res.read()
	if req.MaxWait <= 0 || total >= res.minBytes || failed || len(res.Partitions) == 0 {
		done(res)
		e.leave()
		return
	}
	res.releaseRanges()
	d := &delayedFetch{res: res, done: done}
	// The partitions to watch are copied first: once d is in one watcher
	// list, a produce may complete it, and its done releases res (clearing
	// res.parts) while this loop would still be reading them.
	watch := make([]*partition, 0, len(res.parts))
	for _, p := range res.parts { // all non-nil: a failed lookup answered above
		if !watchedBefore(watch, p) {
			watch = append(watch, p)
		}
	}
	d.timer = time.AfterFunc(req.MaxWait, d.expire)
	for _, p := range watch {
		p.watchers.add(d)
	}
	if e.closing.Load() {
		d.fail(ErrShuttingDown)
		return
	}
	d.tryComplete()
}

func watchedBefore(parts []*partition, p *partition) bool {
	for _, q := range parts {
		if q == p {
			return true
		}
	}
	return false
}

// newFetchResult takes a pooled result and fills it from req, looking up
// every partition once.
func (e *Engine) newFetchResult(req *FetchRequest) *FetchResult {
	r := fetchResultPool.Get().(*FetchResult)
	r.e = e
	r.minBytes = int64(req.MinBytes)
	r.maxBytes = int64(req.MaxBytes)
	if r.maxBytes <= 0 {
		r.maxBytes = 1<<63 - 1
	}
	for _, fp := range req.Partitions {
		pr := FetchPartitionResult{Topic: fp.Topic, Partition: fp.Partition, Offset: fp.Offset,
			HighWatermark: -1, LogStartOffset: -1, maxBytes: fp.MaxBytes}
		p, err := e.lookup(fp.Topic, fp.Partition)
		pr.Err = err
		r.Partitions = append(r.Partitions, pr)
		r.parts = append(r.parts, p)
	}
	return r
}

func (r *FetchResult) failAll(err error) {
	r.releaseRanges()
	for i := range r.Partitions {
		pr := &r.Partitions[i]
		if pr.Err == nil {
			pr.Err = err
		}
		pr.HighWatermark, pr.LogStartOffset = -1, -1
	}
}

// read fills every partition's result (releasing ranges of an earlier
// read) and returns the bytes read and whether any partition failed.
func (r *FetchResult) read() (total int64, failed bool) {
	remaining := r.maxBytes
	for i := range r.Partitions {
		pr := &r.Partitions[i]
		p := r.parts[i]
		if p == nil {
			failed = true
			continue
		}
		if pr.Records != nil {
			pr.Records.Release()
			pr.Records = nil
		}
		n, err := pr.readFrom(p, remaining, total == 0, r.replica >= 0)
		if err != nil {
			pr.Err, pr.HighWatermark, pr.LogStartOffset = err, -1, -1
			failed = true
			continue
		}
		total += n
		remaining -= n
	}
	return total, failed
}

// readFrom reads one partition with at most limit bytes unless first (the
// KIP-74 exception), up to the log end for a follower and the high
// watermark otherwise, and returns the bytes it kept.
func (pr *FetchPartitionResult) readFrom(p *partition, limit int64, first, follower bool) (int64, error) {
	if p.closed.Load() {
		return 0, fmt.Errorf("%w: %s-%d was deleted or closed", ErrUnknownTopicOrPartition, p.topic, p.id)
	}
	if err := p.leaderErr(); err != nil {
		return 0, err // leadership moved since the lookup (a parked fetch)
	}
	if pr.maxBytes < 0 {
		return 0, fmt.Errorf("%w: %s-%d: partition max bytes %d", ErrInvalidRequest, p.topic, p.id, pr.maxBytes)
	}
	pr.Err = nil
	pr.HighWatermark = p.highWatermark()
	pr.LogStartOffset = p.log.LogStartOffset()
	limit = min(limit, int64(pr.maxBytes))
	if limit <= 0 && !first {
		return 0, nil
	}
	upTo := pr.HighWatermark
	if follower {
		upTo = p.log.LogEndOffset()
	}
	fr, err := p.log.Read(pr.Offset, int(max(limit, 0)), upTo)
	if err != nil {
		return 0, p.storageErr("fetch", pr.Offset, err)
	}
	if fr.Len() == 0 || (!first && int64(fr.Len()) > limit) {
		fr.Release()
		return 0, nil
	}
	pr.Records = fr
	return int64(fr.Len()), nil
}

// delayedFetch is a fetch waiting for MinBytes.
type delayedFetch struct {
	done  func(*FetchResult)
	timer *time.Timer
	mu    struct {
		sync.Mutex
		completed bool
	}
	res *FetchResult // nil once completed; guarded by mu
}

func (d *delayedFetch) isDone() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.completed
}

// tryComplete re-reads when some watched partition has data past its fetch
// offset, and answers if the reads reach MinBytes or a partition failed.
func (d *delayedFetch) tryComplete() bool {
	d.mu.Lock()
	if d.mu.completed {
		d.mu.Unlock()
		return true
	}
	r := d.res
	if !r.mayHaveMore() {
		d.mu.Unlock()
		return false
	}
	total, failed := r.read()
	if total < r.minBytes && !failed {
		r.releaseRanges()
		d.mu.Unlock()
		return false
	}
	d.timer.Stop()
	d.completeLocked()
	return true
}

// mayHaveMore reports whether a re-read could find something new: a
// partition whose high watermark is past its fetch offset, or one that was
// closed or is no longer led here. It reads only offsets, so idle wakes stay cheap.
func (r *FetchResult) mayHaveMore() bool {
	for i, p := range r.parts {
		if p == nil {
			continue
		}
		end := p.highWatermark
		if r.replica >= 0 {
			end = p.log.LogEndOffset
		}
		if p.closed.Load() || end() > r.Partitions[i].Offset || !p.leads() {
			return true
		}
	}
	return false
}

// expire answers with whatever is there when MaxWait ends.
func (d *delayedFetch) expire() {
	d.mu.Lock()
	if d.mu.completed {
		d.mu.Unlock()
		return
	}
	d.res.read()
	d.completeLocked()
}

func (d *delayedFetch) fail(err error) {
	d.mu.Lock()
	if d.mu.completed {
		d.mu.Unlock()
		return
	}
	d.timer.Stop()
	d.res.failAll(err)
	d.completeLocked()
}

// completeLocked marks d complete, unlocks it and answers. d.mu must be held.
func (d *delayedFetch) completeLocked() {
	d.mu.completed = true
	r := d.res
	d.res = nil
	d.mu.Unlock()
	e := r.e
	d.done(r)
	e.leave()
}
