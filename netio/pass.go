package netio

import (
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// loopPass is one event loop's pass state, shared by its connections. While
// the loop runs OnTraffic for one of them, a completion for another of its
// connections is queued here instead of waking the loop through its
// eventfd: the pass takes the queued connections before it returns. With
// replication that is the usual case: a leader's append, served on the
// loop of the producer's connection, completes the parked fetches of
// followers whose connections the same loop owns, and a follower's fetch
// completes a parked acks=all produce (perf/replication.md, "One record in
// flight").
type loopPass struct {
	mu struct {
		sync.Mutex
		// active is set while the loop is in a pass (OnTraffic).
		active bool
		// queued are connections completed during the pass, each once:
		// its mu.wakePending stays set until its loop pass runs.
		queued []*conn
	}
	spare []*conn // loop-owned: the other buffer of mu.queued
}

// passFor returns the pass state of loop l, made on first use. OnOpen
// calls it on the loop.
func (s *Server) passFor(l gnet.EventLoop) *loopPass {
	s.mu.Lock()
	defer s.mu.Unlock()
	lp := s.mu.passes[l]
	if lp == nil {
		lp = new(loopPass)
		s.mu.passes[l] = lp
	}
	return lp
}

// deferIfActive queues c for the running pass and reports true, or reports
// false when the loop is not in a pass (the caller wakes it). Any
// goroutine; c.mu held (lock order: conn.mu, then loopPass.mu).
func (lp *loopPass) deferIfActive(c *conn) bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if !lp.mu.active {
		return false
	}
	lp.mu.queued = append(lp.mu.queued, c)
	return true
}

// run is one loop pass for c: c's own, then the passes of every connection
// of the loop completed meanwhile, until none is left. Loop only.
func (lp *loopPass) run(c *conn) gnet.Action {
	lp.mu.Lock()
	lp.mu.active = true
	lp.mu.Unlock()
	act := c.onTraffic()
	for {
		lp.mu.Lock()
		batch := lp.mu.queued
		if len(batch) == 0 {
			lp.mu.active = false
			lp.mu.Unlock()
			return act
		}
		lp.mu.queued = lp.spare[:0]
		lp.mu.Unlock()
		for i, q := range batch {
			batch[i] = nil
			// A connection closed since it was queued dropped its
			// completions in onClose.
			if q.closed || q.onTraffic() != gnet.Close {
				continue
			}
			if q == c {
				act = gnet.Close
			} else {
				// gnet closes the connection whose OnTraffic returns
				// Close; another one closes through the loop's queue.
				_ = q.gc.Close()
			}
		}
		lp.spare = batch[:0]
	}
}
