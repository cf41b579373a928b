package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// reverseServer answers the version handshake, then reads n Metadata
// requests and answers them in reverse order, echoing each request's topic.
func reverseServer(t *testing.T, n int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var d wire.Decoder
		read := func() (wire.RequestHeader, wire.Request) {
			var size [4]byte
			if _, err := io.ReadFull(br, size[:]); err != nil {
				return wire.RequestHeader{}, nil
			}
			payload := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(br, payload); err != nil {
				return wire.RequestHeader{}, nil
			}
			h, req, err := d.Decode(payload)
			if err != nil {
				t.Error(err)
			}
			return h, req
		}
		h, _ := read()
		c.Write(wire.AppendResponseFrame(nil, h.CorrelationID, &wire.APIVersionsResponse{APIs: wire.SupportedVersions()}))
		type pending struct {
			corr  int32
			topic string
		}
		var ps []pending
		for range n {
			h, req := read()
			if req == nil {
				return
			}
			ps = append(ps, pending{h.CorrelationID, req.(*wire.MetadataRequest).Topics[0]})
		}
		var out []byte
		for i := len(ps) - 1; i >= 0; i-- {
			out = wire.AppendResponseFrame(out, ps[i].corr, &wire.MetadataResponse{ControllerID: -1,
				Topics: []wire.MetadataTopic{{Name: ps[i].topic}}})
		}
		c.Write(out)
		io.Copy(io.Discard, br)
	}()
	return ln.Addr().String()
}

// TestConnMatchesOutOfOrderResponses: pipelined requests answered in
// reverse order each get their own response.
func TestConnMatchesOutOfOrderResponses(t *testing.T) {
	const n = 5
	addr := reverseServer(t, n)
	cfg, err := newConfig([]Opt{SeedBrokers(addr)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), cfg, newHooks(nil), 0, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.fail(closeErr(0))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := string(rune('a' + i))
			var resp wire.MetadataResponse
			if err := c.request(testCtx(t), &wire.MetadataRequest{Topics: []string{topic}}, &resp, 10*time.Second); err != nil {
				t.Error(err)
				return
			}
			if got := resp.Topics[0].Name; got != topic {
				t.Errorf("request for %q got the response for %q", topic, got)
			}
		}()
	}
	wg.Wait()
}

// TestConnFailsPendingOnClose: requests in flight when a connection drops
// fail with a retriable error wrapping NETWORK_EXCEPTION, and the conn
// refuses new requests.
func TestConnFailsPendingOnClose(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	defer fb.stallProduce()()
	cfg, err := newConfig([]Opt{SeedBrokers(fb.addr())})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), cfg, newHooks(nil), 0, fb.addr())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	req := &wire.ProduceRequest{Acks: -1, TimeoutMs: 1000}
	if err := c.send(req, time.Minute, func(_ *frame, _ []byte, err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	fb.dropConns()
	select {
	case err := <-errc:
		if !errors.Is(err, wire.ErrNetworkException) || !retriable(err) {
			t.Fatalf("pending request failed with %v, want retriable NETWORK_EXCEPTION", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending request never failed")
	}
	if err := c.send(req, time.Minute, func(*frame, []byte, error) {}); err == nil {
		t.Fatal("a failed connection accepted a request")
	}
}

// TestMetadataRefreshOnNotLeader: NOT_LEADER makes the producer refresh
// metadata and retry; the record is then acknowledged.
func TestMetadataRefreshOnNotLeader(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	var once sync.Once
	fb.produceErr = func(string, int32) wire.ErrorCode {
		code := wire.None
		once.Do(func() { code = wire.NotLeader })
		return code
	}
	p := newTestProducer(t, fb)
	if err := p.ProduceSync(testCtx(t), &Record{Topic: "t", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if n := fb.count(wire.MetadataKey); n < 2 {
		t.Fatalf("%d metadata requests: NOT_LEADER did not trigger a refresh", n)
	}
	if n := fb.count(wire.ProduceKey); n != 2 {
		t.Fatalf("%d produce requests, want 2 (one refused, one retried)", n)
	}
}

// TestPeriodicMetadataRefresh: known topics are refreshed every
// MetadataMaxAge without any error asking for it.
func TestPeriodicMetadataRefresh(t *testing.T) {
	fb := newFakeBroker(t)
	fb.createTopic("t", 1)
	p := newTestProducer(t, fb, MetadataMaxAge(20*time.Millisecond))
	if err := p.ProduceSync(testCtx(t), &Record{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	before := fb.count(wire.MetadataKey)
	waitFor(t, func() bool { return fb.count(wire.MetadataKey) >= before+3 })
}

// TestSendRefusesOnlyUnspokenAPIs: a broker that lacks an API (an older
// broker, a newer client) fails requests of that API with
// ErrUnsupportedVersion, before anything is written, and nothing else.
func TestSendRefusesOnlyUnspokenAPIs(t *testing.T) {
	c := &conn{node: 1, addr: "test", speaks: speaks([]wire.VersionRange{{Key: wire.MetadataKey, MinVersion: 0, MaxVersion: 0}})}
	if !c.speaks[wire.MetadataKey] || c.speaks[wire.ProduceKey] || !c.speaks[wire.APIVersionsKey] {
		t.Fatalf("speaks = %v", c.speaks[:8])
	}
	err := c.send(&wire.ProduceRequest{}, time.Second, nil)
	if !errors.Is(err, wire.ErrUnsupportedVersion) || wire.IsRetriable(err) {
		t.Fatalf("send of an API the broker lacks: %v", err)
	}
}
