package engine

// Behavior: the group coordinator in cluster mode. A group belongs to one
// partition of __consumer_offsets (OffsetsPartitionFor), and the broker
// that leads that partition coordinates it: FindCoordinator answers that
// leader from the roles ApplyTopic recorded, and a request for a group
// whose partition is not led and loaded here fails with ErrNotCoordinator,
// so the client looks the coordinator up again.
//
// Leadership moves with the metadata. When ApplyTopic makes this broker
// leader of an offsets partition, the coordinator reads that partition (as
// OpenGroupCoordinator reads all of them in single-broker mode) into a
// fresh state machine with no lock held, merges its groups in, and only
// then serves them: ApplyTopic returns once they are loaded. When this
// broker stops leading the partition (or RemoveTopic drops the topic), its
// groups are dropped at once and their parked joins and syncs answered
// ErrNotCoordinator. Writes already issued for them complete against the
// dropped state and change nothing here; their produce fails ErrNotLeader
// if leadership went first.

import (
	"fmt"
	"slices"
	"time"
)

// register makes c the engine's coordinator and loads the offsets
// partitions led here now; later changes come through
// reconcileCoordinator. applying keeps an ApplyTopic from running in
// between.
func (c *GroupCoordinator) register() error {
	c.e.applying.Lock()
	defer c.e.applying.Unlock()
	if !c.e.coordinator.CompareAndSwap(nil, c) {
		return fmt.Errorf("%w: the engine has a group coordinator already", ErrInvalidRequest)
	}
	c.mu.owned = map[int32]bool{}
	if err := c.reconcile(); err != nil {
		c.e.coordinator.CompareAndSwap(c, nil)
		return err
	}
	return nil
}

// reconcileCoordinator brings the coordinator, if any, in line with the
// leadership of __consumer_offsets partitions; applying is held.
func (e *Engine) reconcileCoordinator() error {
	if c := e.coordinator.Load(); c != nil {
		return c.reconcile()
	}
	return nil
}

// reconcile drops the groups of the offsets partitions c serves but this
// broker no longer leads, and loads those it leads but c does not serve
// yet. It works from the state, not from changes, so a load that failed
// is tried again by the next ApplyTopic of the topic.
func (c *GroupCoordinator) reconcile() error {
	led := map[int32]bool{}
	if t := c.offsetsTopic(); t != nil {
		led = leadingSet(t)
	}
	var lost, gained []int32
	c.mu.Lock()
	for id := range c.mu.owned {
		if !led[id] {
			lost = append(lost, id)
		}
	}
	for id := range led {
		if !c.mu.owned[id] {
			gained = append(gained, id)
		}
	}
	c.mu.Unlock()
	slices.Sort(gained)
	c.unload(lost)
	return c.load(gained)
}

// load reads the groups of the given offsets partitions and starts
// serving them. A partition that is not led here any more, or is loaded
// already, is skipped. Only reconcile calls it, with applying held, so no
// role changes meanwhile.
func (c *GroupCoordinator) load(ids []int32) error {
	t := c.offsetsTopic()
	if t == nil {
		return nil
	}
	for _, id := range ids {
		if int(id) >= len(t.partitions) {
			continue
		}
		p := t.partitions[id]
		if p == nil || !p.leads() {
			continue
		}
		c.mu.Lock()
		loaded := c.mu.owned[id]
		c.mu.Unlock()
		if loaded {
			continue
		}
		read := newGroupCore(c.cfg, newMemberID)
		if err := read.loadGroups([]*partition{p}, time.Now()); err != nil {
			return fmt.Errorf("%w: load groups of %s-%d: %w", ErrCoordinatorNotAvailable, OffsetsTopic, id, err)
		}
		c.mu.Lock()
		core := c.mu.core
		core.advance(read.now)
		for gid, g := range read.groups {
			core.groups[gid] = g
		}
		core.skipped += read.skipped
		c.mu.owned[id] = true
		c.mu.Unlock()
	}
	return nil
}

// unload drops the groups of the given offsets partitions, answering their
// parked joins and syncs with ErrNotCoordinator.
func (c *GroupCoordinator) unload(ids []int32) {
	if len(ids) == 0 {
		return
	}
	c.run(func(o *outbox) error {
		n := c.partitions.Load()
		for gid, g := range c.mu.core.groups {
			if !slices.Contains(ids, OffsetsPartitionFor(gid, n)) {
				continue
			}
			for _, m := range g.members {
				failWaiters(m, fmt.Errorf("%w: group %q moved with leadership of its partition of %s", ErrNotCoordinator, gid, OffsetsTopic), o)
			}
			delete(c.mu.core.groups, gid)
		}
		for _, id := range ids {
			delete(c.mu.owned, id)
		}
		return nil
	})
}

// runGroup is run for an operation on one group, refused with
// ErrNotCoordinator when another broker coordinates it.
func (c *GroupCoordinator) runGroup(groupID string, op func(o *outbox) error) error {
	return c.run(func(o *outbox) error {
		if err := c.coordinatesLocked(groupID); err != nil {
			return err
		}
		return op(o)
	})
}

// coordinatesLocked is nil when this coordinator serves groupID: always
// in single-broker mode; in cluster mode when the group's offsets
// partition is led and loaded here. An empty id passes, so the operation
// answers ErrInvalidGroupID. c.mu is held.
func (c *GroupCoordinator) coordinatesLocked(groupID string) error {
	if !c.clustered || groupID == "" {
		return nil
	}
	p := OffsetsPartitionFor(groupID, c.partitions.Load())
	if !c.mu.owned[p] {
		return fmt.Errorf("%w: group %q belongs to %s-%d, which broker %d does not lead", ErrNotCoordinator, groupID, OffsetsTopic, p, c.e.cfg.BrokerID)
	}
	return nil
}

// leaderOf answers FindCoordinator in cluster mode: the leader of the
// group's partition of t as the metadata last gave it.
func (c *GroupCoordinator) leaderOf(t *topic, groupID string, partition int32) (brokerID, p int32, err error) {
	if t.roles == nil || t.roles[partition].Leader < 0 {
		return -1, -1, fmt.Errorf("%w: group %q: %s-%d has no leader now", ErrCoordinatorNotAvailable, groupID, OffsetsTopic, partition)
	}
	return t.roles[partition].Leader, partition, nil
}
