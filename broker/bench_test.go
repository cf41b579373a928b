package broker

import (
	"fmt"
	"testing"

	"github.com/spate-io/spate/wire"
)

// BenchmarkProduce measures one produce round trip over loopback through
// the whole broker (gnet framing, decode, engine validate+append, encode,
// write). allocs/op counts both sides of the connection in this process;
// the client side here reuses its buffers, so they are the broker's.
func BenchmarkProduce(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		for _, acks := range []int16{1, -1} {
			b.Run(fmt.Sprintf("batch=%dKiB,acks=%d", size>>10, acks), func(b *testing.B) {
				br := startTestBroker(b, func(c *Config) { c.SegmentBytes = 64 << 20; c.RetentionBytes = 256 << 20 })
				c := dialTest(b, br)
				batch := testBatch(b, size/110, 100)
				frame := produceFrame("bench", acks, batch)
				c.do(b, frame) // creates the topic
				var resp wire.ProduceResponse
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					body := c.do(b, frame)
					if body[0] != 0 || body[1] != 0 {
						b.Fatalf("produce error %x", body[:2])
					}
				}
				b.StopTimer()
				if err := resp.Decode(c.do(b, frame)); err != nil || resp.Topics[0].Partitions[0].ErrorCode != wire.None {
					b.Fatalf("produce: %v %+v", err, resp)
				}
			})
		}
	}
}

// BenchmarkFetch measures one fetch round trip of a resident range over
// loopback: the response's records go from the segment's page cache to the
// socket without a user-space copy in the broker.
func BenchmarkFetch(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("bytes=%dKiB", size>>10), func(b *testing.B) {
			br := startTestBroker(b, nil)
			c := dialTest(b, br)
			batch := testBatch(b, 16<<10/110, 100)
			for written := 0; written < 2*size; written += len(batch) {
				c.do(b, produceFrame("bench", 1, batch))
			}
			frame := fetchFrame("bench", 0, int32(size))
			var resp wire.FetchResponse
			if err := resp.Decode(c.do(b, frame)); err != nil {
				b.Fatal(err)
			}
			got := len(resp.Topics[0].Partitions[0].Records)
			b.SetBytes(int64(got))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if n := len(c.do(b, frame)); n < got {
					b.Fatalf("fetch body %d bytes, want >= %d", n, got)
				}
			}
		})
	}
}
