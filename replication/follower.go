package replication

import "fmt"

// Follower is the ISR core of a partition's follower at one leader epoch:
// it first finds where its log may diverge from the leader's (epoch
// queries, truncation), then fetches. A new leader epoch means a new
// Follower. Like Leader it does no I/O and reads no clock.
type Follower struct {
	id          ReplicaID
	leader      ReplicaID
	leaderEpoch int32
	// truncating is true until the epoch queries settled where the log
	// stops matching the leader's; queryEpoch is the next epoch to ask.
	truncating    bool
	queryEpoch    int32
	highWatermark int64
}

// NewFollower makes replica id a follower in state, with its log's
// checkpoint own, its log end logEnd and the high watermark hw it kept.
// A follower with anything in its log starts by asking the leader about
// its newest epoch; an empty one fetches from 0 at once.
func NewFollower(id ReplicaID, state PartitionState, own Epochs, logEnd, hw int64) (*Follower, error) {
	if err := state.validate(); err != nil {
		return nil, err
	}
	if state.Leader == id || state.Leader == NoLeader {
		return nil, fmt.Errorf("%w: replica %d cannot follow leader %d at epoch %d", ErrInvalidState, id, state.Leader, state.LeaderEpoch)
	}
	return &Follower{
		id:            id,
		leader:        state.Leader,
		leaderEpoch:   state.LeaderEpoch,
		truncating:    logEnd > 0 || len(own) > 0,
		queryEpoch:    own.Latest(),
		highWatermark: min(max(hw, 0), logEnd),
	}, nil
}

// Leader returns the replica this follower fetches from.
func (f *Follower) Leader() ReplicaID { return f.leader }

// HighWatermark returns the high watermark the leader last sent, at most
// this follower's log end. It may go down after an election: a new leader
// starts from its own, possibly older, high watermark.
func (f *Follower) HighWatermark() int64 { return f.highWatermark }

// Truncating reports whether the next request is an epoch query (true)
// or a fetch (false).
func (f *Follower) Truncating() bool { return f.truncating }

// EpochQuery returns the OffsetForLeaderEpoch request to send while
// Truncating.
func (f *Follower) EpochQuery() EpochQuery {
	return EpochQuery{Replica: f.id, LeaderEpoch: f.leaderEpoch, Epoch: f.queryEpoch}
}

// OnEpochAnswer applies the leader's answer to EpochQuery to a log with
// checkpoint own ending at logEnd and returns the truncation to perform
// (TruncationFor). When it is Done, the follower fetches from
// min(logEnd, To). An answer about an epoch newer than the one asked, or
// with a negative end, is refused with ErrInvalidAnswer and changes
// nothing: the follower asks again.
func (f *Follower) OnEpochAnswer(answer EpochEndOffset, own Epochs, logEnd int64) (Truncation, error) {
	if answer.Epoch > f.queryEpoch || (answer.Epoch >= 0 && answer.EndOffset < 0) {
		return Truncation{}, fmt.Errorf("%w: leader %d answered epoch %d ending at %d to replica %d asking about epoch %d",
			ErrInvalidAnswer, f.leader, answer.Epoch, answer.EndOffset, f.id, f.queryEpoch)
	}
	t := TruncationFor(own, logEnd, answer)
	f.truncating = !t.Done
	f.queryEpoch = t.NextQuery
	f.highWatermark = min(f.highWatermark, t.To)
	return t, nil
}

// FetchRequest returns the fetch to send once not Truncating, for a log
// ending at logEnd.
func (f *Follower) FetchRequest(logEnd int64) FetchRequest {
	return FetchRequest{Replica: f.id, LeaderEpoch: f.leaderEpoch, Offset: logEnd}
}

// OnFetched records a fetch response: the caller appended the records
// verbatim (each batch with its leader epoch, assigning new epochs in the
// checkpoint as they come) and its log now ends at logEnd; the leader sent
// high watermark hw.
func (f *Follower) OnFetched(hw, logEnd int64) {
	f.highWatermark = min(hw, logEnd)
}
