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
	"sort"
	"strconv"
	"strings"

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
// else fails with ErrInvalidReplicationFactor. Errors: ErrInvalidTopic,
// ErrTopicExists, ErrInvalidPartitions, ErrInvalidConfig, ErrResourceLimit
// (not enough file descriptors, see descriptors.go), ErrStorage,
// ErrShuttingDown. An internal topic is refused (ErrInvalidTopic, or
// ErrTopicExists once it exists).
func (e *Engine) CreateTopicReplicated(name string, partitions int32, replicationFactor int16, configs map[string]string) error {
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
// that the name is free, and creates nothing (Kafka's CreateTopics with
// validate_only). Same errors, except ErrStorage.
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
	return cmp.Or(e.nameFreeLocked(name), refuseInternal("create", name), e.checkDescriptorsLocked(name, n))
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
	if replicationFactor != -1 && replicationFactor != 1 {
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
	if err := e.checkDescriptorsLocked(name, partitions); err != nil {
		return err
	}
	if err := e.logDir.fullErr(fmt.Sprintf("create topic %q", name)); err != nil {
		return err
	}
	t, err := e.openTopic(name, partitions, cfg, overrides)
	if err != nil {
		return err
	}
	next := maps.Clone(*e.topics.Load())
	next[name] = t
	if err := e.persist(next, false); err != nil {
		for _, p := range t.partitions {
			p.remove()
		}
		return err
	}
	e.topics.Store(&next)
	return nil
}

// openTopic opens (creating if needed) every partition log of a topic.
func (e *Engine) openTopic(name string, partitions int32, cfg TopicConfig, overrides map[string]string) (*topic, error) {
	t := &topic{name: name}
	t.settings.Store(&topicSettings{cfg: cfg, overrides: overrides})
	segCfg := e.segmentConfig(cfg)
	for i := int32(0); i < partitions; i++ {
		dir := filepath.Join(e.cfg.DataDir, partitionDir(name, i))
		if hook := e.cfg.BeforeAppendWrite; hook != nil {
			segCfg.BeforeWrite = func() { hook(name, i) }
		}
		log, err := segment.Open(dir, segCfg)
		if err != nil {
			for _, p := range t.partitions {
				p.close()
			}
			return nil, fmt.Errorf("%w: open %s: %w", storageSentinel(err), dir, err)
		}
		p := newPartition(name, i, &t.settings, log)
		t.partitions = append(t.partitions, p)
		if err := p.rebuildProducers(); err != nil {
			for _, p := range t.partitions {
				p.close()
			}
			return nil, err
		}
	}
	return t, nil
}

func partitionDir(topic string, id int32) string {
	return topic + "-" + strconv.Itoa(int(id))
}

// DeleteTopic removes a topic and its data. The topic is unreachable when it
// returns; FileRanges already handed out stay readable until released.
// Errors: ErrUnknownTopicOrPartition, ErrInvalidTopic (an internal topic),
// ErrStorage, ErrShuttingDown.
func (e *Engine) DeleteTopic(name string) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if err := refuseInternal("delete", name); err != nil {
		return err
	}
	t, err := e.unpublish(name)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range t.partitions {
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
type PartitionInfo struct {
	Topic          string
	Partition      int32
	Leader         int32 // this broker
	LeaderEpoch    int32 // 0 until leader election exists
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
		for _, p := range t.partitions {
			info.Partitions = append(info.Partitions, e.partitionInfo(p))
		}
		out = append(out, info)
	}
	return out
}

func (e *Engine) partitionInfo(p *partition) PartitionInfo {
	return PartitionInfo{
		Topic: p.topic, Partition: p.id, Leader: e.cfg.BrokerID,
		Replicas: []int32{e.cfg.BrokerID}, ISR: []int32{e.cfg.BrokerID},
		LogStartOffset: p.log.LogStartOffset(), LogEndOffset: p.log.LogEndOffset(),
		HighWatermark: p.highWatermark(),
	}
}

// EachPartition calls fn for every partition, topic by topic in no
// particular order, without allocating replica lists; for metrics.
func (e *Engine) EachPartition(fn func(topic string, partition int32, logStart, logEnd, highWatermark int64)) {
	for _, t := range *e.topics.Load() {
		for _, p := range t.partitions {
			fn(p.topic, p.id, p.log.LogStartOffset(), p.log.LogEndOffset(), p.highWatermark())
		}
	}
}

// removeOrphans deletes partition directories of topics that topics.json
// does not list: a crash between persisting a delete and removing the
// directories, or between opening a new topic's logs and persisting it.
func (e *Engine) removeOrphans(known map[string]*topic) error {
	entries, err := os.ReadDir(e.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("%w: read data dir %s: %w", ErrStorage, e.cfg.DataDir, err)
	}
	for _, ent := range entries {
		name, ok := parsePartitionDir(ent.Name())
		if !ent.IsDir() || !ok {
			continue
		}
		if _, ok := known[name]; ok {
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
func parsePartitionDir(dir string) (string, bool) {
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return "", false
	}
	n, err := strconv.Atoi(dir[i+1:])
	if err != nil || n < 0 || strconv.Itoa(n) != dir[i+1:] {
		return "", false
	}
	name := dir[:i]
	return name, ValidateTopicName(name) == nil
}
