package engine

// Behavior: JoinGroup, SyncGroup, Heartbeat and LeaveGroup in the group
// state machine (group.go). A join parks at the barrier until every known
// member has rejoined (or the rebalance timeout), then every member gets
// the new generation and the leader also gets every member's metadata. The
// leader's SyncGroup carries the assignment; it is written to
// __consumer_offsets and only then handed to every member (followers park
// until then). Static members (group instance id) that rejoin with an
// unchanged subscription take over their old member id's place and
// assignment without a rebalance; the old id is fenced.

import (
	"bytes"
	"fmt"
	"time"
)

// JoinGroupRequest is one member's JoinGroup. Byte fields may alias a
// network buffer: the coordinator copies what it keeps.
type JoinGroupRequest struct {
	GroupID          string
	MemberID         string // empty on a member's first join
	GroupInstanceID  string // empty for a dynamic member
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []GroupProtocol
}

// JoinGroupMember is one member as the leader sees it: its metadata for
// the chosen protocol.
type JoinGroupMember struct {
	MemberID        string
	GroupInstanceID string
	Metadata        []byte
}

// JoinGroupResult answers a JoinGroupRequest. With ErrMemberIDRequired,
// MemberID is the id to join again with. Members is set for the leader
// only. The caller must not modify Metadata.
type JoinGroupResult struct {
	Err          error
	GenerationID int32
	ProtocolType string
	ProtocolName string
	Leader       string
	MemberID     string
	Members      []JoinGroupMember
}

// GroupAssignment is the leader's assignment for one member.
type GroupAssignment struct {
	MemberID   string
	Assignment []byte
}

// SyncGroupRequest is one member's SyncGroup; only the leader's carries
// Assignments. ProtocolType and ProtocolName are checked when non-empty.
type SyncGroupRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
	ProtocolType    string
	ProtocolName    string
	Assignments     []GroupAssignment
}

// SyncGroupResult carries the member's assignment. The caller must not
// modify Assignment.
type SyncGroupResult struct {
	Err          error
	ProtocolType string
	ProtocolName string
	Assignment   []byte
}

// HeartbeatRequest keeps a member's session alive.
type HeartbeatRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
}

// LeavingMember names a member leaving: by MemberID, or by GroupInstanceID
// alone for a static member.
type LeavingMember struct {
	MemberID        string
	GroupInstanceID string
}

// groupErr wraps a sentinel with the group and member it is about.
func groupErr(sentinel error, groupID, memberID string) error {
	if memberID == "" {
		return fmt.Errorf("%w: group %q", sentinel, groupID)
	}
	return fmt.Errorf("%w: group %q member %q", sentinel, groupID, memberID)
}

// checkMember finds the member a request claims to be: a static member's
// instance id must still belong to that member id (else it is fenced).
func checkMember(g *group, memberID, instanceID string) (*member, error) {
	if cur := g.byInstance(instanceID); cur != nil && cur.id != memberID {
		return nil, groupErr(ErrFencedInstanceID, g.id, memberID)
	}
	m := g.member(memberID)
	if m == nil {
		return nil, groupErr(ErrUnknownMemberID, g.id, memberID)
	}
	return m, nil
}

func (c *groupCore) join(req JoinGroupRequest, now time.Time, done func(JoinGroupResult), o *outbox) {
	now = c.advance(now)
	fail := func(err error) {
		o.answer(func() { done(JoinGroupResult{Err: err, GenerationID: -1, MemberID: req.MemberID}) })
	}
	switch {
	case req.GroupID == "":
		fail(fmt.Errorf("%w: empty group id", ErrInvalidGroupID))
		return
	case req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout:
		fail(fmt.Errorf("%w: group %q: %v is outside [%v, %v]", ErrInvalidSessionTimeout, req.GroupID,
			req.SessionTimeout, c.cfg.MinSessionTimeout, c.cfg.MaxSessionTimeout))
		return
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		fail(fmt.Errorf("%w: group %q: a join needs a protocol type and at least one protocol", ErrInconsistentGroupProtocol, req.GroupID))
		return
	}
	g := c.groups[req.GroupID]
	if g == nil {
		if req.MemberID != "" {
			fail(groupErr(ErrUnknownMemberID, req.GroupID, req.MemberID))
			return
		}
		g = newGroup(req.GroupID)
		c.groups[req.GroupID] = g
	}
	if !g.compatible(req.MemberID, req.ProtocolType, req.Protocols) {
		fail(fmt.Errorf("%w: group %q has protocol type %q and its members share none of the protocols offered",
			ErrInconsistentGroupProtocol, g.id, g.protocolType))
		return
	}
	if req.MemberID == "" {
		c.joinNew(g, req, now, done, o, fail)
		return
	}
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		c.addMember(g, req.MemberID, req, now, done, o, fail)
		return
	}
	m, err := checkMember(g, req.MemberID, req.GroupInstanceID)
	if err != nil {
		fail(err)
		return
	}
	c.rejoin(g, m, req, now, done, o)
}

