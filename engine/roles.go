package engine

// Behavior: cluster mode (Config.Clustered). The cluster metadata decides
// which topics exist, which brokers host each partition and who leads it at
// which epoch; the broker hands each topic to ApplyTopic and each delete to
// RemoveTopic, and the engine makes its partitions match:
//
//   - A partition whose replicas include this broker is opened (its
//     directory created if needed); one that no longer does is closed and
//     its directory removed. Partitions not hosted are nil entries of
//     topic.partitions.
//   - A hosted partition's role is leader (served: produce, fetch,
//     ListOffsets, DeleteRecords; batches stamped with the role's leader
//     epoch, and the epoch checkpoint gets (epoch, log end offset) when the
//     epoch grows) or follower (not served: ErrNotLeader). Losing leadership
//     wakes parked acks=all produces and long-poll fetches, which answer
//     ErrNotLeader.
//   - topics.json records the topic id and the hosted partitions, and is
//     rewritten only when they or the configs change: applying the same
//     spec twice changes nothing and costs no fsync. A restart reopens the
//     hosted partitions with no role (ErrNotLeader) until ApplyTopic.
//   - A topic of the same name with another id is removed first (its logs
//     deleted), then created anew. A topic with no id (recorded in
//     single-broker mode) is adopted: it takes the id and keeps the logs of
//     the partitions it still hosts.
//   - Once __consumer_offsets is applied or removed, the group coordinator
//     loads the groups of the partitions led here that it does not serve
//     yet and drops those of the ones it serves but no longer leads
//     (groupcluster.go).

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"
)

// PartitionRole is what the metadata says about one partition.
type PartitionRole struct {
	Partition   int32
	Leader      int32 // broker id of the leader; -1 none (offline)
	LeaderEpoch int32
	// PartitionEpoch moves with every change of the partition (leader or
	// ISR): the leader's ISR changes carry it (AlterPartitionHook).
	PartitionEpoch int32
	Replicas, ISR  []int32
}

// TopicSpec is one topic as the metadata has it.
type TopicSpec struct {
	Name       string
	ID         [16]byte
	Configs    map[string]string // the topic's overrides
	Partitions []PartitionRole   // ALL partitions of the topic in the cluster, index == partition id
}

// partitionRole is a hosted partition's role and whether this broker
// leads it. Immutable once stored in partition.role.
type partitionRole struct {
	PartitionRole
	leads bool
}

// sameRole reports whether a and b say the same of a partition.
func sameRole(a, b PartitionRole) bool {
	return a.Partition == b.Partition && a.Leader == b.Leader && a.LeaderEpoch == b.LeaderEpoch &&
		a.PartitionEpoch == b.PartitionEpoch && slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.ISR, b.ISR)
}

// cloneRoles deep-copies roles: the caller's slices stay the caller's.
func cloneRoles(roles []PartitionRole) []PartitionRole {
	out := make([]PartitionRole, len(roles))
	for i, r := range roles {
		r.Replicas, r.ISR = slices.Clone(r.Replicas), slices.Clone(r.ISR)
		out[i] = r
	}
	return out
}

// refuseClustered fails an admin entry point in cluster mode, where topics
// change through the controller (see ErrNotController).
func (e *Engine) refuseClustered(what, name string) error {
	if e.cfg.Clustered {
		return fmt.Errorf("%w: %s %q: in cluster mode topics change through the controller", ErrNotController, what, name)
	}
	return nil
}

// createThroughHook creates a topic with Config.CreateTopicHook; a topic
// that exists already is success. No engine lock may be held.
func (e *Engine) createThroughHook(name string, partitions int32, configs map[string]string) error {
	hook := e.cfg.CreateTopicHook
	if hook == nil {
		return fmt.Errorf("%w: create topic %q: cluster mode without a CreateTopicHook", ErrNotController, name)
	}
	if err := hook(name, partitions, configs); err != nil && !errors.Is(err, ErrTopicExists) {
		return fmt.Errorf("create topic %q through the controller: %w", name, err)
	}
	return nil
}

