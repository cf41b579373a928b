package cluster

// Behavior: apply turns the image at one offset and the records of the next
// raft log entry into the image at the next offset. It validates and
// records; it decides nothing: every choice that needs the state (which
// broker leads, where replicas go, which producer ids a broker gets) was made
// by the controller before proposing, so every node applying the same log
// computes the same images. The records of one entry apply all or none: the
// first refused record leaves the image as it was (only its offset moves)
// and its error is the entry's result, which the proposer reads from raft's
// ApplyFuture.
//
// Copy on write: the new image shares every map, topic and partition that
// the entry does not touch with the old one, which readers may still hold.

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// maxTopicNameLength is Kafka's limit; the broker checks the full naming
// rules (engine.ValidateTopicName) before proposing.
const maxTopicNameLength = 249

// next returns the image after applying recs, the entry at offset.
func (img *Image) next(offset int64, recs []Record) (*Image, error) {
	b := &builder{img: img.at(offset), ownTopic: map[string]bool{}}
	for _, rec := range recs {
		if err := b.apply(rec); err != nil {
			return img.at(offset), err
		}
	}
	return b.img, nil
}

// at returns a shallow copy of img at offset, with its own changed channel.
func (img *Image) at(offset int64) *Image {
	n := *img
	n.offset, n.changed = offset, make(chan struct{})
	return &n
}

// builder is a new image under construction and which of its parts are
// already its own copies (and so may be modified in place).
type builder struct {
	img                       *Image
	ownBrokers, ownTopicsMaps bool
	ownTopic                  map[string]bool
}

func (b *builder) brokers() map[int32]*Broker {
	if !b.ownBrokers {
		b.img.brokers, b.ownBrokers = maps.Clone(b.img.brokers), true
	}
	return b.img.brokers
}

func (b *builder) topicMaps() {
	if !b.ownTopicsMaps {
		b.img.topics, b.img.topicNames = maps.Clone(b.img.topics), maps.Clone(b.img.topicNames)
		b.ownTopicsMaps = true
	}
}

// topic returns a copy of the named topic (and of its partition slice) that
// the builder owns.
func (b *builder) topic(name string) *Topic {
	b.topicMaps()
	if !b.ownTopic[name] {
		t := *b.img.topics[name]
		t.Partitions = slices.Clone(t.Partitions)
		b.img.topics[name], b.ownTopic[name] = &t, true
	}
	return b.img.topics[name]
}

