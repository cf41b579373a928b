package broker

// Behavior: every broker is a cluster member: with controller.addr or
// controller.quorum.voters set, of the quorum they name; with neither, a
// lone voter, a one-voter cluster of itself on no port (cluster.Config).
// It runs a metadata node (cluster.Node) beside its engine, and this file
// carries what the metadata says to the engine and what the broker is to
// the controller:
//
//   - Registration and heartbeats. Once its listeners are bound, the broker
//     registers (broker id, a fresh incarnation per start, its native,
//     controller, admin and Kafka addresses, its rack) and then heartbeats
//     every heartbeatInterval with the metadata offset it has applied; the
//     controller unfences it once that offset reaches its registration, and
//     fences it after broker.session.timeout.ms of silence. Until a
//     controller is elected it retries, saying so every few seconds. A
//     registration refused because another live broker holds the id is
//     retried for two session timeouts (a restart waits out its previous
//     run's session) and then stops the broker with that error (Failed).
//   - Adoption. Once unfenced, topics the data dir holds from before the
//     broker was a member (no topic id) and the producer ids it handed out
//     alone are adopted into the metadata (cluster.AdoptTopics), so a data
//     dir of an older broker keeps serving its records, offsets and
//     groups. A lone voter's Start returns once it is registered,
//     unfenced, has adopted and applied its topics (or after
//     loneReadyWait), so it serves at once, as a broker alone did.
//   - Roles. Every change of the metadata image is applied to the engine:
//     every topic becomes an engine.TopicSpec (ApplyTopic opens, leads or
//     follows exactly the partitions with a replica here, at the metadata's
//     epochs, and keeps the others' leaders for FindCoordinator); topics the engine hosts that the metadata no
//     longer has are removed, but only once this broker is unfenced, i.e.
//     caught up with the metadata log, so a restart with a stale image
//     never deletes a topic it has not yet heard of being re-created.
//   - Replication (replica.go). Fetchers copy the partitions followed here
//     from their leaders; leaders' ISR changes go to AlterPartition.
//   - Controlled shutdown. Close first asks the controller to fence the
//     broker (leadership moves away), then stops serving.
//   - Creates, deletes and producer-id blocks go to the controller
//     (cluster.Node forwards them): see clusterCreateTopic and the
//     engine's hooks.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/kafka"
	"github.com/spate-io/spate/wire"
)

// member is a broker's side of the cluster.
type member struct {
	b           *Broker
	node        *cluster.Node
	incarnation cluster.ID16

	epoch  atomic.Int64 // broker epoch from the registration; 0 before it
	fenced atomic.Bool  // as the last heartbeat said; true until one says otherwise
	// problem is why the broker is not (yet) a serving member, for /health;
	// nil once registered and unfenced.
	problem atomic.Pointer[string]

	// applyMu serializes applying images to the engine (the roles loop and
	// creates waiting for their topic).
	applyMu sync.Mutex
	applied map[string]*cluster.Topic // what was last applied, by name; under applyMu
	// ready is closed once the broker is unfenced and has adopted and
	// applied its topics (loneReadyWait).
	ready chan struct{}
	// readyAt is the offset of the image markReady failed to apply, or -1:
	// ready then waits for the roles loop to apply that image or a newer
	// one whole (markReady).
	readyAt atomic.Int64

	failed   chan error // Broker.Failed
	failOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup
}

// rateLog logs at most one line every 5 s, so a condition that lasts (a
// controller or a leader out of reach) does not flood the log.
type rateLog struct {
	broker int32
	last   time.Time
}

func (m *member) newRateLog() *rateLog { return &rateLog{broker: m.b.cfg.BrokerID} }

// printf logs "spate broker N: " and the message unless one was logged in
// the last 5 s.
func (r *rateLog) printf(format string, args ...any) {
	if time.Since(r.last) >= 5*time.Second {
		r.last = time.Now()
		log.Printf("spate broker %d: "+format, append([]any{r.broker}, args...)...)
	}
}

