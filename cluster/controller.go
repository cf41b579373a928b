package cluster

// Behavior: the controller is whichever node is the raft leader. Its calls
// (below) read the current image, decide (placement, election, producer id
// blocks, fencing), propose records, and wait until the entry is applied, so
// each call's answer reflects its own change. ctrl.mu serialises the calls,
// so one never decides from an image that misses another's change; apply
// still validates every record (epochs, invariants), so a proposal that
// raced a leadership change is refused rather than applied twice.
//
// Liveness lives only in the controller's memory: the time of each broker's
// last heartbeat. A new controller (a new raft term) first waits on a raft
// barrier, so its image holds every committed entry, and then treats every
// broker as heard from just now, so no broker is fenced for the silence of
// an election. A broker silent for SessionTimeout is fenced: it leaves the
// ISRs and the partitions it led get new leaders (election.go). A fenced
// broker is unfenced by a heartbeat whose applied offset reached its
// registration, i.e. once it has caught up with the metadata log.
//
// Membership: the first MaxVoters of controller.quorum.voters are raft
// voters from the start; the rest are non-voters from the start. A broker
// not listed joins when it registers: the controller adds it to raft as a
// non-voter at its controller address, and raft then replicates the log to
// it (a snapshot first if the log was compacted).

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// controller is the state a node keeps while it is the raft leader.
type controller struct {
	// elections counts the leader elections this node's proposals made
	// while it was the controller (countElections).
	elections struct{ clean, unclean atomic.Int64 }
	mu        struct {
		sync.Mutex
		term     uint64              // the term whose barrier has passed
		lastSeen map[int32]time.Time // last heartbeat per broker, this term
		applied  map[int32]int64     // applied offset of each broker's last heartbeat, this term
	}
}

func (c *controller) init() {
	c.mu.lastSeen, c.mu.applied = map[int32]time.Time{}, map[int32]int64{}
}

// leadLocked fails unless this node is the controller, and on the first
// call of a term waits for the barrier and resets liveness. ctrl.mu held.
func (n *Node) leadLocked() error {
	if err := n.Err(); err != nil {
		return err
	}
	if n.raft.State() != raft.Leader {
		return n.notController()
	}
	term, err := strconv.ParseUint(n.raft.Stats()["term"], 10, 64)
	if err != nil {
		return fmt.Errorf("cluster: raft term: %w", err)
	}
	if term == n.ctrl.mu.term {
		return nil
	}
	if err := n.raft.Barrier(proposeTimeout).Error(); err != nil {
		return n.notController()
	}
	if n.Image().ClusterID().IsZero() {
		// The first controller names the cluster before it serves a call,
		// so a broker's first registration already finds the cluster id.
		// Refused (ErrInvalidChange) if a controller of an earlier term
		// did it: harmless.
		if _, err := n.propose(InitCluster{ClusterID: randomID()}); err != nil && !errors.Is(err, ErrInvalidChange) {
			return err
		}
	}
	now := n.cfg.Now()
	clear(n.ctrl.mu.lastSeen)
	clear(n.ctrl.mu.applied)
	for _, b := range n.Image().Brokers() {
		n.ctrl.mu.lastSeen[b.ID] = now
	}
	n.ctrl.mu.term = term
	return nil
}

// call runs fn as a controller call: under ctrl.mu, on the controller.
func (n *Node) call(fn func() error) error {
	n.ctrl.mu.Lock()
	defer n.ctrl.mu.Unlock()
	if err := n.leadLocked(); err != nil {
		return err
	}
	return fn()
}

// invokeAndWait runs a call whose answer is an entry's offset and waits
// until this node applied it, so the caller reads the change from Image.
func (n *Node) invokeAndWait(op byte, args []byte) (*Image, error) {
	res, err := n.invoke(op, args)
	if err != nil {
		return nil, err
	}
	r := &reader{buf: res, what: "controller answer"}
	off := r.int64("offset")
	if r.end(); r.err != nil {
		return nil, r.err
	}
	return n.waitApplied(off)
}

