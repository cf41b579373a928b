package replication

import (
	"errors"
	"testing"
	"time"
)

// TestLeaderRefuses: every request the leader must refuse, with the error
// a caller tests for.
func TestLeaderRefuses(t *testing.T) {
	now := time.Unix(0, 0)
	state := PartitionState{Leader: 1, LeaderEpoch: 4, PartitionEpoch: 9, Replicas: []ReplicaID{1, 2, 3}, ISR: []ReplicaID{1, 2}}
	l, err := NewLeader(1, state, 10, 8, Config{MinInsyncReplicas: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	fetches := []struct {
		req  FetchRequest
		want error
	}{
		{FetchRequest{Replica: 2, LeaderEpoch: 3, Offset: 10}, ErrFencedLeaderEpoch},
		{FetchRequest{Replica: 2, LeaderEpoch: 5, Offset: 10}, ErrUnknownLeaderEpoch},
		{FetchRequest{Replica: 2, LeaderEpoch: 4, Offset: 11}, ErrOffsetOutOfRange},
		{FetchRequest{Replica: 2, LeaderEpoch: 4, Offset: -1}, ErrOffsetOutOfRange},
		{FetchRequest{Replica: 7, LeaderEpoch: 4, Offset: 0}, ErrUnknownReplica},
	}
	for _, f := range fetches {
		if _, _, err := l.Fetch(f.req, now); !errors.Is(err, f.want) {
			t.Errorf("Fetch(%+v) = %v, want %v", f.req, err, f.want)
		}
	}
	if _, err := l.AnswerEpochQuery(EpochQuery{Replica: 2, LeaderEpoch: 3, Epoch: 1}, nil); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Errorf("AnswerEpochQuery at a stale epoch = %v, want ErrFencedLeaderEpoch", err)
	}
	if err := l.CheckProduce(); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Errorf("CheckProduce with ISR 2 < min.insync 3 = %v", err)
	}
	deposed := state
	deposed.Leader, deposed.LeaderEpoch, deposed.PartitionEpoch = 2, 5, 10
	if err := l.Update(deposed); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Update naming leader 2 at epoch 5 = %v, want ErrNotLeader", err)
	}
	stale := state
	stale.ISR = []ReplicaID{1}
	if err := l.Update(stale); err != nil || len(l.ISR()) != 2 {
		t.Errorf("Update at the same partition epoch = %v, ISR %v: want it ignored", err, l.ISR())
	}
	for _, bad := range []PartitionState{
		{Leader: 1, Replicas: []ReplicaID{1, 2}, ISR: []ReplicaID{2}},
		{Leader: 1, Replicas: []ReplicaID{1, 2}, ISR: []ReplicaID{1, 3}},
		{Leader: 1, Replicas: []ReplicaID{1, 2}, ISR: []ReplicaID{1, 1}},
	} {
		if _, err := NewLeader(1, bad, 0, 0, Config{}, now); !errors.Is(err, ErrInvalidState) {
			t.Errorf("NewLeader(%+v) = %v, want ErrInvalidState", bad, err)
		}
	}
	if _, err := NewLeader(2, state, 0, 0, Config{}, now); !errors.Is(err, ErrNotLeader) {
		t.Errorf("NewLeader of a replica the state does not name = %v, want ErrNotLeader", err)
	}
	if _, err := NewFollower(1, state, nil, 0, 0); !errors.Is(err, ErrInvalidState) {
		t.Errorf("NewFollower of the leader itself = %v, want ErrInvalidState", err)
	}
}

// TestTruncationFor: the truncation rule case by case (KIP-101, KIP-279).
func TestTruncationFor(t *testing.T) {
	own := Epochs{{0, 0}, {2, 5}, {4, 9}} // log end 12
	cases := []struct {
		name   string
		answer EpochEndOffset
		want   Truncation
	}{
		{"leader knows no such epoch", EpochEndOffset{-1, -1}, Truncation{To: 0, Done: true}},
		{"same epoch, leader ends later", EpochEndOffset{4, 20}, Truncation{To: 12, Done: true}},
		{"same epoch, leader ends earlier", EpochEndOffset{4, 10}, Truncation{To: 10, Done: true}},
		{"older epoch both know", EpochEndOffset{2, 7}, Truncation{To: 7, Done: true}},
		{"epoch the follower lacks", EpochEndOffset{3, 11}, Truncation{To: 9, NextQuery: 2}},
		{"epoch 1, lacking", EpochEndOffset{1, 3}, Truncation{To: 5, NextQuery: 0}},
	}
	for _, c := range cases {
		if got := TruncationFor(own, 12, c.answer); got != c.want {
			t.Errorf("%s: TruncationFor(%+v) = %+v, want %+v", c.name, c.answer, got, c.want)
		}
	}
	if got := TruncationFor(Epochs{{3, 0}}, 4, EpochEndOffset{1, 6}); got != (Truncation{To: 0, Done: true}) {
		t.Errorf("follower without any epoch <= the answer's: %+v, want truncate to 0", got)
	}
	if got := own.EndOffsetFor(3, 12); got != (EpochEndOffset{2, 9}) {
		t.Errorf("EndOffsetFor(3) = %+v, want epoch 2 ending at 9", got)
	}
}