// joinNew handles a join without a member id.
func (c *groupCore) joinNew(g *group, req JoinGroupRequest, now time.Time, done func(JoinGroupResult), o *outbox, fail func(error)) {
	if old := g.byInstance(req.GroupInstanceID); old != nil {
		c.replaceStatic(g, old, req, now, done, o)
		return
	}
	id := c.newMemberID(req.ClientID)
	if req.GroupInstanceID != "" {
		// A static member gets its id at once: its instance id already
		// identifies it across restarts (KIP-345).
		c.addMember(g, id, req, now, done, o, fail)
		return
	}
	if c.full(g) {
		fail(groupErr(ErrGroupMaxSizeReached, g.id, ""))
		return
	}
	// KIP-394: a dynamic member's first join only reserves an id, so a
	// client that retries a timed-out first join does not leave a ghost
	// member behind for a whole session timeout.
	g.pending[id] = now.Add(req.SessionTimeout)
	o.answer(func() {
		done(JoinGroupResult{Err: groupErr(ErrMemberIDRequired, g.id, id), GenerationID: -1, MemberID: id})
	})
}

func (c *groupCore) full(g *group) bool {
	return c.cfg.MaxGroupSize > 0 && len(g.members)+len(g.pending) >= c.cfg.MaxGroupSize
}

