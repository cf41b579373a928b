package engine

// Behavior: CreatePartitions is Kafka's: it grows a topic to a larger
// partition count; a topic never shrinks. The new partitions' logs are
// opened first, then topics.json is persisted with the new count, then a
// new topic value with the old partitions and the new is published
// (openAndPersistLocked, as ApplyTopic does), so a produce or fetch sees either
// the old count or every new partition ready. A crash before the persist
// leaves partition directories topics.json does not list; Open removes
// them (removeOrphans). The internal topic is refused: a group's
// __consumer_offsets partition is its id's hash modulo the count, so
// growing it would move every group. In cluster mode partitions are added
// through the controller (ErrNotController).

import (
	"fmt"
)

// CreatePartitions grows topic name to total partitions. With validateOnly
// it checks and changes nothing. Errors: ErrUnknownTopicOrPartition,
// ErrInvalidPartitions (total not above the current count, or above
// MaxPartitionsPerTopic), ErrInvalidTopic (an internal topic),
// ErrResourceLimit (not enough file descriptors), ErrDiskFull, ErrStorage,
// ErrNotController, ErrShuttingDown.
func (e *Engine) CreatePartitions(name string, total int32, validateOnly bool) error {
	return e.changeTopic("add partitions to", name, true, func(_ map[string]*topic, t *topic) error {
		return e.growLocked(t, total, validateOnly)
	})
}

// growLocked is CreatePartitions on t, with admin held.
func (e *Engine) growLocked(t *topic, total int32, validateOnly bool) error {
	have := int32(len(t.partitions))
	if total <= have || total > MaxPartitionsPerTopic {
		return fmt.Errorf("%w: topic %q has %d partitions; asked for %d, want %d to %d",
			ErrInvalidPartitions, t.name, have, total, have+1, MaxPartitionsPerTopic)
	}
	open := make([]int32, 0, total-have)
	for id := have; id < total; id++ {
		open = append(open, id)
	}
	if validateOnly {
		return e.checkDescriptorsLocked(fmt.Sprintf("growing topic %q from %d partitions", t.name, have), total-have)
	}
	next := &topic{name: t.name, id: t.id, settings: t.settings, roles: t.roles,
		partitions: append(t.partitions[:have:have], make([]*partition, total-have)...)}
	recorded := metaOf(t)
	topics, err := e.openAndPersistLocked(&recorded, next, open, false)
	if err != nil {
		return err
	}
	e.topics.Store(&topics)
	return nil
}
