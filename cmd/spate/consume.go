package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

func consumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "consume",
		Aliases:   []string{"c"},
		Usage:     "print a topic's records",
		ArgsUsage: "TOPIC",
		Description: `Reads the topic's partitions (all, or those given with --partition) and
prints each record. Records of one partition are printed in offset order;
partitions are interleaved as their fetches arrive.

--from says where each partition starts:
  beginning | earliest   the log start (the default)
  end | latest           only records produced from now on
  OFFSET                 that offset, e.g. 42 (out of range: the log start)
  @MILLIS                the first record with a timestamp at or after that
                         Unix time in milliseconds, e.g. @1700000000000
  TIME                   the same for an RFC 3339 time,
                         e.g. 2026-11-24T21:00:00Z or 2026-11-24T22:00:00+01:00

` + formatHelp + `

Output is buffered; it is flushed at exit and at most every 100ms while
records arrive or when none do. The command runs until --count records
were printed, until --exit-idle passed without a record (with --group, see
below), or until SIGINT or
SIGTERM; all three exit 0 after flushing. A partition error exits 1, and
so does a topic that does not exist: consumers never create topics.

Examples:
  spate consume events
  spate consume events --from end --format '%p/%o %k=%v\n'
  spate consume events --partition 0,3 --from 2026-11-24T21:00:00Z --count 10
  spate consume events --json --exit-idle 2s > events.jsonl
  spate consume events --group billing --from end

With --group G the command is a member of consumer group G: the group's
coordinator shares the topic's partitions among its members, each partition
starts at G's committed offset (--from, beginning or end only, applies to
partitions without one), and the offsets of the records printed (written
out, not just buffered: with --group the output is flushed after each
fetch's records) are committed every 5s, when the group takes partitions
away, and at exit. Records fetched but not printed, such as
those after the --count-th, are not committed: the next member or run
prints them. A member killed without exiting keeps its partitions until
--session-timeout passes; the others then read them again from its last
commit (at least once). With --instance-id the member is static: it keeps
its partitions across a restart within --session-timeout (no rebalance, and
it does not leave the group at exit). --partition does not combine with
--group.
--assignor lists the assignors the member accepts, preferred first (range,
roundrobin, sticky, cooperative-sticky; default range,roundrobin); the
broker picks one every member lists. With cooperative-sticky a rebalance
moves only the partitions that change owner and the others are read on
without a pause.

--exit-idle with --group waits for the whole group, not just this member:
the member exits once it has printed nothing for --exit-idle AND the group
has no lag on the topic. When idle that long, it commits what it printed
and compares the group's committed offset of every partition with the
partition's high watermark; while any partition lags (or has no commit and
holds records), it keeps reading and checks again every second. So a member whose
partitions are done stays to take over those of a member that died, once
that member's --session-timeout passes.

Example, three members that share a topic and exit when it is all read:
  for i in 1 2 3; do spate consume events --group billing --exit-idle 5s > out.$i & done; wait`,
		Flags: []cli.Flag{
			brokersFlag(),
			&cli.StringFlag{Name: "from", Aliases: []string{"o"}, Value: "beginning", Usage: "start `POSITION`: beginning, end, OFFSET, @MILLIS or an RFC 3339 TIME"},
			&cli.GenericFlag{Name: "partition", Aliases: []string{"p"}, Value: &listValue{}, Usage: "read only these `partitions` (repeatable or comma list; default all)"},
			&cli.Int64Flag{Name: "count", Aliases: []string{"n"}, Usage: "exit after this many records (0: no limit)"},
			&cli.DurationFlag{Name: "exit-idle", Usage: "exit after this long without a record (0: never)"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: `%v\n`, Usage: "record `template`: %k %v %p %o %t %%, \\n \\t \\r \\\\"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per record"},
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Usage: "read as a member of consumer `GROUP`"},
			&cli.DurationFlag{Name: "session-timeout", Value: 45 * time.Second, Usage: "with --group: the coordinator drops a member silent this long (6s to 30m)"},
			&cli.GenericFlag{Name: "assignor", Value: &listValue{}, Usage: "with --group: accepted `assignors`, preferred first (repeatable or comma list; default range,roundrobin)"},
			&cli.StringFlag{Name: "instance-id", Usage: "with --group: a static member `ID` (Kafka's group.instance.id): it does not leave the group at exit, and started again within --session-timeout it gets its partitions back without a rebalance"},
		},
		Action: withArgs(runConsume),
	}
}