// addMember adds a new member and parks its join.
func (c *groupCore) addMember(g *group, id string, req JoinGroupRequest, now time.Time, done func(JoinGroupResult), o *outbox, fail func(error)) {
	if c.full(g) {
		fail(groupErr(ErrGroupMaxSizeReached, g.id, id))
		return
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	m := &member{id: id}
	m.update(req, now)
	m.joinDone = done
	g.members = append(g.members, m)
	if g.state == GroupPreparingRebalance {
		c.maybeCompleteJoin(g, now, o)
		return
	}
	c.prepareRebalance(g, now, o)
}

// update copies a join's member fields into m.
func (m *member) update(req JoinGroupRequest, now time.Time) {
	m.instanceID, m.clientID, m.clientHost = req.GroupInstanceID, req.ClientID, req.ClientHost
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	if m.rebalanceTimeout <= 0 {
		// Kafka's JoinGroup v0 had no rebalance timeout and used the
		// session timeout; a client that sends none gets the same.
		m.rebalanceTimeout = req.SessionTimeout
	}
	m.protocols = cloneProtocols(req.Protocols)
	m.deadline = now.Add(req.SessionTimeout)
}

// park sets m's join callback; a join it replaces (a client retry) is
// answered so that every done runs exactly once.
func (m *member) park(done func(JoinGroupResult), o *outbox) {
	if old := m.joinDone; old != nil {
		id := m.id
		o.answer(func() { old(JoinGroupResult{Err: ErrRebalanceInProgress, GenerationID: -1, MemberID: id}) })
	}
	m.joinDone = done
}

// rejoin handles a join of an existing member.
func (c *groupCore) rejoin(g *group, m *member, req JoinGroupRequest, now time.Time, done func(JoinGroupResult), o *outbox) {
	same := g.sameSubscription(m, req.Protocols)
	switch g.state {
	case GroupPreparingRebalance:
		m.update(req, now)
		m.park(done, o)
		c.maybeCompleteJoin(g, now, o)
	case GroupCompletingRebalance, GroupStable:
		if same && (g.state == GroupCompletingRebalance || m.id != g.leader) {
			// The member lost our join answer, or a follower rejoined with
			// nothing new: tell it the current generation again.
			m.deadline = now.Add(m.sessionTimeout)
			res := c.joinResult(g, m.id)
			if m.id == g.leader {
				for _, x := range g.members {
					res.Members = append(res.Members, JoinGroupMember{MemberID: x.id, GroupInstanceID: x.instanceID, Metadata: x.metadataFor(g.protocol)})
				}
			}
			o.answer(func() { done(res) })
			return
		}
		// A changed subscription, or the leader asking to reassign.
		m.update(req, now)
		m.park(done, o)
		c.prepareRebalance(g, now, o)
	}
}

// replaceStatic gives a static member that rejoined without its member id a
// new id in the old one's place; the old id is fenced from now on.
func (c *groupCore) replaceStatic(g *group, old *member, req JoinGroupRequest, now time.Time, done func(JoinGroupResult), o *outbox) {
	failWaiters(old, groupErr(ErrFencedInstanceID, g.id, old.id), o)
	same := g.sameSubscription(old, req.Protocols)
	newID := c.newMemberID(req.ClientID)
	if g.leader == old.id {
		g.leader = newID
	}
	old.id = newID
	old.update(req, now)
	m := old
	if g.state != GroupStable || !same {
		m.park(done, o)
		if g.state == GroupPreparingRebalance {
			c.maybeCompleteJoin(g, now, o)
		} else {
			c.prepareRebalance(g, now, o)
		}
		return
	}
	// Stable and nothing changed: no rebalance. The new id is written
	// before the member hears it, so a restart fences the old id too.
	res := c.joinResult(g, newID)
	c.writeGroup(g, now, o, func(o *outbox, err error) {
		if err != nil {
			res = JoinGroupResult{Err: err, GenerationID: -1, MemberID: newID}
		}
		o.answer(func() { done(res) })
	})
}

func (c *groupCore) sync(req SyncGroupRequest, now time.Time, done func(SyncGroupResult), o *outbox) {
	now = c.advance(now)
	fail := func(err error) { o.answer(func() { done(SyncGroupResult{Err: err}) }) }
	g := c.groups[req.GroupID]
	if g == nil {
		fail(groupErr(ErrUnknownMemberID, req.GroupID, req.MemberID))
		return
	}
	m, err := checkMember(g, req.MemberID, req.GroupInstanceID)
	switch {
	case err != nil:
		fail(err)
		return
	case req.GenerationID != g.generation:
		fail(fmt.Errorf("%w: group %q member %q: generation %d, the group is at %d", ErrIllegalGeneration, g.id, m.id, req.GenerationID, g.generation))
		return
	case req.ProtocolType != "" && req.ProtocolType != g.protocolType, req.ProtocolName != "" && req.ProtocolName != g.protocol:
		fail(fmt.Errorf("%w: group %q uses %s/%s, the sync names %s/%s", ErrInconsistentGroupProtocol, g.id,
			g.protocolType, g.protocol, req.ProtocolType, req.ProtocolName))
		return
	}
	switch g.state {
	case GroupPreparingRebalance:
		fail(groupErr(ErrRebalanceInProgress, g.id, m.id))
	case GroupStable:
		m.deadline = now.Add(m.sessionTimeout)
		res := SyncGroupResult{ProtocolType: g.protocolType, ProtocolName: g.protocol, Assignment: m.assignment}
		o.answer(func() { done(res) })
	case GroupCompletingRebalance:
		if old := m.syncDone; old != nil {
			o.answer(func() { old(SyncGroupResult{Err: ErrRebalanceInProgress}) })
		}
		m.syncDone = done
		m.deadline = now.Add(m.sessionTimeout)
		if m.id == g.leader && g.syncWriteGen != g.generation {
			c.completeSync(g, req.Assignments, now, o)
		}
	}
}

// completeSync writes the leader's assignment with the group's metadata
// and, once that is acknowledged, makes the group Stable and answers every
// parked sync (and later ones at once). A failed write ends the
// generation: the members rejoin.
func (c *groupCore) completeSync(g *group, assignments []GroupAssignment, now time.Time, o *outbox) {
	byMember := map[string][]byte{}
	for _, a := range assignments {
		byMember[a.MemberID] = bytes.Clone(a.Assignment)
	}
	gen := g.generation
	g.syncWriteGen = gen
	c.writeGroupWith(g, byMember, now, o, func(o *outbox, err error) {
		if c.groups[g.id] != g || g.syncWriteGen != gen {
			return
		}
		g.syncWriteGen = -1
		if g.generation != gen || g.state != GroupCompletingRebalance {
			return // a rebalance began meanwhile and answered the parked syncs
		}
		if err != nil {
			for _, m := range g.members {
				failWaiters(m, err, o)
			}
			c.prepareRebalance(g, c.now, o)
			return
		}
		g.state = GroupStable
		for _, m := range g.members {
			m.assignment = byMember[m.id]
			if m.syncDone != nil {
				done := m.syncDone
				m.syncDone = nil
				res := SyncGroupResult{ProtocolType: g.protocolType, ProtocolName: g.protocol, Assignment: m.assignment}
				o.answer(func() { done(res) })
			}
		}
	})
}

func (c *groupCore) heartbeat(req HeartbeatRequest, now time.Time) error {
	now = c.advance(now)
	g := c.groups[req.GroupID]
	if g == nil {
		return groupErr(ErrUnknownMemberID, req.GroupID, req.MemberID)
	}
	m, err := checkMember(g, req.MemberID, req.GroupInstanceID)
	if err != nil {
		return err
	}
	if req.GenerationID != g.generation {
		return fmt.Errorf("%w: group %q member %q: generation %d, the group is at %d", ErrIllegalGeneration, g.id, m.id, req.GenerationID, g.generation)
	}
	m.deadline = now.Add(m.sessionTimeout)
	if g.state == GroupPreparingRebalance {
		return groupErr(ErrRebalanceInProgress, g.id, m.id)
	}
	return nil
}

// leave removes members at once; the result has one error (or nil) per
// member, in order.
func (c *groupCore) leave(groupID string, members []LeavingMember, now time.Time, o *outbox) []error {
	now = c.advance(now)
	errs := make([]error, len(members))
	g := c.groups[groupID]
	removed := false
	for i, lm := range members {
		if g == nil {
			errs[i] = groupErr(ErrUnknownMemberID, groupID, lm.MemberID)
			continue
		}
		var m *member
		if lm.MemberID == "" && lm.GroupInstanceID != "" {
			if m = g.byInstance(lm.GroupInstanceID); m == nil {
				errs[i] = fmt.Errorf("%w: group %q has no instance %q", ErrUnknownMemberID, groupID, lm.GroupInstanceID)
				continue
			}
		} else if m, errs[i] = checkMember(g, lm.MemberID, lm.GroupInstanceID); errs[i] != nil {
			continue
		}
		c.removeMember(g, m, groupErr(ErrUnknownMemberID, groupID, m.id), o)
		removed = true
	}
	if removed {
		c.membershipChanged(g, now, o)
	}
	return errs
}

// writeGroup writes g's metadata record with the members' current
// assignments; then, if not nil, runs when the write is done.
func (c *groupCore) writeGroup(g *group, now time.Time, o *outbox, then func(o *outbox, err error)) {
	c.writeGroupWith(g, nil, now, o, then)
}

// writeGroupWith is writeGroup with assignments taken from byMember when
// it is not nil.
func (c *groupCore) writeGroupWith(g *group, byMember map[string][]byte, now time.Time, o *outbox, then func(o *outbox, err error)) {
	g.hasMetadata = true
	g.metaWrites++
	rec := offsetsRecord{key: groupKey(g.id), value: groupValue(g, byMember, now.UnixMilli())}
	o.writes = append(o.writes, groupWrite{group: g.id, records: []offsetsRecord{rec}, then: func(o *outbox, _ int64, err error) {
		if err != nil {
			err = fmt.Errorf("%w: write group %q: %w", ErrCoordinatorNotAvailable, g.id, err)
		}
		if then != nil {
			then(o, err)
		}
	}})
}
