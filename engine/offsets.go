package engine

// Behavior: committed offsets and group administration in the group state
// machine. A commit is checked (a member of an active group commits with
// its current generation and member id; a standalone consumer commits with
// generation -1 while the group has no members, like Kafka's "simple"
// commits), written to __consumer_offsets, and applied to memory only once
// the write is acknowledged, so a fetch never shows an offset a restart
// could lose. DeleteGroups removes Empty groups with tombstones for the
// group record and every offset. DeleteTopicOffsets removes every group's
// offsets of a deleted topic the same way (Kafka does, KAFKA-2000), so a
// topic created again under the name starts without the old positions.

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// OffsetCommitRequest commits offsets for a group. GenerationID -1 with an
// empty MemberID is a standalone commit.
type OffsetCommitRequest struct {
	GroupID         string
	GenerationID    int32
	MemberID        string
	GroupInstanceID string
	Offsets         []CommitOffset
}

// CommitOffset is one partition's position to commit: Offset is the next
// offset the consumer will read.
type CommitOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    string
}

// CommittedOffset is one partition's committed position as OffsetFetch
// returns it: Offset -1 (LeaderEpoch -1, CommitTimestamp -1) when the group
// has none.
type CommittedOffset struct {
	Topic           string
	Partition       int32
	Offset          int64
	LeaderEpoch     int32
	Metadata        string
	CommitTimestamp int64 // ms, the coordinator's clock at the commit
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	GroupID      string
	ProtocolType string
	State        GroupState
}

// GroupDescription is one group of DescribeGroups. An unknown group is
// described as GroupDead with no members.
type GroupDescription struct {
	// Err is nil, or wraps ErrNotCoordinator for a group another broker
	// coordinates (cluster mode); the other fields are then empty.
	Err          error
	GroupID      string
	State        GroupState
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	Members      []GroupMemberDescription
}

// GroupMemberDescription is one member: its metadata for the group's
// protocol and its current assignment (opaque bytes; copies).
type GroupMemberDescription struct {
	MemberID        string
	GroupInstanceID string
	ClientID        string
	ClientHost      string
	Metadata        []byte
	Assignment      []byte
}

func (c *groupCore) commit(req OffsetCommitRequest, now time.Time, done func(error), o *outbox) {
	now = c.advance(now)
	fail := func(err error) { o.answer(func() { done(err) }) }
	if req.GroupID == "" {
		fail(fmt.Errorf("%w: empty group id", ErrInvalidGroupID))
		return
	}
	g := c.groups[req.GroupID]
	if g == nil {
		if req.GenerationID >= 0 {
			fail(fmt.Errorf("%w: group %q does not exist, so generation %d cannot be current", ErrIllegalGeneration, req.GroupID, req.GenerationID))
			return
		}
		g = newGroup(req.GroupID)
		c.groups[req.GroupID] = g
	}
	if err := checkCommit(g, req, now); err != nil {
		fail(err)
		return
	}
	if len(req.Offsets) == 0 {
		fail(nil)
		return
	}
	recs := make([]offsetsRecord, len(req.Offsets))
	vals := make([]committed, len(req.Offsets))
	for i, off := range req.Offsets {
		vals[i] = committed{offset: off.Offset, leaderEpoch: off.LeaderEpoch, metadata: off.Metadata, commitTimestamp: now.UnixMilli()}
		recs[i] = offsetsRecord{key: offsetKey(req.GroupID, TopicPartition{off.Topic, off.Partition}), value: offsetValue(vals[i])}
	}
	o.writes = append(o.writes, groupWrite{group: req.GroupID, records: recs, then: func(o *outbox, base int64, err error) {
		if err != nil {
			err = fmt.Errorf("%w: write offsets of group %q: %w", ErrCoordinatorNotAvailable, req.GroupID, err)
			o.answer(func() { done(err) })
			return
		}
		// The records are in the log: memory follows, whatever happened to
		// the group meanwhile, so that memory and a reload agree.
		cur := c.groups[req.GroupID]
		if cur == nil {
			cur = newGroup(req.GroupID)
			c.groups[req.GroupID] = cur
		}
		for i, off := range req.Offsets {
			vals[i].logOffset = base + int64(i)
			cur.applyOffset(TopicPartition{off.Topic, off.Partition}, vals[i])
		}
		o.answer(func() { done(nil) })
	}})
}

// checkCommit decides whether a commit may proceed; a member's commit also
// counts as a heartbeat.
func checkCommit(g *group, req OffsetCommitRequest, now time.Time) error {
	if req.GenerationID < 0 && req.MemberID == "" && g.state == GroupEmpty {
		return nil
	}
	m, err := checkMember(g, req.MemberID, req.GroupInstanceID)
	switch {
	case err != nil:
		return err
	case g.state == GroupCompletingRebalance:
		return groupErr(ErrRebalanceInProgress, g.id, m.id)
	case req.GenerationID != g.generation:
		return fmt.Errorf("%w: group %q member %q: generation %d, the group is at %d", ErrIllegalGeneration, g.id, m.id, req.GenerationID, g.generation)
	}
	m.deadline = now.Add(m.sessionTimeout)
	return nil
}

// applyOffset keeps the value whose record is later in the log.
func (g *group) applyOffset(tp TopicPartition, v committed) {
	if cur, ok := g.offsets[tp]; ok && cur.logOffset > v.logOffset {
		return
	}
	g.offsets[tp] = v
}

