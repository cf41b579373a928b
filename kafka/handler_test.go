package kafka_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
)

func TestAPIVersions(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	for _, v := range []int16{0, 3} {
		resp := do[*kmsg.ApiVersionsResponse](k, kmsg.NewPtrApiVersionsRequest(), v)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		got := map[int16][2]int16{}
		for _, a := range resp.ApiKeys {
			got[a.ApiKey] = [2]int16{a.MinVersion, a.MaxVersion}
		}
		for key, want := range map[int16][2]int16{0: {3, 9}, 1: {4, 12}, 3: {0, 12}, 18: {0, 3}, 22: {0, 4},
			21: {0, 2}, 23: {0, 4}, 32: {0, 4}, 33: {0, 2}, 35: {0, 4}, 37: {0, 3}, 44: {0, 1}, 60: {0, 1}} {
			if got[key] != want {
				t.Errorf("v%d: key %d advertised %v, want %v", v, key, got[key], want)
			}
		}
	}
}

// A too-new ApiVersions gets KIP-511's v0-form answer and the connection
// stays usable, so the client can retry at a version it now knows.
func TestAPIVersionsTooNew(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(4) // kmsg encodes it; Spate serves up to 3
	corr := k.send(req)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	k.decode(corr, resp)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 ||
		resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion != 3 {
		t.Fatalf("too-new ApiVersions answered %+v", resp)
	}
	if r := do[*kmsg.ApiVersionsResponse](k, kmsg.NewPtrApiVersionsRequest(), 3); r.ErrorCode != 0 {
		t.Fatalf("retry at v3: error %d", r.ErrorCode)
	}
}

// A known key at a version Spate does not serve is answered with
// UNSUPPORTED_VERSION in that key's own form when the form has a top-level
// error code, and the connection stays usable.
func TestUnsupportedVersionAnswered(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(13) // topic ids; Spate serves up to 12
	corr := k.send(req)
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(13)
	k.decode(corr, resp)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("Fetch v13 answered with error %d, want %d", resp.ErrorCode, kerr.UnsupportedVersion.Code)
	}
	if r := do[*kmsg.ApiVersionsResponse](k, kmsg.NewPtrApiVersionsRequest(), 3); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions after the refusal: error %d", r.ErrorCode)
	}
}

func createTopic(t testing.TB, k *kconn, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.CreateTopicsResponse](k, req, 7)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || resp.Topics[0].NumPartitions != partitions {
		t.Fatalf("create %s: %+v", name, resp.Topics)
	}
}

