package netio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// ErrAlreadyStarted is returned by a second call of Start.
var ErrAlreadyStarted = errors.New("netio: server already started")

// errNoBoundAddr fails Start when the listener's address cannot be read.
var errNoBoundAddr = errors.New("netio: cannot read the listener's bound address")

// Server is a gnet v2 server of length-prefixed frames. See the package doc.
type Server struct {
	cfg     Config
	handler Handler
	// observer is handler as a ConnObserver, or nil.
	observer ConnObserver

	started  atomic.Bool
	stopped  atomic.Bool
	draining atomic.Bool
	// outstanding counts frames served and not yet written or dropped, over
	// all connections; Stop waits for it to reach zero.
	outstanding atomic.Int64
	stats       struct{ faulted, sendfiles, queued atomic.Int64 }
	nextID      atomic.Uint64

	// epoch is the zero of the monotonic clock idle times are kept in; the
	// wall clock can step or slew, which once closed a connection 10 ms
	// before its idle timeout.
	epoch time.Time

	eng     gnet.Engine
	addr    net.Addr
	booted  chan struct{}
	runDone chan error

	faultQueue chan *Responder
	workers    sync.WaitGroup

	mu struct {
		sync.Mutex
		conns map[uint64]*conn
	}
}

// NewServer returns a Server for cfg that passes frames to h. If h also
// implements ConnObserver it sees every connection open and close.
func NewServer(cfg Config, h Handler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		handler:    h,
		epoch:      time.Now(),
		booted:     make(chan struct{}),
		runDone:    make(chan error, 1),
		faultQueue: make(chan *Responder, 1024),
	}
	s.observer, _ = h.(ConnObserver)
	s.mu.conns = make(map[uint64]*conn)
	return s, nil
}

// monoNow is the monotonic time since the server was made, in nanoseconds.
func (s *Server) monoNow() int64 { return int64(time.Since(s.epoch)) }

// Start binds Config.Addr and serves in the background until Stop.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.faultWorker()
	}
	opts := []gnet.Option{
		gnet.WithMulticore(s.cfg.Multicore),
		gnet.WithNumEventLoop(s.cfg.NumEventLoop),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		// One listener: with SO_REUSEPORT each loop would bind its own
		// socket, and port 0 would give each a different port.
		gnet.WithReusePort(false),
		// SO_REUSEADDR: a broker restarted after a crash must get its port
		// back although connections of the old process sit in TIME_WAIT.
		gnet.WithReuseAddr(true),
		gnet.WithLogger(gnetLogger{}),
	}
	go func() { s.runDone <- gnet.Run(events{s}, "tcp://"+s.cfg.Addr, opts...) }()
	select {
	case <-s.booted:
		return nil
	case err := <-s.runDone:
		s.runDone <- err
		s.stopped.Store(true)
		close(s.faultQueue)
		s.workers.Wait()
		if err == nil {
			// gnet.Run returns nil when OnBoot asked for a shutdown.
			err = errNoBoundAddr
		}
		return fmt.Errorf("netio: listen on %s: %w", s.cfg.Addr, err)
	}
}

// Addr is the bound listen address (the real port when Config.Addr asked
// for port 0). Valid after Start returned nil.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop shuts the server down gracefully (later calls return nil): new connections are closed on
// accept and no new frame is served; responses to frames already served are
// written until all are out of gnet's buffers or ctx ends; then every
// connection is closed and the event loops exit. Stop returns ctx's error
// if it ended first (the shutdown still completes).
func (s *Server) Stop(ctx context.Context) error {
	if !s.started.Load() || !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	s.draining.Store(true)
	waitErr := s.awaitQuiet(ctx)

	// Engine.Stop polls for completion every 500ms; a cancelled context makes
	// it only trigger the shutdown, and gnet.Run returning is the real end.
	trigger, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.eng.Stop(trigger)
	runErr := <-s.runDone
	s.runDone <- runErr

	close(s.faultQueue)
	s.workers.Wait()
	if waitErr != nil {
		return fmt.Errorf("netio: stop %v: responses still in flight: %w", s.addr, waitErr)
	}
	if runErr != nil {
		return fmt.Errorf("netio: stop %v: %w", s.addr, runErr)
	}
	return nil
}

// awaitQuiet waits until no frame is outstanding and gnet holds no
// outbound bytes for any connection.
func (s *Server) awaitQuiet(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.outstanding.Load() == 0 && s.outboundQueued() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// outboundQueued sums gnet's outbound bytes over connections, read on each
// connection's loop.
func (s *Server) outboundQueued() int64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, c := range s.snapshotConns() {
		wg.Add(1)
		err := c.gc.Wake(func(gc gnet.Conn, _ error) error {
			defer wg.Done()
			if gc.Context() != nil {
				total.Add(int64(gc.OutboundBuffered()))
			}
			return nil
		})
		if err != nil {
			wg.Done()
		}
	}
	wg.Wait()
	return total.Load()
}

