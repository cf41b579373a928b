package engine

// Behavior: AlterTopicConfigs changes a topic's config overrides in place.
// The new overrides are checked as at creation (the same registry,
// applyOverrides), persisted in topics.json before they are used, so an
// answered change survives a crash, then applied: produce checks and
// compaction read the topic's settings per call, and each partition log
// gets the new roll and retention limits. flush.policy and flush.ms are
// refused: a partition's commit rule (committedOnFlush) and its log's
// syncer are chosen when it opens.

import (
	"fmt"
	"maps"
)

// fixedAtCreation lists the keys AlterTopicConfigs refuses, with why.
var fixedAtCreation = map[string]string{
	"flush.policy": "the partitions' commit rule is chosen when their logs open",
	"flush.ms":     "the partitions' flush timers are started when their logs open",
}

// AlterTopicConfigs sets each key of changes to its value on topic name, or
// with an empty value removes the key's override (the broker default
// applies again); keys not named keep their values. With validateOnly it
// checks and changes nothing. Errors: ErrUnknownTopicOrPartition,
// ErrInvalidConfig (naming the key), ErrInvalidTopic (an internal topic),
// ErrStorage (topics.json could not be written; nothing changed),
// ErrNotController (cluster mode: configs come with ApplyTopic, so only
// validateOnly is served, for the broker to check a change before it asks
// the controller), ErrShuttingDown.
func (e *Engine) AlterTopicConfigs(name string, changes map[string]string, validateOnly bool) error {
	// A cluster member validates a change here before it asks the
	// controller; only the controller's ApplyTopic changes configs.
	return e.changeTopic("alter configs of", name, !validateOnly, func(cur map[string]*topic, t *topic) error {
		return e.alterConfigsLocked(cur, t, changes, validateOnly)
	})
}

// changeTopic runs change with admin held on topic name as published in
// cur, after checking the engine is open, single-broker when clusterRefused
// (a cluster's topics change through ApplyTopic) and the topic not
// internal (what names the change in those errors). Errors: change's,
// ErrUnknownTopicOrPartition, ErrInvalidTopic, ErrNotController,
// ErrShuttingDown.
func (e *Engine) changeTopic(what, name string, clusterRefused bool, change func(cur map[string]*topic, t *topic) error) error {
	if clusterRefused {
		if err := e.refuseClustered(what, name); err != nil {
			return err
		}
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if err := refuseInternal(what, name); err != nil {
		return err
	}
	e.admin.Lock()
	defer e.admin.Unlock()
	cur := *e.topics.Load()
	t, ok := cur[name]
	if !ok {
		return fmt.Errorf("%w: topic %q", ErrUnknownTopicOrPartition, name)
	}
	return change(cur, t)
}

// alterConfigsLocked is AlterTopicConfigs on t, with admin held.
func (e *Engine) alterConfigsLocked(cur map[string]*topic, t *topic, changes map[string]string, validateOnly bool) error {
	name := t.name
	old := t.settings.Load()
	overrides := maps.Clone(old.overrides)
	if overrides == nil {
		overrides = make(map[string]string, len(changes))
	}
	for k, v := range changes {
		if why, fixed := fixedAtCreation[k]; fixed {
			return fmt.Errorf("%w: topic %q: %s cannot be altered: %s", ErrInvalidConfig, name, k, why)
		}
		if _, known := topicKeys[k]; !known {
			return fmt.Errorf("%w: topic %q: unknown key %q", ErrInvalidConfig, name, k)
		}
		if v == "" {
			delete(overrides, k)
		} else {
			overrides[k] = v
		}
	}
	cfg, err := applyOverrides(e.cfg.Topic, overrides)
	if err != nil {
		return fmt.Errorf("topic %q: %w", name, err)
	}
	if validateOnly {
		return nil
	}
	// Published before persist, which writes what the topics hold; a failed
	// persist puts the old settings back, and no answer said otherwise.
	t.settings.Store(&topicSettings{cfg: cfg, overrides: overrides})
	if err := e.persist(cur, false); err != nil {
		t.settings.Store(old)
		return err
	}
	segCfg := e.segmentConfig(cfg)
	for p := range t.hosted() {
		if err := p.log.SetLimits(segCfg); err != nil {
			return fmt.Errorf("%w: topic %q partition %d: %w", ErrStorage, name, p.id, err)
		}
	}
	return nil
}
