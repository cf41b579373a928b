package faultproxy

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line on c and reads it back within d.
func roundTrip(c net.Conn, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		return errors.New("wrong echo " + line)
	}
	return err
}

// TestCutAndHeal: through the proxy lines echo; a cut resets the open
// connection and holds a new one without forwarding (its read times out,
// the dial itself succeeds); after Heal a new connection echoes again.
func TestCutAndHeal(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, 10*time.Second); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	p.Cut()
	if err := roundTrip(c, 10*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("open connection after the cut: %v, want it reset or closed", err)
	}
	held, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial during the cut: %v (a blackhole still accepts)", err)
	}
	defer held.Close()
	if err := roundTrip(held, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection during the cut: %v, want a timeout (nothing forwarded)", err)
	}

	p.Heal()
	again, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := roundTrip(again, 10*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}

// TestCutFrom: only the matching client's connections are dropped and
// held; another client's keep echoing, and Heal lets the first back.
func TestCutFrom(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cut, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	other, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, c := range []net.Conn{cut, other} {
		if err := roundTrip(c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	victim := cut.LocalAddr().String()
	p.CutFrom(func(client net.Addr) bool { return client.String() == victim })
	if err := roundTrip(cut, 10*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("matching connection after CutFrom: %v, want it reset", err)
	}
	if err := roundTrip(other, 10*time.Second); err != nil {
		t.Fatalf("other connection after CutFrom: %v", err)
	}
	p.Heal()
	if err := roundTrip(other, 10*time.Second); err != nil {
		t.Fatalf("other connection after Heal: %v", err)
	}
}