// consumeConfig is what `spate consume` was asked to do.
type consumeConfig struct {
	topic      string
	partitions []int32 // nil: all
	from       client.Offset
	count      int64         // 0: no limit
	exitIdle   time.Duration // 0: never
	format     recordFormat  // nil with json
	json       bool
	opts       []client.Opt

	group          string // "": read the partitions directly
	sessionTimeout time.Duration
	assignors      []string // nil: the client's default
	instanceID     string   // "": a dynamic member
}

// idleRecheck is how often a member idle for --exit-idle asks whether its
// group still lags.
const idleRecheck = time.Second

// flushEvery bounds how long a printed record may sit in the output buffer.
const flushEvery = 100 * time.Millisecond

func runConsume(c *cli.Context, args []string) error {
	cfg, err := consumeConfigFrom(c, args)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	_, err = consume(ctx, cfg, os.Stdout)
	return err
}

func consumeConfigFrom(c *cli.Context, args []string) (consumeConfig, error) {
	if len(args) != 1 {
		return consumeConfig{}, fmt.Errorf("consume: want one TOPIC argument, got %d", len(args))
	}
	cfg := consumeConfig{topic: args[0], count: c.Int64("count"), exitIdle: c.Duration("exit-idle"), json: c.Bool("json")}
	cfg.opts = streamOpts(c)
	var err error
	if cfg.from, err = parseFrom(c.String("from")); err != nil {
		return cfg, err
	}
	if cfg.partitions, err = parsePartitions(list(c, "partition")); err != nil {
		return cfg, err
	}
	if err := groupConfigFrom(c, &cfg); err != nil {
		return cfg, err
	}
	if cfg.count < 0 || cfg.exitIdle < 0 {
		return cfg, errors.New("consume: --count and --exit-idle must not be negative")
	}
	if cfg.json && c.IsSet("format") {
		return cfg, errors.New("consume: --json and --format exclude each other")
	}
	if !cfg.json {
		if cfg.format, err = parseFormat(c.String("format")); err != nil {
			return cfg, fmt.Errorf("consume: --format: %w", err)
		}
	}
	return cfg, nil
}

// parseFrom reads --from (see the consume help).
func parseFrom(s string) (client.Offset, error) {
	switch s {
	case "beginning", "earliest":
		return client.Earliest(), nil
	case "end", "latest":
		return client.Latest(), nil
	}
	if ms, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil || n < 0 {
			return client.Offset{}, fmt.Errorf("--from %q: want @ and Unix milliseconds, e.g. @1700000000000", s)
		}
		return client.AtTime(time.UnixMilli(n)), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return client.Offset{}, fmt.Errorf("--from %q: an offset is at least 0", s)
		}
		return client.At(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return client.AtTime(t), nil
	}
	return client.Offset{}, fmt.Errorf("--from %q: want beginning, end, an offset, @MILLIS or an RFC 3339 time like 2026-11-24T21:00:00Z", s)
}

// parsePartitions reads --partition values, each a number or a comma list;
// none means every partition (nil).
func parsePartitions(values []string) ([]int32, error) {
	var out []int32
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--partition %q: want partition numbers like 0 or 0,2,5", v)
			}
			if !slices.Contains(out, int32(n)) {
				out = append(out, int32(n))
			}
		}
	}
	return out, nil
}

// consume prints records of cfg.topic to out until the count is reached,
// the idle time passes or ctx ends (all clean ends), or a partition fails.
// It returns how many records it printed.
func consume(ctx context.Context, cfg consumeConfig, out io.Writer) (int64, error) {
	if cfg.group != "" {
		return consumeGroup(ctx, cfg, out)
	}
	if err := checkTopic(ctx, cfg); err != nil {
		return 0, err
	}
	c, err := client.NewConsumer(append(cfg.opts, client.Assign(cfg.topic, cfg.partitions, cfg.from))...)
	if err != nil {
		return 0, fmt.Errorf("consume: topic %q: %w", cfg.topic, err)
	}
	defer c.Close()
	return printAll(ctx, partitionReader{c}, cfg, out)
}

