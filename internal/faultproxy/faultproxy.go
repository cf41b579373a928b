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
		closed bool
		conns  map[net.Conn]struct{} // every open conn, both sides of each pair, and held ones
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
	p.mu.conns = map[net.Conn]struct{}{}
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
	p.closeAllLocked()
}

// Heal ends a cut: held connections are closed (their peers reconnect)
// and new ones are forwarded again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = false
	p.closeAllLocked()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.mu.closed = true
	p.closeAllLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) closeAllLocked() {
	for c := range p.mu.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as a link failure looks to the peer once it notices
		}
		c.Close()
	}
	clear(p.mu.conns)
}

// track registers c unless the proxy is closed; false means c was closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		c.Close()
		return false
	}
	p.mu.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.mu.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.mu.Lock()
		cut := p.mu.cut
		p.mu.Unlock()
		if cut {
			continue // held: tracked, never read, closed by Heal or Close
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward dials the target for client c and copies both ways until either
// side closes or a cut closes both.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(c)
		return
	}
	if !p.track(t) {
		p.untrack(c)
		return
	}
	p.mu.Lock()
	_, open := p.mu.conns[c]
	p.mu.Unlock()
	if !open { // cut while dialing
		p.untrack(t)
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
	p.untrack(c)
	p.untrack(t)
	<-done
}
