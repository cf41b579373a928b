package broker

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// fdHealthWindow is how long /health fails after accepting a connection
// failed for lack of a file descriptor. The accept loop retries at least
// every 200 ms while it is out of descriptors, so a broker that stays out
// keeps failing, and one that recovered reports ok this long after.
const fdHealthWindow = 5 * time.Second

// healthCheck is one condition /health requires. problem returns "" while
// the condition holds, else why the broker cannot serve.
type healthCheck struct {
	name    string
	problem func() string
}

// healthChecks lists what /health checks, in the order it reports them.
func (b *Broker) healthChecks() []healthCheck {
	return []healthCheck{
		{"shutdown", func() string {
			if b.stopping.Load() {
				return "stopping"
			}
			return ""
		}},
		{"listener", func() string { return fdProblem(b.server.SinceFDExhausted) }},
	}
}

// fdProblem reports a listener that ran out of file descriptors within
// fdHealthWindow; since is netio.Server.SinceFDExhausted.
func fdProblem(since func() (time.Duration, bool)) string {
	ago, ok := since()
	if !ok || ago >= fdHealthWindow {
		return ""
	}
	return fmt.Sprintf("cannot accept connections: out of file descriptors %v ago (RLIMIT_NOFILE)",
		ago.Round(time.Millisecond))
}

// health answers 200 "ok" while every health check holds, and 503 with one
// "check: problem" line per failing check otherwise: while the broker is
// stopping (so a load balancer drains it before the listener goes away) or
// cannot accept connections.
func (b *Broker) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var failing strings.Builder
	for _, c := range b.healthChecks() {
		if p := c.problem(); p != "" {
			fmt.Fprintf(&failing, "%s: %s\n", c.name, p)
		}
	}
	if failing.Len() > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, failing.String())
		return
	}
	fmt.Fprintln(w, "ok")
}
