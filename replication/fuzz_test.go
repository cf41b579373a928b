package replication

import (
	"errors"
	"testing"
)

// FuzzFollowerTruncation feeds a follower arbitrary checkpoints and
// arbitrary leader answers (a leader's answer is network input): it must
// never panic, never truncate below 0 or past its log end, refuse invalid
// answers, and finish within one round per checkpoint entry plus one.
func FuzzFollowerTruncation(f *testing.F) {
	f.Add([]byte{0, 0, 2, 5, 4, 9}, int64(12), []byte{3, 11, 0, 2})
	f.Add([]byte{}, int64(0), []byte{})
	f.Add([]byte{1, 0}, int64(3), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, checkpoint []byte, logEnd int64, answers []byte) {
		logEnd = max(logEnd, 0) % 1000
		// Strictly increasing epochs and start offsets within the log,
		// as segment keeps them.
		var own Epochs
		for i := 0; i+1 < len(checkpoint); i += 2 {
			e := EpochStart{Epoch: int32(checkpoint[i]), StartOffset: int64(checkpoint[i+1])}
			if n := len(own); (n > 0 && (e.Epoch <= own[n-1].Epoch || e.StartOffset <= own[n-1].StartOffset)) || e.StartOffset > logEnd {
				continue
			}
			own = append(own, e)
		}
		state := PartitionState{Leader: 2, LeaderEpoch: 300, Replicas: []ReplicaID{1, 2}, ISR: []ReplicaID{1, 2}}
		fl, err := NewFollower(1, state, own, logEnd, logEnd)
		if err != nil {
			t.Fatal(err)
		}
		rounds := 0
		for i := 0; fl.Truncating() && i+1 < len(answers); i += 2 {
			ans := EpochEndOffset{Epoch: int32(int8(answers[i])), EndOffset: int64(int8(answers[i+1]))}
			asked := fl.EpochQuery().Epoch
			tr, err := fl.OnEpochAnswer(ans, own, logEnd)
			if err != nil {
				if !errors.Is(err, ErrInvalidAnswer) {
					t.Fatalf("answer %+v: %v", ans, err)
				}
				continue
			}
			if tr.To < 0 || tr.To > logEnd {
				t.Fatalf("answer %+v to epoch %d: truncate to %d, log end %d", ans, asked, tr.To, logEnd)
			}
			if !tr.Done && tr.NextQuery >= asked {
				t.Fatalf("answer %+v to epoch %d: asks %d next, no progress", ans, asked, tr.NextQuery)
			}
			logEnd = min(logEnd, tr.To)
			for len(own) > 0 && own[len(own)-1].StartOffset >= tr.To {
				own = own[:len(own)-1]
			}
			if rounds++; rounds > len(checkpoint)/2+1 {
				t.Fatalf("still truncating after %d rounds", rounds)
			}
		}
	})
}
