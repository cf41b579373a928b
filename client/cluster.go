package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/wire"
)

// cluster is what the producer, consumer and admin share underneath: the
// connections (one per broker), the metadata cache and its refresh.
//
// Lock order, outermost first:
//
//	Producer.topicsMu, partitionProducer.mu, Consumer.mu   (callers)
//	cluster.refreshMu                                       (one refresh at a time)
//	cluster.mu, then broker.mu                              (broker.mu is held across a dial)
//	conn.mu, Producer.inflightMu                            (leaves)
//
// Response callbacks take caller locks, so conn.fail (which runs the
// callbacks of every pending request) is never called with a cluster or
// broker lock held.
type cluster struct {
	cfg   *config
	hooks *hooks
	// autoCreate asks the broker to create named topics that do not exist
	// (wire.MetadataRequest.AutoCreate): set for producers only, as Kafka's
	// clients do, so consumers and admin calls never create a topic.
	autoCreate bool
	// unreachableTO is UnreachableTimeout for an Admin's cluster; 0 for
	// producers and consumers, whose own timeouts (DeliveryTimeout, the
	// caller's context) bound their retries.
	unreachableTO time.Duration

	mu struct {
		sync.Mutex
		brokers    map[int32]*broker // by node id; seeds have ids -1, -2, ...
		controller int32
		topics     map[string]*topicMeta
		closed     bool
	}
	// refreshMu serializes metadata refreshes, so a burst of "leader moved"
	// errors costs one request, not one each.
	refreshMu      sync.Mutex
	lastRefresh    time.Time // under refreshMu
	refreshPending atomic.Bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// broker is one known broker and its connection, redialled with backoff.
type broker struct {
	id   int32
	addr string
	mu   struct {
		sync.Mutex
		conn     *conn
		failures int
		nextDial time.Time
		dialErr  error // the last failed dial's; nil after a success
	}
}

// topicMeta is an immutable snapshot of one topic's layout; a refresh
// replaces it.
type topicMeta struct {
	name       string
	err        wire.ErrorCode
	partitions []partitionMeta
}

type partitionMeta struct {
	err         wire.ErrorCode
	leader      int32
	leaderEpoch int32
	replicas    []int32
	isr         []int32
}

func newCluster(cfg *config, autoCreate bool) *cluster {
	cl := &cluster{cfg: cfg, hooks: newHooks(cfg.hooks), autoCreate: autoCreate, stop: make(chan struct{})}
	cl.mu.brokers = make(map[int32]*broker)
	cl.mu.topics = make(map[string]*topicMeta)
	cl.mu.controller = -1
	for i, s := range cfg.seeds {
		id := int32(-1 - i)
		cl.mu.brokers[id] = &broker{id: id, addr: s}
	}
	cl.wg.Add(1)
	go cl.refreshLoop()
	return cl
}

func (cl *cluster) close() {
	cl.mu.Lock()
	if cl.mu.closed {
		cl.mu.Unlock()
		return
	}
	cl.mu.closed = true
	brokers := make([]*broker, 0, len(cl.mu.brokers))
	for _, b := range cl.mu.brokers {
		brokers = append(brokers, b)
	}
	cl.mu.Unlock()
	close(cl.stop)
	for _, b := range brokers {
		b.mu.Lock()
		c := b.mu.conn
		b.mu.Unlock()
		if c != nil {
			c.fail(closeErr(b.id)) // outside b.mu: fail runs response callbacks
		}
	}
	cl.wg.Wait()
}

// refreshLoop refreshes the metadata of every known topic every
// MetadataMaxAge, so leader moves are noticed even without an error.
func (cl *cluster) refreshLoop() {
	defer cl.wg.Done()
	t := time.NewTicker(cl.cfg.metaMaxAge)
	defer t.Stop()
	for {
		select {
		case <-cl.stop:
			return
		case <-t.C:
		}
		cl.mu.Lock()
		topics := make([]string, 0, len(cl.mu.topics))
		for name := range cl.mu.topics {
			topics = append(topics, name)
		}
		cl.mu.Unlock()
		if len(topics) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), cl.cfg.reqTO)
			_ = cl.refresh(ctx, topics, time.Time{}) // an error leaves the old metadata; the next tick or error retries
			cancel()
		}
	}
}

// liveConn returns the connection to broker id if it is up, without
// dialling; callers that must not block (the producer's sender, the
// consumer's fetch loop) dial on another goroutine when it returns nil.
func (cl *cluster) liveConn(id int32) *conn {
	cl.mu.Lock()
	b := cl.mu.brokers[id]
	cl.mu.Unlock()
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.mu.conn; c != nil && !c.dead() {
		return c
	}
	return nil
}

