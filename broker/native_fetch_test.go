package broker

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/spate-io/spate/wire"
)

// One native Fetch over several topics answers each partition in request
// order with its own records (byte for byte, base offset stamped), empty
// partitions with no records and an unknown one with null records and
// UNKNOWN_TOPIC_OR_PARTITION, a partition named twice twice.
func TestFetchManyPartitions(t *testing.T) {
	b := startTestBroker(t, nil)
	c := dialTest(t, b)
	for _, topic := range []string{"a", "b"} {
		if err := b.CreateTopic(topic, 3, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	produced := map[string][]byte{}
	for _, tp := range []struct {
		topic     string
		partition int32
		n         int
	}{{"a", 0, 3}, {"a", 2, 5}, {"b", 1, 7}} {
		batch := testBatch(t, tp.n, 50)
		var resp wire.ProduceResponse
		call(t, c, &wire.ProduceRequest{Acks: wire.AcksLeader, TimeoutMs: 5000, Topics: []wire.ProduceTopic{{
			Name: tp.topic, Partitions: []wire.ProducePartition{{Partition: tp.partition, Records: batch}},
		}}}, &resp)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != wire.None {
			t.Fatalf("produce %s-%d: %s", tp.topic, tp.partition, code)
		}
		binary.BigEndian.PutUint32(batch[12:], 0) // the partition leader epoch the broker stamps
		produced[tp.topic+string(rune('0'+tp.partition))] = batch
	}
	type want struct {
		partition int32
		code      wire.ErrorCode
		records   []byte
	}
	ask := []struct {
		topic string
		want  []want
	}{
		{"a", []want{{0, wire.None, produced["a0"]}, {1, wire.None, nil}, {2, wire.None, produced["a2"]}, {5, wire.UnknownTopicOrPartition, nil}, {0, wire.None, produced["a0"]}}},
		{"b", []want{{1, wire.None, produced["b1"]}, {0, wire.None, nil}}},
	}
	q := &wire.FetchRequest{ReplicaID: wire.ConsumerReplicaID, MaxBytes: 1 << 20}
	for _, a := range ask {
		ft := wire.FetchTopic{Name: a.topic}
		for _, w := range a.want {
			ft.Partitions = append(ft.Partitions, wire.FetchPartition{Partition: w.partition, CurrentLeaderEpoch: -1, PartitionMaxBytes: 1 << 20})
		}
		q.Topics = append(q.Topics, ft)
	}
	var resp wire.FetchResponse
	call(t, c, q, &resp)
	if resp.ErrorCode != wire.None || len(resp.Topics) != len(ask) {
		t.Fatalf("fetch: %s, %d topics", resp.ErrorCode, len(resp.Topics))
	}
	for ti, rt := range resp.Topics {
		ws := ask[ti].want
		if rt.Name != ask[ti].topic || len(rt.Partitions) != len(ws) {
			t.Fatalf("topic %d: %s with %d partitions, want %s with %d", ti, rt.Name, len(rt.Partitions), ask[ti].topic, len(ws))
		}
		for i, p := range rt.Partitions {
			w := ws[i]
			null := w.code != wire.None
			if p.Partition != w.partition || p.ErrorCode != w.code || !bytes.Equal(p.Records, w.records) || (p.RecordsLen == -1) != null {
				t.Fatalf("%s answer %d: partition %d %s, %d record bytes (len field %d); want partition %d %s, %d bytes",
					rt.Name, i, p.Partition, p.ErrorCode, len(p.Records), p.RecordsLen, w.partition, w.code, len(w.records))
			}
		}
	}
}
