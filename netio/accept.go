package netio

import (
	"errors"
	"fmt"
	"log"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Accepting connections
//
// gnet's own acceptor gives up at the first accept error other than EAGAIN:
// with EMFILE its main reactor exits, closing the port and every connection,
// while the process lives on. So the Server accepts with a net.Listener in
// one goroutine (accept is not a hot path) and hands each connection to a
// gnet.Client's event loops with EnrollContext. EnrollContext dups the
// socket and closes the original, so a connection still costs one
// descriptor once enrolled (two for a moment), and the loops read, write and
// sendfile on the same kind of gnet.Conn as before.
//
// Out of descriptors (EMFILE, ENFILE), the loop counts the failure, logs it
// at most once per fdLogEvery, and sheds the oldest pending connection with
// the spare-descriptor trick: it closes a descriptor kept open on /dev/null
// for this purpose, accepts and closes the connection, and reopens the spare.
// The client sees its connection close instead of waiting in the backlog.
// With nothing to shed, the loop backs off (fdBackoffMin doubling up to
// fdBackoffMax) and tries again, because Linux fails accept with EMFILE
// before it looks at the backlog, so an accept would not wait.

const (
	fdLogEvery   = 10 * time.Second
	fdBackoffMin = 5 * time.Millisecond
	fdBackoffMax = 200 * time.Millisecond
)

// acceptor is the accept loop's state; spare and lastLog are touched only by
// the accept goroutine (and by stopAccepting once that goroutine is done).
type acceptor struct {
	quit chan struct{}
	done chan struct{}
	// spare is a descriptor on /dev/null given up to shed a connection, or
	// -1 when it could not be reopened.
	spare int
	// lastLog is when the last "out of descriptors" line was logged, and
	// refusedAtLog the refused count then.
	lastLog      time.Time
	refusedAtLog int64
	// lastExhausted is the monotonic time (Server.monoNow) of the last
	// EMFILE or ENFILE; meaningful once stats.fdExhausted > 0.
	lastExhausted atomic.Int64
}

func (a *acceptor) init() {
	a.quit = make(chan struct{})
	a.done = make(chan struct{})
	a.spare = openSpare()
}

func openSpare() int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// acceptLoop accepts connections until stopAccepting and enrolls each in an
// event loop; see "Accepting connections" above.
func (s *Server) acceptLoop() {
	defer close(s.acceptor.done)
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			backoff = 0
			s.enroll(nc)
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if isFDExhausted(err) {
			s.fdExhausted(err)
			if s.shed() {
				continue
			}
		} else {
			log.Printf("netio: accept on %v: %v", s.addr, err)
		}
		backoff = min(max(2*backoff, fdBackoffMin), fdBackoffMax)
		select {
		case <-s.acceptor.quit:
			return
		case <-time.After(backoff):
		}
	}
}

// enroll hands nc to an event loop; OnOpen then registers it. On failure
// nc is closed (EnrollContext closes it either way).
func (s *Server) enroll(nc net.Conn) {
	_, err := s.cli.EnrollContext(nc, nil)
	if err == nil {
		return
	}
	if isFDExhausted(err) {
		s.fdExhausted(err)
		s.stats.refused.Add(1)
		return
	}
	log.Printf("netio: hand connection from %v to an event loop: %v", nc.RemoteAddr(), err)
}

// shed gives up the spare descriptor to accept the oldest pending
// connection and close it at once, then takes the spare back. It reports
// whether a connection was shed.
func (s *Server) shed() bool {
	a := &s.acceptor
	if a.spare < 0 {
		a.spare = openSpare()
		return false
	}
	_ = unix.Close(a.spare)
	a.spare = -1
	shed := false
	if rc, err := s.ln.SyscallConn(); err == nil {
		_ = rc.Control(func(lfd uintptr) {
			// The listener is non-blocking: EAGAIN when the backlog is empty.
			nfd, _, err := unix.Accept4(int(lfd), unix.SOCK_CLOEXEC)
			if err == nil {
				_ = unix.Close(nfd)
				shed = true
			}
		})
	}
	a.spare = openSpare()
	if shed {
		s.stats.refused.Add(1)
	}
	return shed
}

// fdExhausted counts an EMFILE or ENFILE and logs it, rate-limited.
func (s *Server) fdExhausted(err error) {
	a := &s.acceptor
	a.lastExhausted.Store(s.monoNow())
	s.stats.fdExhausted.Add(1)
	if now := time.Now(); now.Sub(a.lastLog) >= fdLogEvery {
		refused := s.stats.refused.Load()
		since := ""
		if n := refused - a.refusedAtLog; n > 0 {
			since = fmt.Sprintf(" (%d refused since the last report)", n)
		}
		log.Printf("netio: accept on %v: out of file descriptors: %v; refusing new connections until some close%s; "+
			"raise RLIMIT_NOFILE or lower the connection count", s.addr, err, since)
		a.lastLog, a.refusedAtLog = now, refused
	}
}

// stopAccepting closes the listener and waits for the accept loop to end.
func (s *Server) stopAccepting() {
	close(s.acceptor.quit)
	_ = s.ln.Close()
	<-s.acceptor.done
	if s.acceptor.spare >= 0 {
		_ = unix.Close(s.acceptor.spare)
		s.acceptor.spare = -1
	}
}

// SinceFDExhausted reports how long ago accepting a connection last failed
// for lack of a file descriptor, and false if it never did. Safe from any
// goroutine.
func (s *Server) SinceFDExhausted() (time.Duration, bool) {
	if s.stats.fdExhausted.Load() == 0 {
		return 0, false
	}
	return time.Duration(s.monoNow() - s.acceptor.lastExhausted.Load()), true
}

// isFDExhausted tells whether err says the process (EMFILE) or the system
// (ENFILE) is out of file descriptors.
func isFDExhausted(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}