func (b *builder) apply(rec Record) error {
	img := b.img
	switch r := rec.(type) {
	case InitCluster:
		if !img.clusterID.IsZero() {
			return fmt.Errorf("%w: the cluster is already named %s", ErrInvalidChange, img.clusterID)
		}
		if r.ClusterID.IsZero() {
			return fmt.Errorf("%w: a zero cluster id", ErrInvalidChange)
		}
		b.img.clusterID = r.ClusterID
	case RegisterBroker:
		return b.registerBroker(r)
	case FenceBroker:
		return b.fenceBroker(r)
	case UnfenceBroker:
		old, err := img.brokerAtEpoch(r.BrokerID, r.BrokerEpoch)
		if err != nil {
			return err
		}
		if !old.Fenced {
			return fmt.Errorf("%w: broker %d is not fenced", ErrInvalidChange, r.BrokerID)
		}
		nb := *old
		nb.Fenced = false
		b.brokers()[r.BrokerID] = &nb
	case CreateTopic:
		return b.createTopic(r)
	case DeleteTopic:
		t := img.TopicByID(r.TopicID)
		if t == nil {
			return fmt.Errorf("%w: delete of topic id %s", ErrUnknownTopic, r.TopicID)
		}
		b.topicMaps()
		delete(b.img.topics, t.Name)
		delete(b.img.topicNames, t.ID)
	case AddPartitions:
		return b.addPartitions(r)
	case ChangePartition:
		return b.changePartition(r)
	case ChangeReplicas:
		return b.changeReplicas(r)
	case ChangeConfig:
		t := img.TopicByID(r.TopicID)
		if t == nil {
			return fmt.Errorf("%w: config change of topic id %s", ErrUnknownTopic, r.TopicID)
		}
		configs := maps.Clone(t.Configs)
		if configs == nil {
			configs = map[string]string{}
		}
		maps.Copy(configs, r.Set)
		for _, k := range r.Delete {
			delete(configs, k)
		}
		if _, empty := configs[""]; empty {
			return fmt.Errorf("%w: topic %s: a config with an empty key", ErrInvalidChange, t.Name)
		}
		b.topic(t.Name).Configs = configs
	case AllocateProducerIDs:
		if img.brokers[r.BrokerID] == nil {
			return fmt.Errorf("%w: producer ids for broker %d", ErrUnknownBroker, r.BrokerID)
		}
		if r.FirstID != img.nextProducerID {
			return fmt.Errorf("%w: producer id block for broker %d starts at %d, the next unallocated id is %d",
				ErrStaleEpoch, r.BrokerID, r.FirstID, img.nextProducerID)
		}
		if r.Count < 1 || r.FirstID > math.MaxInt64-int64(r.Count) {
			return fmt.Errorf("%w: producer id block [%d, +%d) for broker %d", ErrInvalidChange, r.FirstID, r.Count, r.BrokerID)
		}
		b.img.nextProducerID = r.FirstID + int64(r.Count)
	default:
		return fmt.Errorf("%w: record type %T", ErrInvalidChange, rec)
	}
	return nil
}

// brokerAtEpoch returns broker id if it is registered at epoch.
func (img *Image) brokerAtEpoch(id int32, epoch int64) (*Broker, error) {
	old := img.brokers[id]
	if old == nil {
		return nil, fmt.Errorf("%w: broker %d", ErrUnknownBroker, id)
	}
	if old.Epoch != epoch {
		return nil, fmt.Errorf("%w: broker %d is at epoch %d, the change was made for epoch %d", ErrStaleEpoch, id, old.Epoch, epoch)
	}
	return old, nil
}

func (b *builder) registerBroker(r RegisterBroker) error {
	if r.BrokerID < 0 {
		return fmt.Errorf("%w: broker id %d is negative", ErrInvalidChange, r.BrokerID)
	}
	if old := b.img.brokers[r.BrokerID]; old != nil && !old.Fenced {
		// Invariant: a fenced broker leads nothing. A restarted broker
		// lost its state, so the controller fences the old run (moving
		// its leaderships away) in the same entry, before this record.
		return fmt.Errorf("%w: broker %d is registered and not fenced", ErrInvalidChange, r.BrokerID)
	}
	b.brokers()[r.BrokerID] = &Broker{
		ID: r.BrokerID, Incarnation: r.Incarnation, Addrs: r.Addrs, Rack: r.Rack,
		Epoch: b.img.offset, Fenced: true,
	}
	return nil
}

func (b *builder) fenceBroker(r FenceBroker) error {
	old, err := b.img.brokerAtEpoch(r.BrokerID, r.BrokerEpoch)
	if err != nil {
		return err
	}
	if old.Fenced {
		return fmt.Errorf("%w: broker %d is already fenced", ErrInvalidChange, r.BrokerID)
	}
	for _, t := range b.img.topics {
		for i, p := range t.Partitions {
			if p.Leader == r.BrokerID {
				return fmt.Errorf("%w: broker %d still leads topic %s partition %d; move leadership first",
					ErrInvalidChange, r.BrokerID, t.Name, i)
			}
		}
	}
	nb := *old
	nb.Fenced = true
	b.brokers()[r.BrokerID] = &nb
	return nil
}

