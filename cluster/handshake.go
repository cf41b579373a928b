package cluster

// Behavior: every raft connection starts with a handshake naming the
// cluster, so that a node whose data dir belongs to another cluster never
// exchanges a raft message with this one: raft would otherwise truncate or
// overwrite one cluster's log with the other's before any record could be
// checked. The dialer sends a hello; the accepting side answers before it
// passes a byte to raft:
//
//	hello  bytes  field
//	       0-3    magic "SPRC"
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
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

var helloMagic = [4]byte{'S', 'P', 'R', 'C'}

const (
	helloVersion     = 1
	helloSize        = 4 + 1 + 16
	answerSize       = 1 + 16
	handshakeTimeout = 10 * time.Second
)

// errOtherCluster: the peer of a raft connection belongs to another cluster.
var errOtherCluster = errors.New("cluster: peer belongs to another cluster")

// streamLayer is raft's TCP stream layer with the cluster handshake.
type streamLayer struct {
	net.Listener
	clusterID func() ID16 // this node's cluster id, zero while unknown
	refused   func(error) // called with each refusal, either way
	// dialed is called after each dial with its error (nil on success),
	// so the node can name the voters it cannot reach.
	dialed func(addr string, err error)
}

func (s streamLayer) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: c, s: s, peer: c.RemoteAddr().String(), accepted: true}, nil
}

func (s streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	s.dialed(string(addr), err)
	if err != nil {
		return nil, err
	}
	id := s.clusterID()
	hello := append(append(helloMagic[:], helloVersion), id[:]...)
	if _, err := c.Write(hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("cluster: handshake with %s: %w", addr, err)
	}
	return &handshakeConn{Conn: c, s: s, peer: string(addr)}, nil
}

// sameCluster reports whether two cluster ids may talk.
func sameCluster(a, b ID16) bool { return a.IsZero() || b.IsZero() || a == b }

// handshakeConn completes the handshake before its first read returns: an
// accepted connection reads the hello and answers it, a dialed one reads the
// answer. Raft may write its first request before that; a refusing peer
// drops it unread.
type handshakeConn struct {
	net.Conn
	s        streamLayer
	peer     string
	accepted bool
	once     sync.Once
	err      error
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		if c.accepted {
			c.answer()
		} else {
			c.readAnswer()
		}
		if c.err != nil {
			c.Conn.Close()
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *handshakeConn) answer() {
	c.Conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	defer c.Conn.SetReadDeadline(time.Time{})
	var hello [helloSize]byte
	if _, err := io.ReadFull(c.Conn, hello[:]); err != nil {
		c.err = fmt.Errorf("cluster: handshake from %s: %w", c.peer, err)
		return
	}
	if !bytes.Equal(hello[:4], helloMagic[:]) || hello[4] != helloVersion {
		c.err = fmt.Errorf("%w: handshake from %s: not a spate controller connection (version %d)", ErrCorrupt, c.peer, hello[4])
		return
	}
	theirs, ours := ID16(hello[5:]), c.s.clusterID()
	answer := append([]byte{0}, ours[:]...)
	if !sameCluster(theirs, ours) {
		answer[0] = 1
		c.err = fmt.Errorf("%w: %s is of cluster %s, this node of cluster %s", errOtherCluster, c.peer, theirs, ours)
		c.s.refused(c.err)
	}
	if _, err := c.Conn.Write(answer); err != nil && c.err == nil {
		c.err = fmt.Errorf("cluster: handshake from %s: %w", c.peer, err)
	}
}

func (c *handshakeConn) readAnswer() {
	var answer [answerSize]byte
	if _, err := io.ReadFull(c.Conn, answer[:]); err != nil {
		c.err = fmt.Errorf("cluster: handshake with %s: %w", c.peer, err)
		return
	}
	theirs, ours := ID16(answer[1:]), c.s.clusterID()
	if answer[0] != 0 || !sameCluster(theirs, ours) {
		c.err = fmt.Errorf("%w: %s is of cluster %s, this node of cluster %s", errOtherCluster, c.peer, theirs, ours)
		c.s.refused(c.err)
	}
}
