package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// TestBadInputLeavesBrokerAndOthersUnharmed throws every kind of bad input
// at a real broker process, each on its own connection, while a
// well-behaved producer keeps writing on another. Each bad connection must
// get an error response or be closed; the broker must stay up; the good
// producer must see no error; and every record it had acknowledged must
// read back, in order, exactly once.
func TestBadInputLeavesBrokerAndOthersUnharmed(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0", "--set", "message.max.bytes=1048576")
	admin := dialWire(t, b.Addr)
	if code := admin.createTopic("good", 2); code != wire.None {
		t.Fatalf("create topic: %s", code)
	}

	// The well-behaved producer: acks=1 batches to both partitions until told to stop.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	acked := [2][]string{}
	var goodErr, consumerErr error
	var consumed int64
	// The well-behaved consumer: long-poll fetches of partition 0 from where
	// it got to, checking every batch, for as long as the abuse lasts.
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := dialWire(t, b.Addr)
		next := int64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var resp wire.FetchResponse
			err := w.tryRoundTrip(&wire.FetchRequest{ReplicaID: wire.ConsumerReplicaID, MaxWaitMs: 100, MinBytes: 1, MaxBytes: 1 << 20,
				Topics: []wire.FetchTopic{{Name: "good", Partitions: []wire.FetchPartition{{Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: next, PartitionMaxBytes: 1 << 20}}}}}, &resp)
			if err == nil && resp.Topics[0].Partitions[0].ErrorCode != wire.None {
				err = fmt.Errorf("fetch at %d: %s", next, resp.Topics[0].Partitions[0].ErrorCode)
			}
			if err == nil {
				next, err = checkBatches(resp.Topics[0].Partitions[0].Records, next)
			}
			if err != nil {
				consumerErr = fmt.Errorf("good consumer: %w", err)
				return
			}
			consumed = next
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		good := dialWire(t, b.Addr)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := int32(i % 2)
			code, _ := good.produceCode("good", p, batchOf(fmt.Sprintf("p%d-b%d", p, i), 0, 10))
			if code != wire.None {
				goodErr = fmt.Errorf("good producer batch %d: %s", i, code)
				return
			}
			for j := 0; j < 10; j++ {
				acked[p] = append(acked[p], fmt.Sprintf("p%d-b%d-%d", p, i, j))
			}
		}
	}()

	cases := []struct {
		name string
		run  func(t *testing.T, w *wireConn)
	}{
		{"http request", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
			w.expectClosed(10 * time.Second)
		}},
		{"random bytes", func(t *testing.T, w *wireConn) {
			junk := make([]byte, 1<<20)
			rand.New(rand.NewSource(1)).Read(junk)
			binary.BigEndian.PutUint32(junk, 0x7fffffff) // make sure the size is absurd
			w.c.Write(junk)
			w.expectClosed(10 * time.Second)
		}},
		{"2 GiB length prefix", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte{0x80, 0, 0, 0, 0, 0, 0, 0})
			w.expectClosed(10 * time.Second)
		}},
		{"just under 2 GiB length prefix", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 4, 0, 0})
			w.expectClosed(10 * time.Second)
		}},
		{"frame shorter than a request header", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte{0, 0, 0, 3, 0, 1, 0})
			w.expectClosed(10 * time.Second)
		}},
		{"truncated frame then disconnect", func(t *testing.T, w *wireConn) {
			frame := wire.AppendRequestFrame(nil, 1, produceReq("good", 0, wire.AcksLeader, batchOf("torn", 0, 100)))
			w.c.Write(frame[:len(frame)/2])
			w.c.Close()
		}},
		{"truncated body inside a whole frame", func(t *testing.T, w *wireConn) {
			frame := wire.AppendRequestFrame(nil, 7, produceReq("good", 0, wire.AcksLeader, batchOf("cut", 0, 5)))
			cut := frame[:len(frame)-20]
			binary.BigEndian.PutUint32(cut, uint32(len(cut)-4))
			w.c.Write(cut)
			corr, body, err := w.readFrame(10 * time.Second)
			if err != nil || corr != 7 || len(body) < 2 || wire.ErrorCode(binary.BigEndian.Uint16(body)) != wire.InvalidRequest {
				t.Fatalf("want INVALID_REQUEST for correlation 7, got corr=%d body=%x err=%v", corr, body, err)
			}
			w.requireUsable(t)
		}},
		{"unknown api key", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte{0, 0, 0, 8, 0x03, 0xe7, 0, 0, 0, 0, 0, 9}) // key 999, version 0, corr 9
			w.expectErrorCode(t, 9, wire.UnsupportedVersion)
			w.requireUsable(t)
		}},
		{"unknown api version", func(t *testing.T, w *wireConn) {
			w.c.Write([]byte{0, 0, 0, 8, 0, byte(wire.ProduceKey), 0x7f, 0, 0, 0, 0, 10})
			w.expectErrorCode(t, 10, wire.UnsupportedVersion)
			w.requireUsable(t)
		}},
		{"bad crc", func(t *testing.T, w *wireConn) {
			batch := batchOf("crc", 0, 10)
			batch[len(batch)-1] ^= 0x01
			if code, _ := w.produceCode("good", 0, batch); code != wire.CorruptMessage {
				t.Fatalf("bad CRC batch: got %s, want CORRUPT_MESSAGE", code)
			}
		}},
		{"oversized batch", func(t *testing.T, w *wireConn) {
			big := batchOf(strings.Repeat("x", 1000), 0, 2000) // ~2 MB > message.max.bytes
			if code, _ := w.produceCode("good", 0, big); code != wire.MessageTooLarge {
				t.Fatalf("oversized batch: got %s, want MESSAGE_TOO_LARGE", code)
			}
		}},
		{"invalid topic names", func(t *testing.T, w *wireConn) {
			for _, name := range []string{"", ".", "..", "bad/name", "spa ce", strings.Repeat("a", 250), "ünïcode"} {
				if code := w.createTopic(name, 1); code != wire.InvalidTopic {
					t.Errorf("CreateTopics %q: got %s, want INVALID_TOPIC", name, code)
				}
				if code, _ := w.produceCode(name, 0, batchOf("x", 0, 1)); code != wire.InvalidTopic && code != wire.UnknownTopicOrPartition {
					t.Errorf("Produce to %q: got %s, want INVALID_TOPIC or UNKNOWN_TOPIC_OR_PARTITION", name, code)
				}
			}
		}},
		{"disconnect while a produce is in flight", func(t *testing.T, w *wireConn) {
			w.send(produceReq("good", 1, wire.AcksAll, batchOf("gone", 0, 1000)))
			w.c.Close()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, dialWire(t, b.Addr))
			if !b.running() || !b.healthy() {
				t.Fatalf("broker down after %q", tc.name)
			}
		})
	}

	time.Sleep(200 * time.Millisecond) // let the good producer get more in after the abuse
	close(stop)
	wg.Wait()
	if goodErr != nil {
		t.Fatal(goodErr)
	}
	if consumerErr != nil {
		t.Fatal(consumerErr)
	}
	if consumed == 0 {
		t.Fatal("the good consumer read nothing while the abuse went on")
	}
	reader := dialWire(t, b.Addr)
	for p := int32(0); p < 2; p++ {
		got := reader.readAll("good", p)
		// Partition 0 also holds the "cut"-free good records only; partition 1
		// may hold the in-flight "gone" batch, appended before its client left.
		got = without(got, "gone-")
		if len(got) != len(acked[p]) {
			t.Fatalf("partition %d: read %d good records, %d were acknowledged", p, len(got), len(acked[p]))
		}
		for i := range got {
			if got[i] != acked[p][i] {
				t.Fatalf("partition %d offset %d: %q, want %q", p, i, got[i], acked[p][i])
			}
		}
	}
	if !b.healthy() {
		t.Fatal("broker unhealthy at the end")
	}
	b.stop()
}

