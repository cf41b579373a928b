package replication

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scenario scripts (testdata/*.txt) drive the simulator one step a line:
//
//	replicas r1 r2 r3 [min-insync=N] [lag=30s]   first line: r1 leads at epoch 0, all in sync
//	append r1 10          acks=all produce of 10 records on r1
//	fetch r3 [no-response]  one exchange of r3 with its leader (epoch query or fetch);
//	                      no-response: the leader handles it, r3 never sees the answer
//	replicate [r2 r3]     fetch rounds (default: every replica) until nothing changes
//	tick 30s              time passes; every leader checks its followers' lag
//	isolate r1 / heal r1 / heal   cut a replica off from everything, or reconnect
//	flush r1 / flush all  what a power loss keeps
//	crash r1              power loss: r1 stops, its log cut to the last flush
//	restart r1            r1 runs again; the controller fences its previous run
//	fence r1              the controller ends r1's session (leaves ISR, loses leadership)
//	elect r2 [unclean]    the controller makes r2 leader at a new leader epoch
//	check hw r1 = 10      also: end r1, log r1 = r2, logs = equal, epochs r1 = 0@0 1@10,
//	                      isr = r1 r2, leader = r2, acked = 20, pending r1 = r1 r2
//
// A line may end in "=> result" to require that result; a result starting
// with "refused" must be required, so no refusal passes unnoticed. "#"
// starts a comment. After every line the simulator's invariants are checked.

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

func runScript(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c *cluster
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		cmd, _, _ := strings.Cut(sc.Text(), "#")
		cmd, want, hasWant := strings.Cut(cmd, "=>")
		fields := strings.Fields(cmd)
		if len(fields) == 0 {
			continue
		}
		var got string
		if fields[0] == "replicas" {
			c, err = newScriptCluster(fields[1:])
			got = "ok"
		} else if c == nil {
			t.Fatalf("%s:%d: the first step must be replicas", file, line)
		} else {
			got, err = c.run(fields)
		}
		if err == nil {
			err = c.settleAndCheck()
		}
		switch {
		case err != nil:
			t.Fatalf("%s:%d: %s: %v", file, line, strings.TrimSpace(cmd), err)
		case hasWant && got != strings.TrimSpace(want):
			t.Fatalf("%s:%d: %s: got %q, want %q", file, line, strings.TrimSpace(cmd), got, strings.TrimSpace(want))
		case !hasWant && strings.HasPrefix(got, "refused"):
			t.Fatalf("%s:%d: %s: unexpected %q (add => to expect it)", file, line, strings.TrimSpace(cmd), got)
		}
		t.Logf("%d: %-40s %s", line, strings.TrimSpace(cmd), got)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) settleAndCheck() error {
	if err := c.settleProduces(); err != nil {
		return err
	}
	return c.checkInvariants()
}

func newScriptCluster(args []string) (*cluster, error) {
	var ids []ReplicaID
	var cfg Config
	for _, a := range args {
		switch k, v, _ := strings.Cut(a, "="); k {
		case "min-insync":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("min-insync %q: %w", v, err)
			}
			cfg.MinInsyncReplicas = n
		case "lag":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("lag %q: %w", v, err)
			}
			cfg.ReplicaLagTimeMax = d
		default:
			id, err := parseID(a)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("replicas: none named")
	}
	return newCluster(ids, cfg)
}

func parseID(s string) (ReplicaID, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "r"))
	if !strings.HasPrefix(s, "r") || err != nil {
		return 0, fmt.Errorf("replica %q: want r<number>", s)
	}
	return ReplicaID(n), nil
}

func formatIDs(ids []ReplicaID) string {
	if len(ids) == 0 {
		return "none"
	}
	s := slices.Sorted(slices.Values(ids))
	parts := make([]string, len(s))
	for i, id := range s {
		parts[i] = fmt.Sprintf("r%d", id)
	}
	return strings.Join(parts, " ")
}

// replicaArg returns the replica named by args[i].
func (c *cluster) replicaArg(args []string, i int) (*replica, error) {
	if i >= len(args) {
		return nil, fmt.Errorf("%s: missing replica", args[0])
	}
	id, err := parseID(args[i])
	if err != nil {
		return nil, err
	}
	r := c.replicas[id]
	if r == nil {
		return nil, fmt.Errorf("no replica %s", args[i])
	}
	return r, nil
}

// run executes one script step (without "replicas") and returns its result.
func (c *cluster) run(args []string) (string, error) {
	switch args[0] {
	case "tick":
		if len(args) != 2 {
			return "", fmt.Errorf("tick: want a duration")
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return "", fmt.Errorf("tick: %w", err)
		}
		return c.tick(d)
	case "heal":
		if len(args) == 1 {
			return c.healAll()
		}
	case "flush":
		if len(args) == 2 && args[1] == "all" {
			for _, r := range c.replicas {
				r.log.flush()
			}
			return "ok", nil
		}
	case "replicate":
		return c.replicateArgs(args[1:])
	case "check":
		return c.check(args[1:])
	}
	r, err := c.replicaArg(args, 1)
	if err != nil {
		return "", err
	}
	return c.runOn(r, args)
}

// runOn executes a step about one replica.
func (c *cluster) runOn(r *replica, args []string) (string, error) {
	switch args[0] {
	case "append":
		n, err := strconv.Atoi(strings.Join(args[2:], ""))
		if err != nil {
			return "", fmt.Errorf("append: count: %w", err)
		}
		return c.appendRecords(r, n)
	case "fetch":
		return c.fetch(r, len(args) > 2 && args[2] == "no-response")
	case "isolate":
		r.cut = true
		return "ok", nil
	case "heal":
		return "ok", c.heal(r)
	case "flush":
		r.log.flush()
		return "ok", nil
	case "crash":
		r.dropRole()
		r.log.powerLoss()
		r.hw = min(r.hw, r.log.end())
		r.up = false
		return fmt.Sprintf("log %s", r.log.String()), nil
	case "restart":
		return "ok", c.restart(r)
	case "fence":
		return "ok", c.fence(r.id)
	case "elect":
		return c.elect(r, len(args) > 2 && args[2] == "unclean")
	}
	return "", fmt.Errorf("unknown step %q", strings.Join(args, " "))
}

func (c *cluster) tick(d time.Duration) (string, error) {
	c.now = c.now.Add(d)
	for _, id := range c.ids {
		if r := c.replicas[id]; r.up && r.leader != nil {
			if err := c.deliver(r, r.leader.Tick(c.now)); err != nil {
				return "", err
			}
		}
	}
	return "ok", nil
}

// heal reconnects r: a pending proposal goes out, then r learns the
// controller's state (a deposed leader steps down here).
func (c *cluster) heal(r *replica) error {
	r.cut = false
	if !r.up {
		return nil
	}
	if r.leader != nil {
		if err := c.deliver(r, r.leader.Pending()); err != nil {
			return err
		}
	}
	return c.unfence(r)
}

// unfence is the controller hearing from r again: an offline partition
// whose ISR holds r gets r as leader (cluster/doc.go), else r learns the
// state.
func (c *cluster) unfence(r *replica) error {
	if !c.controllerReaches(r) {
		return nil
	}
	if c.ctrl.Leader == NoLeader && slices.Contains(c.ctrl.ISR, r.id) {
		return c.change(r.id, c.ctrl.ISR, false)
	}
	return c.learn(r, c.ctrl)
}

func (c *cluster) healAll() (string, error) {
	for _, id := range c.ids {
		if err := c.heal(c.replicas[id]); err != nil {
			return "", err
		}
	}
	return "ok", nil
}

func (c *cluster) restart(r *replica) error {
	if r.up {
		return fmt.Errorf("restart: r%d is running", r.id)
	}
	r.up = true
	if err := c.fence(r.id); err != nil {
		return err
	}
	return c.unfence(r)
}

// elect makes r leader at a new leader epoch. A clean election needs r in
// the ISR; unclean makes r the only ISR member whatever it holds.
func (c *cluster) elect(r *replica, unclean bool) (string, error) {
	if !c.controllerReaches(r) {
		return "", fmt.Errorf("elect: the controller does not reach r%d", r.id)
	}
	isr := c.ctrl.ISR
	switch {
	case unclean:
		isr = []ReplicaID{r.id}
	case !slices.Contains(isr, r.id):
		return "refused: not in ISR", nil
	}
	if err := c.change(r.id, isr, true); err != nil {
		return "", err
	}
	return fmt.Sprintf("r%d leads at epoch %d", r.id, c.ctrl.LeaderEpoch), nil
}

// replicateArgs runs fetch rounds for the named replicas (default all)
// until a round changes nothing.
func (c *cluster) replicateArgs(args []string) (string, error) {
	var rs []*replica
	for i := range args {
		r, err := c.replicaArg(append([]string{"replicate"}, args...), i+1)
		if err != nil {
			return "", err
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		for _, id := range c.ids {
			rs = append(rs, c.replicas[id])
		}
	}
	return c.replicate(rs)
}

func (c *cluster) replicate(rs []*replica) (string, error) {
	const maxRounds = 100
	for round := 1; round <= maxRounds; round++ {
		before := c.fingerprint()
		for _, r := range rs {
			if _, err := c.fetch(r, false); err != nil {
				return "", err
			}
			if err := c.settleAndCheck(); err != nil {
				return "", err
			}
		}
		if c.fingerprint() == before {
			return fmt.Sprintf("settled after %d rounds", round), nil
		}
	}
	return "", fmt.Errorf("replicate: still changing after %d rounds", maxRounds)
}

// fingerprint is every piece of state a fetch round can change.
func (c *cluster) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %v|", c.ctrl.PartitionEpoch, c.ctrl.ISR)
	for _, id := range c.ids {
		r := c.replicas[id]
		fmt.Fprintf(&b, "%d %d %v %v|", r.log.end(), r.highWatermark(), r.follower != nil && r.follower.Truncating(), r.log.epochs)
	}
	return b.String()
}

// check evaluates "check what [replica] = expected".
func (c *cluster) check(args []string) (string, error) {
	lhs, rhs, ok := strings.Cut(strings.Join(args, " "), "=")
	if !ok {
		return "", fmt.Errorf("check: want \"check what [replica] = value\"")
	}
	what := strings.Fields(lhs)
	want := strings.Join(strings.Fields(rhs), " ")
	got, err := c.observe(what, want)
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("check %s: got %q, want %q", strings.TrimSpace(lhs), got, want)
	}
	return "ok", nil
}

// observe returns the value of what, in the form checks write it.
func (c *cluster) observe(what []string, want string) (string, error) {
	if len(what) == 0 {
		return "", fmt.Errorf("check: nothing named")
	}
	switch strings.Join(what, " ") {
	case "isr":
		return formatIDs(c.ctrl.ISR), nil
	case "leader":
		if c.ctrl.Leader == NoLeader {
			return "none", nil
		}
		return fmt.Sprintf("r%d", c.ctrl.Leader), nil
	case "acked":
		return strconv.Itoa(len(c.acked)), nil
	case "logs":
		return c.allLogsEqual(want)
	}
	r, err := c.replicaArg(what, 1)
	if err != nil {
		return "", err
	}
	switch what[0] {
	case "hw":
		return strconv.FormatInt(r.highWatermark(), 10), nil
	case "end":
		return strconv.FormatInt(r.log.end(), 10), nil
	case "epochs":
		return r.log.epochs.String(), nil
	case "pending":
		if r.leader == nil || r.leader.Pending() == nil {
			return "none", nil
		}
		return formatIDs(r.leader.Pending().ISR), nil
	case "log":
		o, err := parseID(want)
		if err != nil || c.replicas[o] == nil {
			return r.log.String(), nil
		}
		if !r.log.equal(&c.replicas[o].log) {
			return fmt.Sprintf("r%d %s but r%d %s", r.id, r.log.String(), o, c.replicas[o].log.String()), nil
		}
		return want, nil
	}
	return "", fmt.Errorf("check: unknown %q", strings.Join(what, " "))
}

// allLogsEqual answers "check logs = equal": every replica holds the same
// records (so the same checkpoint: checkReplica ties it to the records)
// and every acknowledged record.
func (c *cluster) allLogsEqual(want string) (string, error) {
	if want != "equal" {
		return "", fmt.Errorf("check logs: only \"= equal\"")
	}
	first := c.replicas[c.ids[0]]
	for _, id := range c.ids[1:] {
		if r := c.replicas[id]; !r.log.equal(&first.log) {
			return fmt.Sprintf("r%d %s but r%d %s", first.id, first.log.String(), r.id, r.log.String()), nil
		}
	}
	for o, v := range c.acked {
		if o >= first.log.end() || first.log.records[o].value != v {
			return fmt.Sprintf("acknowledged offset %d (value %d) missing", o, v), nil
		}
	}
	return "equal", nil
}