// fetchOffsets returns the committed offsets of the given partitions, or of
// every partition the group has one for (sorted) when partitions is nil.
func (c *groupCore) fetchOffsets(groupID string, partitions []TopicPartition) ([]CommittedOffset, error) {
	if groupID == "" {
		return nil, fmt.Errorf("%w: empty group id", ErrInvalidGroupID)
	}
	g := c.groups[groupID]
	if partitions == nil {
		if g == nil {
			return nil, nil
		}
		for tp := range g.offsets {
			partitions = append(partitions, tp)
		}
		slices.SortFunc(partitions, func(a, b TopicPartition) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
	}
	out := make([]CommittedOffset, len(partitions))
	for i, tp := range partitions {
		out[i] = CommittedOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: -1, LeaderEpoch: -1, CommitTimestamp: -1}
		if g == nil {
			continue
		}
		if v, ok := g.offsets[tp]; ok {
			out[i].Offset, out[i].LeaderEpoch, out[i].Metadata, out[i].CommitTimestamp = v.offset, v.leaderEpoch, v.metadata, v.commitTimestamp
		}
	}
	return out, nil
}

// listGroups lists the groups in the given states (all when none), sorted by id.
func (c *groupCore) listGroups(states []GroupState) []GroupListing {
	var out []GroupListing
	for _, g := range c.groups {
		if len(states) == 0 || slices.Contains(states, g.state) {
			out = append(out, GroupListing{GroupID: g.id, ProtocolType: g.protocolType, State: g.state})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupID < out[j].GroupID })
	return out
}

func (c *groupCore) describeGroups(ids []string) []GroupDescription {
	out := make([]GroupDescription, len(ids))
	for i, id := range ids {
		g := c.groups[id]
		if g == nil {
			out[i] = GroupDescription{GroupID: id, State: GroupDead, Generation: -1}
			continue
		}
		d := GroupDescription{GroupID: id, State: g.state, ProtocolType: g.protocolType, Protocol: g.protocol,
			Generation: g.generation, Leader: g.leader}
		for _, m := range g.members {
			d.Members = append(d.Members, GroupMemberDescription{MemberID: m.id, GroupInstanceID: m.instanceID,
				ClientID: m.clientID, ClientHost: m.clientHost,
				Metadata: slices.Clone(m.metadataFor(g.protocol)), Assignment: slices.Clone(m.assignment)})
		}
		out[i] = d
	}
	return out
}

// deleteGroups deletes Empty groups: they leave memory at once and their
// tombstones are written; done gets one error (or nil) per id once every
// write is done.
func (c *groupCore) deleteGroups(ids []string, now time.Time, done func([]error), o *outbox) {
	c.advance(now)
	errs := make([]error, len(ids))
	waiting := 0
	finish := func(o *outbox) {
		if waiting == 0 {
			o.answer(func() { done(errs) })
		}
	}
	for i, id := range ids {
		g := c.groups[id]
		switch {
		case g == nil:
			errs[i] = fmt.Errorf("%w: %q", ErrGroupIDNotFound, id)
			continue
		case g.state != GroupEmpty || len(g.pending) > 0:
			errs[i] = fmt.Errorf("%w: group %q is %s with %d members", ErrNonEmptyGroup, id, g.state, len(g.members))
			continue
		}
		var recs []offsetsRecord
		if g.hasMetadata {
			recs = append(recs, offsetsRecord{key: groupKey(id)})
		}
		for tp := range g.offsets {
			recs = append(recs, offsetsRecord{key: offsetKey(id, tp)})
		}
		g.state = GroupDead
		delete(c.groups, id)
		if len(recs) == 0 {
			continue
		}
		waiting++
		o.writes = append(o.writes, groupWrite{group: id, records: recs, then: func(o *outbox, _ int64, err error) {
			if err != nil {
				errs[i] = fmt.Errorf("%w: write tombstones of group %q (it may come back after a restart): %w", ErrCoordinatorNotAvailable, id, err)
			}
			waiting--
			finish(o)
		}})
	}
	finish(o)
}

// deleteTopicOffsets writes tombstones for every group's offsets of topic
// and drops them from memory once written; done gets nil or the write
// errors.
func (c *groupCore) deleteTopicOffsets(topic string, now time.Time, done func(error), o *outbox) {
	c.advance(now)
	var errs []error
	waiting := 0
	finish := func(o *outbox) {
		if waiting == 0 {
			err := errors.Join(errs...)
			o.answer(func() { done(err) })
		}
	}
	for id, g := range c.groups {
		var recs []offsetsRecord
		for tp := range g.offsets {
			if tp.Topic == topic {
				recs = append(recs, offsetsRecord{key: offsetKey(id, tp)})
			}
		}
		if len(recs) == 0 {
			continue
		}
		waiting++
		o.writes = append(o.writes, groupWrite{group: id, records: recs, then: func(o *outbox, _ int64, err error) {
			waiting--
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: write tombstones for topic %q in group %q: %w", ErrCoordinatorNotAvailable, topic, id, err))
			} else if g := c.groups[id]; g != nil {
				for tp := range g.offsets {
					if tp.Topic == topic {
						delete(g.offsets, tp)
					}
				}
				if g.forgettable() {
					delete(c.groups, id)
				}
			}
			finish(o)
		}})
	}
	finish(o)
}
