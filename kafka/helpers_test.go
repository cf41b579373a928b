package kafka_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/broker/brokertest"
	"github.com/spate-io/spate/record"
)

// startBroker runs a broker in this process; its Kafka listener is on a
// port of its own (brokertest sets kafka.addr to 127.0.0.1:0).
func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	return brokertest.Start(t, nil)
}

// kconn is a raw Kafka connection: requests encoded by kmsg, answers read
// and decoded one at a time.
type kconn struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dial(t testing.TB, addr string) *kconn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &kconn{t: t, c: c}
}

// appendRequestFrame encodes req at its version with the request header
// Kafka clients send (v2, with tagged fields, for flexible versions).
func appendRequestFrame(dst []byte, req kmsg.Request, corr int32) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, 4)
	dst = append(dst, "test"...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func (k *kconn) send(req kmsg.Request) int32 {
	k.t.Helper()
	k.corr++
	k.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := k.c.Write(appendRequestFrame(nil, req, k.corr)); err != nil {
		k.t.Fatalf("write key %d v%d: %v", req.Key(), req.GetVersion(), err)
	}
	return k.corr
}

// readFrame reads one response frame and returns its payload.
func (k *kconn) readFrame() ([]byte, error) {
	k.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(k.c, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(k.c, b)
	return b, err
}

// decode reads the answer to the request sent as corr into resp.
func (k *kconn) decode(corr int32, resp kmsg.Response) {
	k.t.Helper()
	b, err := k.readFrame()
	if err != nil {
		k.t.Fatalf("read answer to key %d: %v", resp.Key(), err)
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		k.t.Fatalf("answer to key %d has correlation id %d, want %d", resp.Key(), got, corr)
	}
	b = b[4:]
	if resp.IsFlexible() && resp.Key() != 18 {
		b = b[1:] // response header tags
	}
	if err := resp.ReadFrom(b); err != nil {
		k.t.Fatalf("decode answer to key %d v%d: %v", resp.Key(), resp.GetVersion(), err)
	}
}

// do sends req at version v and decodes its answer.
func do[R kmsg.Response](k *kconn, req kmsg.Request, v int16) R {
	k.t.Helper()
	req.SetVersion(v)
	resp := req.ResponseKind().(R)
	k.decode(k.send(req), resp)
	return resp
}

// closed reports whether the peer closed the connection within 10 s
// (reading past whatever it still sent).
func (k *kconn) closed() bool {
	k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := k.c.Read(buf); err != nil {
			ne, ok := err.(net.Error)
			return !(ok && ne.Timeout())
		}
	}
}

// batch encodes a RecordBatch v2 of n records "key-i"/"value-i" from first.
func batch(t testing.TB, first, n int) []byte {
	t.Helper()
	return build(t, record.Options{}, first, n)
}

// idempotentBatch is a batch of n records from producer id/epoch with
// base sequence seq.
func idempotentBatch(t *testing.T, id int64, epoch int16, seq int32, n int) []byte {
	t.Helper()
	return build(t, record.Options{HasProducer: true, ProducerID: id, ProducerEpoch: epoch, BaseSequence: seq}, 0, n)
}

func build(t testing.TB, opts record.Options, first, n int) []byte {
	t.Helper()
	var b record.Builder
	b.Reset(nil, opts)
	for i := first; i < first+n; i++ {
		b.Append(time.Now().UnixMilli(), []byte(fmt.Sprint("key-", i)), []byte(fmt.Sprint("value-", i)), nil)
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