func produce(t *testing.T, k *kconn, version int16, topic string, partition int32, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.ProduceResponse](k, req, version)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce answer %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func fetch(t *testing.T, k *kconn, version int16, topic string, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes, req.SessionEpoch = 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := do[*kmsg.FetchResponse](k, req, version)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch v%d answer %+v", version, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// Records produced through the Kafka port come back byte for byte from
// every Fetch version, with base offsets assigned.
func TestProduceFetch(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "events", 2)
	var want [][]byte
	for i, v := range []int16{3, 7, 9} {
		rec := batch(t, i*10, 10)
		p := produce(t, k, v, "events", 1, rec)
		if p.ErrorCode != 0 || p.BaseOffset != int64(i*10) {
			t.Fatalf("produce v%d: error %d base offset %d, want 0 and %d", v, p.ErrorCode, p.BaseOffset, i*10)
		}
		stamped := bytes.Clone(rec)
		binary.BigEndian.PutUint64(stamped, uint64(i*10))
		binary.BigEndian.PutUint32(stamped[12:], 0) // partition leader epoch
		want = append(want, stamped)
	}
	for v := int16(4); v <= 12; v++ {
		p := fetch(t, k, v, "events", 1, 0)
		if p.ErrorCode != 0 || p.HighWatermark != 30 {
			t.Fatalf("fetch v%d: error %d high watermark %d", v, p.ErrorCode, p.HighWatermark)
		}
		if !bytes.Equal(p.RecordBatches, bytes.Join(want, nil)) {
			t.Fatalf("fetch v%d: %d record bytes differ from the %d produced", v, len(p.RecordBatches), len(bytes.Join(want, nil)))
		}
	}
	if p := fetch(t, k, 12, "events", 0, 0); p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("empty partition: error %d, %d record bytes", p.ErrorCode, len(p.RecordBatches))
	}
	if p := fetch(t, k, 11, "events", 1, 31); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch past the end: error %d, want OFFSET_OUT_OF_RANGE", p.ErrorCode)
	}
	if p := fetch(t, k, 11, "missing", 0, 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("fetch of a missing topic: error %d, want UNKNOWN_TOPIC_OR_PARTITION", p.ErrorCode)
	}
	sess := kmsg.NewPtrFetchRequest()
	sess.SessionID, sess.SessionEpoch = 7, 1
	if r := do[*kmsg.FetchResponse](k, sess, 12); r.ErrorCode != kerr.FetchSessionIDNotFound.Code || r.SessionID != 0 {
		t.Fatalf("fetch in session 7: error %d session %d, want FETCH_SESSION_ID_NOT_FOUND and no session", r.ErrorCode, r.SessionID)
	}
	txn := kmsg.NewPtrProduceRequest()
	txn.TransactionID, txn.Acks = kmsg.StringPtr("t"), 1
	tt := kmsg.NewProduceRequestTopic()
	tt.Topic = "events"
	tp := kmsg.NewProduceRequestTopicPartition()
	tp.Records = batch(t, 0, 1)
	tt.Partitions = append(tt.Partitions, tp)
	txn.Topics = append(txn.Topics, tt)
	if r := do[*kmsg.ProduceResponse](k, txn, 9); r.Topics[0].Partitions[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional produce: error %d, want it refused", r.Topics[0].Partitions[0].ErrorCode)
	}
	corrupt := batch(t, 0, 3)
	corrupt[len(corrupt)-1] ^= 0xff
	if p := produce(t, k, 9, "events", 0, corrupt); p.ErrorCode != kerr.CorruptMessage.Code || p.ErrorMessage == nil {
		t.Fatalf("corrupt batch: error %d message %v, want CORRUPT_MESSAGE with a message", p.ErrorCode, p.ErrorMessage)
	}
}

// An idempotent producer's retry is answered with the original offset and
// appended once; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestIdempotentProduce(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "idem", 1)
	init := do[*kmsg.InitProducerIDResponse](k, kmsg.NewPtrInitProducerIDRequest(), 4)
	if init.ErrorCode != 0 || init.ProducerID < 0 {
		t.Fatalf("InitProducerId: %+v", init)
	}
	seqBatch := func(seq int32) []byte { return idempotentBatch(t, init.ProducerID, init.ProducerEpoch, seq, 5) }
	first := seqBatch(0)
	for i := 0; i < 2; i++ {
		if p := produce(t, k, 9, "idem", 0, bytes.Clone(first)); p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Fatalf("send %d of sequence 0: error %d base offset %d", i, p.ErrorCode, p.BaseOffset)
		}
	}
	if p := produce(t, k, 9, "idem", 0, seqBatch(10)); p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: error %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", p.ErrorCode)
	}
	if p := fetch(t, k, 12, "idem", 0, 0); p.HighWatermark != 5 {
		t.Fatalf("high watermark %d after a duplicate and a gap, want 5", p.HighWatermark)
	}
	txn := kmsg.NewPtrInitProducerIDRequest()
	id := "txn"
	txn.TransactionalID = &id
	if r := do[*kmsg.InitProducerIDResponse](k, txn, 4); r.ErrorCode == 0 {
		t.Fatalf("transactional InitProducerId accepted: %+v", r)
	}
}

