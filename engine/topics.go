package engine

// Behavior: topic administration. Names follow Kafka's rules exactly: 1 to
// 249 characters of [a-zA-Z0-9._-], not "." or "..", and no two topics may
// differ only by '.' versus '_' (they would share metric names). CreateTopic
// opens the partition logs, then persists topics.json. DeleteTopic persists
// topics.json and makes the topic unreachable at once, then deletes the logs
// and wakes operations parked on it (they answer ErrUnknownTopicOrPartition);
// a FileRange a fetch still holds keeps its segment file readable until
// released. Until the logs are gone the name cannot be re-created
// (ErrTopicExists, as Kafka answers for a topic marked for deletion).
//
// Internal topics (IsInternalTopic: __consumer_offsets) belong to the
// engine: only the group coordinator creates one, and clients can neither
// create, delete, auto-create nor produce to it (ErrInvalidTopic; Kafka
// answers INVALID_TOPIC_EXCEPTION for a produce to an internal topic).
// They may read it. A client's record in __consumer_offsets could stop the
// coordinator from loading it, and deleting it would lose every group's
// committed offsets.

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/segment"
)

// ValidateTopicName returns nil or an error wrapping ErrInvalidTopic that
// says which rule the name breaks (record.CheckTopicName, the rule the
// client applies too).
func ValidateTopicName(name string) error {
	if err := record.CheckTopicName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTopic, err)
	}
	return nil
}

// IsInternalTopic reports whether name is a topic the engine keeps for
// itself (see the Behavior comment).
func IsInternalTopic(name string) bool { return name == OffsetsTopic }

// refuseInternal returns an ErrInvalidTopic error for an internal topic,
// naming what was refused. It is on the produce path: one comparison.
func refuseInternal(what, name string) error {
	if IsInternalTopic(name) {
		return fmt.Errorf("%w: %s %q: it is an internal topic, kept by the group coordinator", ErrInvalidTopic, what, name)
	}
	return nil
}

// refuseReserved is refuseInternal for creating a topic: a name that
// collides with an internal topic is refused too, since created first it
// would keep the coordinator from creating its own.
func refuseReserved(what, name string) error {
	if !IsInternalTopic(name) && collisionKey(name) == collisionKey(OffsetsTopic) {
		return fmt.Errorf("%w: %s %q: it collides with the internal topic %q ('.' and '_' are interchangeable)", ErrInvalidTopic, what, name, OffsetsTopic)
	}
	return refuseInternal(what, name)
}

// collisionKey is the name with '.' read as '_': two names with the same key collide.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// CreateTopic creates a topic with the given partition count (-1: the
// default) and config overrides (Kafka key names). See CreateTopicReplicated.
func (e *Engine) CreateTopic(name string, partitions int32, configs map[string]string) error {
	return e.CreateTopicReplicated(name, partitions, -1, configs)
}

// CreateTopicReplicated is CreateTopic with a replication factor; -1 means
// the default (1). A single broker places only one replica, so anything
// else fails with ErrInvalidReplicationFactor. In cluster mode topics come
// from the metadata (ApplyTopic) and this fails with ErrNotController.
// Errors: ErrInvalidTopic,
// ErrTopicExists, ErrInvalidPartitions, ErrInvalidConfig, ErrResourceLimit
// (not enough file descriptors, see descriptors.go), ErrStorage,
// ErrShuttingDown. An internal topic is refused (ErrInvalidTopic, or
// ErrTopicExists once it exists).
func (e *Engine) CreateTopicReplicated(name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	if err := e.refuseClustered("create topic", name); err != nil {
		return err
	}
	if IsInternalTopic(name) {
		e.admin.Lock()
		err := e.nameFreeLocked(name) // an existing one is ErrTopicExists, as for any topic
		e.admin.Unlock()
		return cmp.Or(err, refuseInternal("create", name))
	}
	return e.createTopic(name, partitions, replicationFactor, configs)
}

// createTopic is CreateTopicReplicated without the internal-topic check,
// for the engine's own topics.
func (e *Engine) createTopic(name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	partitions, cfg, err := e.checkCreate(name, partitions, replicationFactor, configs)
	if err != nil {
		return err
	}
	e.admin.Lock()
	defer e.admin.Unlock()
	return e.createLocked(name, partitions, cfg, maps.Clone(configs))
}