// heartbeatInterval is how often a member heartbeats: a third of the
// session timeout, so two lost heartbeats do not fence it, within Kafka's
// default 2 s.
func heartbeatInterval(session time.Duration) time.Duration {
	return min(max(session/3, 100*time.Millisecond), 2*time.Second)
}

// startNode opens the broker's metadata node in its data dir.
func startNode(cfg Config) (*cluster.Node, error) {
	voters, err := cluster.ParseVoters(cfg.Voters)
	if err != nil {
		return nil, fmt.Errorf("%w: controller.quorum.voters: %w", ErrConfig, err)
	}
	return cluster.Start(cluster.Config{
		BrokerID:       cfg.BrokerID,
		ControllerAddr: cfg.ControllerAddr,
		AdvertisedAddr: cfg.ControllerAdvertisedAddr,
		Voters:         voters,
		DataDir:        cfg.DataDir,
		SessionTimeout: cfg.SessionTimeout,
	})
}

func newMember(b *Broker, node *cluster.Node) *member {
	m := &member{b: b, node: node, incarnation: randomIncarnation(), applied: map[string]*cluster.Topic{},
		failed: make(chan error, 1), stop: make(chan struct{}), ready: make(chan struct{})}
	m.fenced.Store(true)
	m.readyAt.Store(-1) // nothing failed to apply yet
	m.setProblem("not registered with the controller yet")
	return m
}

func randomIncarnation() cluster.ID16 {
	var id cluster.ID16
	rand.Read(id[:]) // never fails (crypto/rand panics rather than return an error)
	return id
}

func (m *member) setProblem(s string) {
	if s == "" {
		m.problem.Store(nil)
		return
	}
	m.problem.Store(&s)
}

// loneReadyWait bounds how long a lone voter's Start waits to be ready
// (unfenced, topics adopted and applied). It takes a few raft commits,
// milliseconds; what runs past the bound is a metadata write that cannot
// complete (a disk full past the metadata log's own room, cluster's
// space.go), and then the broker starts anyway and says why in /health.
const loneReadyWait = 10 * time.Second

// start runs the registration/heartbeat and roles loops; for a lone voter
// it returns once the broker is ready to serve (loneReadyWait).
func (m *member) start() {
	m.wg.Add(3)
	go m.heartbeatLoop()
	go m.rolesLoop()
	go m.fetchersLoop()
	if !m.node.Lone() {
		return
	}
	select {
	case <-m.ready:
	case <-time.After(loneReadyWait):
		log.Printf("spate broker %d: not ready after %s (%s); serving what it can meanwhile", m.b.cfg.BrokerID, loneReadyWait, m.problemText())
	}
}

// problemText is the member's problem, "" if none.
func (m *member) problemText() string {
	if p := m.problem.Load(); p != nil {
		return *p
	}
	return ""
}

// adoptLegacy asks the controller to adopt the topics this data dir held
// before the broker was a cluster member, and the producer ids it handed
// out then (cluster.AdoptTopics), then applies them. A topic whose name the
// metadata has already is not adopted: ApplyTopic gave this broker's logs
// to the metadata's topic (engine's roles.go).
func (m *member) adoptLegacy() error {
	e, img := m.b.engine, m.node.Image()
	var names []string
	for name, id := range e.HostedTopics() {
		if id == ([16]byte{}) && img.Topic(name) == nil {
			names = append(names, name)
		}
	}
	pidEnd := e.LocalProducerIDEnd()
	if len(names) == 0 && pidEnd <= img.NextProducerID() {
		return nil
	}
	slices.Sort(names)
	var topics []cluster.AdoptedTopic
	for _, info := range e.Describe(names...) {
		if info.Err == nil {
			topics = append(topics, cluster.AdoptedTopic{Name: info.Name, Partitions: int32(len(info.Partitions)), Configs: info.Overrides})
		}
	}
	if err := m.node.AdoptTopics(m.b.cfg.BrokerID, m.epoch.Load(), topics, pidEnd); err != nil {
		return fmt.Errorf("adopt topics %v: %w", names, err)
	}
	log.Printf("spate broker %d: adopted the %d topics this data dir held alone %v into the cluster metadata, and producer ids below %d",
		m.b.cfg.BrokerID, len(topics), names, pidEnd)
	_, err := m.applyNewest()
	return err
}