// connTo returns a live connection to broker id, dialling if needed. After a
// failed dial the next attempt waits a jittered, doubling backoff, so a
// restarting broker is not hammered.
func (cl *cluster) connTo(ctx context.Context, id int32) (*conn, error) {
	cl.mu.Lock()
	b, ok := cl.mu.brokers[id]
	closed := cl.mu.closed
	cl.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("client: broker %d unknown: %w", id, wire.ErrBrokerNotAvailable)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.mu.conn; c != nil && !c.dead() {
		return c, nil
	}
	b.mu.conn = nil
	if wait := time.Until(b.mu.nextDial); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			// With the dial error: the caller gives up because of it.
			return nil, fmt.Errorf("client: waiting to redial broker %d: %w (last error: %w)", id, ctx.Err(), b.mu.dialErr)
		case <-cl.stop:
			t.Stop()
			return nil, ErrClosed
		}
	}
	c, err := dial(ctx, cl.cfg, cl.hooks, id, b.addr)
	if err != nil {
		b.mu.failures++
		b.mu.nextDial = time.Now().Add(backoff(cl.cfg.retryMin, cl.cfg.retryMax, b.mu.failures))
		b.mu.dialErr = err
		return nil, err
	}
	b.mu.failures, b.mu.dialErr = 0, nil
	// stop, not cl.mu: taking cl.mu under b.mu would invert the lock order.
	// close closes stop before it visits the brokers, so either this sees
	// it or close sees (and fails) the new conn.
	select {
	case <-cl.stop:
		c.fail(closeErr(id))
		return nil, ErrClosed
	default:
	}
	b.mu.conn = c
	return c, nil
}

