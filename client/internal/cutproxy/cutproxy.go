// Package cutproxy is a test helper: a TCP proxy that forwards connections
// to one target and can cut all of them at once, at whatever byte they are
// in either direction, so a client sees what a broker crash or a network
// fault looks like. Only tests import it.
package cutproxy

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards every connection it accepts to Target.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

// New listens on 127.0.0.1 (port 0) and forwards to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Dial connects to the proxy whatever addr says; it fits client.Dialer, so
// every broker address a client learns from metadata goes through the proxy.
func (p *Proxy) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// CutAll closes every forwarded connection, both sides.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// Cutter cuts a proxy's connections at random intervals until stopped.
type Cutter struct {
	cuts atomic.Int32
	stop chan struct{}
	done chan struct{}
}

// CutEvery starts cutting every connection (CutAll) after a pause drawn
// uniformly from [min, max] each time, the pauses seeded by seed.
func (p *Proxy) CutEvery(seed uint64, min, max time.Duration) *Cutter {
	c := &Cutter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		rng := rand.New(rand.NewPCG(seed, seed))
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(min + time.Duration(rng.Int64N(int64(max-min)+1))):
				p.CutAll()
				c.cuts.Add(1)
			}
		}
	}()
	return c
}

// Cuts returns how many cuts were made so far.
func (c *Cutter) Cuts() int32 { return c.cuts.Load() }

// Stop stops cutting and returns the number of cuts made.
func (c *Cutter) Stop() int32 {
	close(c.stop)
	<-c.done
	return c.cuts.Load()
}

// Close stops accepting, cuts every connection and waits for the copiers.
func (p *Proxy) Close() {
	p.ln.Close()
	p.CutAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src) // ends when either side is cut; the error is the cut itself
	dst.Close()
	src.Close()
}