// consumeGroup is consume as a member of cfg.group. The member commits
// marked records only (CommitMarked), and a record is marked once its line
// left the output buffer, so a member killed with lines in its buffer
// leaves them to the next owner. Close runs after the last flush.
func consumeGroup(ctx context.Context, cfg consumeConfig, out io.Writer) (int64, error) {
	settings := client.GroupSettings{SessionTimeout: cfg.sessionTimeout, Start: &cfg.from, CommitMarked: true, Assignors: cfg.assignors,
		InstanceID: cfg.instanceID}
	// Kafka's rule of thumb, a heartbeat at most every third of the session,
	// so a short session (as in tests of a takeover) survives a lost beat.
	if settings.HeartbeatInterval = cfg.sessionTimeout / 3; settings.HeartbeatInterval > 3*time.Second {
		settings.HeartbeatInterval = 0 // the default, 3 s
	}
	gc, err := client.NewGroupConsumer(cfg.group, []string{cfg.topic}, settings, cfg.opts...)
	if err != nil {
		return 0, fmt.Errorf("consume: group %q, topic %q: %w", cfg.group, cfg.topic, err)
	}
	n, err := printAll(ctx, groupReader{gc, cfg.group}, cfg, out)
	if cerr := gc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("consume: commit offsets at exit: %w", cerr)
	}
	return n, err
}

// groupConfigFrom reads --group, --session-timeout and --assignor into cfg.
func groupConfigFrom(c *cli.Context, cfg *consumeConfig) error {
	cfg.group, cfg.sessionTimeout, cfg.instanceID = c.String("group"), c.Duration("session-timeout"), c.String("instance-id")
	for _, v := range list(c, "assignor") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if !slices.Contains([]string{client.AssignRange, client.AssignRoundRobin, client.AssignSticky, client.AssignCooperativeSticky}, a) {
				return fmt.Errorf("consume: --assignor %q: want range, roundrobin, sticky or cooperative-sticky", a)
			}
			if !slices.Contains(cfg.assignors, a) {
				cfg.assignors = append(cfg.assignors, a)
			}
		}
	}
	if cfg.group == "" {
		if c.IsSet("session-timeout") || cfg.assignors != nil || cfg.instanceID != "" {
			return errors.New("consume: --session-timeout, --assignor and --instance-id need --group")
		}
		return nil
	}
	if cfg.partitions != nil {
		return errors.New("consume: --partition and --group exclude each other: the group assigns the partitions")
	}
	if from := c.String("from"); !slices.Contains([]string{"beginning", "earliest", "end", "latest"}, from) {
		return fmt.Errorf("consume: --from %q with --group: want beginning or end (where partitions without a committed offset start)", from)
	}
	if cfg.sessionTimeout < 6*time.Second || cfg.sessionTimeout > 30*time.Minute {
		return fmt.Errorf("consume: --session-timeout %v: want 6s to 30m (the broker's range)", cfg.sessionTimeout)
	}
	return nil
}

// reader is what printRecords reads from: a Consumer or a GroupConsumer.
type reader interface {
	Poll(ctx context.Context) (client.Fetches, error)
	// printed is told, after each flush of the output, the last offset of
	// each partition whose records the flush wrote out.
	printed(last map[client.TopicPartition]int64)
	// idleDone reports whether a reader idle for --exit-idle may exit, or
	// the error to exit with. It returns within about exitIdle.
	idleDone(ctx context.Context, exitIdle time.Duration) (bool, error)
}

// partitionReader reads assigned partitions: nothing to commit, and idle
// means done.
type partitionReader struct{ *client.Consumer }

func (partitionReader) printed(map[client.TopicPartition]int64) {}
func (partitionReader) idleDone(context.Context, time.Duration) (bool, error) {
	return true, nil
}

// groupReader reads as a member of a group.
type groupReader struct {
	*client.GroupConsumer
	group string
}

// printed marks what was written out, so that only that is committed.
func (g groupReader) printed(last map[client.TopicPartition]int64) {
	for tp, off := range last {
		g.MarkProcessed(tp.Topic, tp.Partition, off)
	}
}

// idleDone commits what this member printed and reports whether the group
// has no lag left on the topic (see --exit-idle in the help). A failed
// commit or lag query means "not yet": the member keeps reading, unless no
// broker could be connected to, which ends the run with that error: idle
// for --exit-idle and cut off from the cluster, the member has nothing
// left to wait for. Both calls get exitIdle (1s to 10s): a slow answer is
// asked again a second later anyway.
func (g groupReader) idleDone(ctx context.Context, exitIdle time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, min(max(exitIdle, time.Second), 10*time.Second))
	defer cancel()
	// A commit refused mid-rebalance is no reason to wait: if the group's
	// offsets are at the end anyway, nothing of this member's is missing.
	g.CommitOffsets(ctx)
	lag, err := g.Lag(ctx)
	var unreachable *client.ConnectError
	if errors.As(err, &unreachable) {
		return false, fmt.Errorf("consume: group %q: idle for %v and %w", g.group, exitIdle, unreachable)
	}
	if err != nil {
		return false, nil
	}
	for _, n := range lag {
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}