func TestMetadataAndOffsets(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "meta", 3)
	for _, v := range []int16{0, 1, 4, 9, 12} {
		resp := do[*kmsg.MetadataResponse](k, kmsg.NewPtrMetadataRequest(), v) // all topics (v0: empty list)
		if len(resp.Brokers) != 1 || net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port))) != b.KafkaAddr() {
			t.Fatalf("v%d: brokers %+v, want %s", v, resp.Brokers, b.KafkaAddr())
		}
		var found bool
		for _, mt := range resp.Topics {
			if mt.Topic != nil && *mt.Topic == "meta" {
				found = len(mt.Partitions) == 3 && mt.Partitions[2].Leader == resp.Brokers[0].NodeID
			}
		}
		if !found {
			t.Fatalf("v%d: topic meta with 3 partitions led by this broker not in %+v", v, resp.Topics)
		}
	}
	// Auto-creation, and an invalid name refused at once.
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, name := range []string{"auto", "a/b"} {
		mt := kmsg.NewMetadataRequestTopic()
		n := name
		mt.Topic = &n
		req.Topics = append(req.Topics, mt)
	}
	resp := do[*kmsg.MetadataResponse](k, req, 12)
	if resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[1].ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("auto-create: %+v", resp.Topics)
	}

	produce(t, k, 9, "meta", 2, batch(t, 0, 4))
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "meta"
	for _, ts := range []int64{-2, -1, 0, -3} {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition, p.Timestamp = 2, ts
		lt.Partitions = append(lt.Partitions, p)
	}
	lo.Topics = append(lo.Topics, lt)
	lr := do[*kmsg.ListOffsetsResponse](k, lo, 6)
	got := lr.Topics[0].Partitions
	if got[0].Offset != 0 || got[1].Offset != 4 || got[2].Offset != 0 || got[3].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("ListOffsets earliest, latest, timestamp 0, -3: %+v", got)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"}
	for _, v := range []int16{0, 3, 4} {
		r := do[*kmsg.FindCoordinatorResponse](k, fc, v)
		host, port := r.Host, r.Port
		if v >= 4 {
			host, port = r.Coordinators[0].Host, r.Coordinators[0].Port
		}
		if net.JoinHostPort(host, strconv.Itoa(int(port))) != b.KafkaAddr() {
			t.Fatalf("FindCoordinator v%d: %+v", v, r)
		}
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"meta", "nope"}
	dr := do[*kmsg.DeleteTopicsResponse](k, del, 5)
	if dr.Topics[0].ErrorCode != 0 || dr.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DeleteTopics: %+v", dr.Topics)
	}
}

// Bad input closes the connection that sent it; another connection of the
// same broker goes on as if nothing happened.
func TestBadInputClosesConnection(t *testing.T) {
	b := startBroker(t)
	bystander := dial(t, b.KafkaAddr())
	createTopic(t, bystander, "calm", 1)

	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	binary.BigEndian.PutUint32(random, 4092) // one frame of random bytes
	unknownKey := appendRaw(nil, 9999, 0)
	tooNewProduce := appendRaw(nil, 0, 10)
	tooOldFetch := appendRaw(nil, 1, 3)
	cases := map[string][]byte{
		"random bytes":                random,
		"2 GiB length":                {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		"negative length":             {0xff, 0xff, 0xff, 0xf0},
		"frame shorter than a header": {0, 0, 0, 3, 0, 18, 0},
		"client id past the end":      {0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0},
		"unknown api key":             unknownKey,
		"produce v10":                 tooNewProduce,
		"fetch v3":                    tooOldFetch,
		"truncated produce body":      appendRaw(nil, 0, 9, 0, 1, 0xff),
		"HTTP":                        []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			k := dial(t, b.KafkaAddr())
			if _, err := k.c.Write(in); err != nil {
				t.Fatal(err)
			}
			if !k.closed() {
				t.Fatalf("connection still open after %q", name)
			}
			if p := produce(t, bystander, 9, "calm", 0, batch(t, 0, 1)); p.ErrorCode != 0 {
				t.Fatalf("bystander's produce after %q: error %d", name, p.ErrorCode)
			}
		})
	}
	if p := fetch(t, bystander, 12, "calm", 0, 0); p.HighWatermark != int64(len(cases)) {
		t.Fatalf("bystander's high watermark %d, want %d", p.HighWatermark, len(cases))
	}
}

