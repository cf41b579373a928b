package cluster

import "testing"

// BenchmarkImageLookup is what a broker pays per request to find a
// partition's leader in its local metadata: one atomic load and two map
// lookups, no lock and no allocation.
func BenchmarkImageLookup(b *testing.B) {
	f := newFSM()
	f.publish(sampleImage(b))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			img := f.image()
			if img.Topic("t").Partitions[1].Leader != 2 || !img.live(2) {
				b.Fatal("wrong leader")
			}
		}
	})
}
