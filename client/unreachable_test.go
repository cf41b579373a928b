package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestAdminUnreachableTimeout: with no broker listening, an admin call
// ends after UnreachableTimeout, not its context, with one plain
// connection error that is still retriable and matches ECONNREFUSED.
func TestAdminUnreachableTimeout(t *testing.T) {
	addr := closedAddr(t)
	a, err := NewAdmin(SeedBrokers(addr), UnreachableTimeout(300*time.Millisecond), RetryBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = a.ListTopics(ctx)
	var ce *ConnectError
	if !errors.As(err, &ce) || ctx.Err() != nil {
		t.Fatalf("ListTopics without a broker = %v (context %v), want a *ConnectError before the context ends", err, ctx.Err())
	}
	want := "client: list topics: cannot connect to " + addr + ": connection refused"
	if err.Error() != want || !wire.IsRetriable(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q (retriable %v), want %q, retriable and ECONNREFUSED", err, wire.IsRetriable(err), want)
	}
}

// TestProduceInvalidTopicName: a name the broker would refuse fails in
// Produce itself, without any request.
func TestProduceInvalidTopicName(t *testing.T) {
	p, err := NewProducer(SeedBrokers(closedAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, name := range []string{"a/b", "..", "", strings.Repeat("x", 250)} {
		var got error
		called := false
		p.Produce(context.Background(), &Record{Topic: name, Value: []byte("v")}, func(_ *Record, err error) { called, got = true, err })
		if !called || !errors.Is(got, wire.ErrInvalidTopic) {
			t.Errorf("Produce to %.20q: callback called %v with %v, want ErrInvalidTopic at once", name, called, got)
		}
	}
}

// TestConnectErrorLog: one line per address while it fails, one when it
// connects again.
func TestConnectErrorLog(t *testing.T) {
	var b strings.Builder
	h := ConnectErrorLog(&b, "spate: ").(HookBrokerConnect)
	refused := &ConnectError{Addr: "h:1", Err: syscall.ECONNREFUSED}
	h.OnBrokerConnect(-1, "h:1", time.Millisecond, refused)
	h.OnBrokerConnect(-1, "h:1", time.Millisecond, refused)
	h.OnBrokerConnect(-1, "h:1", time.Millisecond, nil)
	h.OnBrokerConnect(-1, "h:1", time.Millisecond, nil)
	want := "spate: cannot connect to h:1: connection refused; retrying\nspate: connected to h:1\n"
	if b.String() != want {
		t.Errorf("log %q, want %q", b.String(), want)
	}
}
