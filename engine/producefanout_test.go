package engine

import (
	"errors"
	"testing"
	"time"
)

// A fan-out answers every partition added, in order, a partition named
// twice once per naming, done once after the last; reused, it starts
// empty. With flush.policy=always and acks=all the results come from the
// syncer, after Run has returned.
func TestProduceFanOut(t *testing.T) {
	for _, policy := range []string{"never", "always"} {
		t.Run("flush.policy="+policy, func(t *testing.T) {
			e := openTestEngine(t, nil)
			mustCreate(t, e, "fan", 2, map[string]string{"flush.policy": policy})
			var f ProduceFanOut
			finished := make(chan struct{}, 1)
			run := func(add func()) []ProduceResult {
				t.Helper()
				f.Reset(func() { finished <- struct{}{} })
				add()
				f.Run(e, -1, 10*time.Second)
				select {
				case <-finished:
				case <-time.After(10 * time.Second):
					t.Fatal("done did not run in 10s")
				}
				select {
				case <-finished:
					t.Fatal("done ran twice")
				default:
				}
				return f.Results
			}
			got := run(func() {
				f.Add("fan", 1, makeBatch(2, 100, 1))
				f.Add("fan", 0, makeBatch(3, 100, 1))
				f.Add("fan", 1, makeBatch(4, 100, 1))
				f.Add("fan", 7, makeBatch(1, 100, 1))
			})
			if len(got) != 4 || got[0].Partition != 1 || got[1].Partition != 0 || got[2].Partition != 1 || got[3].Partition != 7 {
				t.Fatalf("results out of request order: %+v", got)
			}
			// Partition 1 named twice: the two appends are 0-1 and 2-5, in either slot.
			if got[0].Err != nil || got[2].Err != nil || got[0].BaseOffset+got[2].BaseOffset != 2 {
				t.Fatalf("partition 1 twice: %+v and %+v", got[0], got[2])
			}
			if got[1].Err != nil || got[1].BaseOffset != 0 || !errors.Is(got[3].Err, ErrUnknownTopicOrPartition) {
				t.Fatalf("partition 0 %+v, partition 7 %+v", got[1], got[3])
			}
			if got := run(func() {}); len(got) != 0 {
				t.Fatalf("an empty request has results %+v", got)
			}
			if got := run(func() { f.Add("fan", 0, makeBatch(1, 100, 1)) }); len(got) != 1 || got[0].BaseOffset != 3 {
				t.Fatalf("reused fan-out: %+v", got)
			}
		})
	}
}