// fail stops the broker's membership with err (Broker.Failed).
func (m *member) fail(err error) {
	m.failOnce.Do(func() { m.failed <- err })
}

func (m *member) registration() cluster.RegisterBroker {
	b := m.b
	return cluster.RegisterBroker{
		BrokerID:    b.cfg.BrokerID,
		Incarnation: m.incarnation,
		Addrs: cluster.BrokerAddrs{Native: b.AdvertisedAddr(), Controller: m.node.AdvertisedAddr(), Admin: b.AdminAddr(),
			Kafka: b.KafkaAdvertisedAddr()},
		Rack: b.cfg.Rack,
	}
}

func (m *member) heartbeatLoop() {
	defer m.wg.Done()
	every := heartbeatInterval(m.b.cfg.SessionTimeout)
	var inUseSince time.Time
	adopted := false
	logEvery := m.newRateLog().printf
	for {
		if err := m.node.Err(); err != nil {
			m.fail(fmt.Errorf("broker: metadata node stopped: %w", err))
			return
		}
		if m.epoch.Load() == 0 {
			lossy := m.b.engine.LossyRestart()
			epoch, err := m.node.RegisterBroker(m.registration(), lossy != "")
			switch {
			case err == nil:
				m.epoch.Store(epoch)
				inUseSince = time.Time{}
				log.Printf("spate broker %d: registered with the controller (broker epoch %d)", m.b.cfg.BrokerID, epoch)
				if lossy != "" && lossy != engine.LossyNewDataDir {
					log.Printf("spate broker %d: registered as a lossy restart (%s): it may lack records it acknowledged, "+
						"so it keeps no ISR place it held and catches up as a new follower", m.b.cfg.BrokerID, lossy)
				}
				if err := m.b.engine.ClearLossyRestart(); err != nil {
					log.Printf("spate broker %d: %v (the next start counts as lossy again)", m.b.cfg.BrokerID, err)
				}
				continue
			case errors.Is(err, cluster.ErrBrokerIDInUse):
				if inUseSince.IsZero() {
					inUseSince = time.Now()
				}
				if time.Since(inUseSince) > 2*m.b.cfg.SessionTimeout {
					m.fail(fmt.Errorf("broker: register broker %d: %w", m.b.cfg.BrokerID, err))
					return
				}
				m.setProblem(err.Error())
				logEvery("registration refused, retrying: %v", err)
			default:
				m.setProblem("not registered: " + err.Error())
				// A lone voter is its own controller within milliseconds;
				// Start says if it is not.
				if !m.node.Lone() || !errors.Is(err, cluster.ErrNotController) {
					logEvery("cannot register yet, retrying: %v", err)
				}
			}
		} else {
			fenced, err := m.node.Heartbeat(m.b.cfg.BrokerID, m.epoch.Load(), m.node.Image().Offset())
			switch {
			case err == nil:
				m.fenced.Store(fenced)
				switch {
				case fenced:
					m.setProblem("fenced: catching up with the metadata log")
				case !adopted:
					if err := m.adoptLegacy(); err != nil {
						m.setProblem(err.Error())
						logEvery("%v; retrying", err)
						break
					}
					adopted = true
					m.setProblem("")
					m.markReady()
				default:
					m.setProblem("")
				}
			case errors.Is(err, cluster.ErrStaleEpoch), errors.Is(err, cluster.ErrUnknownBroker):
				// Registered again elsewhere, or the controller lost us:
				// register afresh.
				m.epoch.Store(0)
				m.fenced.Store(true)
				m.setProblem("registering again: " + err.Error())
				continue
			default:
				m.setProblem("heartbeat failed: " + err.Error())
				logEvery("heartbeat failed, retrying: %v", err)
			}
		}
		wait := every
		if m.epoch.Load() != 0 && m.fenced.Load() {
			// Catching up: unfenced as soon as the applied offset allows,
			// not a heartbeat interval later.
			wait = min(every, 100*time.Millisecond)
		}
		if m.epoch.Load() == 0 && m.node.Lone() {
			// A lone voter elects itself within milliseconds: register
			// then, not a heartbeat interval later.
			wait = min(every, 10*time.Millisecond)
		}
		select {
		case <-m.stop:
			return
		case <-time.After(wait):
		}
	}
}

