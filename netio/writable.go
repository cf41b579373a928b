package netio

import (
	"errors"
	"fmt"
	"log"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// writableWatcher tells a connection's loop when its socket can take more
// bytes. gnet v2 has no such event for us: it watches writability only
// while its own outbound buffer holds bytes, and putting the rest of a
// response there would copy record bytes in user space. So the server
// keeps its own epoll set, in which a connection with an unsent tail is
// armed for EPOLLOUT once (EPOLLONESHOT); one goroutine waits on it and
// wakes the connection's loop, which continues the write.
//
// A descriptor may sit in several epoll sets; gnet's keeps watching it for
// reads. The event carries the connection's ID, not a pointer, so an event
// that arrives after its connection closed finds nothing and is dropped.
type writableWatcher struct {
	srv  *Server
	epfd int
	// stopfd is an eventfd in the set; a write to it ends run.
	stopfd int
	done   chan struct{}
	// stopping is closed by stop, for a run that ended early.
	stopping chan struct{}
	// failed is set if epoll_wait itself failed; arm then refuses, so a
	// connection that needs a wake closes instead of hanging.
	failed atomic.Bool
}

func newWritableWatcher(s *Server) (*writableWatcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netio: epoll for writable sockets: %w", err)
	}
	stopfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("netio: eventfd for the writable watcher: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1, Pad: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, stopfd, &ev); err != nil {
		_ = unix.Close(stopfd)
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("netio: watch the writable watcher's eventfd: %w", err)
	}
	return &writableWatcher{srv: s, epfd: epfd, stopfd: stopfd, done: make(chan struct{}), stopping: make(chan struct{})}, nil
}

var errWatcherFailed = errors.New("netio: the writable watcher stopped after an epoll_wait error")

// stopID marks the stop eventfd's events (both halves -1): connection IDs
// start at 1 and never reach it.
const stopID = ^uint64(0)

func eventID(ev *unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

// arm asks for one wake of c's loop once c's socket is writable. If it is
// writable already, epoll reports that at once. Loop only.
func (w *writableWatcher) arm(c *conn) error {
	if w.failed.Load() {
		return fmt.Errorf("netio: connection %d: wait for the socket to drain: %w", c.info.ID, errWatcherFailed)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(uint32(c.info.ID)), Pad: int32(uint32(c.info.ID >> 32))}
	op := unix.EPOLL_CTL_MOD
	if !c.watched {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(w.epfd, op, c.fd, &ev); err != nil {
		return fmt.Errorf("netio: connection %d: wait for the socket to drain: %w", c.info.ID, err)
	}
	c.watched = true
	return nil
}

// forget takes c's descriptor out of the set before gnet closes it (gnet
// runs OnClose first), so that a later connection given the same
// descriptor number starts clean. Loop only.
func (w *writableWatcher) forget(c *conn) {
	if c.watched {
		// The close that follows removes it anyway; this only makes it
		// independent of how many descriptors share the socket.
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		c.watched = false
	}
}

// run waits for writable sockets and wakes their loops until stop.
func (w *writableWatcher) run() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Only a bad descriptor or buffer gets here, which is a bug.
			// Connections armed now would hang: wake them all, and from now
			// on arm fails and closes the connection that asks.
			log.Printf("netio: epoll_wait of the writable watcher: %v; connections that fill their socket will be closed", err)
			w.failed.Store(true)
			for _, c := range w.srv.snapshotConns() {
				c.wakeLoop()
			}
			<-w.stopping
			return
		}
		for i := range events[:n] {
			id := eventID(&events[i])
			if id == stopID {
				return
			}
			w.srv.mu.Lock()
			c := w.srv.mu.conns[id]
			w.srv.mu.Unlock()
			if c != nil {
				c.wakeLoop()
			}
		}
	}
}

// stop ends run and closes the descriptors. Call once, after the loops
// stopped.
func (w *writableWatcher) stop() {
	close(w.stopping)
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(w.stopfd, one)
	<-w.done
	_ = unix.Close(w.stopfd)
	_ = unix.Close(w.epfd)
}
