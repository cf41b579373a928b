package cluster

// Behavior: every raft connection starts with a handshake naming the
// cluster, so that a node whose data dir belongs to another cluster never
// exchanges a raft message with this one: raft would otherwise truncate or
// overwrite one cluster's log with the other's before any record could be
// checked. The dialer sends a hello; the accepting side answers before it
// passes a byte to raft:
//
//	hello  bytes  field
//	       0-3    magic "SPRC" (raft) or "SPRQ" (controller calls)
//	       4      version 1
//	       5-20   the dialer's cluster id (zeros while it does not know it)
//
//	answer 0      0 accepted, 1 refused: another cluster
//	       1-16   the acceptor's cluster id
//
// A node that does not know its cluster id yet (a fresh data dir) accepts
// and is accepted by anyone; two nodes that both know theirs talk only if
// they are equal. A refusal is remembered (Node.lastRefusal) and named in
// the errors of controller calls, since such a node cannot join a quorum.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

var (
	// helloMagic opens a raft connection, rpcMagic a controller call
	// connection (rpc.go); both then carry the same handshake.
	helloMagic = [4]byte{'S', 'P', 'R', 'C'}
	rpcMagic   = [4]byte{'S', 'P', 'R', 'Q'}
)

const (
	helloVersion     = 1
	helloSize        = 4 + 1 + 16
	answerSize       = 1 + 16
	handshakeTimeout = 10 * time.Second
)

// errOtherCluster: the peer of a raft connection belongs to another cluster.
var errOtherCluster = errors.New("cluster: peer belongs to another cluster")

// streamLayer is raft's TCP stream layer with the cluster handshake. It
// owns the controller listener: its accept loop (started by the first
// Accept) answers each connection's hello in a goroutine of its own, so a
// peer that never sends one holds up nobody, then hands raft connections to
// Accept and controller call connections to serveRPC.
type streamLayer struct {
	ln         net.Listener
	advertised advertisedAddr // what Addr returns
	clusterID  func() ID16    // this node's cluster id, zero while unknown
	refused    func(error)    // called with each refusal, either way
	// dialed is called after each dial with its error (nil on success),
	// so the node can name the voters it cannot reach.
	dialed func(addr string, err error)
	// serveRPC serves a controller call connection that passed the
	// handshake, until it closes; nil refuses such connections.
	serveRPC func(net.Conn)

	start     sync.Once
	raftConns chan net.Conn
	done      chan struct{} // closed when the listener fails or closes
	acceptErr error         // why; set before done closes
}

func newStreamLayer(ln net.Listener, advertised string, clusterID func() ID16, refused func(error), dialed func(string, error)) *streamLayer {
	return &streamLayer{ln: ln, advertised: advertisedAddr(advertised), clusterID: clusterID, refused: refused, dialed: dialed,
		raftConns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next raft connection whose hello was accepted.
func (s *streamLayer) Accept() (net.Conn, error) {
	s.start.Do(func() { go s.acceptLoop() })
	select {
	case c := <-s.raftConns:
		return c, nil
	case <-s.done:
		return nil, s.acceptErr
	}
}

func (s *streamLayer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.acceptErr = err
			close(s.done)
			return
		}
		go s.route(c)
	}
}

// route answers c's hello and passes it on, or closes it.
func (s *streamLayer) route(c net.Conn) {
	magic, err := answerHello(c, s.clusterID(), s.refused)
	switch {
	case err != nil:
		c.Close()
	case magic == rpcMagic && s.serveRPC != nil:
		s.serveRPC(c)
	case magic == rpcMagic:
		c.Close()
	default:
		select {
		case s.raftConns <- c:
		case <-s.done:
			c.Close()
		}
	}
}

func (s *streamLayer) Close() error   { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr { return s.advertised }

// advertisedAddr is the stream layer's address as raft gives it to peers
// (the leader's address in its RPCs, which controller calls dial): the
// advertised one, which may be a proxy's rather than the listener's.
type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	s.dialed(string(addr), err)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(hello(helloMagic, s.clusterID())); err != nil {
		c.Close()
		return nil, fmt.Errorf("cluster: handshake with %s: %w", addr, err)
	}
	return &handshakeConn{Conn: c, s: s, peer: string(addr)}, nil
}

func hello(magic [4]byte, id ID16) []byte {
	return append(append(magic[:], helloVersion), id[:]...)
}

// sameCluster reports whether two cluster ids may talk.
func sameCluster(a, b ID16) bool { return a.IsZero() || b.IsZero() || a == b }

// handshakeConn completes a dialed raft connection's handshake before its
// first read returns, by reading the answer. Raft may write its first
// request before that; a refusing peer drops it unread.
type handshakeConn struct {
	net.Conn
	s    *streamLayer
	peer string
	once sync.Once
	err  error
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		c.err = readAnswer(c.Conn, c.peer, c.s.clusterID(), c.s.refused)
		if c.err != nil {
			c.Conn.Close()
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// answerHello reads an accepted connection's hello, answers it and returns
// its magic; an error means c must be closed.
func answerHello(c net.Conn, ours ID16, refused func(error)) ([4]byte, error) {
	peer := c.RemoteAddr().String()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	var h [helloSize]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return [4]byte{}, fmt.Errorf("cluster: handshake from %s: %w", peer, err)
	}
	magic := [4]byte(h[:4])
	if (magic != helloMagic && magic != rpcMagic) || h[4] != helloVersion {
		return magic, fmt.Errorf("%w: handshake from %s: not a spate controller connection (version %d)", ErrCorrupt, peer, h[4])
	}
	theirs := ID16(h[5:])
	answer := append([]byte{0}, ours[:]...)
	var err error
	if !sameCluster(theirs, ours) {
		answer[0] = 1
		err = fmt.Errorf("%w: %s is of cluster %s, this node of cluster %s", errOtherCluster, peer, theirs, ours)
		refused(err)
	}
	if _, werr := c.Write(answer); werr != nil && err == nil {
		err = fmt.Errorf("cluster: handshake from %s: %w", peer, werr)
	}
	return magic, err
}

// readAnswer reads the answer to a hello this side sent.
func readAnswer(c net.Conn, peer string, ours ID16, refused func(error)) error {
	var answer [answerSize]byte
	if _, err := io.ReadFull(c, answer[:]); err != nil {
		return fmt.Errorf("cluster: handshake with %s: %w", peer, err)
	}
	theirs := ID16(answer[1:])
	if answer[0] != 0 || !sameCluster(theirs, ours) {
		err := fmt.Errorf("%w: %s is of cluster %s, this node of cluster %s", errOtherCluster, peer, theirs, ours)
		refused(err)
		return err
	}
	return nil
}