// markReady closes ready once the image the broker is unfenced at is
// applied. A failed apply (a leader epoch that cannot be recorded on a
// full disk, say) leaves its partitions without a role, so ready waits:
// the roles loop retries and closes it after its next whole apply, and a
// lone voter's Start stops waiting after loneReadyWait. Closing it anyway
// let Start return while partitions still answered NOT_LEADER_OR_FOLLOWER
// (TestDiskFull failed 1 run in 4 that way).
func (m *member) markReady() {
	img, err := m.applyNewest()
	if err == nil {
		m.closeReady()
		return
	}
	m.readyAt.Store(img.Offset())
}

// closeReady closes ready once.
func (m *member) closeReady() {
	m.readyAt.Store(-1)
	select {
	case <-m.ready:
	default:
		close(m.ready)
	}
}

// rolesLoop applies every new image to the engine until the member stops.
func (m *member) rolesLoop() {
	defer m.wg.Done()
	var lastErr string
	for {
		img, err := m.applyNewest()
		if at := m.readyAt.Load(); err == nil && at >= 0 && img.Offset() >= at {
			m.closeReady()
		}
		if err != nil && err.Error() != lastErr {
			lastErr = err.Error()
			log.Printf("spate broker %d: applying metadata at offset %d: %v", m.b.cfg.BrokerID, img.Offset(), err)
		}
		select {
		case <-m.stop:
			return
		case <-img.Changed():
		case <-time.After(time.Second): // retries a failed apply; picks up "unfenced" for removals
		}
	}
}

// applyNewest makes the engine match the newest image and returns that
// image. The image is read under applyMu: one read before taking it could
// be older than one another caller applied meanwhile, and applying it
// would remove the topics created since. Nothing is applied until the
// image reaches this broker's registration: before, it may be history
// being replayed (a restart applies the log from its last snapshot on),
// in which a topic deleted and created again would be replaced twice and
// one created later would not exist yet. Kafka's brokers likewise publish
// metadata only once caught up.
func (m *member) applyNewest() (*cluster.Image, error) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	// Read before the image: unfenced then means this image is at least
	// as new as the heartbeat that found the broker caught up.
	unfenced := !m.fenced.Load()
	img := m.node.Image()
	if epoch := m.epoch.Load(); epoch == 0 || img.Offset() < epoch {
		return img, nil
	}
	return img, m.applyLocked(img, unfenced)
}

