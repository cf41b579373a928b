package wire

import (
	"fmt"
	"testing"
)

// produceFrame is a typical producer request: one topic, 4 partitions, one
// 16 KiB batch each.
func produceFrame() []byte {
	q := &ProduceRequest{Acks: AcksLeader, TimeoutMs: 30000, Topics: []ProduceTopic{{Name: "bench-topic"}}}
	for p := int32(0); p < 4; p++ {
		q.Topics[0].Partitions = append(q.Topics[0].Partitions, ProducePartition{Partition: p, Records: testBatch(0, 100, 16<<10)})
	}
	return AppendRequestFrame(nil, 1, q)
}

// fetchFrame is a typical consumer fetch: 2 topics × 8 partitions.
func fetchFrame() []byte {
	q := &FetchRequest{ReplicaID: ConsumerReplicaID, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 50 << 20}
	for t := 0; t < 2; t++ {
		ft := FetchTopic{Name: fmt.Sprintf("bench-topic-%d", t)}
		for p := int32(0); p < 8; p++ {
			ft.Partitions = append(ft.Partitions, FetchPartition{Partition: p, CurrentLeaderEpoch: 1, FetchOffset: 1 << 20, PartitionMaxBytes: 1 << 20})
		}
		q.Topics = append(q.Topics, ft)
	}
	return AppendRequestFrame(nil, 1, q)
}

// benchDecode measures Decoder.Decode of one payload. No SetBytes: decoding
// does not touch record bytes, so a bytes/s figure would mean nothing.
func benchDecode(b *testing.B, frame []byte) {
	var d Decoder
	payload := frame[SizeLen:]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProduce(b *testing.B) {
	b.Run("topics=1,partitions=4,batch=16KiB", func(b *testing.B) { benchDecode(b, produceFrame()) })
}

func BenchmarkDecodeFetch(b *testing.B) {
	b.Run("topics=2,partitions=8", func(b *testing.B) { benchDecode(b, fetchFrame()) })
}

// BenchmarkFrameHeader is the framer's per-frame work: size check, split,
// request header.
func BenchmarkFrameHeader(b *testing.B) {
	frame := produceFrame()
	b.ReportAllocs()
	for b.Loop() {
		payload, _, ok, err := SplitFrame(frame, DefaultMaxFrameSize)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		if _, _, err := ParseRequestHeader(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeFetchResponseParts is the broker's zero-copy fetch
// response: headers for 16 partitions, records by reference.
func BenchmarkEncodeFetchResponseParts(b *testing.B) {
	b.Run("topics=2,partitions=8", benchEncodeFetchResponseParts)
}

func benchEncodeFetchResponseParts(b *testing.B) {
	resp := &FetchResponse{}
	for t := 0; t < 2; t++ {
		ft := FetchTopicResponse{Name: fmt.Sprintf("bench-topic-%d", t)}
		for p := int32(0); p < 8; p++ {
			ft.Partitions = append(ft.Partitions, FetchPartitionResponse{Partition: p, HighWatermark: 1 << 30, LastStableOffset: -1, RecordsLen: 1 << 20})
		}
		resp.Topics = append(resp.Topics, ft)
	}
	var buf []byte
	var parts []Part
	b.ReportAllocs()
	for b.Loop() {
		buf, parts = AppendFetchResponseParts(buf[:0], 1, resp, parts[:0])
	}
}

// BenchmarkEncodeProduceResponse is the acks=1 answer to produceFrame.
func BenchmarkEncodeProduceResponse(b *testing.B) {
	resp := &ProduceResponse{Topics: []ProduceTopicResponse{{Name: "bench-topic"}}}
	for p := int32(0); p < 4; p++ {
		resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, ProducePartitionResponse{Partition: p, BaseOffset: 1 << 30, LogAppendTime: -1})
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResponseFrame(buf[:0], 1, resp)
	}
}

// TestDecodeAllocs enforces the hot-path rule in every test run, not only
// when benchmarks are read: steady-state request decoding allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	var d Decoder
	for _, frame := range [][]byte{produceFrame(), fetchFrame()} {
		payload := frame[SizeLen:]
		if _, _, err := d.Decode(payload); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() { _, _, _ = d.Decode(payload) })
		if allocs != 0 {
			t.Fatalf("Decode allocates %v times per frame", allocs)
		}
	}
}