// ValidateCreateTopic runs every check of CreateTopicReplicated, including
// that the name is free and the log dir not full (ErrDiskFull), and creates nothing (Kafka's CreateTopics with
// validate_only). Same errors, except ErrStorage; in cluster mode any
// replication factor passes (the controller places the replicas).
func (e *Engine) ValidateCreateTopic(name string, partitions int32, replicationFactor int16, configs map[string]string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	n, _, err := e.checkCreate(name, partitions, replicationFactor, configs)
	if err != nil {
		return err
	}
	e.admin.Lock()
	defer e.admin.Unlock()
	return cmp.Or(e.nameFreeLocked(name), refuseInternal("create", name), e.checkDescriptorsLocked(fmt.Sprintf("creating topic %q", name), n),
		e.logDir.fullErr(fmt.Sprintf("create topic %q", name)))
}

// checkCreate validates a create request's arguments and returns the
// partition count (the default for -1) and the effective config.
func (e *Engine) checkCreate(name string, partitions int32, replicationFactor int16, configs map[string]string) (int32, TopicConfig, error) {
	if err := ValidateTopicName(name); err != nil {
		return 0, TopicConfig{}, err
	}
	if !IsInternalTopic(name) {
		if err := refuseReserved("create", name); err != nil {
			return 0, TopicConfig{}, err
		}
	}
	if partitions == -1 {
		partitions = e.cfg.DefaultPartitions
	}
	if partitions < 1 || partitions > MaxPartitionsPerTopic {
		return 0, TopicConfig{}, fmt.Errorf("%w: topic %q: %d partitions, want 1 to %d", ErrInvalidPartitions, name, partitions, MaxPartitionsPerTopic)
	}
	// In cluster mode the controller places the replicas; a local
	// validation takes any factor.
	if replicationFactor != -1 && replicationFactor != 1 && !e.cfg.Clustered {
		return 0, TopicConfig{}, fmt.Errorf("%w: topic %q: replication factor %d, but this cluster has 1 broker", ErrInvalidReplicationFactor, name, replicationFactor)
	}
	cfg, err := applyOverrides(e.cfg.Topic, configs)
	if err != nil {
		return 0, TopicConfig{}, fmt.Errorf("topic %q: %w", name, err)
	}
	return partitions, cfg, nil
}

// nameFreeLocked fails if name exists, is being deleted, or collides with
// an existing topic; admin must be held.
func (e *Engine) nameFreeLocked(name string) error {
	cur := *e.topics.Load()
	if _, ok := cur[name]; ok {
		return fmt.Errorf("%w: %q", ErrTopicExists, name)
	}
	if _, ok := e.admin.deleting[name]; ok {
		// Kafka's answer for a topic marked for deletion.
		return fmt.Errorf("%w: %q is being deleted", ErrTopicExists, name)
	}
	key := collisionKey(name)
	for other := range cur {
		if collisionKey(other) == key {
			return fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are interchangeable)", ErrInvalidTopic, name, other)
		}
	}
	return nil
}

// createLocked opens the logs and publishes the topic; admin must be held.
func (e *Engine) createLocked(name string, partitions int32, cfg TopicConfig, overrides map[string]string) error {
	if err := e.nameFreeLocked(name); err != nil {
		return err
	}
	if err := e.checkDescriptorsLocked(fmt.Sprintf("creating topic %q", name), partitions); err != nil {
		return err
	}
	if err := e.logDir.fullErr(fmt.Sprintf("create topic %q", name)); err != nil {
		return err
	}
	t, err := e.openTopic(name, partitions, cfg, overrides, nil)
	if err != nil {
		return err
	}
	next := maps.Clone(*e.topics.Load())
	next[name] = t
	if err := e.persist(next, false); err != nil {
		for p := range t.hosted() {
			p.remove()
		}
		return err
	}
	e.topics.Store(&next)
	return nil
}

