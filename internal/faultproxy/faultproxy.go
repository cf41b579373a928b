// Package faultproxy is a TCP proxy for fault tests: one per broker
// listener, with the broker advertising the proxy's address, so that a test
// can cut a broker off from everyone (clients, other brokers, the metadata
// quorum) without touching the process.
//
// A cut drops every open connection (both sides see a reset) and
// blackholes new ones: they are accepted and held, and nothing is forwarded
// either way, as a dead network link that still completes the TCP
// handshake at a middlebox would behave. Dialers therefore time out rather
// than fail fast, which is the harder case for a broker. Heal closes the
// held connections and forwards again.
//
// A broker's own outgoing connections go through the other brokers'
// proxies; CutFrom cuts, on those, only the connections whose client
// matches (the test tells which process a source address belongs to), so
// that a cut broker is isolated both ways.
package faultproxy

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards connections from its listener to one target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu struct {
		sync.Mutex
		cut    bool
		from   func(client net.Addr) bool // CutFrom's match; nil when none
		closed bool
		// conns maps every accepted client conn to its target conn (nil
		// while dialing, or held by a cut).
		conns map[net.Conn]net.Conn
	}
	wg sync.WaitGroup
}

// Listen starts a proxy on addr (host:port; port 0 picks one) to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s for %s: %w", addr, target, err)
	}
	p := &Proxy{ln: ln, target: target}
	p.mu.conns = map[net.Conn]net.Conn{}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's address: what the broker should advertise.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut drops every open connection and holds new ones, forwarding nothing,
// until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = true
	p.closeLocked(nil)
}

// CutFrom is Cut for the connections whose client address matches:
// those open are dropped, new ones held, until Heal. match must be safe to
// call from any goroutine.
func (p *Proxy) CutFrom(match func(client net.Addr) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.from = match
	p.closeLocked(match)
}

// Heal ends a cut: held connections are closed (their peers reconnect)
// and new ones are forwarded again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut, p.mu.from = false, nil
	for c, t := range p.mu.conns {
		if t == nil {
			reset(c)
			delete(p.mu.conns, c)
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.mu.closed = true
	p.closeLocked(nil)
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// closeLocked resets the connections whose client matches (all of them
// when match is nil), both sides.
func (p *Proxy) closeLocked(match func(net.Addr) bool) {
	for c, t := range p.mu.conns {
		if match != nil && !match(c.RemoteAddr()) {
			continue
		}
		reset(c)
		if t != nil {
			reset(t)
		}
		delete(p.mu.conns, c)
	}
}

// reset closes c with a RST, as a link failure looks to the peer once it
// notices.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// holds reports whether a new connection from client is to be held.
func (p *Proxy) holdsLocked(client net.Addr) bool {
	return p.mu.cut || (p.mu.from != nil && p.mu.from(client))
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.mu.closed:
			c.Close()
		case p.holdsLocked(c.RemoteAddr()):
			p.mu.conns[c] = nil // held: never read, closed by Heal or Close
		default:
			p.mu.conns[c] = nil
			p.wg.Add(1)
			go p.forward(c)
		}
		p.mu.Unlock()
	}
}

// forward dials the target for client c and copies both ways until either
// side closes or a cut closes both.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	t, err := net.Dial("tcp", p.target)
	p.mu.Lock()
	_, open := p.mu.conns[c]
	switch {
	case err != nil:
		delete(p.mu.conns, c)
		c.Close()
	case !open: // cut while dialing
		t.Close()
	default:
		p.mu.conns[c] = t
	}
	p.mu.Unlock()
	if err != nil || !open {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(t, c)
	go pipe(c, t)
	<-done
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
	c.Close()
	t.Close()
	<-done
}
