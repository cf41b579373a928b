package engine

// Behavior: the consumer-group state machine (Kafka's classic group
// protocol with KIP-345 static membership and KIP-394 member ids). It is
// deterministic: no goroutines, no locks, no clock. Time comes in as the
// now argument of every operation and of tick; answers and writes to
// __consumer_offsets go out through an outbox that the driver
// (groupcoordinator.go) runs after releasing its lock. doc.go draws the
// states; docs/groups.md tells the whole protocol.

import (
	"bytes"
	"slices"
	"sort"
	"time"
)

// GroupState is the state of a consumer group.
type GroupState int8

// The group states (Kafka's names). Transitions:
//
//	Empty ──join──► PreparingRebalance ──all joined / timeout──► CompletingRebalance
//	CompletingRebalance ──leader's sync written──► Stable
//	Stable / CompletingRebalance ──join, leave, session expiry──► PreparingRebalance
//	PreparingRebalance ──no member left──► Empty
//	Empty ──DeleteGroups──► Dead
const (
	GroupEmpty GroupState = iota
	GroupPreparingRebalance
	GroupCompletingRebalance
	GroupStable
	GroupDead
)

// String returns Kafka's name of the state, e.g. "PreparingRebalance".
func (s GroupState) String() string {
	switch s {
	case GroupEmpty:
		return "Empty"
	case GroupPreparingRebalance:
		return "PreparingRebalance"
	case GroupCompletingRebalance:
		return "CompletingRebalance"
	case GroupStable:
		return "Stable"
	}
	return "Dead"
}

// ParseGroupState reads a state name as String writes it.
func ParseGroupState(s string) (GroupState, bool) {
	for st := GroupEmpty; st <= GroupDead; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}

// GroupProtocol is one assignment protocol a member supports, with its
// subscription as opaque Metadata.
type GroupProtocol struct {
	Name     string
	Metadata []byte
}

// member is one group member. Byte fields are copies owned by the core.
type member struct {
	id, instanceID       string
	clientID, clientHost string
	sessionTimeout       time.Duration
	rebalanceTimeout     time.Duration
	protocols            []GroupProtocol
	assignment           []byte
	// deadline is when the session expires without a heartbeat.
	deadline time.Time
	// joinDone is set while the member waits at the join barrier, syncDone
	// while it waits for the leader's assignment.
	joinDone func(JoinGroupResult)
	syncDone func(SyncGroupResult)
}