// openTopic opens (creating if needed) the partition logs of a topic of
// the given partition count: every one when hosted is nil, else those
// listed. In single-broker mode each partition is led here; in cluster mode
// it starts with no role (ApplyTopic gives one).
func (e *Engine) openTopic(name string, partitions int32, cfg TopicConfig, overrides map[string]string, hosted []int32) (*topic, error) {
	t := &topic{name: name, settings: new(atomic.Pointer[topicSettings]), partitions: make([]*partition, partitions)}
	t.settings.Store(&topicSettings{cfg: cfg, overrides: overrides})
	ids := hosted
	if ids == nil {
		ids = make([]int32, partitions)
		for i := range ids {
			ids[i] = int32(i)
		}
	}
	var role *partitionRole
	if !e.cfg.Clustered {
		role = e.soleRole
	}
	for _, i := range ids {
		p, err := e.openPartition(name, i, t.settings, role)
		if err != nil {
			for p := range t.hosted() {
				p.close()
			}
			return nil, err
		}
		t.partitions[i] = p
	}
	return t, nil
}

// openPartition opens (creating if needed) one partition's log with the
// topic's current settings and rebuilds its producer state.
func (e *Engine) openPartition(name string, id int32, settings *atomic.Pointer[topicSettings], role *partitionRole) (*partition, error) {
	segCfg := e.segmentConfig(settings.Load().cfg)
	dir := filepath.Join(e.cfg.DataDir, partitionDir(name, id))
	if hook := e.cfg.BeforeAppendWrite; hook != nil {
		segCfg.BeforeWrite = func() { hook(name, id) }
	}
	log, err := segment.Open(dir, segCfg)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", storageSentinel(err), dir, err)
	}
	if r := log.Recovery(); r != (segment.Recovery{}) {
		e.cfg.Logf("spate: %s-%d: recovered after an unclean stop: cut %d bytes after the last whole batch (a torn write, or a direct write's padding), dropped %d later segments; log ends at %d",
			name, id, r.CutBytes, r.DroppedSegments, log.LogEndOffset())
	}
	p := newPartition(name, id, settings, log, role)
	p.repl.restored = e.restoredHW(name, id)
	if err := p.rebuildProducers(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func partitionDir(topic string, id int32) string {
	return topic + "-" + strconv.Itoa(int(id))
}

// DeleteTopic removes a topic and its data. The topic is unreachable when it
// returns; FileRanges already handed out stay readable until released.
// Errors: ErrUnknownTopicOrPartition, ErrInvalidTopic (an internal topic),
// ErrNotController (cluster mode: RemoveTopic applies the metadata's
// deletes), ErrStorage, ErrShuttingDown.
func (e *Engine) DeleteTopic(name string) error {
	// The internal topic's refusal first: a cluster member answers it
	// with this engine's words too (broker.DeleteTopic).
	if err := refuseInternal("delete", name); err != nil {
		return err
	}
	if err := e.refuseClustered("delete topic", name); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	return e.deleteTopic(name)
}

// deleteTopic is DeleteTopic once its checks have passed; enter has been
// called.
func (e *Engine) deleteTopic(name string) error {
	t, err := e.unpublish(name)
	if err != nil {
		return err
	}
	var errs []error
	for p := range t.hosted() {
		if err := p.remove(); err != nil {
			errs = append(errs, err)
		}
		p.watchers.wake() // parked operations see the closed partition
	}
	e.admin.Lock()
	delete(e.admin.deleting, name)
	e.admin.Unlock()
	e.logDir.refresh() // appends see the space freed at once
	return errors.Join(errs...)
}

// unpublish removes a topic from topics.json and from the map, and marks it
// as being deleted.
func (e *Engine) unpublish(name string) (*topic, error) {
	e.admin.Lock()
	defer e.admin.Unlock()
	cur := *e.topics.Load()
	t, ok := cur[name]
	if !ok {
		return nil, fmt.Errorf("%w: topic %q", ErrUnknownTopicOrPartition, name)
	}
	next := maps.Clone(cur)
	delete(next, name)
	if err := e.persist(next, true); err != nil {
		return nil, err
	}
	e.topics.Store(&next)
	e.admin.deleting[name] = struct{}{}
	return t, nil
}

// Topics returns the names of all topics, sorted.
func (e *Engine) Topics() []string {
	cur := *e.topics.Load()
	names := make([]string, 0, len(cur))
	for n := range cur {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Name string
	// Err is nil, or wraps ErrUnknownTopicOrPartition for a name Describe
	// did not find.
	Err error
	// Configs holds every topic config by Kafka name (effective values);
	// Overrides only those set on this topic.
	Configs, Overrides map[string]string
	Partitions         []PartitionInfo
}

// PartitionInfo is one partition's placement and offsets.
//
// In single-broker mode this broker is leader, sole replica and ISR at
// epoch 0. In cluster mode Leader, LeaderEpoch, Replicas and ISR are the
// metadata's as ApplyTopic last gave them (Leader -1 and no replicas
// until then), and the offsets are -1 for a partition not hosted here.
type PartitionInfo struct {
	Topic          string
	Partition      int32
	Leader         int32 // broker id; -1: none (offline, or not known yet)
	LeaderEpoch    int32
	Replicas, ISR  []int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
}

// Describe returns the named topics in the given order, or every topic
// (sorted) when no name is given.
func (e *Engine) Describe(names ...string) []TopicInfo {
	cur := *e.topics.Load()
	if len(names) == 0 {
		names = e.Topics()
	}
	out := make([]TopicInfo, 0, len(names))
	for _, n := range names {
		t, ok := cur[n]
		if !ok {
			out = append(out, TopicInfo{Name: n, Err: fmt.Errorf("%w: topic %q", ErrUnknownTopicOrPartition, n)})
			continue
		}
		st := t.settings.Load()
		info := TopicInfo{Name: n, Configs: st.cfg.Map(), Overrides: maps.Clone(st.overrides)}
		for i := range t.partitions {
			info.Partitions = append(info.Partitions, e.partitionInfo(t, int32(i)))
		}
		out = append(out, info)
	}
	return out
}

func (e *Engine) partitionInfo(t *topic, id int32) PartitionInfo {
	info := PartitionInfo{Topic: t.name, Partition: id, Leader: -1, LogStartOffset: -1, LogEndOffset: -1, HighWatermark: -1}
	switch {
	case !e.cfg.Clustered:
		info.Leader, info.Replicas, info.ISR = e.cfg.BrokerID, []int32{e.cfg.BrokerID}, []int32{e.cfg.BrokerID}
	case t.roles != nil:
		r := t.roles[id]
		info.Leader, info.LeaderEpoch, info.Replicas, info.ISR = r.Leader, r.LeaderEpoch, slices.Clone(r.Replicas), slices.Clone(r.ISR)
	}
	if p := t.partitions[id]; p != nil {
		info.LogStartOffset, info.LogEndOffset, info.HighWatermark = p.log.LogStartOffset(), p.log.LogEndOffset(), p.highWatermark()
	}
	return info
}

// EachPartition calls fn for every partition hosted here, topic by topic
// in no particular order, without allocating replica lists; for metrics.
func (e *Engine) EachPartition(fn func(topic string, partition int32, logStart, logEnd, highWatermark int64)) {
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			fn(p.topic, p.id, p.log.LogStartOffset(), p.log.LogEndOffset(), p.highWatermark())
		}
	}
}

// removeOrphans deletes partition directories that topics.json does not
// list as hosted: a crash between persisting a delete (or, in cluster
// mode, a partition moving away) and removing the directories, or between
// opening new logs and persisting them.
func (e *Engine) removeOrphans(known map[string]*topic) error {
	entries, err := os.ReadDir(e.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: read data dir %s: %w", ErrStorage, e.cfg.DataDir, err)
	}
	for _, ent := range entries {
		name, id, ok := parsePartitionDir(ent.Name())
		if !ent.IsDir() || !ok {
			continue
		}
		if t := known[name]; t != nil && id < len(t.partitions) && t.partitions[id] != nil {
			continue
		}
		dir := filepath.Join(e.cfg.DataDir, ent.Name())
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("%w: remove orphan partition dir %s: %w", ErrStorage, dir, err)
		}
	}
	return nil
}

// parsePartitionDir splits "<topic>-<partition>" and reports whether it has
// that form with a valid topic name.
func parsePartitionDir(dir string) (string, int, bool) {
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(dir[i+1:])
	if err != nil || n < 0 || strconv.Itoa(n) != dir[i+1:] {
		return "", 0, false
	}
	name := dir[:i]
	return name, n, ValidateTopicName(name) == nil
}
