package client

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKeyPartitionMatchesKafka checks KeyPartition against franz-go's
// StickyKeyPartitioner (Kafka's murmur2 default partitioner) for random and
// edge-case keys of every tail length and several partition counts.
func TestKeyPartitionMatchesKafka(t *testing.T) {
	franz := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	keys := [][]byte{{}, {0}, {0xff}, {0xff, 0xff}, {0x80, 0, 0}, []byte("a"), []byte("ab"), []byte("abc"),
		[]byte("abcd"), []byte("abcde"), []byte("21"), []byte("user-42")}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		k := make([]byte, rng.IntN(70))
		for i := range k {
			k[i] = byte(rng.UintN(256))
		}
		keys = append(keys, k)
	}
	for _, n := range []int{1, 2, 3, 7, 12, 100, 1024} {
		for _, k := range keys {
			want := franz.Partition(&kgo.Record{Key: k}, n)
			if got := KeyPartition(k, int32(n)); int(got) != want {
				t.Fatalf("key %x, %d partitions: got %d, franz-go %d", k, n, got, want)
			}
		}
	}
}

// TestMurmur2Vectors pins hashes that Kafka's Java Utils.murmur2 produces
// (from Kafka's UtilsTest), so a change to the hash is caught even if
// franz-go changed along with it.
func TestMurmur2Vectors(t *testing.T) {
	vectors := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	}
	for in, want := range vectors {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
	if got := fmt.Sprint(KeyPartition([]byte("21"), 4)); got != fmt.Sprint((-973932308&0x7fffffff)%4) {
		t.Errorf("KeyPartition(21, 4) = %s", got)
	}
}
