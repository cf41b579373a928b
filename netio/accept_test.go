package netio

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptSurvivesFDExhaustion lowers the test process's RLIMIT_NOFILE
// just above the descriptors it has open and dials until the server runs
// out. Client and server share the limit, so the server's accept (or its
// hand-over to a loop) is what fails first: the client's socket exists
// before the server accepts it. The refused connection must be closed, not
// left hanging, and once the clients hang up the same listener serves again.
func TestAcceptSurvivesFDExhaustion(t *testing.T) {
	s := startServer(t, Config{}, echoHandler{})
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open descriptors: %v", err)
	}
	low := orig
	low.Cur = uint64(len(open) + 40)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatalf("lower RLIMIT_NOFILE to %d: %v", low.Cur, err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
				t.Errorf("restore RLIMIT_NOFILE: %v", err)
			}
		}
	}
	t.Cleanup(restore)

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	var refused error
	for i := 0; i < 100 && refused == nil && s.Stats().FDExhausted == 0; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatalf("dial %d failed (%v) before the server ran out of descriptors", i, err)
		}
		held = append(held, c)
		refused = echoOnce(c, []byte("ping"))
	}
	// The server counts the failure just after it closes the connection.
	eventually(t, "the server counting that it ran out of descriptors", func() bool {
		return s.Stats().FDExhausted > 0
	})
	// The connection the server could not take is closed (the loop above
	// may have stopped on the counter before its echo: try it now).
	if refused == nil {
		refused = echoOnce(held[len(held)-1], []byte("ping"))
	}
	var ne net.Error
	if refused == nil || (errors.As(refused, &ne) && ne.Timeout()) {
		t.Fatalf("the connection the server had no descriptor for: echo err = %v, want closed", refused)
	}
	if _, ok := s.SinceFDExhausted(); !ok {
		t.Fatal("SinceFDExhausted reports no exhaustion after one")
	}

	for _, c := range held {
		c.Close()
	}
	held = nil
	restore()
	eventually(t, "a connection served after the flood", func() bool {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			return false
		}
		defer c.Close()
		return echoOnce(c, []byte("after")) == nil
	})
	if st := s.Stats(); st.RefusedConns == 0 {
		t.Fatalf("Stats = %+v, want RefusedConns > 0", st)
	}
}

// echoOnce sends one frame on c and reads its echo within 10 s.
func echoOnce(c net.Conn, p []byte) error {
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write(AppendFrame(nil, p)); err != nil {
		return err
	}
	got, err := readFrame(c)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, p) {
		return errors.New("echo differs")
	}
	return nil
}

// TestAcceptedSocketOptions: the listener keeps SO_REUSEADDR (a restarted
// broker gets its port back past TIME_WAIT) and served connections have
// TCP_NODELAY, as with gnet's own acceptor.
func TestAcceptedSocketOptions(t *testing.T) {
	s := startServer(t, Config{}, echoHandler{})
	rc, err := s.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var reuse int
	var optErr error
	if err := rc.Control(func(fd uintptr) {
		reuse, optErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR)
	}); err != nil || optErr != nil || reuse != 1 {
		t.Errorf("listener SO_REUSEADDR = %d (%v, %v), want 1", reuse, err, optErr)
	}
	c := dial(t, s)
	if err := echoOnce(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	conns := s.snapshotConns()
	if len(conns) != 1 {
		t.Fatalf("%d connections registered, want 1", len(conns))
	}
	if nodelay, err := unix.GetsockoptInt(conns[0].fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || nodelay != 1 {
		t.Errorf("served connection TCP_NODELAY = %d (%v), want 1", nodelay, err)
	}
}