// appendRaw appends a frame with a request header for key and version and
// body as its body.
func appendRaw(dst []byte, key, version int16, body ...byte) []byte {
	payload := binary.BigEndian.AppendUint16(nil, uint16(key))
	payload = binary.BigEndian.AppendUint16(payload, uint16(version))
	payload = binary.BigEndian.AppendUint32(payload, 7)
	payload = binary.BigEndian.AppendUint16(payload, 0xffff) // null client id
	payload = append(payload, body...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// Metadata and FindCoordinator name kafka.advertised.addr when it is set.
func TestAdvertisedAddr(t *testing.T) {
	b := brokertest.Start(t, func(c *broker.Config) { c.KafkaAdvertisedAddr = "kafka.example:19092" })
	k := dial(t, b.KafkaAddr())
	resp := do[*kmsg.MetadataResponse](k, kmsg.NewPtrMetadataRequest(), 12)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != "kafka.example" || resp.Brokers[0].Port != 19092 {
		t.Fatalf("Metadata brokers %+v, want kafka.example:19092", resp.Brokers)
	}
}

// One Fetch over several topics answers each partition in request order
// with its own records, empty partitions, errors and a partition named
// twice included; a long poll answers once records arrive.
func TestFetchManyPartitions(t *testing.T) {
	b := startBroker(t)
	k := dial(t, b.KafkaAddr())
	createTopic(t, k, "a", 3)
	createTopic(t, k, "b", 2)
	produced := map[string][]byte{}
	for _, tp := range []struct {
		topic     string
		partition int32
		n         int
	}{{"a", 0, 3}, {"a", 2, 5}, {"b", 1, 7}} {
		rec := batch(t, 0, tp.n)
		if p := produce(t, k, 9, tp.topic, tp.partition, rec); p.ErrorCode != 0 {
			t.Fatalf("produce %s-%d: error %d", tp.topic, tp.partition, p.ErrorCode)
		}
		binary.BigEndian.PutUint32(rec[12:], 0) // the partition leader epoch the broker stamps
		produced[fmt.Sprintf("%s-%d", tp.topic, tp.partition)] = rec
	}
	type want struct {
		partition int32
		code      int16
		records   []byte
	}
	ask := map[string][]want{
		"a": {{0, 0, produced["a-0"]}, {1, 0, nil}, {2, 0, produced["a-2"]}, {5, kerr.UnknownTopicOrPartition.Code, nil}, {0, 0, produced["a-0"]}},
		"b": {{1, 0, produced["b-1"]}, {0, 0, nil}},
	}
	for _, v := range []int16{4, 11, 12} {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.SessionEpoch = 1<<20, -1
		for _, topic := range []string{"a", "b"} {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			for _, w := range ask[topic] {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes = w.partition, 1<<20
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp := do[*kmsg.FetchResponse](k, req, v)
		if len(resp.Topics) != 2 {
			t.Fatalf("v%d: %d topics", v, len(resp.Topics))
		}
		for _, rt := range resp.Topics {
			ws := ask[rt.Topic]
			if len(rt.Partitions) != len(ws) {
				t.Fatalf("v%d: topic %s has %d partitions, want %d", v, rt.Topic, len(rt.Partitions), len(ws))
			}
			for i, p := range rt.Partitions {
				w := ws[i]
				if p.Partition != w.partition || p.ErrorCode != w.code || !bytes.Equal(p.RecordBatches, w.records) {
					t.Fatalf("v%d: %s answer %d: partition %d error %d, %d record bytes; want partition %d error %d, %d bytes",
						v, rt.Topic, i, p.Partition, p.ErrorCode, len(p.RecordBatches), w.partition, w.code, len(w.records))
				}
			}
		}
	}

	// A long poll on the empty b-0 parks until a produce from another
	// connection gives it records.
	poll := kmsg.NewPtrFetchRequest()
	poll.MaxBytes, poll.MinBytes, poll.MaxWaitMillis, poll.SessionEpoch = 1<<20, 1, 30_000, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "b"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes = 0, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	poll.Topics = append(poll.Topics, rt)
	poll.SetVersion(12)
	corr := k.send(poll)
	rec := batch(t, 0, 4)
	if p := produce(t, dial(t, b.KafkaAddr()), 9, "b", 0, rec); p.ErrorCode != 0 {
		t.Fatalf("produce b-0: error %d", p.ErrorCode)
	}
	binary.BigEndian.PutUint32(rec[12:], 0)
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12)
	k.decode(corr, resp)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || !bytes.Equal(p.RecordBatches, rec) {
		t.Fatalf("long poll: error %d, %d record bytes, want the %d produced", p.ErrorCode, len(p.RecordBatches), len(rec))
	}
}
