package engine

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkGroupHeartbeat measures one heartbeat of a member of a Stable
// group: the coordinator lock and the state machine, no I/O.
func BenchmarkGroupHeartbeat(b *testing.B) {
	h := newGroupHarness(b, nil)
	id, j := h.newMember("g", protocols("range"))
	j.answered()
	h.sync("g", 1, id, nil).answered()
	req := HeartbeatRequest{GroupID: "g", GenerationID: 1, MemberID: id}
	b.ReportAllocs()
	for b.Loop() {
		if err := h.c.Heartbeat(req, h.now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOffsetCommit measures a commit of n partitions acknowledged
// after its batch is appended to __consumer_offsets (flush.policy never).
func BenchmarkOffsetCommit(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			h := newGroupHarness(b, nil)
			req := OffsetCommitRequest{GroupID: "g", GenerationID: -1}
			for p := range n {
				req.Offsets = append(req.Offsets, CommitOffset{Topic: "orders", Partition: int32(p), LeaderEpoch: -1})
			}
			done := func(err error) {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := int64(0)
			for b.Loop() {
				i++
				for p := range req.Offsets {
					req.Offsets[p].Offset = i
				}
				h.c.CommitOffsets(req, time.Now(), done)
			}
		})
	}
}
