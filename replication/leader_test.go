package replication

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// naiveLeader recomputes everything from the history of what happened to
// a leader, from scratch at every step, with none of Leader's shortcuts:
// the reference the property test compares Leader against.
type naiveLeader struct {
	self       ReplicaID
	start      time.Time
	lag        time.Duration
	epochStart int64
	initialHW  int64
	initialISR []ReplicaID
	history    []naiveEvent
}

type naiveEvent struct {
	at        time.Time
	leaderEnd int64 // the leader's log end after the event
	fetcher   ReplicaID
	offset    int64       // a fetch's offset
	isr       []ReplicaID // the committed ISR after the event
	pending   []ReplicaID // the pending proposal's ISR after it, nil for none
}

func (n *naiveLeader) last() naiveEvent { return n.history[len(n.history)-1] }

// maximal is the committed ISR plus anything a pending proposal adds.
func maximal(e naiveEvent) []ReplicaID {
	out := slices.Clone(e.isr)
	for _, r := range e.pending {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// highWatermark is the largest, over every prefix of the history, of the
// smallest log end in that prefix's maximal ISR, once every member had
// fetched; never below the initial high watermark.
func (n *naiveLeader) highWatermark() int64 {
	hw := n.initialHW
	ends := map[ReplicaID]int64{}
	for _, e := range n.history {
		if e.fetcher != 0 {
			ends[e.fetcher] = e.offset
		}
		cand, known := e.leaderEnd, true
		for _, r := range maximal(e) {
			if r == n.self {
				continue
			}
			end, ok := ends[r]
			known = known && ok
			cand = min(cand, end)
		}
		if known {
			hw = max(hw, cand)
		}
	}
	return hw
}

// fetches returns r's fetches, oldest first.
func (n *naiveLeader) fetches(r ReplicaID) []naiveEvent {
	var out []naiveEvent
	for i, e := range n.history {
		if e.fetcher == r {
			// The leader's log end as the fetch arrived is the one before it.
			e.leaderEnd = n.history[max(i-1, 0)].leaderEnd
			out = append(out, e)
		}
	}
	return out
}

// outOfSync: r's last fetch is not at the leader's log end, and no fetch
// in the last lag showed it caught up with the leader as of then or as of
// its previous fetch; ISR members at the start count as caught up then.
func (n *naiveLeader) outOfSync(r ReplicaID, now time.Time) bool {
	fs := n.fetches(r)
	if len(fs) > 0 && fs[len(fs)-1].offset == n.last().leaderEnd {
		return false
	}
	var caughtUp time.Time
	if slices.Contains(n.initialISR, r) {
		caughtUp = n.start
	}
	for i, f := range fs {
		if f.offset >= f.leaderEnd {
			caughtUp = maxTime(caughtUp, f.at)
		} else if i > 0 && f.offset >= fs[i-1].leaderEnd {
			caughtUp = maxTime(caughtUp, fs[i-1].at)
		}
	}
	return now.Sub(caughtUp) > n.lag
}

// TestHighWatermarkAgainstNaive drives a Leader with random appends,
// fetches, ticks and controller answers, and checks after every step that
// its high watermark, proposals and commit answers are the naive
// version's, and that the high watermark never goes down and never passes
// a maximal-ISR member's log end.
func TestHighWatermarkAgainstNaive(t *testing.T) {
	for seed := range uint64(1000 / randomRuns) {
		runLeaderProperty(t, seed, 150)
	}
}

func runLeaderProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	replicas := []ReplicaID{1, 2, 3, 4}[:2+rng.IntN(3)]
	isr := []ReplicaID{1}
	for _, r := range replicas[1:] {
		if rng.IntN(2) == 0 {
			isr = append(isr, r)
		}
	}
	cfg := Config{MinInsyncReplicas: 1 + rng.IntN(3), ReplicaLagTimeMax: 10 * time.Second}
	now := time.Unix(1000, 0)
	end := int64(rng.IntN(20))
	hw := int64(rng.IntN(int(end) + 1))
	state := PartitionState{Leader: 1, LeaderEpoch: 3, PartitionEpoch: 7, Replicas: replicas, ISR: isr}
	l, err := NewLeader(1, state, end, hw, cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	n := &naiveLeader{self: 1, start: now, lag: cfg.ReplicaLagTimeMax, epochStart: end, initialHW: hw, initialISR: isr}
	n.history = append(n.history, naiveEvent{at: now, leaderEnd: end, isr: isr})
	lastOffset := map[ReplicaID]int64{}
	for step := range steps {
		now = now.Add(time.Duration(rng.IntN(6)) * time.Second)
		e := n.last()
		e.at, e.fetcher, e.offset = now, 0, 0
		hwBefore := l.HighWatermark()
		var got *Proposal
		var want []ReplicaID // the ISR the proposal should carry, nil for none
		switch k := rng.IntN(10); {
		case k < 2:
			e.leaderEnd += int64(1 + rng.IntN(5))
			l.Appended(e.leaderEnd)
		case k < 6:
			f := replicas[1+rng.IntN(len(replicas)-1)]
			off := n.randomFetchOffset(rng, f, lastOffset[f])
			lastOffset[f] = off
			var fetchHW int64
			fetchHW, got, err = l.Fetch(FetchRequest{Replica: f, LeaderEpoch: 3, Offset: off}, now)
			if err != nil || fetchHW != l.HighWatermark() {
				t.Fatalf("seed %d step %d: fetch answered hw %d, %v; leader has %d", seed, step, fetchHW, err, l.HighWatermark())
			}
			if e.pending == nil && !slices.Contains(e.isr, f) && off >= hwBefore && off >= n.epochStart {
				want = append(slices.Clone(e.isr), f)
			}
			e.fetcher, e.offset = f, off
		case k < 8:
			got = l.Tick(now)
			want = n.shrinkTo(now)
		case e.pending != nil && k == 8:
			state.PartitionEpoch++
			state.ISR = slices.Clone(e.pending)
			if err := l.Update(state); err != nil {
				t.Fatalf("seed %d step %d: commit: %v", seed, step, err)
			}
			e.isr, e.pending = state.ISR, nil
		case e.pending != nil:
			l.Refused(l.Pending())
			e.pending = nil
		case len(e.isr) > 1:
			// The controller fences a follower on its own: the pending
			// proposal, based on the old partition epoch, is dropped.
			state.PartitionEpoch++
			state.ISR = slices.DeleteFunc(slices.Clone(e.isr), func(r ReplicaID) bool { return r == e.isr[len(e.isr)-1] })
			if err := l.Update(state); err != nil {
				t.Fatalf("seed %d step %d: fence: %v", seed, step, err)
			}
			e.isr, e.pending = state.ISR, nil
		}
		if !slices.Equal(proposalISR(got), want) {
			t.Fatalf("seed %d step %d: proposal %v, want %v (history %d events)", seed, step, proposalISR(got), want, len(n.history))
		}
		if got != nil {
			if got.PartitionEpoch != state.PartitionEpoch || got.LeaderEpoch != 3 || got.Leader != 1 {
				t.Fatalf("seed %d step %d: proposal %+v not based on partition epoch %d", seed, step, got, state.PartitionEpoch)
			}
			e.pending = got.ISR
		}
		n.history = append(n.history, e)
		checkLeaderStep(t, seed, step, l, n, hwBefore, lastOffset)
	}
}

// randomFetchOffset picks follower f's next fetch offset, from lo (its
// previous one) up: a third at the leader's log end, a third where the
// leader's log ended at f's previous fetch (caught up as of then), a third
// anywhere.
func (n *naiveLeader) randomFetchOffset(rng *rand.Rand, f ReplicaID, lo int64) int64 {
	end := n.last().leaderEnd
	switch fs := n.fetches(f); rng.IntN(3) {
	case 0:
		return end
	case 1:
		if len(fs) > 0 {
			return max(lo, fs[len(fs)-1].leaderEnd)
		}
		return lo
	default:
		return lo + rng.Int64N(end-lo+1)
	}
}

// shrinkTo is the ISR a Tick at now should propose, nil for none: the
// committed ISR without its out-of-sync followers, if any and if nothing
// is pending.
func (n *naiveLeader) shrinkTo(now time.Time) []ReplicaID {
	e := n.last()
	if e.pending != nil {
		return nil
	}
	var keep []ReplicaID
	for _, r := range e.isr {
		if r == n.self || !n.outOfSync(r, now) {
			keep = append(keep, r)
		}
	}
	if len(keep) == len(e.isr) {
		return nil
	}
	return keep
}

func proposalISR(p *Proposal) []ReplicaID {
	if p == nil {
		return nil
	}
	return p.ISR
}

func checkLeaderStep(t *testing.T, seed uint64, step int, l *Leader, n *naiveLeader, hwBefore int64, ends map[ReplicaID]int64) {
	t.Helper()
	hw := l.HighWatermark()
	if want := n.highWatermark(); hw != want {
		t.Fatalf("seed %d step %d: high watermark %d, naive %d", seed, step, hw, want)
	}
	if hw < hwBefore || hw > l.LogEnd() {
		t.Fatalf("seed %d step %d: high watermark %d after %d, log end %d", seed, step, hw, hwBefore, l.LogEnd())
	}
	for _, r := range maximal(n.last()) {
		if end, ok := ends[r]; r != 1 && ok && hw > end && hw > n.initialHW {
			t.Fatalf("seed %d step %d: high watermark %d above ISR member %d's log end %d", seed, step, hw, r, end)
		}
	}
	for _, end := range []int64{hw, hw + 1} {
		done, err := l.CheckCommit(end)
		if done != (end <= hw) {
			t.Fatalf("seed %d step %d: CheckCommit(%d) done=%v with high watermark %d", seed, step, end, done, hw)
		}
		short := len(maximal(n.last())) < l.minInsync()
		if done && short != errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
			t.Fatalf("seed %d step %d: CheckCommit(%d) = %v with maximal ISR %v", seed, step, end, err, maximal(n.last()))
		}
	}
}

// TestSetConfig: a changed min.insync.replicas counts from the next check.
func TestSetConfig(t *testing.T) {
	now := time.Unix(1000, 0)
	state := PartitionState{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []ReplicaID{1, 2}, ISR: []ReplicaID{1}}
	l, err := NewLeader(1, state, 0, 0, Config{MinInsyncReplicas: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CheckProduce(); err != nil {
		t.Fatalf("ISR [1], min.insync.replicas 1: %v", err)
	}
	l.SetConfig(Config{MinInsyncReplicas: 2})
	if err := l.CheckProduce(); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("ISR [1], min.insync.replicas 2: %v, want ErrNotEnoughReplicas", err)
	}
	l.Appended(3)
	if done, err := l.CheckCommit(3); !done || !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("CheckCommit(3) = %v, %v; want done with ErrNotEnoughReplicasAfterAppend", done, err)
	}
}

// TestLag: a follower's lag in records follows its fetch offset against
// the leader's log end; in time it is zero while caught up and counts from
// its last caught-up moment (or the leader's start) otherwise.
func TestLag(t *testing.T) {
	start := time.Unix(1000, 0)
	state := PartitionState{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []ReplicaID{1, 2, 3}, ISR: []ReplicaID{1, 2}}
	l, err := NewLeader(1, state, 10, 10, Config{MinInsyncReplicas: 1, ReplicaLagTimeMax: time.Minute}, start)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	if _, _, err := l.Fetch(FetchRequest{Replica: 2, LeaderEpoch: 1, Offset: 10}, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	l.Appended(25)
	got := l.Lag(at(3 * time.Second))
	want := []FollowerLag{{Replica: 2, Records: 15, Time: 2 * time.Second}, {Replica: 3, Records: 25, Time: 3 * time.Second}}
	if !slices.Equal(got, want) {
		t.Fatalf("Lag = %+v, want %+v", got, want)
	}
	if _, _, err := l.Fetch(FetchRequest{Replica: 2, LeaderEpoch: 1, Offset: 25}, at(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := l.Lag(at(5 * time.Second)); got[0] != (FollowerLag{Replica: 2}) {
		t.Fatalf("caught-up follower's lag %+v, want none", got[0])
	}
}
