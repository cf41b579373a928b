package cluster

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzDecodeCall: the call server's decoders refuse bad bytes with
// ErrCorrupt and never panic; what they accept re-encodes to itself.
func FuzzDecodeCall(f *testing.F) {
	f.Add(opHeartbeat, appendInt64(appendInt64(appendInt32(nil, 1), 7), 9))
	f.Add(opCreateTopic, appendConfigs(appendInt32(appendInt32(appendString(nil, "t"), 3), 1), map[string]string{"a": "b"}))
	f.Add(opAlterPartition, appendInt32s(appendInt32(appendInt32(appendInt32(appendInt32(appendString(nil, "t"), 0), 1), 2), 3), []int32{1, 2}))
	f.Add(opRegisterBroker, append(RegisterBroker{BrokerID: 2, Addrs: BrokerAddrs{Native: "a:1"}}.appendBody(nil), 1))
	f.Add(opLiveness, []byte{})
	f.Add(opAlterConfigs, appendStrings(appendConfigs(appendString(nil, "t"), map[string]string{"retention.ms": "1"}), []string{"segment.ms"}))
	f.Add(opAdoptTopics, appendAdoptedTopics(appendInt64(appendInt64(appendInt32(nil, 1), 2), 3000), []AdoptedTopic{{Name: "t", Partitions: 2, Configs: map[string]string{"a": "b"}}}))
	f.Add(byte(0), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, op byte, args []byte) {
		c, err := decodeCall(op, args)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			return
		}
		if c.op != op {
			t.Fatalf("op %d decoded as %d", op, c.op)
		}
	})
}

func FuzzDecodeAnswer(f *testing.F) {
	f.Add(byte(0), appendLiveness(nil, []BrokerLiveness{{BrokerID: 1, LastSeen: time.UnixMilli(5)}}))
	f.Add(byte(1), appendCallError(nil, ErrTopicExists))
	f.Add(byte(2), []byte{})
	f.Fuzz(func(t *testing.T, status byte, body []byte) {
		res, err := decodeAnswer(status, body)
		if err == nil {
			r := &reader{buf: res, what: "liveness"}
			readLiveness(r)
			if r.err != nil && !errors.Is(r.err, ErrCorrupt) {
				t.Fatalf("liveness: %v", r.err)
			}
		}
	})
}

// A forwarded call's error keeps its kind and message.
func TestCallErrorRoundTrip(t *testing.T) {
	for _, kind := range callErrors {
		in := errors.Join(kind, errors.New("topic x"))
		_, err := decodeAnswer(1, appendCallError(nil, in))
		if !errors.Is(err, kind) || err.Error() != in.Error() {
			t.Fatalf("%v came back as %v", in, err)
		}
	}
	_, err := decodeAnswer(1, appendCallError(nil, errors.New("disk on fire")))
	for _, kind := range callErrors {
		if errors.Is(err, kind) {
			t.Fatalf("an error of no kind came back as %v", kind)
		}
	}
	if err.Error() != "disk on fire" {
		t.Fatalf("message %q", err)
	}
}

func TestLivenessRoundTrip(t *testing.T) {
	in := []BrokerLiveness{{BrokerID: 1, Fenced: true, LastSeen: time.UnixMilli(1234), AppliedOffset: 8, MetadataLag: 2},
		{BrokerID: 3, LastSeen: time.UnixMilli(99), AppliedOffset: -1, MetadataLag: -1}}
	r := &reader{buf: appendLiveness(nil, in), what: "liveness"}
	out := readLiveness(r)
	r.end()
	if r.err != nil || len(out) != 2 {
		t.Fatalf("%v, %v", out, r.err)
	}
	for i := range in {
		if !out[i].LastSeen.Equal(in[i].LastSeen) || out[i].BrokerID != in[i].BrokerID || out[i].Fenced != in[i].Fenced ||
			out[i].AppliedOffset != in[i].AppliedOffset || out[i].MetadataLag != in[i].MetadataLag {
			t.Fatalf("%+v came back as %+v", in[i], out[i])
		}
	}
}

// TestHeartbeatOwnConnection: a controller that accepts a call connection
// and then never answers (a paused process) holds a create for as long as
// the create may wait, but a heartbeat goes on a connection of its own and
// fails with ErrNotController within its short timeout, so the broker's
// next heartbeat can reach a newly elected controller before the session
// expires.
func TestHeartbeatOwnConnection(t *testing.T) {
	n := startSolo(t, t.TempDir(), 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			go func() {
				answerHello(c, n.knownClusterID(), func(error) {})
				accepted <- struct{}{} // then silence: never reads a call, never answers
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})

	create := make(chan error, 1)
	go func() {
		_, err := n.calls.call(n, ln.Addr().String(), opCreateTopic, []byte{0}, callTimeout)
		create <- err
	}()
	<-accepted
	_, err = n.hbCalls.call(n, ln.Addr().String(), opHeartbeat, make([]byte, 20), 200*time.Millisecond)
	if !errors.Is(err, ErrNotController) {
		t.Fatalf("heartbeat to a silent controller: %v, want ErrNotController", err)
	}
	select {
	case err := <-create:
		t.Fatalf("the create returned (%v) before the heartbeat's timeout: the test proves nothing", err)
	default:
	}
}