// printer buffers the output and tells the reader what each flush wrote.
type printer struct {
	w         *bufio.Writer
	r         reader
	pending   map[client.TopicPartition]int64 // last offset per partition written to w since the last flush
	lastFlush time.Time
}

// flush writes out the buffer, if anything is in it, then reports the
// records it held as printed.
func (p *printer) flush() error {
	if p.w.Buffered() > 0 {
		p.lastFlush = time.Now()
		if err := p.w.Flush(); err != nil {
			return fmt.Errorf("consume: writing output: %w", err)
		}
	}
	// The buffer may have written itself out when full.
	if len(p.pending) > 0 {
		p.r.printed(p.pending)
		clear(p.pending)
	}
	return nil
}

// printAll prints records of r to out (buffered) as printRecords does.
func printAll(ctx context.Context, r reader, cfg consumeConfig, out io.Writer) (int64, error) {
	p := &printer{w: bufio.NewWriterSize(out, 256<<10), r: r, pending: map[client.TopicPartition]int64{}, lastFlush: time.Now()}
	n, err := printRecords(ctx, p, cfg)
	if ferr := p.flush(); err == nil && ferr != nil {
		err = ferr
	}
	return n, err
}

func printRecords(ctx context.Context, p *printer, cfg consumeConfig) (n int64, err error) {
	lastRecord := time.Now()
	var idleCheck time.Time // no group lag query before this
	for {
		wait := flushEvery
		if cfg.exitIdle > 0 {
			idleAt := lastRecord.Add(cfg.exitIdle)
			if idleAt.Before(idleCheck) {
				idleAt = idleCheck
			}
			if left := time.Until(idleAt); left > 0 {
				wait = min(wait, left)
			} else {
				// Commit only what the terminal or file has.
				if err := p.flush(); err != nil {
					return n, err
				}
				done, err := p.r.idleDone(ctx, cfg.exitIdle)
				if done || err != nil {
					return n, err
				}
				idleCheck = time.Now().Add(idleRecheck)
				continue
			}
		}
		pollCtx, cancel := context.WithTimeout(ctx, wait)
		fs, err := p.r.Poll(pollCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return n, nil
		case errors.Is(err, context.DeadlineExceeded):
			// Idle: show what is buffered now rather than when more comes.
			if err := p.flush(); err != nil {
				return n, err
			}
			continue
		case err != nil:
			return n, fmt.Errorf("consume: topic %q: %w", cfg.topic, err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return n, fmt.Errorf("consume: %w", errors.Join(errs...))
		}
		before := n
		it := fs.Records()
		for it.Next() {
			r := it.Record()
			if cfg.json {
				_, err = p.w.Write(appendJSONRecord(p.w.AvailableBuffer(), r))
			} else {
				_, err = p.w.Write(cfg.format.appendRecord(p.w.AvailableBuffer(), r))
			}
			if err != nil {
				return n, fmt.Errorf("consume: writing output: %w", err)
			}
			p.pending[client.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.Offset
			n++
			if n == cfg.count {
				return n, nil
			}
		}
		if err := it.Err(); err != nil {
			return n, fmt.Errorf("consume: %w", err)
		}
		if n > before {
			lastRecord = time.Now()
		}
		// A group member flushes (and so marks) every Poll's records at
		// once: partitions the group takes away are committed at their
		// marks, and a line still in the buffer then would be printed here
		// and again by the partition's next owner.
		if cfg.group != "" || time.Since(p.lastFlush) >= flushEvery {
			if err := p.flush(); err != nil {
				return n, err
			}
		}
	}
}

// checkTopic fails when the topic or a --partition does not exist:
// the consumer would otherwise wait for it, printing nothing.
func checkTopic(ctx context.Context, cfg consumeConfig) error {
	a, err := client.NewAdmin(append(slices.Clip(cfg.opts), client.UnreachableTimeout(unreachableAfter))...)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	descs, err := a.DescribeTopics(ctx, cfg.topic)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	if len(descs) != 1 {
		return fmt.Errorf("consume: topic %q: the broker described %d topics", cfg.topic, len(descs))
	}
	if err := descs[0].Err; errors.Is(err, wire.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("consume: topic %q does not exist (consumers do not create topics)", cfg.topic)
	} else if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	n := int32(len(descs[0].Partitions))
	for _, p := range cfg.partitions {
		if p >= n {
			return fmt.Errorf("consume: topic %q has %d partitions; there is no partition %d", cfg.topic, n, p)
		}
	}
	return nil
}
