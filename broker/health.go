package broker

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spate-io/spate/engine"
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

// healthChecks lists what /health checks, in the order it reports them:
// shutdown, the listener, the Kafka listener (when there is one), then
// each log dir.
func (b *Broker) healthChecks() []healthCheck {
	checks := []healthCheck{
		{"shutdown", func() string {
			if b.stopping.Load() {
				return "stopping"
			}
			return ""
		}},
		{"listener", func() string { return fdProblem(b.server.SinceFDExhausted) }},
	}
	if b.kafka != nil {
		checks = append(checks, healthCheck{"kafka listener", func() string { return fdProblem(b.kafka.SinceFDExhausted) }})
	}
	for i, d := range b.engine.LogDirs() {
		checks = append(checks, healthCheck{"log dir " + d.Dir, func() string {
			return logDirProblem(b.engine.LogDirs()[i])
		}})
	}
	checks = append(checks, healthCheck{"cluster", b.member.problemText})
	return checks
}

// logDirProblem: a full or failed log dir cannot take appends, so the
// broker cannot serve in full even though reads go on.
func logDirProblem(d engine.LogDirInfo) string {
	if d.State == engine.LogDirOK {
		return ""
	}
	s := fmt.Sprintf("%s, %d bytes free of %d, appends refused below %d", d.State, d.FreeBytes, d.TotalBytes, d.MinFreeBytes)
	if d.State == engine.LogDirFailed {
		s += ": " + d.Err.Error()
	}
	return s
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
// stopping (so a load balancer drains it before the listener goes away),
// cannot accept connections, or a log dir refuses appends.
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
