package cluster

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// pair dials a stream layer of cluster server from one of cluster client
// and returns both ends and what each side's refused callback saw.
func pair(t *testing.T, client, server ID16) (dialed, accepted net.Conn, refusals func() []error) {
	t.Helper()
	var mu sync.Mutex
	var seen []error
	note := func(err error) { mu.Lock(); seen = append(seen, err); mu.Unlock() }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newStreamLayer(ln, "", func() ID16 { return server }, note, nil)
	cli := newStreamLayer(nil, "", func() ID16 { return client }, note, func(string, error) {})
	t.Cleanup(func() { srv.Close() })
	got := make(chan net.Conn, 1)
	go func() {
		if c, err := srv.Accept(); err == nil {
			got <- c
		}
	}()
	dialed, err = cli.Dial(raft.ServerAddress(ln.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close() })
	if client.IsZero() || server.IsZero() || client == server {
		accepted = <-got
		t.Cleanup(func() { accepted.Close() })
	}
	return dialed, accepted, func() []error { mu.Lock(); defer mu.Unlock(); return append([]error(nil), seen...) }
}

func TestHandshakeSameOrUnknownCluster(t *testing.T) {
	for _, ids := range [][2]ID16{{{1}, {1}}, {{}, {1}}, {{1}, {}}, {{}, {}}} {
		dialed, accepted, refusals := pair(t, ids[0], ids[1])
		if _, err := dialed.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(accepted, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("%v: accepted side read %q, %v", ids, buf, err)
		}
		if _, err := accepted.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(dialed, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("%v: dialed side read %q, %v", ids, buf, err)
		}
		if r := refusals(); len(r) != 0 {
			t.Fatalf("%v: refusals %v", ids, r)
		}
	}
}

// A connection from another cluster never reaches raft: the accepting side
// answers the refusal and closes it.
func TestHandshakeOtherCluster(t *testing.T) {
	dialed, _, refusals := pair(t, ID16{1}, ID16{2})
	dialed.Write([]byte("a raft request"))
	if _, err := dialed.Read(make([]byte, 16)); !errors.Is(err, errOtherCluster) {
		t.Fatalf("dialed side: err = %v, want errOtherCluster", err)
	}
	if r := refusals(); len(r) != 2 {
		t.Fatalf("refusals %v, want one per side", r)
	}
	t.Log(refusals()[0])
}

func TestHandshakeNotSpate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := newStreamLayer(ln, "", func() ID16 { return ID16{} }, func(error) {}, nil)
	go srv.Accept()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(handshakeTimeout + 5*time.Second))
	// Closed with the request unread: EOF or a reset, never an answer.
	if n, err := io.Copy(io.Discard, c); n != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("read %d bytes, %v; want the connection closed unanswered", n, err)
	}
	srv.Close()
}