func (b *builder) createTopic(r CreateTopic) error {
	if err := b.img.checkNewTopic(r.Name, r.TopicID); err != nil {
		return err
	}
	if len(r.Partitions) == 0 {
		return fmt.Errorf("%w: topic %s with no partitions", ErrInvalidChange, r.Name)
	}
	if _, empty := r.Configs[""]; empty {
		return fmt.Errorf("%w: topic %s: a config with an empty key", ErrInvalidChange, r.Name)
	}
	ps, err := b.img.newPartitions(r.Name, 0, r.Partitions)
	if err != nil {
		return err
	}
	b.topicMaps()
	b.img.topics[r.Name] = &Topic{Name: r.Name, ID: r.TopicID, Configs: maps.Clone(r.Configs), Partitions: ps}
	b.img.topicNames[r.TopicID] = r.Name
	b.ownTopic[r.Name] = true
	return nil
}

// checkNewTopic refuses a topic name or id that is malformed or taken.
func (img *Image) checkNewTopic(name string, id ID16) error {
	switch {
	case name == "" || len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: topic name of %d bytes (want 1 to %d)", ErrInvalidChange, len(name), maxTopicNameLength)
	case id.IsZero():
		return fmt.Errorf("%w: topic %s with a zero topic id", ErrInvalidChange, name)
	case img.topics[name] != nil:
		return fmt.Errorf("%w: %s", ErrTopicExists, name)
	case img.topicNames[id] != "":
		return fmt.Errorf("%w: topic id %s is %s's", ErrTopicExists, id, img.topicNames[id])
	}
	return nil
}

// newPartitions validates assignments for partitions first, first+1, ...
// of topic and returns their initial state.
func (img *Image) newPartitions(topic string, first int, as []PartitionAssignment) ([]Partition, error) {
	ps := make([]Partition, 0, len(as))
	for i, a := range as {
		if err := img.checkAssignment(a.Replicas, a.ISR, a.Leader); err != nil {
			return nil, fmt.Errorf("topic %s partition %d: %w", topic, first+i, err)
		}
		ps = append(ps, Partition{Replicas: slices.Clone(a.Replicas), ISR: slices.Clone(a.ISR), Leader: a.Leader})
	}
	return ps, nil
}

// checkAssignment checks a partition's shape (checkPartition) and that its
// replicas are registered brokers and its leader is live.
func (img *Image) checkAssignment(replicas, isr []int32, leader int32) error {
	if err := checkPartition(replicas, isr, leader); err != nil {
		return err
	}
	for _, id := range replicas {
		if img.brokers[id] == nil {
			return fmt.Errorf("%w: replica %d", ErrUnknownBroker, id)
		}
	}
	if leader != NoLeader && !img.live(leader) {
		return fmt.Errorf("%w: leader %d is fenced", ErrInvalidChange, leader)
	}
	return nil
}

// checkPartition checks the invariants of a partition's shape: replicas
// distinct and non-negative, ISR a subset of them without duplicates
// (empty only when there is no leader), and the leader a member of the ISR
// or NoLeader.
func checkPartition(replicas, isr []int32, leader int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("%w: no replicas", ErrInvalidChange)
	}
	for i, id := range replicas {
		if id < 0 || slices.Contains(replicas[:i], id) {
			return fmt.Errorf("%w: replicas %v: bad or repeated broker %d", ErrInvalidChange, replicas, id)
		}
	}
	if len(isr) == 0 && leader != NoLeader {
		// Empty only with no leader: every in-sync replica restarted
		// having lost records (restartChanges).
		return fmt.Errorf("%w: empty ISR with leader %d", ErrInvalidChange, leader)
	}
	for i, id := range isr {
		if !slices.Contains(replicas, id) || slices.Contains(isr[:i], id) {
			return fmt.Errorf("%w: ISR %v: %d is repeated or not a replica of %v", ErrInvalidChange, isr, id, replicas)
		}
	}
	if leader != NoLeader && !slices.Contains(isr, leader) {
		return fmt.Errorf("%w: leader %d is not in the ISR %v", ErrInvalidChange, leader, isr)
	}
	return nil
}