func randomID() ID16 {
	var id ID16
	crand.Read(id[:]) // never fails (crypto/rand panics rather than return an error)
	return id
}

// RegisterBroker registers a broker starting up and returns its broker
// epoch. The broker starts fenced; heartbeats unfence it once it caught up.
// A broker id whose registration of another incarnation still has a live
// session is refused with ErrBrokerIDInUse (Kafka's
// DUPLICATE_BROKER_REGISTRATION): a second broker with that id is refused,
// and a restarted one on other addresses retries until its previous
// session expires. A restart on the same native and controller addresses
// (or any restart of a lone voter) is taken at once: no other live process can hold them, and a new
// controller counts every broker as heard from at its election, so a
// broker killed just before a failover would otherwise wait a session more. A
// registration that replaces an unfenced one (same incarnation, or an
// expired session) fences the previous one first, in the same entry; the
// previous run's ISR places are kept unless lossy says this start may lack
// records the broker acknowledged (election.go, restartChanges).
func (n *Node) RegisterBroker(reg RegisterBroker, lossy bool) (epoch int64, err error) {
	res, err := n.invoke(opRegisterBroker, append(reg.appendBody(nil), boolByte(lossy)))
	if err != nil {
		return 0, err
	}
	r := &reader{buf: res, what: "register answer"}
	epoch = r.int64("epoch")
	r.end()
	return epoch, r.err
}

func (n *Node) registerBroker(reg RegisterBroker, lossy bool) (epoch int64, err error) {
	err = n.call(func() error {
		img, now := n.Image(), n.cfg.Now()
		var recs []Record
		old := img.Broker(reg.BrokerID)
		if old != nil && !old.Fenced {
			// The same listeners mean the same broker restarted: two live
			// processes cannot hold one host:port. Another incarnation
			// elsewhere waits out the old session. A lone voter is its only
			// broker (nothing can reach it to register), and its data dir
			// lock keeps a second process off its metadata: any earlier
			// incarnation is a previous run of this one.
			restart := n.lone || reg.Addrs.Native != "" && reg.Addrs.Native == old.Addrs.Native && reg.Addrs.Controller == old.Addrs.Controller
			if old.Incarnation != reg.Incarnation && !restart && now.Sub(n.ctrl.mu.lastSeen[old.ID]) < n.cfg.SessionTimeout {
				return fmt.Errorf("%w: broker.id %d is live at %s (incarnation %s, heard from %s ago); give each broker its own broker.id",
					ErrBrokerIDInUse, old.ID, old.Addrs.Native, old.Incarnation, now.Sub(n.ctrl.mu.lastSeen[old.ID]).Round(time.Millisecond))
			}
			recs = append(restartChanges(img, old.ID, lossy), FenceBroker{BrokerID: old.ID, BrokerEpoch: old.Epoch})
		} else if old != nil && lossy {
			// Fenced already (its session expired): it left every ISR
			// but those it was the last of, which it leaves now.
			recs = restartChanges(img, old.ID, true)
		}
		if epoch, err = n.propose(append(recs, reg)...); err != nil {
			return fmt.Errorf("register broker %d: %w", reg.BrokerID, err)
		}
		n.ctrl.mu.lastSeen[reg.BrokerID] = now
		return n.addToQuorum(reg.BrokerID, reg.Addrs.Controller)
	})
	return epoch, err
}

// addToQuorum makes a broker not among the configured voters a raft
// non-voter at addr, unless it already is one there.
func (n *Node) addToQuorum(id int32, addr string) error {
	if addr == "" || isVoter(n.cfg.Voters, id) || id == n.cfg.BrokerID {
		return nil
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("cluster: raft configuration: %w", err)
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == serverID(id) && string(s.Address) == addr {
			return nil
		}
	}
	if err := n.raft.AddNonvoter(serverID(id), raft.ServerAddress(addr), 0, proposeTimeout).Error(); err != nil {
		return fmt.Errorf("cluster: add broker %d at %s to the metadata quorum: %w", id, addr, err)
	}
	return nil
}

