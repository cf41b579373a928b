package client

import "encoding/binary"

// murmur2 is the 32-bit MurmurHash2 variant of Kafka's
// org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c), which
// Kafka's default partitioner applies to record keys. Matching it bit for
// bit is what makes a key land on the same partition whichever client
// wrote it.
func murmur2(b []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := binary.LittleEndian.Uint32(b)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// KeyPartition returns the partition Kafka's default partitioner gives key
// among n partitions: toPositive(murmur2(key)) % n. toPositive clears the
// sign bit (it is not an absolute value), exactly as Kafka does.
func KeyPartition(key []byte, n int32) int32 {
	return int32(murmur2(key)&0x7fffffff) % n
}