// applyLocked makes the engine match img for this broker, removing the
// topics img lacks if unfenced; applyMu held.
func (m *member) applyLocked(img *cluster.Image, unfenced bool) error {
	e := m.b.engine
	self := m.b.cfg.BrokerID
	var errs []error
	for _, t := range img.Topics() {
		if m.applied[t.Name] == t {
			continue
		}
		if err := e.ApplyTopic(topicSpec(t)); err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Name, err))
			continue
		}
		m.applied[t.Name] = t
	}
	for name := range m.applied {
		if img.Topic(name) == nil {
			delete(m.applied, name)
		}
	}
	if unfenced {
		for name, id := range e.HostedTopics() {
			if t := img.Topic(name); t != nil && cluster.ID16(id) == t.ID {
				continue
			}
			if id == ([16]byte{}) {
				// A topic of this data dir from before it joined a
				// cluster: not the metadata's to delete, but to adopt
				// (adoptLegacy).
				continue
			}
			if t := img.Topic(name); t != nil && hosts(t, self) {
				continue // same name, new id: ApplyTopic above replaced it
			}
			if err := e.RemoveTopic(name); err != nil && !errors.Is(err, engine.ErrUnknownTopicOrPartition) {
				errs = append(errs, fmt.Errorf("remove topic %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// hosts reports whether broker id holds a replica of any partition of t.
func hosts(t *cluster.Topic, id int32) bool {
	for _, p := range t.Partitions {
		if slices.Contains(p.Replicas, id) {
			return true
		}
	}
	return false
}

// topicSpec is t as the engine takes it.
func topicSpec(t *cluster.Topic) engine.TopicSpec {
	spec := engine.TopicSpec{Name: t.Name, ID: [16]byte(t.ID), Configs: t.Configs, Partitions: make([]engine.PartitionRole, len(t.Partitions))}
	for i, p := range t.Partitions {
		spec.Partitions[i] = engine.PartitionRole{Partition: int32(i), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			PartitionEpoch: p.PartitionEpoch, Replicas: p.Replicas, ISR: p.ISR}
	}
	return spec
}

// createTopic creates a topic through the controller and returns once
// this broker applied it, so a produce that auto-created it finds it.
func (m *member) createTopic(name string, partitions, replicationFactor int32, configs map[string]string) error {
	if partitions <= 0 {
		partitions = m.b.cfg.NumPartitions
	}
	if replicationFactor <= 0 && name == engine.OffsetsTopic {
		replicationFactor = m.offsetsReplicationFactor()
	}
	if replicationFactor <= 0 {
		replicationFactor = m.b.cfg.DefaultReplicationFactor
	}
	// A create sent as soon as the port opened (the listener starts before
	// the broker registers) waits for this broker to be unfenced, so that
	// it does not meet a cluster with no live broker yet and fail with
	// INVALID_REPLICATION_FACTOR ("0 live brokers", seen by spate bench
	// against a fresh broker).
	select {
	case <-m.ready:
	case <-m.stop:
	case <-time.After(loneReadyWait):
	}
	if _, err := m.node.CreateTopic(name, int(partitions), int(replicationFactor), configs); err != nil {
		return controllerErr(err)
	}
	_, err := m.applyNewest()
	return err
}

// offsetsReplicationFactor is offsets.topic.replication.factor, with -1
// meaning 3 or every live broker if fewer: committed offsets and group
// state survive the loss of a broker, and the coordinator fails over with
// its partition's leadership.
func (m *member) offsetsReplicationFactor() int32 {
	if rf := m.b.cfg.OffsetsTopicReplicationFactor; rf > 0 {
		return rf
	}
	live := int32(0)
	for _, b := range m.node.Image().Brokers() {
		if !b.Fenced {
			live++
		}
	}
	return max(min(3, live), 1)
}

// allocateProducerIDs takes a block of producer ids from the controller.
func (m *member) allocateProducerIDs() (int64, int32, error) {
	epoch := m.epoch.Load()
	if epoch == 0 {
		return 0, 0, fmt.Errorf("%w: broker %d is not registered with the controller yet", engine.ErrCoordinatorNotAvailable, m.b.cfg.BrokerID)
	}
	first, count, err := m.node.AllocateProducerIDs(m.b.cfg.BrokerID, epoch)
	return first, count, controllerErr(err)
}

// controllerErr maps a controller call's error onto the engine's errors,
// whose codes the front ends already answer with.
func controllerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrTopicExists):
		return fmt.Errorf("%w: %w", engine.ErrTopicExists, err)
	case errors.Is(err, cluster.ErrUnknownTopic):
		return fmt.Errorf("%w: %w", engine.ErrUnknownTopicOrPartition, err)
	case errors.Is(err, cluster.ErrInvalidReplicationFactor):
		return fmt.Errorf("%w: %w", engine.ErrInvalidReplicationFactor, err)
	case errors.Is(err, cluster.ErrInvalidChange):
		return fmt.Errorf("%w: %w", engine.ErrInvalidPartitions, err)
	default:
		return fmt.Errorf("%w: %w", engine.ErrNotController, err)
	}
}

// shutdown moves leadership away (controlled shutdown, bounded by ctx),
// stops the loops and the node.
func (m *member) controlledShutdown(ctx context.Context) {
	epoch := m.epoch.Load()
	if epoch == 0 {
		return
	}
	done := make(chan error, 1)
	go func() { done <- m.node.ControlledShutdown(m.b.cfg.BrokerID, epoch) }()
	select {
	case err := <-done:
		if err != nil {
			log.Printf("spate broker %d: controlled shutdown: %v (stopping anyway; the controller fences this broker after broker.session.timeout.ms)", m.b.cfg.BrokerID, err)
		}
	case <-ctx.Done():
		log.Printf("spate broker %d: controlled shutdown did not finish in time; stopping anyway", m.b.cfg.BrokerID)
	}
}

func (m *member) close() error {
	close(m.stop)
	m.wg.Wait()
	return m.node.Shutdown()
}

// CreateTopic creates a topic through the controller and returns once
// this broker applied it. partitions and replicationFactor -1 mean the
// defaults.
func (b *Broker) CreateTopic(name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	// The engine's checks of the name, counts and configs hold for the
	// cluster too; the controller then checks the replication factor
	// against the live brokers and that the name is free.
	if err := b.engine.ValidateCreateTopic(name, partitions, replicationFactor, configs); err != nil {
		return err
	}
	return b.member.createTopic(name, partitions, int32(replicationFactor), configs)
}

// DeleteTopic deletes a topic through the controller and returns once this
// broker removed it.
func (b *Broker) DeleteTopic(name string) error {
	if engine.IsInternalTopic(name) {
		return b.engine.DeleteTopic(name) // the engine's refusal of the internal topic
	}
	if err := b.member.node.DeleteTopic(name); err != nil {
		return controllerErr(err)
	}
	_, err := b.member.applyNewest()
	return err
}

// CreatePartitions grows a topic to total partitions through the
// controller, returning once this broker applied it. With validateOnly it
// only checks.
func (b *Broker) CreatePartitions(name string, total int32, validateOnly bool) error {
	if validateOnly {
		t := b.member.node.Image().Topic(name)
		switch {
		case t == nil:
			return fmt.Errorf("%w: topic %q", engine.ErrUnknownTopicOrPartition, name)
		case int(total) <= len(t.Partitions):
			return fmt.Errorf("%w: topic %q has %d partitions; a topic can only grow, asked for %d", engine.ErrInvalidPartitions, name, len(t.Partitions), total)
		case total > engine.MaxPartitionsPerTopic:
			return fmt.Errorf("%w: topic %q: %d partitions, at most %d", engine.ErrInvalidPartitions, name, total, engine.MaxPartitionsPerTopic)
		}
		return nil
	}
	if err := b.member.node.CreatePartitions(name, int(total)); err != nil {
		return controllerErr(err)
	}
	_, err := b.member.applyNewest()
	return err
}

// metadata answers a native Metadata request from the local image.
func (m *member) metadata(q *wire.MetadataRequest) *wire.MetadataResponse {
	img := m.node.Image()
	resp := &wire.MetadataResponse{ControllerID: -1}
	if id, ok := m.node.ControllerID(); ok {
		resp.ControllerID = id
	}
	for _, b := range img.Brokers() {
		if b.Fenced {
			continue
		}
		host, port, err := splitHostPort(b.Addrs.Native)
		if err != nil {
			continue
		}
		resp.Brokers = append(resp.Brokers, wire.MetadataBroker{NodeID: b.ID, Host: host, Port: port})
	}
	names := q.Topics
	if q.AllTopics {
		names = names[:0:0]
		for _, t := range img.Topics() {
			names = append(names, t.Name)
		}
	}
	for _, name := range names {
		t := img.Topic(name)
		if t == nil && q.AutoCreate && m.b.cfg.AutoCreateTopics && !q.AllTopics {
			err := m.b.CreateTopic(name, -1, -1, nil)
			if errors.Is(err, engine.ErrInvalidTopic) {
				resp.Topics = append(resp.Topics, wire.MetadataTopic{Name: name, ErrorCode: wire.InvalidTopic})
				continue
			}
			t = m.node.Image().Topic(name)
		}
		if t == nil {
			code := wire.UnknownTopicOrPartition
			if engine.ValidateTopicName(name) != nil {
				code = wire.InvalidTopic
			}
			resp.Topics = append(resp.Topics, wire.MetadataTopic{Name: name, ErrorCode: code})
			continue
		}
		mt := wire.MetadataTopic{Name: name, Partitions: make([]wire.MetadataPartition, len(t.Partitions))}
		for i, p := range t.Partitions {
			mp := wire.MetadataPartition{Partition: int32(i), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: p.ISR}
			if p.Leader < 0 {
				mp.ErrorCode = wire.LeaderNotAvailable
			}
			mt.Partitions[i] = mp
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// splitHostPort splits a listener address for Metadata.
func splitHostPort(addr string) (string, int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return host, int32(p), err
}

// brokerAddr is broker id's native listener, for FindCoordinator. A broker
// that is fenced or unknown is not available: the client asks again.
func (m *member) brokerAddr(id int32) (int32, string, int32, error) {
	b := m.node.Image().Broker(id)
	if b == nil || b.Fenced {
		return -1, "", -1, fmt.Errorf("%w: broker %d coordinates the group but is not available now", engine.ErrCoordinatorNotAvailable, id)
	}
	host, port, err := splitHostPort(b.Addrs.Native)
	if err != nil {
		return -1, "", -1, fmt.Errorf("%w: broker %d registered native address %q: %w", engine.ErrCoordinatorNotAvailable, id, b.Addrs.Native, err)
	}
	return id, host, port, nil
}

// AlterTopicConfigs sets (or with an empty value removes) config overrides
// of a topic: checked by the engine's rules, then through the controller,
// returning once this broker applied them.
func (b *Broker) AlterTopicConfigs(name string, changes map[string]string, validateOnly bool) error {
	if validateOnly {
		return b.engine.AlterTopicConfigs(name, changes, validateOnly)
	}
	if err := b.engine.AlterTopicConfigs(name, changes, true); err != nil {
		return err
	}
	set, del := map[string]string{}, []string{}
	for k, v := range changes {
		if v == "" {
			del = append(del, k)
		} else {
			set[k] = v
		}
	}
	if err := b.member.node.AlterConfigs(name, set, del); err != nil {
		return controllerErr(err)
	}
	_, err := b.member.applyNewest()
	return err
}

// kafkaView is the cluster as the Kafka port describes it: the member's
// metadata image (kafka.Cluster).
type kafkaView struct{ m *member }

func (v kafkaView) ID() string {
	if id := v.m.node.Image().ClusterID(); !id.IsZero() {
		return id.String()
	}
	return ""
}

func (v kafkaView) ControllerID() int32 {
	if id, ok := v.m.node.ControllerID(); ok {
		return id
	}
	return -1
}

// Brokers lists the unfenced brokers with a Kafka listener.
func (v kafkaView) Brokers() []kafka.Broker {
	var out []kafka.Broker
	for _, b := range v.m.node.Image().Brokers() {
		if b.Fenced || b.Addrs.Kafka == "" {
			continue
		}
		host, port, err := splitHostPort(b.Addrs.Kafka)
		if err != nil {
			continue
		}
		kb := kafka.Broker{NodeID: b.ID, Host: host, Port: port}
		if b.Rack != "" {
			rack := b.Rack
			kb.Rack = &rack
		}
		out = append(out, kb)
	}
	return out
}

// Topics describes topics from the image: leaders, epochs, replicas, ISR.
func (v kafkaView) Topics(names ...string) []engine.TopicInfo {
	img := v.m.node.Image()
	if len(names) == 0 {
		for _, t := range img.Topics() {
			names = append(names, t.Name)
		}
	}
	out := make([]engine.TopicInfo, 0, len(names))
	for _, name := range names {
		t := img.Topic(name)
		if t == nil {
			out = append(out, engine.TopicInfo{Name: name, Err: fmt.Errorf("%w: topic %q", engine.ErrUnknownTopicOrPartition, name)})
			continue
		}
		info := engine.TopicInfo{Name: name, Configs: t.Configs, Overrides: t.Configs, Partitions: make([]engine.PartitionInfo, len(t.Partitions))}
		for i, p := range t.Partitions {
			info.Partitions[i] = engine.PartitionInfo{Topic: name, Partition: int32(i), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Replicas: p.Replicas, ISR: p.ISR, LogStartOffset: -1, LogEndOffset: -1, HighWatermark: -1}
		}
		out = append(out, info)
	}
	return out
}