// metadataFor returns the member's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// group is one consumer group: membership and committed offsets.
type group struct {
	id           string
	state        GroupState
	protocolType string
	protocol     string // chosen at the end of each join; "" when Empty
	generation   int32
	leader       string
	// members in join order: the first is leader when there is none.
	members []*member
	// pending are ids handed out with MEMBER_ID_REQUIRED, by expiry time:
	// the join barrier waits for them too.
	pending map[string]time.Time
	// rebalanceDeadline ends PreparingRebalance whatever has rejoined;
	// initialDeadline holds the barrier of a group that was Empty for
	// InitialRebalanceDelay so that a starting fleet joins one generation.
	rebalanceDeadline, initialDeadline time.Time
	// syncWriteGen is the generation whose assignment is being written, or -1.
	syncWriteGen int32
	// hasMetadata: a group metadata record is in the log (so deleting the
	// group needs its tombstone).
	hasMetadata bool
	// metaWrites counts group metadata records written since load: offset
	// expiry drops hasMetadata only if none was written after its tombstone.
	metaWrites int
	// emptySince is when the group last became Empty (set by completeJoin,
	// or at load from the Empty metadata record; zero for a group that never
	// had members), read only while it is Empty: its offsets expire
	// OffsetsRetention later.
	emptySince time.Time
	offsets    map[TopicPartition]committed
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// committed is one committed offset and where its record is in
// __consumer_offsets: a write that completes late never overwrites a newer one.
type committed struct {
	offset          int64
	leaderEpoch     int32
	metadata        string
	commitTimestamp int64
	logOffset       int64
}

func newGroup(id string) *group {
	return &group{id: id, pending: map[string]time.Time{}, syncWriteGen: -1, offsets: map[TopicPartition]committed{}}
}

// forgettable reports whether nothing of g is left in memory or on disk
// (Empty, no pending member id, no offsets, no metadata record), so the
// coordinator drops it, as a restart would.
func (g *group) forgettable() bool {
	return g.state == GroupEmpty && len(g.pending) == 0 && len(g.offsets) == 0 && !g.hasMetadata
}

func (g *group) member(id string) *member {
	for _, m := range g.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

func (g *group) byInstance(instanceID string) *member {
	if instanceID == "" {
		return nil
	}
	for _, m := range g.members {
		if m.instanceID == instanceID {
			return m
		}
	}
	return nil
}

// outbox collects what an operation decided while the coordinator lock was
// held: writes to __consumer_offsets (issued first, in order) and answers
// (run after, with no lock held).
type outbox struct {
	writes  []groupWrite
	answers []func()
}

func (o *outbox) answer(f func()) { o.answers = append(o.answers, f) }

// groupWrite is records for the group's partition of __consumer_offsets.
// then runs under the coordinator lock once the write is acknowledged
// (err nil, baseOffset the first record's offset) or failed.
type groupWrite struct {
	group   string
	records []offsetsRecord
	then    func(o *outbox, baseOffset int64, err error)
}

// groupCore is every group this coordinator hosts.
type groupCore struct {
	cfg    GroupConfig
	groups map[string]*group
	// now is the latest time any operation brought in; write completions,
	// which carry no time of their own, use it.
	now time.Time
	// newMemberID returns a fresh, unique member id for a client id.
	newMemberID func(clientID string) string
	// skipped counts the records loadGroups skipped (unknown key versions).
	skipped int
	// nextExpiry is when tick next looks for expired offsets.
	nextExpiry time.Time
}

func newGroupCore(cfg GroupConfig, newMemberID func(string) string) *groupCore {
	return &groupCore{cfg: cfg, groups: map[string]*group{}, newMemberID: newMemberID}
}

// advance moves the core's clock; time never goes back.
func (c *groupCore) advance(now time.Time) time.Time {
	if now.After(c.now) {
		c.now = now
	}
	return c.now
}

// tick expires sessions, pending member ids and rebalance deadlines.
func (c *groupCore) tick(now time.Time, o *outbox) {
	now = c.advance(now)
	for _, g := range c.groups {
		for id, dl := range g.pending {
			if !now.Before(dl) {
				delete(g.pending, id)
			}
		}
		var expired []*member
		for _, m := range g.members {
			// A member waiting at the join barrier or for its assignment is
			// alive by definition (Kafka's rule): it cannot heartbeat then.
			if m.joinDone == nil && m.syncDone == nil && !now.Before(m.deadline) {
				expired = append(expired, m)
			}
		}
		for _, m := range expired {
			c.removeMember(g, m, ErrUnknownMemberID, o)
		}
		if len(expired) > 0 {
			c.membershipChanged(g, now, o)
		}
		if g.state == GroupPreparingRebalance {
			if !now.Before(g.rebalanceDeadline) {
				c.completeJoin(g, now, o)
			} else {
				c.maybeCompleteJoin(g, now, o)
			}
		}
		if g.forgettable() {
			// A group whose only member id was never used.
			delete(c.groups, g.id)
		}
	}
	if c.cfg.OffsetsRetention > 0 && !now.Before(c.nextExpiry) {
		c.nextExpiry = now.Add(c.cfg.OffsetsRetentionCheckInterval)
		c.expireOffsets(now, o)
	}
}

// removeMember drops m from g, failing its parked join or sync with err.
func (c *groupCore) removeMember(g *group, m *member, err error, o *outbox) {
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	failWaiters(m, err, o)
	if g.leader == m.id {
		g.leader = ""
	}
}

// failWaiters answers m's parked join and sync with err.
func failWaiters(m *member, err error, o *outbox) {
	if m.joinDone != nil {
		done, id := m.joinDone, m.id
		m.joinDone = nil
		o.answer(func() { done(JoinGroupResult{Err: err, GenerationID: -1, MemberID: id}) })
	}
	if m.syncDone != nil {
		done := m.syncDone
		m.syncDone = nil
		o.answer(func() { done(SyncGroupResult{Err: err}) })
	}
}

// membershipChanged reacts to members leaving or expiring.
func (c *groupCore) membershipChanged(g *group, now time.Time, o *outbox) {
	switch g.state {
	case GroupStable, GroupCompletingRebalance:
		c.prepareRebalance(g, now, o)
	case GroupPreparingRebalance:
		c.maybeCompleteJoin(g, now, o)
	}
}

// prepareRebalance starts a rebalance: every member must rejoin before the
// largest rebalance timeout of the group's members.
func (c *groupCore) prepareRebalance(g *group, now time.Time, o *outbox) {
	for _, m := range g.members {
		if m.syncDone != nil {
			done := m.syncDone
			m.syncDone = nil
			o.answer(func() { done(SyncGroupResult{Err: ErrRebalanceInProgress}) })
		}
	}
	var timeout time.Duration
	for _, m := range g.members {
		timeout = max(timeout, m.rebalanceTimeout)
	}
	g.initialDeadline = time.Time{}
	if g.state == GroupEmpty {
		g.initialDeadline = now.Add(min(c.cfg.InitialRebalanceDelay, timeout))
	}
	g.state = GroupPreparingRebalance
	g.rebalanceDeadline = now.Add(timeout)
	c.maybeCompleteJoin(g, now, o)
}

// maybeCompleteJoin ends the join barrier once every member and every
// pending member id has joined (and the initial delay has passed).
func (c *groupCore) maybeCompleteJoin(g *group, now time.Time, o *outbox) {
	if g.state != GroupPreparingRebalance || now.Before(g.initialDeadline) || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinDone == nil {
			return
		}
	}
	c.completeJoin(g, now, o)
}

// completeJoin starts the next generation with the members that rejoined;
// the others are removed. A group left without members becomes Empty and
// that is written, so a restart does not bring the old members back.
func (c *groupCore) completeJoin(g *group, now time.Time, o *outbox) {
	for _, m := range slices.Clone(g.members) {
		if m.joinDone == nil {
			c.removeMember(g, m, ErrUnknownMemberID, o)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader, g.emptySince = GroupEmpty, "", "", now
		c.writeGroup(g, now, o, nil)
		return
	}
	g.state = GroupCompletingRebalance
	g.protocol = selectProtocol(g)
	if g.member(g.leader) == nil {
		g.leader = g.members[0].id
	}
	var all []JoinGroupMember
	for _, m := range g.members {
		all = append(all, JoinGroupMember{MemberID: m.id, GroupInstanceID: m.instanceID, Metadata: m.metadataFor(g.protocol)})
	}
	for _, m := range g.members {
		res := c.joinResult(g, m.id)
		if m.id == g.leader {
			res.Members = all
		}
		done := m.joinDone
		m.joinDone = nil
		m.deadline = now.Add(m.sessionTimeout)
		o.answer(func() { done(res) })
	}
}

func (c *groupCore) joinResult(g *group, memberID string) JoinGroupResult {
	return JoinGroupResult{GenerationID: g.generation, ProtocolType: g.protocolType, ProtocolName: g.protocol,
		Leader: g.leader, MemberID: memberID}
}

// selectProtocol picks the protocol every member supports that most
// members list first among those (Kafka's vote); ties go to the name that
// sorts first, so the choice is deterministic.
func selectProtocol(g *group) string {
	candidates := map[string]int{}
	for _, p := range g.members[0].protocols {
		candidates[p.Name] = 0
	}
	for _, m := range g.members[1:] {
		for name := range candidates {
			if !m.supports(name) {
				delete(candidates, name)
			}
		}
	}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if _, ok := candidates[p.Name]; ok {
				candidates[p.Name]++
				break
			}
		}
	}
	names := make([]string, 0, len(candidates))
	for n := range candidates {
		names = append(names, n)
	}
	sort.Strings(names)
	best := ""
	for _, n := range names {
		if best == "" || candidates[n] > candidates[best] {
			best = n
		}
	}
	return best
}