func (s *Server) snapshotConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := make([]*conn, 0, len(s.mu.conns))
	for _, c := range s.mu.conns {
		conns = append(conns, c)
	}
	return conns
}

// Stats are counters of the write paths, for metrics and tests.
type Stats struct {
	// FaultedResponses went to a worker because a file range was not in the
	// page cache.
	FaultedResponses int64
	// SendfileCalls is the number of sendfile(2) calls made.
	SendfileCalls int64
	// QueuedWrites is the number of responses (or remainders) handed to
	// gnet's outbound buffer instead of written directly.
	QueuedWrites int64
}

// Stats returns the current counters. Safe from any goroutine.
func (s *Server) Stats() Stats {
	return Stats{
		FaultedResponses: s.stats.faulted.Load(),
		SendfileCalls:    s.stats.sendfiles.Load(),
		QueuedWrites:     s.stats.queued.Load(),
	}
}

// drop releases r's chunks and returns r to the pool.
func (s *Server) drop(r *Responder) {
	r.releaseChunks()
	s.outstanding.Add(-1)
	r.recycle()
}

// events is the gnet.EventHandler of a Server; a separate type so that the
// callbacks stay out of Server's API.
type events struct{ *Server }

// OnShutdown has nothing to do: Stop cleans up after gnet.Run returns.
func (events) OnShutdown(gnet.Engine) {}

// OnBoot learns the bound address from a dup of gnet's listener socket,
// since gnet binds it itself and does not report the port it got.
func (s events) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	fd, err := eng.Dup()
	if err == nil {
		var sa unix.Sockaddr
		sa, err = unix.Getsockname(fd)
		_ = unix.Close(fd)
		if err == nil {
			s.addr = sockaddrToTCP(sa)
		}
	}
	if err != nil || s.addr == nil {
		// Without an address nobody can connect; refuse to run.
		return gnet.Shutdown
	}
	close(s.booted)
	return gnet.None
}

func sockaddrToTCP(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// OnOpen registers the connection; while draining it is closed at once.
func (s events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	c := &conn{srv: s.Server, gc: gc, fd: gc.Fd()}
	c.info = ConnInfo{ID: s.nextID.Add(1), LocalAddr: gc.LocalAddr(), RemoteAddr: gc.RemoteAddr()}
	c.lastActive.Store(s.monoNow())
	gc.SetContext(c)
	s.mu.Lock()
	s.mu.conns[c.info.ID] = c
	s.mu.Unlock()
	if s.observer != nil {
		s.observer.OnOpen(c.info)
	}
	return nil, gnet.None
}

// OnClose drops the connection's pending responses. It can run inside one
// of our own gnet writes, when gnet closes the connection on a write error.
func (s events) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	c.onClose()
	s.mu.Lock()
	delete(s.mu.conns, c.info.ID)
	s.mu.Unlock()
	switch {
	case c.broken != nil:
		err = c.broken
	case errors.Is(err, io.EOF), errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
		// The peer hung up (gnet reports a read of 0 bytes as "read: EOF"):
		// nothing went wrong on this side.
		err = nil
	}
	if s.observer != nil {
		s.observer.OnClose(c.info, err)
	}
	return gnet.None
}

// OnTraffic runs on new bytes and on Wake (completed responses to write).
func (s events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return c.onTraffic()
}

// OnTick closes idle connections and wakes paused ones. It runs on gnet's
// ticker goroutine, not on a loop, so it only uses concurrency-safe calls.
func (s events) OnTick() (time.Duration, gnet.Action) {
	now := s.monoNow()
	anyPaused := false
	for _, c := range s.snapshotConns() {
		if c.paused.Load() {
			anyPaused = true
			_ = c.gc.Wake(nil)
			continue
		}
		if c.outstanding.Load() == 0 && now-c.lastActive.Load() > int64(s.cfg.IdleTimeout) {
			_ = c.gc.Close()
		}
	}
	if anyPaused {
		// gnet reports no "outbound drained" event; poll paused connections
		// often enough that a reader that resumes sees little extra latency.
		return 2 * time.Millisecond, gnet.None
	}
	return min(s.cfg.IdleTimeout/4, time.Second), gnet.None
}

// gnetLogger keeps gnet's per-server Debug and Info lines (one per Run) out
// of the broker's output and passes warnings and errors to the log package.
type gnetLogger struct{}

func (gnetLogger) Debugf(string, ...any)            {}
func (gnetLogger) Infof(string, ...any)             {}
func (gnetLogger) Warnf(format string, args ...any) { log.Printf("gnet: warn: "+format, args...) }
func (gnetLogger) Errorf(format string, args ...any) {
	log.Printf("gnet: error: "+format, args...)
}
func (gnetLogger) Fatalf(format string, args ...any) { log.Fatalf("gnet: "+format, args...) }