// anyConn returns a connection to some broker: known brokers first, seeds
// last, so a cluster that moved on from its seeds keeps working.
func (cl *cluster) anyConn(ctx context.Context) (*conn, error) {
	cl.mu.Lock()
	ids := make([]int32, 0, len(cl.mu.brokers))
	for id := range cl.mu.brokers {
		if id >= 0 {
			ids = append(ids, id)
		}
	}
	for id := range cl.mu.brokers {
		if id < 0 {
			ids = append(ids, id)
		}
	}
	cl.mu.Unlock()
	var errs []error
	for _, id := range ids {
		c, err := cl.connTo(ctx, id)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, joinConnectErrors(errs)
}

// controllerConn returns a connection to the controller, or to any broker
// when the controller is unknown (the broker then answers NOT_CONTROLLER).
func (cl *cluster) controllerConn(ctx context.Context) (*conn, error) {
	cl.mu.Lock()
	id := cl.mu.controller
	_, ok := cl.mu.brokers[id]
	cl.mu.Unlock()
	if ok && id >= 0 {
		if c, err := cl.connTo(ctx, id); err == nil {
			return c, nil
		}
	}
	return cl.anyConn(ctx)
}

// requestAny sends req to any broker, retrying retriable failures with
// backoff until ctx ends.
func (cl *cluster) requestAny(ctx context.Context, req wire.Request, resp wire.Response) error {
	return cl.retry(ctx, func() error {
		c, err := cl.anyConn(ctx)
		if err != nil {
			return err
		}
		return c.request(ctx, req, resp, cl.cfg.reqTO)
	})
}

// retry calls fn until it succeeds, fails with a non-retriable error, or
// ctx ends; or, with UnreachableTimeout, until its attempts have failed to
// connect to any broker for that long.
func (cl *cluster) retry(ctx context.Context, fn func() error) error {
	var unreachableSince time.Time // zero: the last attempt reached a broker
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !retriable(err) {
			return err
		}
		switch {
		case !unreachable(err):
			unreachableSince = time.Time{}
		case unreachableSince.IsZero():
			unreachableSince = time.Now()
		case cl.unreachableTO > 0 && time.Since(unreachableSince) >= cl.unreachableTO:
			return err
		}
		t := time.NewTimer(backoff(cl.cfg.retryMin, cl.cfg.retryMax, attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-cl.stop:
			t.Stop()
			return ErrClosed
		}
	}
}

// refresh fetches metadata for topics (all topics if nil) unless another
// refresh completed after notBefore, and updates the cache.
func (cl *cluster) refresh(ctx context.Context, topics []string, notBefore time.Time) error {
	cl.refreshMu.Lock()
	defer cl.refreshMu.Unlock()
	if !notBefore.IsZero() && cl.lastRefresh.After(notBefore) {
		return nil
	}
	req := &wire.MetadataRequest{AllTopics: topics == nil, Topics: topics, AutoCreate: cl.autoCreate}
	var resp wire.MetadataResponse
	if err := cl.requestAny(ctx, req, &resp); err != nil {
		return fmt.Errorf("client: metadata: %w", err)
	}
	if err := resp.ErrorCode.Err(); err != nil {
		return fmt.Errorf("client: metadata: %w", err)
	}
	cl.lastRefresh = time.Now()
	cl.apply(&resp)
	return nil
}

// apply stores a metadata response: brokers whose address changed get
// their connection closed, topics are replaced by fresh snapshots.
func (cl *cluster) apply(resp *wire.MetadataResponse) {
	var moved []*conn
	defer func() {
		// Failing runs response callbacks, which may take producer or
		// consumer locks and then cl.mu: never under cl.mu.
		for _, c := range moved {
			c.fail(fmt.Errorf("client: broker %d moved to another address: %w", c.node, wire.ErrNetworkException))
		}
	}()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.mu.controller = resp.ControllerID
	for _, mb := range resp.Brokers {
		addr := net.JoinHostPort(mb.Host, strconv.Itoa(int(mb.Port)))
		b, ok := cl.mu.brokers[mb.NodeID]
		if ok && b.addr == addr {
			continue
		}
		if ok {
			b.mu.Lock()
			if b.mu.conn != nil {
				moved = append(moved, b.mu.conn)
			}
			b.mu.Unlock()
		}
		cl.mu.brokers[mb.NodeID] = &broker{id: mb.NodeID, addr: addr}
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		tm := &topicMeta{name: t.Name, err: t.ErrorCode}
		if t.ErrorCode == wire.None {
			tm.partitions = make([]partitionMeta, len(t.Partitions))
			for _, p := range t.Partitions {
				if p.Partition < 0 || int(p.Partition) >= len(t.Partitions) {
					continue // a gap; the partition stays "no leader" until the next refresh
				}
				tm.partitions[p.Partition] = partitionMeta{err: p.ErrorCode, leader: p.Leader, leaderEpoch: p.LeaderEpoch,
					replicas: append([]int32(nil), p.Replicas...), isr: append([]int32(nil), p.ISR...)}
			}
		}
		cl.mu.topics[t.Name] = tm
	}
}

// topic returns the cached metadata of a topic, or nil.
func (cl *cluster) topic(name string) *topicMeta {
	cl.mu.Lock()
	tm := cl.mu.topics[name]
	cl.mu.Unlock()
	return tm
}

// waitTopic returns the topic's metadata, fetching it (and retrying while
// the broker answers a retriable error, e.g. a topic being auto-created)
// until ctx ends.
func (cl *cluster) waitTopic(ctx context.Context, name string) (*topicMeta, error) {
	for attempt := 1; ; attempt++ {
		if tm := cl.topic(name); tm != nil && tm.err == wire.None && len(tm.partitions) > 0 {
			return tm, nil
		}
		if err := cl.refresh(ctx, []string{name}, time.Time{}); err != nil {
			return nil, fmt.Errorf("client: topic %q: %w", name, err)
		}
		tm := cl.topic(name)
		var err error
		switch {
		case tm == nil:
			err = fmt.Errorf("client: topic %q missing from metadata: %w", name, wire.ErrUnknownTopicOrPartition)
		case tm.err != wire.None:
			err = fmt.Errorf("client: topic %q: %w", name, tm.err.Err())
		case len(tm.partitions) == 0:
			err = fmt.Errorf("client: topic %q: %w", name, ErrNoPartitions)
		default:
			return tm, nil
		}
		if !retriable(err) {
			return nil, err
		}
		t := time.NewTimer(backoff(cl.cfg.retryMin, cl.cfg.retryMax, attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
	}
}

// leader returns the leader of a partition from the cache.
func (cl *cluster) leader(topic string, partition int32) (int32, bool) {
	leader, _, ok := cl.leaderAt(topic, partition)
	return leader, ok
}

// leaderAt is leader with the leader epoch the metadata gives it (-1 when
// unknown).
func (cl *cluster) leaderAt(topic string, partition int32) (leader, epoch int32, ok bool) {
	tm := cl.topic(topic)
	if tm == nil || partition < 0 || int(partition) >= len(tm.partitions) {
		return -1, -1, false
	}
	p := tm.partitions[partition]
	return p.leader, p.leaderEpoch, p.leader >= 0 && p.err == wire.None
}

// refreshSoon starts a background refresh of topics and of every cached
// topic (after an error that says the cache is stale). While one is
// pending further calls do nothing, so a burst of errors over many
// partitions costs one request.
func (cl *cluster) refreshSoon(topics []string) {
	if !cl.refreshPending.CompareAndSwap(false, true) {
		return
	}
	cl.mu.Lock()
	if cl.mu.closed {
		cl.mu.Unlock()
		cl.refreshPending.Store(false)
		return
	}
	for name := range cl.mu.topics {
		if !slices.Contains(topics, name) {
			topics = append(topics, name)
		}
	}
	cl.wg.Add(1) // under mu, so close cannot be in wg.Wait yet
	cl.mu.Unlock()
	go func() {
		defer cl.wg.Done()
		defer cl.refreshPending.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), cl.cfg.reqTO)
		defer cancel()
		go func() {
			select {
			case <-cl.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_ = cl.refresh(ctx, topics, time.Time{}) // failure: the caller's next retry asks again
	}()
}
