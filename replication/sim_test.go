package replication

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The simulator: replicas with in-memory logs that run the ISR core, a
// controller that commits partition states, and a network where a replica
// can be cut off from everything (the other replicas and the controller).
// Scripts (script_test.go) and the random test (random_test.go) drive it;
// after every step checkInvariants verifies what Kafka promises.

// replica is one broker's copy of the partition.
type replica struct {
	id       ReplicaID
	log      memLog
	up       bool  // false between crash and restart
	cut      bool  // isolated from every other replica and the controller
	epoch    int32 // newest leader epoch it learned, -1 before any
	leader   *Leader
	follower *Follower
	hw       int64 // the high watermark it keeps while neither leading nor following
	// lastHW is the leader high watermark last seen at lastHWEpoch, to
	// check it never goes down within a term.
	lastHW      int64
	lastHWEpoch int32
}

func (r *replica) highWatermark() int64 {
	switch {
	case r.leader != nil:
		return r.leader.HighWatermark()
	case r.follower != nil:
		return r.follower.HighWatermark()
	}
	return r.hw
}

// dropRole leaves leader and follower roles, keeping the high watermark.
func (r *replica) dropRole() {
	r.hw = r.highWatermark()
	r.leader, r.follower = nil, nil
}

// produce is an acks=all produce waiting for its batch [first, end) to
// commit on the leader that appended it.
type produce struct {
	leader     ReplicaID
	epoch      int32
	first, end int64
	firstValue int
}

type cluster struct {
	cfg      Config
	now      time.Time
	ids      []ReplicaID
	replicas map[ReplicaID]*replica
	ctrl     PartitionState
	next     int           // next record value
	acked    map[int64]int // offset → value of every acknowledged record
	inflight []produce
	// truncated counts records followers dropped, so the random test can
	// tell that its faults made logs diverge.
	truncated int
}

func newCluster(ids []ReplicaID, cfg Config) (*cluster, error) {
	c := &cluster{
		cfg:      cfg,
		now:      time.Unix(0, 0),
		ids:      ids,
		replicas: make(map[ReplicaID]*replica),
		acked:    make(map[int64]int),
		ctrl:     PartitionState{Leader: ids[0], Replicas: slices.Clone(ids), ISR: slices.Clone(ids)},
	}
	for _, id := range ids {
		c.replicas[id] = &replica{id: id, up: true, epoch: -1, lastHWEpoch: -1}
	}
	return c, c.pushMetadata()
}

func (c *cluster) controllerReaches(r *replica) bool { return r.up && !r.cut }

func (c *cluster) reach(a, b *replica) bool { return a.up && b.up && !a.cut && !b.cut }

// pushMetadata sends the controller's state to every replica it reaches.
func (c *cluster) pushMetadata() error {
	for _, id := range c.ids {
		if r := c.replicas[id]; c.controllerReaches(r) {
			if err := c.learn(r, c.ctrl); err != nil {
				return err
			}
		}
	}
	return nil
}

// learn applies a partition state to a replica: lead, follow, or neither.
func (c *cluster) learn(r *replica, s PartitionState) error {
	if s.LeaderEpoch < r.epoch {
		return nil
	}
	switch {
	case s.Leader == r.id && r.leader != nil && r.leader.LeaderEpoch() == s.LeaderEpoch:
		if err := r.leader.Update(s); err != nil {
			return fmt.Errorf("r%d update: %w", r.id, err)
		}
	case s.Leader == r.id:
		hw := r.highWatermark()
		l, err := NewLeader(r.id, s, r.log.end(), hw, c.cfg, c.now)
		if err != nil {
			return fmt.Errorf("r%d lead: %w", r.id, err)
		}
		if err := r.log.assign(l.EpochStart()); err != nil {
			return fmt.Errorf("r%d lead: %w", r.id, err)
		}
		r.dropRole()
		r.leader = l
	case s.Leader == NoLeader:
		r.dropRole()
	case r.follower == nil || s.LeaderEpoch > r.epoch:
		hw := r.highWatermark()
		f, err := NewFollower(r.id, s, r.log.epochs, r.log.end(), hw)
		if err != nil {
			return fmt.Errorf("r%d follow: %w", r.id, err)
		}
		r.dropRole()
		r.follower = f
	}
	r.epoch = s.LeaderEpoch
	return nil
}

// change commits a new partition state at the controller and pushes it.
// The leader epoch moves when the leader changes or bump is set.
func (c *cluster) change(leader ReplicaID, isr []ReplicaID, bump bool) error {
	if leader != c.ctrl.Leader || bump {
		c.ctrl.LeaderEpoch++
	}
	c.ctrl.Leader = leader
	c.ctrl.ISR = isr
	c.ctrl.PartitionEpoch++
	return c.pushMetadata()
}

