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
	stats       struct {
		faulted, sendfiles, writableWaits, directBytes, fdExhausted, refused, loopWakes atomic.Int64
	}
	nextID atomic.Uint64

	// epoch is the zero of the monotonic clock idle times are kept in; the
	// wall clock can step or slew, which once closed a connection 10 ms
	// before its idle timeout.
	epoch time.Time

	// cli runs the event loops; connections come from our own accept loop
	// (accept.go), not from a gnet listener.
	cli      *gnet.Client
	ln       *net.TCPListener
	addr     net.Addr
	acceptor acceptor

	faultQueue chan *Responder
	workers    sync.WaitGroup
	writable   *writableWatcher

	mu struct {
		sync.Mutex
		conns map[uint64]*conn
		// passes holds each event loop's pass state (pass.go).
		passes map[gnet.EventLoop]*loopPass
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
		faultQueue: make(chan *Responder, 1024),
	}
	s.observer, _ = h.(ConnObserver)
	s.mu.conns = make(map[uint64]*conn)
	s.mu.passes = make(map[gnet.EventLoop]*loopPass)
	return s, nil
}

// monoNow is the monotonic time since the server was made, in nanoseconds.
func (s *Server) monoNow() int64 { return int64(time.Since(s.epoch)) }

// Start binds Config.Addr and serves in the background until Stop.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	// net.Listen sets SO_REUSEADDR, as a broker restarted after a crash
	// needs: connections of the old process may sit in TIME_WAIT.
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.stopped.Store(true)
		return fmt.Errorf("netio: listen on %s: %w", s.cfg.Addr, err)
	}
	if s.writable, err = newWritableWatcher(s); err != nil {
		s.stopped.Store(true)
		_ = ln.Close()
		return err
	}
	go s.writable.run()
	cli, err := gnet.NewClient(events{s},
		gnet.WithMulticore(s.cfg.Multicore),
		gnet.WithNumEventLoop(s.cfg.NumEventLoop),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{}),
	)
	if err == nil {
		err = cli.Start()
	}
	if err != nil {
		s.stopped.Store(true)
		_ = ln.Close()
		s.writable.stop()
		return fmt.Errorf("netio: start event loops for %s: %w", s.cfg.Addr, err)
	}
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.faultWorker()
	}
	s.cli = cli
	s.ln = ln.(*net.TCPListener)
	s.addr = ln.Addr()
	s.acceptor.init()
	go s.acceptLoop()
	return nil
}

// Addr is the bound listen address (the real port when Config.Addr asked
// for port 0). Valid after Start returned nil.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop shuts the server down gracefully (later calls return nil): new connections are closed on
// accept and no new frame is served; responses to frames already served are
// written until all are on the socket or ctx ends; then every
// connection is closed and the event loops exit. Stop returns ctx's error
// if it ended first (the shutdown still completes).
func (s *Server) Stop(ctx context.Context) error {
	if !s.started.Load() || !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	s.draining.Store(true)
	waitErr := s.awaitQuiet(ctx)

	s.stopAccepting()
	// The event loops close every connection as they exit.
	runErr := s.cli.Stop()
	s.writable.stop()

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

// awaitQuiet waits until no frame is outstanding: every response is on the
// socket (a response stays outstanding until its last byte is written).
func (s *Server) awaitQuiet(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.outstanding.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
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
	// WritableWaits counts the times a response's rest waited for its
	// socket to drain (the writable watcher) after a short write.
	WritableWaits int64
	// DirectBytes is the response bytes netio wrote to sockets itself, by
	// writev(2) and sendfile(2). netio hands gnet no response bytes, so
	// this is every response byte sent.
	DirectBytes int64
	// FDExhausted counts accepts (or the hand-over of an accepted
	// connection to an event loop) that failed with EMFILE or ENFILE.
	FDExhausted int64
	// RefusedConns counts connections closed right after accept because the
	// process had no descriptor to serve them with.
	RefusedConns int64
	// LoopWakes counts the event-loop wakes (gnet's Conn.Wake, an eventfd
	// write) made to write completed responses or continue a drained
	// socket's response. A response completed while its connection's loop
	// is in a pass, on that loop or not, needs none (pass.go).
	LoopWakes int64
}

// Stats returns the current counters. Safe from any goroutine.
func (s *Server) Stats() Stats {
	return Stats{
		FaultedResponses: s.stats.faulted.Load(),
		SendfileCalls:    s.stats.sendfiles.Load(),
		WritableWaits:    s.stats.writableWaits.Load(),
		DirectBytes:      s.stats.directBytes.Load(),
		FDExhausted:      s.stats.fdExhausted.Load(),
		RefusedConns:     s.stats.refused.Load(),
		LoopWakes:        s.stats.loopWakes.Load(),
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

// OnShutdown has nothing to do: Stop cleans up after the loops exit.
func (events) OnShutdown(gnet.Engine) {}

// OnBoot has nothing to do: Start binds the listener itself.
func (events) OnBoot(gnet.Engine) gnet.Action { return gnet.None }

// OnOpen registers the connection; while draining it is closed at once.
func (s events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	c := &conn{srv: s.Server, gc: gc, fd: gc.Fd(), pass: s.passFor(gc.EventLoop())}
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
	return c.pass.run(c)
}

// OnTick closes idle connections. It runs on gnet's ticker goroutine, not
// on a loop, so it only uses concurrency-safe calls.
func (s events) OnTick() (time.Duration, gnet.Action) {
	now := s.monoNow()
	for _, c := range s.snapshotConns() {
		if c.outstanding.Load() == 0 && now-c.lastActive.Load() > int64(s.cfg.IdleTimeout) {
			_ = c.gc.Close()
		}
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
