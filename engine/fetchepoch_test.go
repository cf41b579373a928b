package engine

import (
	"errors"
	"testing"
)

// TestFetchCurrentLeaderEpoch: a consumer fetch carrying a leader epoch
// older than the leader's is ErrFencedLeaderEpoch, newer
// ErrUnknownLeaderEpoch (KIP-320); the current one and -1 (none said) read.
// Other partitions of the same fetch are not held back.
func TestFetchCurrentLeaderEpoch(t *testing.T) {
	e := openClustered(t, "", nil)
	mustApply(t, e, spread("ep", 4, 2, 5, allHere))
	produceOne(t, e, "ep", 0, 1)
	produceOne(t, e, "ep", 1, 1)
	for _, c := range []struct {
		epoch int32
		want  error
	}{{5, nil}, {-1, nil}, {4, ErrFencedLeaderEpoch}, {0, ErrFencedLeaderEpoch}, {6, ErrUnknownLeaderEpoch}} {
		r := fetchSync(t, e, FetchRequest{MaxBytes: 1 << 20, Partitions: []FetchPartition{
			{Topic: "ep", Partition: 0, MaxBytes: 1 << 20, LeaderEpoch: c.epoch},
			{Topic: "ep", Partition: 1, MaxBytes: 1 << 20, LeaderEpoch: -1},
		}})
		p0, p1 := r.Partitions[0], r.Partitions[1]
		switch {
		case c.want == nil && (p0.Err != nil || p0.Records == nil):
			t.Errorf("epoch %d: %v, %v; want the records", c.epoch, p0.Err, p0.Records)
		case c.want != nil && (!errors.Is(p0.Err, c.want) || p0.Records != nil):
			t.Errorf("epoch %d: %v; want %v", c.epoch, p0.Err, c.want)
		case p1.Err != nil || p1.Records == nil:
			t.Errorf("epoch %d: the other partition answered %v", c.epoch, p1.Err)
		}
		r.Release()
	}
}