// Heartbeat records that broker id, at epoch, is alive and has applied the
// metadata up to appliedOffset, and unfences it once that offset reached
// its registration. It reports whether the broker is still fenced. A stale
// epoch (the broker registered again since) gets ErrStaleEpoch: the caller
// must register.
func (n *Node) Heartbeat(id int32, epoch, appliedOffset int64) (fenced bool, err error) {
	res, err := n.invoke(opHeartbeat, appendInt64(appendInt64(appendInt32(nil, id), epoch), appliedOffset))
	if err != nil {
		return false, err
	}
	r := &reader{buf: res, what: "heartbeat answer"}
	fenced = r.byte("fenced") != 0
	r.end()
	return fenced, r.err
}

func (n *Node) heartbeat(id int32, epoch, appliedOffset int64) (fenced bool, err error) {
	err = n.call(func() error {
		img := n.Image()
		b, err := img.brokerAtEpoch(id, epoch)
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		n.ctrl.mu.lastSeen[id], n.ctrl.mu.applied[id] = n.cfg.Now(), appliedOffset
		fenced = b.Fenced
		if !b.Fenced || appliedOffset < b.Epoch {
			return nil
		}
		recs := append([]Record{UnfenceBroker{BrokerID: id, BrokerEpoch: epoch}}, unfenceChanges(img, id)...)
		if _, err := n.propose(recs...); err != nil {
			return fmt.Errorf("unfence broker %d: %w", id, err)
		}
		fenced = false
		return nil
	})
	return fenced, err
}

// ControlledShutdown fences broker id at epoch now, moving its leaderships
// to other ISR members, so it can stop without clients meeting a dead
// leader (Kafka's controlled shutdown on SIGTERM).
func (n *Node) ControlledShutdown(id int32, epoch int64) error {
	_, err := n.invoke(opControlledShutdown, appendInt64(appendInt32(nil, id), epoch))
	return err
}

func (n *Node) controlledShutdown(id int32, epoch int64) error {
	return n.call(func() error {
		if _, err := n.Image().brokerAtEpoch(id, epoch); err != nil {
			return fmt.Errorf("controlled shutdown: %w", err)
		}
		return n.fenceLocked(id)
	})
}

// fenceLocked fences broker id (if it is not already) with its partition
// changes, in one entry. ctrl.mu held.
func (n *Node) fenceLocked(id int32) error {
	img := n.Image()
	b := img.Broker(id)
	if b == nil || b.Fenced {
		return nil
	}
	recs := append(fenceChanges(img, id, leaveISR), FenceBroker{BrokerID: id, BrokerEpoch: b.Epoch})
	if _, err := n.propose(recs...); err != nil {
		return fmt.Errorf("fence broker %d: %w", id, err)
	}
	return nil
}

// FenceExpired fences every unfenced broker not heard from for the session
// timeout and returns their ids. The controller loop runs it; it is exported
// so tests with an injected clock run it at a chosen moment.
func (n *Node) FenceExpired() (fenced []int32, err error) {
	err = n.call(func() error {
		now := n.cfg.Now()
		for _, b := range n.Image().Brokers() {
			seen, ok := n.ctrl.mu.lastSeen[b.ID]
			if !ok {
				n.ctrl.mu.lastSeen[b.ID] = now // registered through an earlier controller
				continue
			}
			if b.Fenced || now.Sub(seen) < n.cfg.SessionTimeout {
				continue
			}
			if err := n.fenceLocked(b.ID); err != nil {
				return err
			}
			fenced = append(fenced, b.ID)
		}
		return nil
	})
	return fenced, err
}