func (b *builder) addPartitions(r AddPartitions) error {
	t := b.img.TopicByID(r.TopicID)
	if t == nil {
		return fmt.Errorf("%w: partitions added to topic id %s", ErrUnknownTopic, r.TopicID)
	}
	if int(r.FirstPartition) != len(t.Partitions) {
		return fmt.Errorf("%w: topic %s has %d partitions, the change adds from partition %d",
			ErrStaleEpoch, t.Name, len(t.Partitions), r.FirstPartition)
	}
	if len(r.Partitions) == 0 {
		return fmt.Errorf("%w: topic %s: no partitions added", ErrInvalidChange, t.Name)
	}
	ps, err := b.img.newPartitions(t.Name, len(t.Partitions), r.Partitions)
	if err != nil {
		return err
	}
	nt := b.topic(t.Name)
	nt.Partitions = append(nt.Partitions, ps...)
	return nil
}

// changePartition applies an ISR or leader change: a ChangeReplicas that
// keeps the replicas and the reassignment target.
func (b *builder) changePartition(r ChangePartition) error {
	rec := ChangeReplicas{TopicID: r.TopicID, Partition: r.Partition, PartitionEpoch: r.PartitionEpoch, ISR: r.ISR, Leader: r.Leader}
	if t := b.img.TopicByID(r.TopicID); t != nil && r.Partition >= 0 && int(r.Partition) < len(t.Partitions) {
		old := t.Partitions[r.Partition]
		rec.Replicas, rec.Target = old.Replicas, old.Target
	} // else changeReplicas refuses the unknown partition
	return b.changeReplicas(rec)
}

// changeReplicas sets a partition's shape (a reassignment's start or
// finish, or through changePartition an ISR or leader change), checked as a
// new partition's is, with the target the head of the replicas.
func (b *builder) changeReplicas(r ChangeReplicas) error {
	t := b.img.TopicByID(r.TopicID)
	if t == nil || r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return fmt.Errorf("%w: change of topic id %s partition %d", ErrUnknownTopic, r.TopicID, r.Partition)
	}
	old := t.Partitions[r.Partition]
	if r.PartitionEpoch != old.PartitionEpoch {
		return fmt.Errorf("%w: topic %s partition %d is at partition epoch %d, the change was made at %d",
			ErrStaleEpoch, t.Name, r.Partition, old.PartitionEpoch, r.PartitionEpoch)
	}
	if err := b.img.checkAssignment(r.Replicas, r.ISR, r.Leader); err != nil {
		return fmt.Errorf("topic %s partition %d: %w", t.Name, r.Partition, err)
	}
	if err := checkTarget(r.Replicas, r.Target); err != nil {
		return fmt.Errorf("topic %s partition %d: %w", t.Name, r.Partition, err)
	}
	p := old
	p.Replicas, p.ISR, p.Leader, p.PartitionEpoch = slices.Clone(r.Replicas), slices.Clone(r.ISR), r.Leader, old.PartitionEpoch+1
	p.Target = slices.Clone(r.Target)
	if r.Leader != old.Leader {
		p.LeaderEpoch++
	}
	b.topic(t.Name).Partitions[r.Partition] = p
	return nil
}

// checkTarget checks a reassignment target against the replica set: empty
// (none in progress), or what Replicas starts with (the replicas being
// removed follow; none when the reassignment only adds).
func checkTarget(replicas, target []int32) error {
	if len(target) == 0 {
		return nil
	}
	if len(target) > len(replicas) || !slices.Equal(replicas[:len(target)], target) {
		return fmt.Errorf("%w: reassignment target %v is not the head of the replicas %v (the replicas to remove follow it)", ErrInvalidChange, target, replicas)
	}
	return nil
}