// ApplyTopic makes the engine match spec for this broker (Config.BrokerID):
// see the Behavior comment. Errors: ErrInvalidRequest (not cluster mode, or
// a malformed spec), ErrInvalidTopic, ErrInvalidPartitions (fewer
// partitions than applied before: partitions are never removed),
// ErrInvalidConfig, ErrResourceLimit, ErrDiskFull, ErrStorage,
// ErrShuttingDown. A failure leaves the topic as it was, except that roles
// set and partitions dropped before the failure stay so; applying the spec
// again completes it.
func (e *Engine) ApplyTopic(spec TopicSpec) error {
	if !e.cfg.Clustered {
		return fmt.Errorf("%w: ApplyTopic(%q) needs Config.Clustered", ErrInvalidRequest, spec.Name)
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	cfg, err := e.checkSpec(spec)
	if err != nil {
		return err
	}
	e.applying.Lock()
	defer e.applying.Unlock()
	if old := (*e.topics.Load())[spec.Name]; old != nil && old.id != ([16]byte{}) && old.id != spec.ID {
		if err := e.removeTopicApplying(spec.Name); err != nil {
			return fmt.Errorf("replace topic %q (id %s) by id %s: %w", spec.Name, topicIDString(old.id), topicIDString(spec.ID), err)
		}
	}
	e.admin.Lock()
	dropped, err := e.applyLocked(spec, cfg)
	e.admin.Unlock()
	// Logs close outside admin: closing one runs done callbacks, which may
	// produce and auto-create.
	errs := []error{err}
	for _, p := range dropped {
		errs = append(errs, p.remove())
		p.watchers.wake()
	}
	if len(dropped) > 0 {
		e.logDir.refresh()
	}
	if spec.Name == OffsetsTopic {
		errs = append(errs, e.reconcileCoordinator())
	}
	return errors.Join(errs...)
}

// topicIDString prints a topic id as Kafka prints a Uuid.
func topicIDString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// checkSpec validates spec and returns the topic's effective config.
func (e *Engine) checkSpec(spec TopicSpec) (TopicConfig, error) {
	if err := ValidateTopicName(spec.Name); err != nil {
		return TopicConfig{}, err
	}
	if spec.ID == ([16]byte{}) {
		return TopicConfig{}, fmt.Errorf("%w: topic %q has a zero topic id", ErrInvalidRequest, spec.Name)
	}
	if n := len(spec.Partitions); n < 1 || n > MaxPartitionsPerTopic {
		return TopicConfig{}, fmt.Errorf("%w: topic %q: %d partitions, want 1 to %d", ErrInvalidPartitions, spec.Name, n, MaxPartitionsPerTopic)
	}
	for i, r := range spec.Partitions {
		if r.Partition != int32(i) {
			return TopicConfig{}, fmt.Errorf("%w: topic %q: partition at index %d says it is %d", ErrInvalidRequest, spec.Name, i, r.Partition)
		}
	}
	cfg, err := applyOverrides(e.cfg.Topic, spec.Configs)
	if err != nil {
		return TopicConfig{}, fmt.Errorf("topic %q: %w", spec.Name, err)
	}
	return cfg, nil
}

// applyLocked opens the partitions spec adds here, persists and publishes
// the topic, and sets every hosted partition's role; admin must be held.
// It returns the partitions it unpublished, whose logs the caller removes
// with no lock held.
func (e *Engine) applyLocked(spec TopicSpec, cfg TopicConfig) ([]*partition, error) {
	old := (*e.topics.Load())[spec.Name]
	switch {
	case old == nil:
		if err := e.nameFreeLocked(spec.Name); err != nil {
			return nil, err
		}
	case len(spec.Partitions) < len(old.partitions):
		return nil, fmt.Errorf("%w: topic %q: the metadata has %d partitions, this broker %d; partitions are never removed",
			ErrInvalidPartitions, spec.Name, len(spec.Partitions), len(old.partitions))
	case old.id == ([16]byte{}):
		e.cfg.Logf("spate: topic %q from before cluster mode takes id %s and keeps the logs of the partitions hosted here", spec.Name, topicIDString(spec.ID))
	}
	next, open, dropped := e.nextTopic(old, spec)
	var prev *topicSettings
	var recorded *metaTopic // what topics.json has of the topic now
	if old != nil {
		prev = old.settings.Load()
		mt := metaOf(old) // before next's settings replace the shared ones
		recorded = &mt
	}
	settingsChanged := prev == nil || !maps.Equal(prev.overrides, spec.Configs)
	changed := old == nil || settingsChanged || len(open) > 0 || len(dropped) > 0 || old.id != spec.ID ||
		len(old.partitions) != len(next.partitions) || !slices.EqualFunc(old.roles, next.roles, sameRole)
	var topics map[string]*topic
	if changed {
		if settingsChanged {
			// Before the opens, so new partitions get the new configs.
			next.settings.Store(&topicSettings{cfg: cfg, overrides: maps.Clone(spec.Configs)})
		}
		var err error
		if topics, err = e.openAndPersistLocked(recorded, next, open, len(dropped) > 0); err != nil {
			if prev != nil {
				next.settings.Store(prev)
			}
			return nil, err
		}
		if settingsChanged && old != nil {
			e.applyLimits(next)
		}
	}
	// Roles before the topic is published, so a new partition is never
	// seen without its role.
	var errs []error
	for p := range next.hosted() {
		errs = append(errs, p.setRole(next.roles[p.id], e.cfg.BrokerID, e.cfg.ReplicaLagTimeMax, e.cfg.Logf))
	}
	if changed {
		e.topics.Store(&topics)
	}
	return dropped, errors.Join(errs...)
}

// nextTopic builds the topic spec makes of old (nil: none): it keeps old's
// settings and the partitions still hosted, and returns the ids of the
// partitions to open and the partitions no longer hosted.
func (e *Engine) nextTopic(old *topic, spec TopicSpec) (next *topic, open []int32, dropped []*partition) {
	next = &topic{name: spec.Name, id: spec.ID, partitions: make([]*partition, len(spec.Partitions)), roles: cloneRoles(spec.Partitions)}
	if old != nil {
		next.settings = old.settings
	} else {
		next.settings = new(atomic.Pointer[topicSettings])
	}
	for i, r := range spec.Partitions {
		var p *partition
		if old != nil && i < len(old.partitions) {
			p = old.partitions[i]
		}
		hosted := slices.Contains(r.Replicas, e.cfg.BrokerID)
		switch {
		case hosted && p == nil:
			open = append(open, int32(i))
		case !hosted && p != nil:
			dropped = append(dropped, p)
			p = nil
		}
		next.partitions[i] = p
	}
	return next, open, dropped
}

// leadingSet is the partitions of t this broker leads now.
func leadingSet(t *topic) map[int32]bool {
	out := map[int32]bool{}
	if t != nil {
		for p := range t.hosted() {
			if p.leads() {
				out[p.id] = true
			}
		}
	}
	return out
}

// openAndPersistLocked opens the partitions listed in open into next and
// persists topics.json if next differs from what it records of the topic
// (nil: a new topic); freeing says partitions are dropped (see persist).
// It returns the topic map with next, for the caller to publish. On
// failure the partitions it opened are removed. admin must be held. An
// opened partition has no role in cluster mode (setRole gives one); a
// broker alone leads it.
func (e *Engine) openAndPersistLocked(recorded *metaTopic, next *topic, open []int32, freeing bool) (map[string]*topic, error) {
	if len(open) > 0 {
		what := fmt.Sprintf("open partitions %v of topic %q", open, next.name)
		if err := e.checkDescriptorsLocked(what, int32(len(open))); err != nil {
			return nil, err
		}
		if err := e.logDir.fullErr(what); err != nil {
			return nil, err
		}
	}
	var role *partitionRole
	if !e.cfg.Clustered {
		role = e.soleRole
	}
	var opened []*partition
	undo := func() {
		for _, p := range opened {
			p.remove()
		}
	}
	for _, id := range open {
		p, err := e.openPartition(next.name, id, next.settings, role)
		if err != nil {
			undo()
			return nil, err
		}
		opened = append(opened, p)
		next.partitions[id] = p
	}
	topics := maps.Clone(*e.topics.Load())
	topics[next.name] = next
	if recorded == nil || !sameMeta(*recorded, metaOf(next)) {
		if err := e.persist(topics, freeing); err != nil {
			undo()
			return nil, err
		}
	}
	return topics, nil
}

// applyLimits gives every hosted partition log of t the roll and retention
// limits of its current settings. A failure is logged: the settings are
// persisted and published, and the log keeps its former limits until it
// reopens.
func (e *Engine) applyLimits(t *topic) {
	segCfg := e.segmentConfig(t.settings.Load().cfg)
	for p := range t.hosted() {
		if err := p.log.SetLimits(segCfg); err != nil {
			e.cfg.Logf("spate: topic %q partition %d: new limits not applied: %v", t.name, p.id, err)
		}
	}
}

// setRole gives p role r as seen from broker self. A new leader epoch is
// recorded in the epoch checkpoint at the log end offset before any batch
// is stamped with it (under mu, so no append comes between), and the ISR
// core follows the role (replica.go). The same role again changes nothing.
// Losing leadership wakes parked operations so they answer ErrNotLeader, and
// so does a committed ISR change that moves the high watermark. A new
// leader or leader epoch is logged with the log end it starts from, as
// Kafka's brokers do: after a failure, these lines say who led what.
func (p *partition) setRole(r PartitionRole, self int32, lagMax time.Duration, logf func(string, ...any)) error {
	p.mu.Lock()
	cur := p.role.Load()
	if cur != nil && sameRole(cur.PartitionRole, r) {
		p.mu.Unlock()
		return nil
	}
	next := &partitionRole{PartitionRole: cloneRoles([]PartitionRole{r})[0], leads: r.Leader == self}
	if next.leads {
		epochs := p.log.Epochs()
		if latest, _ := epochs.Latest(); r.LeaderEpoch > latest {
			if err := epochs.Assign(r.LeaderEpoch, p.log.LogEndOffset()); err != nil {
				p.mu.Unlock()
				return fmt.Errorf("%w: %s-%d: record leader epoch %d from offset %d: %w", ErrStorage, p.topic, p.id, r.LeaderEpoch, p.log.LogEndOffset(), err)
			}
		}
	}
	p.role.Store(next)
	moved, err := p.resetCoreLocked(next, self, lagMax)
	if cur == nil || cur.Leader != r.Leader || cur.LeaderEpoch != r.LeaderEpoch {
		logf("spate: %s-%d: leader %d at epoch %d (partition epoch %d, ISR %v); log here ends at %d, high watermark %d",
			p.topic, p.id, r.Leader, r.LeaderEpoch, r.PartitionEpoch, r.ISR, p.log.LogEndOffset(), p.highWatermark())
	}
	p.mu.Unlock()
	if moved || (cur != nil && cur.leads && !next.leads) {
		p.watchers.wake()
	}
	return err
}

// RemoveTopic removes a topic the metadata no longer has, as DeleteTopic
// does, __consumer_offsets included (its groups are unloaded first).
// Errors: ErrInvalidRequest (not cluster mode), ErrUnknownTopicOrPartition,
// ErrStorage, ErrShuttingDown.
func (e *Engine) RemoveTopic(name string) error {
	if !e.cfg.Clustered {
		return fmt.Errorf("%w: RemoveTopic(%q) needs Config.Clustered", ErrInvalidRequest, name)
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	e.applying.Lock()
	defer e.applying.Unlock()
	return e.removeTopicApplying(name)
}

// removeTopicApplying deletes a topic; applying must be held.
func (e *Engine) removeTopicApplying(name string) error {
	err := e.deleteTopic(name)
	if name == OffsetsTopic {
		err = errors.Join(err, e.reconcileCoordinator())
	}
	return err
}

// HostedTopics lists the topics present locally with their ids (zero for a
// topic from single-broker mode), hosted partitions or not, so that the
// broker can reconcile after a restart.
func (e *Engine) HostedTopics() map[string][16]byte {
	cur := *e.topics.Load()
	out := make(map[string][16]byte, len(cur))
	for name, t := range cur {
		out[name] = t.id
	}
	return out
}