// deliver sends a leader's proposal to the controller, which commits it
// only at the current leader and partition epochs (KIP-497). A proposal
// from a replica the controller does not reach stays pending.
func (c *cluster) deliver(r *replica, p *Proposal) error {
	if p == nil || !c.controllerReaches(r) {
		return nil
	}
	s := c.ctrl
	if p.Leader != s.Leader || p.LeaderEpoch != s.LeaderEpoch || p.PartitionEpoch != s.PartitionEpoch {
		r.leader.Refused(p)
		return c.learn(r, s)
	}
	for _, id := range p.ISR {
		if !slices.Contains(s.ISR, id) && !c.replicas[id].up {
			r.leader.Refused(p)
			return nil
		}
	}
	return c.change(s.Leader, slices.Clone(p.ISR), false)
}

// fence is what the controller does when a broker's session ends (a crash
// noticed, or the previous run of a restarted broker): it leaves the ISR
// unless it is the last member, and a partition it led goes to the first
// reachable ISR member in replica order, or offline (cluster/doc.go).
func (c *cluster) fence(id ReplicaID) error {
	isr := c.ctrl.ISR
	if slices.Contains(isr, id) && len(isr) > 1 {
		isr = slices.DeleteFunc(slices.Clone(isr), func(x ReplicaID) bool { return x == id })
	}
	leader := c.ctrl.Leader
	if leader == id {
		leader = NoLeader
		for _, x := range c.ids {
			if x != id && slices.Contains(isr, x) && c.controllerReaches(c.replicas[x]) {
				leader = x
				break
			}
		}
	}
	if leader == c.ctrl.Leader && slices.Equal(isr, c.ctrl.ISR) {
		return nil
	}
	return c.change(leader, isr, false)
}