// BrokerLiveness is what the controller knows of a broker's session.
type BrokerLiveness struct {
	BrokerID int32
	Fenced   bool
	// LastSeen is the broker's last heartbeat or registration, or the
	// moment this node became the controller if later.
	LastSeen time.Time
	// AppliedOffset is the metadata offset the broker's last heartbeat to
	// this controller reported; -1 before one.
	AppliedOffset int64
	// MetadataLag is the controller's offset minus AppliedOffset; -1 while
	// AppliedOffset is unknown.
	MetadataLag int64
}

// Liveness returns, on the controller, the session state of every
// registered broker in id order (for cluster health and metrics).
func (n *Node) Liveness() ([]BrokerLiveness, error) {
	res, err := n.invoke(opLiveness, nil)
	if err != nil {
		return nil, err
	}
	r := &reader{buf: res, what: "liveness answer"}
	out := readLiveness(r)
	r.end()
	return out, r.err
}

func (n *Node) liveness() ([]BrokerLiveness, error) {
	var out []BrokerLiveness
	err := n.call(func() error {
		img := n.Image()
		for _, b := range img.Brokers() {
			l := BrokerLiveness{BrokerID: b.ID, Fenced: b.Fenced, LastSeen: n.ctrl.mu.lastSeen[b.ID], AppliedOffset: -1, MetadataLag: -1}
			if off, ok := n.ctrl.mu.applied[b.ID]; ok {
				l.AppliedOffset, l.MetadataLag = off, max(img.Offset()-off, 0)
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// controllerLoop fences silent brokers (and so, through leadLocked, names
// the cluster when this node is the first controller) and finishes
// reassignments whose target is in the ISR, until the node stops.
func (n *Node) controllerLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(min(n.cfg.SessionTimeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		if !n.IsController() {
			continue
		}
		n.FenceExpired()                    // names the cluster too, on a new controller's first call (leadLocked)
		n.call(n.finishReassignmentsLocked) // failures are retried at the next tick
	}
}

// livePlacements lists the unfenced brokers for placement.
func livePlacements(img *Image) []BrokerPlacement {
	var out []BrokerPlacement
	for _, b := range img.Brokers() {
		if !b.Fenced {
			out = append(out, BrokerPlacement{ID: b.ID, Rack: b.Rack})
		}
	}
	return out
}

// assign places count new partitions over the live brokers, each led by
// its first replica with all replicas in the ISR.
func assign(img *Image, count, replicationFactor int) ([]PartitionAssignment, error) {
	live := livePlacements(img)
	replicas, err := AssignReplicas(live, count, replicationFactor, rand.IntN(max(len(live), 1)))
	if err != nil {
		return nil, err
	}
	out := make([]PartitionAssignment, len(replicas))
	for i, r := range replicas {
		out[i] = PartitionAssignment{Replicas: r, ISR: slices.Clone(r), Leader: r[0]}
	}
	return out, nil
}

// CreateTopic creates topic name with partitions partitions of
// replicationFactor replicas placed over the live brokers, and returns it.
// The caller has validated the name and configs (engine's rules).
func (n *Node) CreateTopic(name string, partitions, replicationFactor int, configs map[string]string) (*Topic, error) {
	args := appendConfigs(appendInt32(appendInt32(appendString(nil, name), int32(partitions)), int32(replicationFactor)), configs)
	img, err := n.invokeAndWait(opCreateTopic, args)
	if err != nil {
		return nil, err
	}
	return img.Topic(name), nil
}

func (n *Node) createTopic(name string, partitions, replicationFactor int, configs map[string]string) (off int64, err error) {
	err = n.call(func() error {
		img := n.Image()
		if img.Topic(name) != nil {
			return fmt.Errorf("%w: %s", ErrTopicExists, name)
		}
		as, err := assign(img, partitions, replicationFactor)
		if err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
		if off, err = n.propose(CreateTopic{Name: name, TopicID: randomID(), Configs: configs, Partitions: as}); err != nil {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
		return nil
	})
	return off, err
}

// DeleteTopic deletes topic name.
func (n *Node) DeleteTopic(name string) error {
	_, err := n.invokeAndWait(opDeleteTopic, appendString(nil, name))
	return err
}

func (n *Node) deleteTopic(name string) (off int64, err error) {
	err = n.call(func() error {
		t := n.Image().Topic(name)
		if t == nil {
			return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
		}
		if off, err = n.propose(DeleteTopic{TopicID: t.ID}); err != nil {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
		return nil
	})
	return off, err
}

// CreatePartitions grows topic name to total partitions, placing the new
// ones with the replication factor of its partition 0.
func (n *Node) CreatePartitions(name string, total int) error {
	_, err := n.invokeAndWait(opCreatePartitions, appendInt32(appendString(nil, name), int32(total)))
	return err
}

func (n *Node) createPartitions(name string, total int) (off int64, err error) {
	err = n.call(func() error {
		img := n.Image()
		t := img.Topic(name)
		if t == nil {
			return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
		}
		if total <= len(t.Partitions) {
			return fmt.Errorf("%w: topic %s has %d partitions; a topic can only grow, asked for %d",
				ErrInvalidChange, name, len(t.Partitions), total)
		}
		as, err := assign(img, total-len(t.Partitions), len(t.Partitions[0].Replicas))
		if err != nil {
			return fmt.Errorf("add partitions to %s: %w", name, err)
		}
		if off, err = n.propose(AddPartitions{TopicID: t.ID, FirstPartition: int32(len(t.Partitions)), Partitions: as}); err != nil {
			return fmt.Errorf("add partitions to %s: %w", name, err)
		}
		return nil
	})
	return off, err
}

// AlterPartition is Kafka's AlterPartition (KIP-497): the leader of a
// partition, at leaderEpoch, asks to set its ISR, computed from the
// partition at partitionEpoch. A request from a replica that is not the
// leader, at another leader epoch, or from a stale partition epoch is
// refused with ErrStaleEpoch, and the leader must not count the new ISR
// until this returns it: the returned partition is the committed state.
// A broker may join the ISR only while unfenced.
func (n *Node) AlterPartition(topic string, partition, leader, leaderEpoch, partitionEpoch int32, isr []int32) (Partition, error) {
	args := appendString(nil, topic)
	for _, v := range []int32{partition, leader, leaderEpoch, partitionEpoch} {
		args = appendInt32(args, v)
	}
	img, err := n.invokeAndWait(opAlterPartition, appendInt32s(args, isr))
	if err != nil {
		return Partition{}, err
	}
	t := img.Topic(topic)
	if t == nil || int(partition) >= len(t.Partitions) {
		return Partition{}, fmt.Errorf("%w: %s partition %d, deleted after the change", ErrUnknownTopic, topic, partition)
	}
	return t.Partitions[partition], nil
}

func (n *Node) alterPartition(topic string, partition, leader, leaderEpoch, partitionEpoch int32, isr []int32) (off int64, err error) {
	err = n.call(func() error {
		img := n.Image()
		t := img.Topic(topic)
		if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
			return fmt.Errorf("%w: %s partition %d", ErrUnknownTopic, topic, partition)
		}
		p := t.Partitions[partition]
		if leader != p.Leader || leaderEpoch != p.LeaderEpoch {
			return fmt.Errorf("%w: %s partition %d is led by %d at leader epoch %d, not by %d at %d",
				ErrStaleEpoch, topic, partition, p.Leader, p.LeaderEpoch, leader, leaderEpoch)
		}
		for _, id := range isr {
			if !slices.Contains(p.ISR, id) && !img.live(id) {
				return fmt.Errorf("%w: %s partition %d: broker %d is fenced and cannot join the ISR", ErrInvalidChange, topic, partition, id)
			}
		}
		rec := ChangePartition{TopicID: t.ID, Partition: partition, PartitionEpoch: partitionEpoch, Leader: leader, ISR: isr}
		if off, err = n.propose(rec); err != nil {
			return fmt.Errorf("alter partition %s-%d: %w", topic, partition, err)
		}
		// An ISR that now holds a reassignment's whole target finishes it
		// (reassign.go), in an entry of its own: the leader's change is
		// committed as it asked either way.
		// A finish that fails is retried at the next controller tick.
		img = n.Image()
		nt := img.Topic(topic)
		if done, ok := finishReassignment(img, nt, partition, nt.Partitions[partition]); ok {
			if doneOff, err := n.propose(done); err == nil {
				off = doneOff
			}
		}
		return nil
	})
	return off, err
}

// AllocateProducerIDs gives broker id, at epoch, the next block of
// ProducerIDBlockSize producer ids, unique in the cluster, and returns its
// first id.
func (n *Node) AllocateProducerIDs(id int32, epoch int64) (first int64, count int32, err error) {
	res, err := n.invoke(opAllocateProducerIDs, appendInt64(appendInt32(nil, id), epoch))
	if err != nil {
		return 0, 0, err
	}
	r := &reader{buf: res, what: "producer id answer"}
	first, count = r.int64("first"), r.int32("count")
	r.end()
	return first, count, r.err
}

func (n *Node) allocateProducerIDs(id int32, epoch int64) (first int64, count int32, err error) {
	err = n.call(func() error {
		img := n.Image()
		if _, err := img.brokerAtEpoch(id, epoch); err != nil {
			return fmt.Errorf("allocate producer ids: %w", err)
		}
		first, count = img.NextProducerID(), ProducerIDBlockSize
		if _, err := n.propose(AllocateProducerIDs{BrokerID: id, FirstID: first, Count: count}); err != nil {
			return fmt.Errorf("allocate producer ids for broker %d: %w", id, err)
		}
		return nil
	})
	return first, count, err
}

// AlterConfigs sets and deletes config overrides of topic name. The caller
// has validated the keys and values (engine's rules).
func (n *Node) AlterConfigs(name string, set map[string]string, del []string) error {
	_, err := n.invokeAndWait(opAlterConfigs, appendStrings(appendConfigs(appendString(nil, name), set), del))
	return err
}

func (n *Node) alterConfigs(name string, set map[string]string, del []string) (off int64, err error) {
	err = n.call(func() error {
		t := n.Image().Topic(name)
		if t == nil {
			return fmt.Errorf("%w: %s", ErrUnknownTopic, name)
		}
		if off, err = n.propose(ChangeConfig{TopicID: t.ID, Set: set, Delete: del}); err != nil {
			return fmt.Errorf("alter configs of %s: %w", name, err)
		}
		return nil
	})
	return off, err
}

// LeaderElections returns how many partition leaders this node elected
// while it was the controller since it started: clean ones (an ISR member)
// and unclean ones (a replica outside the ISR, under
// unclean.leader.election.enable). A partition going offline is not one.
func (n *Node) LeaderElections() (clean, unclean int64) {
	return n.ctrl.elections.clean.Load(), n.ctrl.elections.unclean.Load()
}

// countElections counts the leader changes recs, just committed, made to
// img's partitions.
func (n *Node) countElections(img *Image, recs []Record) {
	for _, rec := range recs {
		var id ID16
		var part, leader int32
		switch r := rec.(type) {
		case ChangePartition:
			id, part, leader = r.TopicID, r.Partition, r.Leader
		case ChangeReplicas:
			id, part, leader = r.TopicID, r.Partition, r.Leader
		default:
			continue
		}
		t := img.TopicByID(id)
		if t == nil || int(part) >= len(t.Partitions) || leader == NoLeader || leader == t.Partitions[part].Leader {
			continue
		}
		if slices.Contains(t.Partitions[part].ISR, leader) {
			n.ctrl.elections.clean.Add(1)
		} else {
			n.ctrl.elections.unclean.Add(1)
		}
	}
}
