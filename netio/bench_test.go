package netio

import (
	"io"
	"testing"
)

// BenchmarkEcho is one client doing synchronous round trips over loopback.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 4 << 10} {
		b.Run("payload="+byteSize(size), func(b *testing.B) {
			s := startServer(b, Config{}, echoHandler{})
			c := dial(b, s)
			req := AppendFrame(nil, make([]byte, size))
			resp := make([]byte, len(req))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileRange is a fetch-like round trip: a small request answered
// by a 4-byte header chunk plus a page-cache-resident file range.
func BenchmarkFileRange(b *testing.B) {
	tf := newTestFile(b, 64<<20)
	for _, strategy := range []struct {
		name string
		s    FileWriteStrategy
	}{{"sendfile", WriteSendfile}, {"mmap", WriteMmap}} {
		for _, size := range []int{64 << 10, 1 << 20} {
			b.Run("strategy="+strategy.name+",range="+byteSize(size), func(b *testing.B) {
				s := startServer(b, Config{FileWrite: strategy.s}, fileHandler{tf})
				c := dial(b, s)
				resp := make([]byte, 4+size)
				reqs := make([][]byte, 64)
				for i := range reqs {
					reqs[i] = fileRequest(int64(i*size)%int64(len(tf.data)-size), size)
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					if _, err := c.Write(reqs[i%len(reqs)]); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, resp); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