func (m *member) supports(name string) bool {
	return slices.ContainsFunc(m.protocols, func(p GroupProtocol) bool { return p.Name == name })
}

// compatible reports whether a member with these protocols may be in g:
// same protocol type, and at least one protocol every other member supports.
func (g *group) compatible(memberID, protocolType string, protocols []GroupProtocol) bool {
	others := 0
	for _, m := range g.members {
		if m.id != memberID {
			others++
		}
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		ok := true
		for _, m := range g.members {
			if m.id != memberID && !m.supports(p.Name) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// sameSubscription reports whether a rejoin changes nothing the leader's
// assignment depends on: the metadata for the group's current protocol.
// Only that protocol's metadata survives a restart (the group record keeps
// it alone), so comparing more would force a rebalance after every restart.
func (g *group) sameSubscription(m *member, protocols []GroupProtocol) bool {
	for _, p := range protocols {
		if p.Name == g.protocol {
			return bytes.Equal(p.Metadata, m.metadataFor(g.protocol))
		}
	}
	return false
}

// shutdown answers every parked join and sync with ErrNotCoordinator.
func (c *groupCore) shutdown(o *outbox) {
	for _, g := range c.groups {
		for _, m := range g.members {
			failWaiters(m, ErrNotCoordinator, o)
		}
	}
}

// cloneProtocols deep-copies protocols: request bytes alias network buffers.
func cloneProtocols(ps []GroupProtocol) []GroupProtocol {
	out := make([]GroupProtocol, len(ps))
	for i, p := range ps {
		out[i] = GroupProtocol{Name: p.Name, Metadata: bytes.Clone(p.Metadata)}
	}
	return out
}