// without drops values with prefix, keeping order.
func without(vs []string, prefix string) []string {
	out := vs[:0:0]
	for _, v := range vs {
		if !strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

func (w *wireConn) expectErrorCode(t *testing.T, corr int32, want wire.ErrorCode) {
	t.Helper()
	got, body, err := w.readFrame(10 * time.Second)
	if err != nil {
		t.Fatalf("want %s response, got %v", want, err)
	}
	if got != corr || len(body) < 2 || wire.ErrorCode(binary.BigEndian.Uint16(body)) != want {
		t.Fatalf("want %s for correlation %d, got corr=%d body=%x", want, corr, got, body)
	}
}

// requireUsable checks the connection still serves requests after an error response.
func (w *wireConn) requireUsable(t *testing.T) {
	t.Helper()
	var resp wire.APIVersionsResponse
	w.roundTrip(&wire.APIVersionsRequest{}, &resp)
	if resp.ErrorCode != wire.None || len(resp.APIs) == 0 {
		t.Fatalf("ApiVersions after an error: code %s, %d APIs", resp.ErrorCode, len(resp.APIs))
	}
}

// checkBatches validates every whole batch in records and returns the
// offset after the last one; batches must continue from next.
func checkBatches(records []byte, next int64) (int64, error) {
	for len(records) > 0 {
		b, err := record.Parse(records)
		if errors.Is(err, record.ErrShort) {
			break
		}
		if err != nil {
			return next, err
		}
		if err := b.ValidateStored(); err != nil {
			return next, err
		}
		if b.NextOffset() > next {
			if b.BaseOffset() > next {
				return next, fmt.Errorf("gap: batch at %d, expected %d", b.BaseOffset(), next)
			}
			next = b.NextOffset()
		}
		records = records[b.Size():]
	}
	return next, nil
}
