package netio

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// parkHandler holds frames "park" unanswered; a frame "release" answers
// every held one, on the loop when inline is set (as a leader's append
// completes parked follower fetches), else from a timer goroutine, and
// then answers itself.
type parkHandler struct {
	inline bool
	mu     sync.Mutex
	parked []*Responder
}

func (h *parkHandler) ServeFrame(r *Responder, payload []byte) {
	if string(payload) == "park" {
		h.mu.Lock()
		h.parked = append(h.parked, r)
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	held := h.parked
	h.parked = nil
	h.mu.Unlock()
	answer := func() {
		for _, p := range held {
			p.Reply(replyFrame([]byte("released")))
		}
	}
	if h.inline {
		answer()
	} else {
		time.AfterFunc(time.Millisecond, answer)
	}
	r.Reply(replyFrame(payload))
}

func (h *parkHandler) waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := len(h.parked)
		h.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames parked after 10s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCompletionDuringPass answers frames parked on two connections from
// a third connection's frame on the same loop: the pass writes them
// without waking the loop, and the answers arrive. Answered from a
// goroutine outside the loop (which wakes the loop unless it happens to be
// in a pass), they arrive too.
func TestCompletionDuringPass(t *testing.T) {
	for _, inline := range []bool{true, false} {
		h := &parkHandler{inline: inline}
		s := startServer(t, Config{NumEventLoop: 1}, h)
		a, b, c := dial(t, s), dial(t, s), dial(t, s)
		for _, pc := range []interface{ Write([]byte) (int, error) }{a, b} {
			if _, err := pc.Write(AppendFrame(nil, []byte("park"))); err != nil {
				t.Fatal(err)
			}
		}
		h.waitParked(t, 2)
		before := s.Stats().LoopWakes
		if _, err := c.Write(AppendFrame(nil, []byte("release"))); err != nil {
			t.Fatal(err)
		}
		for name, conn := range map[string]interface {
			Read([]byte) (int, error)
			SetReadDeadline(time.Time) error
		}{"a": a, "b": b, "c": c} {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := readFrame(conn)
			want := []byte("released")
			if name == "c" {
				want = []byte("release")
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("inline=%v: connection %s read %q, %v; want %q", inline, name, got, err, want)
			}
		}
		wakes := s.Stats().LoopWakes - before
		if inline && wakes != 0 {
			t.Errorf("answers made during the loop's pass woke the loop %d times, want 0", wakes)
		}
	}
}