// errName gives Kafka's name for an ISR core error.
func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{ErrFencedLeaderEpoch, "FENCED_LEADER_EPOCH"},
		{ErrUnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH"},
		{ErrNotLeader, "NOT_LEADER"},
		{ErrOffsetOutOfRange, "OFFSET_OUT_OF_RANGE"},
		{ErrNotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND"},
		{ErrNotEnoughReplicas, "NOT_ENOUGH_REPLICAS"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return err.Error()
}

// appendRecords is an acks=all produce of n records on r, from a client
// that reaches r whatever the network does to r's peers.
func (c *cluster) appendRecords(r *replica, n int) (string, error) {
	if !r.up || r.leader == nil {
		return "refused: NOT_LEADER", nil
	}
	if err := r.leader.CheckProduce(); err != nil {
		return "refused: " + errName(err), nil
	}
	p := produce{leader: r.id, epoch: r.leader.LeaderEpoch(), first: r.log.end(), firstValue: c.next}
	for range n {
		r.log.records = append(r.log.records, record{epoch: p.epoch, value: c.next})
		c.next++
	}
	p.end = r.log.end()
	r.leader.Appended(p.end)
	c.inflight = append(c.inflight, p)
	return fmt.Sprintf("appended %d-%d", p.first, p.end-1), nil
}

// fetch runs one exchange of follower r with its leader: an epoch query
// while truncating, else a fetch. With dropResponse the leader handles the
// request but r never sees the answer.
func (c *cluster) fetch(r *replica, dropResponse bool) (string, error) {
	if !r.up || r.follower == nil {
		return "idle", nil
	}
	f := r.follower
	ld := c.replicas[f.Leader()]
	if !c.reach(r, ld) {
		return "unreachable", nil
	}
	if ld.leader == nil {
		return "refused: NOT_LEADER", nil
	}
	if f.Truncating() {
		return c.queryEpoch(r, ld, dropResponse)
	}
	req := f.FetchRequest(r.log.end())
	hw, p, err := ld.leader.Fetch(req, c.now)
	if err != nil {
		return "refused: " + errName(err), nil
	}
	got := slices.Clone(ld.log.records[req.Offset:])
	if err := c.deliver(ld, p); err != nil {
		return "", err
	}
	if dropResponse {
		return fmt.Sprintf("leader saw fetch at %d; response lost", req.Offset), nil
	}
	if err := r.log.appendRecords(got); err != nil {
		return "", fmt.Errorf("r%d: %w", r.id, err)
	}
	f.OnFetched(hw, r.log.end())
	return fmt.Sprintf("fetched %d, hw %d", len(got), hw), nil
}

func (c *cluster) queryEpoch(r, ld *replica, dropResponse bool) (string, error) {
	f := r.follower
	q := f.EpochQuery()
	ans, err := ld.leader.AnswerEpochQuery(q, ld.log.epochs)
	if err != nil {
		return "refused: " + errName(err), nil
	}
	if dropResponse {
		return "query answer lost", nil
	}
	common := r.log.commonPrefix(&ld.log)
	t, err := f.OnEpochAnswer(ans, r.log.epochs, r.log.end())
	if err != nil {
		return "", err
	}
	c.truncated += int(max(r.log.end()-t.To, 0))
	r.log.truncate(t.To)
	out := fmt.Sprintf("asked epoch %d: leader has epoch %d ending at %d; truncated to %d", q.Epoch, ans.Epoch, ans.EndOffset, t.To)
	// Invariant: the epoch queries keep everything the logs share and,
	// once settled, nothing else: the follower's log is then a prefix of
	// the leader's, so verbatim appends keep them identical.
	switch {
	case r.log.end() < common:
		return "", fmt.Errorf("r%d truncated to %d, below the %d records it shares with leader r%d", r.id, t.To, common, ld.id)
	case t.Done && r.log.end() != common:
		return "", fmt.Errorf("r%d settled at %d but shares only %d records with leader r%d: %s vs %s", r.id, r.log.end(), common, ld.id, r.log.String(), ld.log.String())
	case !t.Done:
		return out + ", asking again", nil
	}
	return out, nil
}

// settleProduces completes in-flight acks=all produces: acknowledged once
// the leader that appended them says they committed, dropped (the
// producer saw an error and may retry) when it lost leadership or refused.
func (c *cluster) settleProduces() error {
	keep := c.inflight[:0]
	for _, p := range c.inflight {
		r := c.replicas[p.leader]
		if !r.up || r.leader == nil || r.leader.LeaderEpoch() != p.epoch {
			continue
		}
		done, err := r.leader.CheckCommit(p.end)
		if !done {
			keep = append(keep, p)
			continue
		}
		if err != nil {
			continue
		}
		for o := p.first; o < p.end; o++ {
			want := p.firstValue + int(o-p.first)
			if o >= r.log.end() || r.log.records[o].value != want {
				return fmt.Errorf("r%d acknowledged offset %d but its log no longer holds value %d", r.id, o, want)
			}
			c.acked[o] = want
		}
	}
	c.inflight = keep
	return nil
}

// checkInvariants verifies, after every step, what the ISR promises.
func (c *cluster) checkInvariants() error {
	for _, id := range c.ids {
		r := c.replicas[id]
		if err := c.checkReplica(r); err != nil {
			return err
		}
		for _, o := range c.ids[:slices.Index(c.ids, id)] {
			if err := logsMatch(r, c.replicas[o]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkReplica: an up ISR member holds every acknowledged record; a
// reachable leader's high watermark never goes down in its term and is at
// most the log end of every reachable member of its maximal ISR.
func (c *cluster) checkReplica(r *replica) error {
	if r.up && slices.Contains(c.ctrl.ISR, r.id) {
		for o, v := range c.acked {
			if o >= r.log.end() || r.log.records[o].value != v {
				return fmt.Errorf("ISR member r%d lost acknowledged offset %d (value %d): log %s", r.id, o, v, r.log.String())
			}
		}
	}
	if err := checkEpochs(r); err != nil {
		return err
	}
	l := r.leader
	if !r.up || r.cut || l == nil {
		// A cut-off leader's view of its ISR is stale by design (a zombie);
		// what it can do with it is checked by the acknowledged records.
		return nil
	}
	hw := l.HighWatermark()
	if l.LeaderEpoch() == r.lastHWEpoch && hw < r.lastHW {
		return fmt.Errorf("leader r%d high watermark went from %d to %d at epoch %d", r.id, r.lastHW, hw, l.LeaderEpoch())
	}
	r.lastHW, r.lastHWEpoch = hw, l.LeaderEpoch()
	for _, id := range l.maximalISR() {
		if m := c.replicas[id]; m.up && !m.cut && m.log.end() < hw {
			return fmt.Errorf("leader r%d high watermark %d is above ISR member r%d's log end %d", r.id, hw, id, m.log.end())
		}
	}
	return nil
}

// checkEpochs: the checkpoint entries that cover records are exactly the
// epoch runs of the records; entries at or past the log end (an elected
// leader that has not written yet) are free.
func checkEpochs(r *replica) error {
	var fromRecords Epochs
	for o, rec := range r.log.records {
		if o == 0 || r.log.records[o-1].epoch != rec.epoch {
			fromRecords = append(fromRecords, EpochStart{Epoch: rec.epoch, StartOffset: int64(o)})
		}
	}
	covering := slices.DeleteFunc(slices.Clone(r.log.epochs), func(e EpochStart) bool { return e.StartOffset >= r.log.end() })
	if !slices.Equal(covering, fromRecords) {
		return fmt.Errorf("r%d checkpoint %v does not match its records %s", r.id, r.log.epochs, r.log.String())
	}
	return nil
}

// logsMatch: one leader writes each epoch, so two logs holding the same
// epoch at an offset hold the same record there.
func logsMatch(a, b *replica) error {
	for o := range min(len(a.log.records), len(b.log.records)) {
		ra, rb := a.log.records[o], b.log.records[o]
		if ra.epoch == rb.epoch && ra != rb {
			return fmt.Errorf("offset %d epoch %d: r%d holds value %d, r%d holds %d", o, ra.epoch, a.id, ra.value, b.id, rb.value)
		}
	}
	return nil
}
