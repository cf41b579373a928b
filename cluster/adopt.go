package cluster

// Behavior: adoption. A data dir written by a broker running alone, before
// every broker was a cluster member, holds topics with no topic id
// (engine's topics.json) and producer ids handed out from its own
// producer_id_block file. When such a broker starts as a member, it asks
// the controller to adopt them: each topic the metadata does not know yet
// is created with its existing partition count and configs, every
// partition with this broker as sole replica, ISR and leader, so the
// engine gives it the new id and keeps its logs (engine.ApplyTopic); and
// the cluster's next producer id moves past the ids the broker handed out
// alone, in blocks allocated to it, so no id repeats. All of it is one
// entry: applied all or none. A name the metadata already has is left
// alone (the cluster's topic wins; the engine hands it this broker's logs
// of the partitions it places here), so asking twice adopts nothing twice.

import (
	"fmt"
	"math"
)

// AdoptedTopic is a topic a broker held alone, as it asks the controller
// to adopt it (AdoptTopics).
type AdoptedTopic struct {
	Name       string
	Partitions int32
	Configs    map[string]string // topic-level overrides only
}

// AdoptTopics adopts topics held by broker id, at epoch, into the
// metadata and moves the cluster's next producer id to at least
// producerIDEnd (see the Behavior comment); it returns once this node
// applied the change. The broker must be registered and unfenced, since
// it becomes the leader of every partition adopted. The caller has
// validated the names and configs (engine's rules).
func (n *Node) AdoptTopics(id int32, epoch int64, topics []AdoptedTopic, producerIDEnd int64) error {
	args := appendInt64(appendInt64(appendInt32(nil, id), epoch), producerIDEnd)
	_, err := n.invokeAndWait(opAdoptTopics, appendAdoptedTopics(args, topics))
	return err
}

func (n *Node) adoptTopics(id int32, epoch int64, topics []AdoptedTopic, producerIDEnd int64) (off int64, err error) {
	err = n.call(func() error {
		img := n.Image()
		b, err := img.brokerAtEpoch(id, epoch)
		if err != nil {
			return fmt.Errorf("adopt topics: %w", err)
		}
		if b.Fenced {
			return fmt.Errorf("%w: broker %d is fenced: it can adopt its topics once it caught up", ErrInvalidChange, id)
		}
		recs := adoptionRecords(img, id, topics, producerIDEnd)
		if len(recs) == 0 {
			off = img.Offset()
			return nil
		}
		if off, err = n.propose(recs...); err != nil {
			return fmt.Errorf("adopt %d topics of broker %d: %w", len(topics), id, err)
		}
		return nil
	})
	return off, err
}

// adoptionRecords are the records that adopt topics and producer ids of
// broker id into img; none when img has them all.
func adoptionRecords(img *Image, id int32, topics []AdoptedTopic, producerIDEnd int64) []Record {
	var recs []Record
	for _, t := range topics {
		if img.Topic(t.Name) != nil {
			continue
		}
		as := make([]PartitionAssignment, t.Partitions)
		for i := range as {
			as[i] = PartitionAssignment{Replicas: []int32{id}, ISR: []int32{id}, Leader: id}
		}
		recs = append(recs, CreateTopic{Name: t.Name, TopicID: randomID(), Configs: t.Configs, Partitions: as})
	}
	// A block's count is an int32: a far end takes several.
	for next := img.NextProducerID(); next < producerIDEnd; {
		count := int32(min(producerIDEnd-next, math.MaxInt32))
		recs = append(recs, AllocateProducerIDs{BrokerID: id, FirstID: next, Count: count})
		next += int64(count)
	}
	return recs
}

func appendAdoptedTopics(dst []byte, topics []AdoptedTopic) []byte {
	dst = appendUvarint(dst, len(topics))
	for _, t := range topics {
		dst = appendConfigs(appendInt32(appendString(dst, t.Name), t.Partitions), t.Configs)
	}
	return dst
}

func readAdoptedTopics(r *reader) []AdoptedTopic {
	// A topic takes at least 6 bytes: an empty name, a count and no configs.
	n := r.count("topics", 6)
	out := make([]AdoptedTopic, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		t := AdoptedTopic{Name: r.string("name"), Partitions: r.int32("partitions"), Configs: r.configs("configs")}
		if r.err == nil && (t.Partitions < 1 || t.Partitions > maxAdoptedPartitions) {
			r.fail("topic %q: %d partitions", t.Name, t.Partitions)
		}
		out = append(out, t)
	}
	return out
}

// maxAdoptedPartitions bounds an adopted topic's partitions as the engine
// bounds any topic's (engine.MaxPartitionsPerTopic), so a corrupt call
// cannot make the controller build a billion assignments.
const maxAdoptedPartitions = 10000
