package brokertest

import (
	"net"
	"testing"
)

func TestStartAndRestartOnSameAddress(t *testing.T) {
	b := Start(t, nil)
	addr, dir := b.Addr(), b.DataDir()
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	} else {
		c.Close()
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := StartOn(t, dir, addr, nil)
	if b2.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", b2.Addr(), addr)
	}
}
