package replication

// EpochStart is one entry of a replica's leader-epoch checkpoint: the first
// offset written under a leader epoch. It mirrors segment.EpochEntry so this
// package needs nothing from segment/.
type EpochStart struct {
	Epoch       int32
	StartOffset int64
}

// Epochs is a leader-epoch checkpoint in value form, oldest first.
//
// Invariant: epochs and start offsets both strictly increase (segment's
// EpochCache.Assign keeps it; a later epoch at the same start offset
// replaces the earlier one, which wrote nothing).
type Epochs []EpochStart

// Latest returns the newest epoch, or -1 for an empty checkpoint.
func (es Epochs) Latest() int32 {
	if len(es) == 0 {
		return -1
	}
	return es[len(es)-1].Epoch
}

// EpochEndOffset answers OffsetForLeaderEpoch: the largest epoch at or below
// the one asked for that a log knows, and the offset where that epoch ends.
// {-1, -1} means the log knows no such epoch.
type EpochEndOffset struct {
	Epoch     int32
	EndOffset int64
}

// undefinedEpochEnd is the answer of a log that knows no epoch at or below
// the one asked for.
var undefinedEpochEnd = EpochEndOffset{Epoch: -1, EndOffset: -1}

// EndOffsetFor answers OffsetForLeaderEpoch(epoch) for a log whose end
// offset is logEnd (KIP-279): the largest known epoch e <= epoch and where e
// ends, which is the next entry's start offset or, for the newest entry,
// logEnd. It is segment.EpochCache.EndOffsetFor on a value.
func (es Epochs) EndOffsetFor(epoch int32, logEnd int64) EpochEndOffset {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Epoch > epoch {
			continue
		}
		if i == len(es)-1 {
			return EpochEndOffset{Epoch: es[i].Epoch, EndOffset: logEnd}
		}
		return EpochEndOffset{Epoch: es[i].Epoch, EndOffset: es[i+1].StartOffset}
	}
	return undefinedEpochEnd
}

// Truncation is what a follower does with the leader's answer to its
// OffsetForLeaderEpoch query.
type Truncation struct {
	// To is the offset to truncate the log to. The caller drops every
	// record at or after To and every checkpoint entry starting at or
	// after To, even when To equals the log end: a trailing entry of an
	// epoch that wrote nothing must go too, or a later batch of an older
	// epoch could not be assigned.
	To int64
	// Done is false when the logs may still diverge below To: the follower
	// asks again with NextQuery (KIP-279).
	Done bool
	// NextQuery is the epoch to ask about next when Done is false.
	NextQuery int32
}

// TruncationFor decides where a follower whose log is own (checkpoint) and
// ends at logEnd truncates, given the leader's answer to its query. Rules:
//
//   - The leader knows no epoch at or below the one asked: every record
//     the follower holds is of an epoch the leader's log does not have at
//     that offset, so nothing is common: truncate to 0. (Kafka truncates to
//     the high watermark here, for logs written before leader epochs
//     existed; every Spate batch carries its epoch.)
//   - The follower knows answer.Epoch: both logs agree up to the end of
//     that epoch on the shorter side, so truncate to the smallest of the
//     two ends and the log end (KIP-101).
//   - The follower does not know answer.Epoch: everything it holds above
//     the end of its largest epoch below answer.Epoch (call it e) is from
//     epochs the leader does not have, so truncate there and ask again
//     about e (KIP-279); the asked epoch strictly falls each round.
//   - The follower knows no epoch at or below answer.Epoch: as the first
//     case, truncate to 0.
//
// Never the follower's own high watermark: that was KIP-101's bug.
func TruncationFor(own Epochs, logEnd int64, answer EpochEndOffset) Truncation {
	if answer.Epoch < 0 {
		return Truncation{To: 0, Done: true}
	}
	mine := own.EndOffsetFor(answer.Epoch, logEnd)
	switch {
	case mine.Epoch < 0:
		return Truncation{To: 0, Done: true}
	case mine.Epoch == answer.Epoch:
		return Truncation{To: min(mine.EndOffset, answer.EndOffset, logEnd), Done: true}
	default:
		return Truncation{To: min(mine.EndOffset, logEnd), NextQuery: mine.Epoch}
	}
}
