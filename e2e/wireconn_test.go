package e2e

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/wire"
)

// wireConn is a deliberately bare native-protocol connection: one request
// at a time, written byte for byte as the test says, so tests can send what
// no well-behaved client (client/) ever would.
type wireConn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	corr int32
}

func dialWire(t testing.TB, addr string) *wireConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &wireConn{t: t, c: c, r: bufio.NewReaderSize(c, 1<<20)}
}

// send writes one request frame and returns its correlation id.
func (w *wireConn) send(req wire.Request) int32 {
	w.t.Helper()
	w.corr++
	if _, err := w.c.Write(wire.AppendRequestFrame(nil, w.corr, req)); err != nil {
		w.t.Fatalf("write %s request: %v", req.APIKey(), err)
	}
	return w.corr
}

// readFrame reads one response frame: correlation id and body.
func (w *wireConn) readFrame(timeout time.Duration) (int32, []byte, error) {
	w.c.SetReadDeadline(time.Now().Add(timeout))
	defer w.c.SetReadDeadline(time.Time{})
	var size [4]byte
	if _, err := io.ReadFull(w.r, size[:]); err != nil {
		return 0, nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < wire.ResponseHeaderLen || n > 200<<20 {
		return 0, nil, fmt.Errorf("response frame size %d", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(w.r, payload); err != nil {
		return 0, nil, err
	}
	corr, body, err := wire.ParseResponseHeader(payload)
	return corr, body, err
}

// roundTrip sends req and decodes the matching response into resp.
func (w *wireConn) roundTrip(req wire.Request, resp wire.Response) {
	w.t.Helper()
	if err := w.tryRoundTrip(req, resp); err != nil {
		w.t.Fatal(err)
	}
}

// tryRoundTrip is roundTrip that returns connection errors (a killed
// broker) instead of failing the test; it is safe off the test goroutine.
func (w *wireConn) tryRoundTrip(req wire.Request, resp wire.Response) error {
	w.corr++
	if _, err := w.c.Write(wire.AppendRequestFrame(nil, w.corr, req)); err != nil {
		return fmt.Errorf("%s: write: %w", req.APIKey(), err)
	}
	got, body, err := w.readFrame(30 * time.Second)
	if err != nil {
		return fmt.Errorf("%s: reading response: %w", req.APIKey(), err)
	}
	if got != w.corr {
		return fmt.Errorf("%s: correlation id %d, want %d", req.APIKey(), got, w.corr)
	}
	if err := resp.Decode(body); err != nil {
		return fmt.Errorf("%s: decoding response: %w", req.APIKey(), err)
	}
	return nil
}

// expectClosed asserts that the broker closes the connection within timeout.
func (w *wireConn) expectClosed(timeout time.Duration) {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		_, err := w.r.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.t.Fatalf("connection still open %v after bad input", timeout)
		}
		return // EOF or reset: closed
	}
}

// batchOf builds one uncompressed batch whose values are fmt("%s-%d", prefix, i).
func batchOf(prefix string, from, n int) []byte {
	var b record.Builder
	b.Reset(nil, record.Options{})
	ts := time.Now().UnixMilli()
	for i := from; i < from+n; i++ {
		b.Append(ts, nil, []byte(fmt.Sprintf("%s-%d", prefix, i)), nil)
	}
	out, err := b.Finish()
	if err != nil {
		panic(err)
	}
	return out
}

func produceReq(topic string, partition int32, acks int16, records []byte) *wire.ProduceRequest {
	return &wire.ProduceRequest{Acks: acks, TimeoutMs: 10000, Topics: []wire.ProduceTopic{{
		Name: topic, Partitions: []wire.ProducePartition{{Partition: partition, Records: records}},
	}}}
}

// produceCode sends one partition's records and returns its error code and base offset.
func (w *wireConn) produceCode(topic string, partition int32, records []byte) (wire.ErrorCode, int64) {
	w.t.Helper()
	var resp wire.ProduceResponse
	w.roundTrip(produceReq(topic, partition, wire.AcksLeader, records), &resp)
	if resp.ErrorCode != wire.None {
		return resp.ErrorCode, -1
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func (w *wireConn) createTopic(name string, partitions int32, configs ...wire.Config) wire.ErrorCode {
	w.t.Helper()
	var resp wire.CreateTopicsResponse
	w.roundTrip(&wire.CreateTopicsRequest{TimeoutMs: 10000, Topics: []wire.CreateTopic{{
		Name: name, Partitions: partitions, ReplicationFactor: 1, Configs: configs,
	}}}, &resp)
	if resp.ErrorCode != wire.None {
		return resp.ErrorCode
	}
	return resp.Topics[0].ErrorCode
}

// readAll fetches partition from offset 0 up to its high watermark and
// returns the record values in offset order, checking offsets are dense.
func (w *wireConn) readAll(topic string, partition int32) []string {
	w.t.Helper()
	var values []string
	next := int64(0)
	var it record.Iter
	for {
		var resp wire.FetchResponse
		w.roundTrip(&wire.FetchRequest{ReplicaID: wire.ConsumerReplicaID, MaxBytes: 8 << 20, Topics: []wire.FetchTopic{{
			Name: topic, Partitions: []wire.FetchPartition{{Partition: partition, CurrentLeaderEpoch: -1, FetchOffset: next, PartitionMaxBytes: 4 << 20}},
		}}}, &resp)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != wire.None {
			w.t.Fatalf("fetch %s-%d at %d: %s", topic, partition, next, p.ErrorCode)
		}
		if next >= p.HighWatermark {
			return values
		}
		recs := p.Records
		for len(recs) > 0 {
			b, err := record.Parse(recs)
			if errors.Is(err, record.ErrShort) {
				break
			}
			if err != nil {
				w.t.Fatalf("fetch %s-%d: %v", topic, partition, err)
			}
			if err := b.Validate(); err != nil {
				w.t.Fatalf("fetch %s-%d: batch at %d: %v", topic, partition, b.BaseOffset(), err)
			}
			if err := it.Reset(b); err != nil {
				w.t.Fatal(err)
			}
			for it.Next() {
				r := it.Record()
				if r.Offset < next {
					continue
				}
				if r.Offset != next {
					w.t.Fatalf("%s-%d: offset %d after %d: gap", topic, partition, r.Offset, next-1)
				}
				values = append(values, string(r.Value))
				next++
			}
			if err := it.Err(); err != nil {
				w.t.Fatal(err)
			}
			recs = recs[b.Size():]
		}
	}
}
