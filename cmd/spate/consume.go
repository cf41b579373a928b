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
were printed, until --exit-idle passed without a record, or until SIGINT or
SIGTERM; all three exit 0 after flushing. A partition error exits 1.

Examples:
  spate consume events
  spate consume events --from end --format '%p/%o %k=%v\n'
  spate consume events --partition 0,3 --from 2026-11-24T21:00:00Z --count 10
  spate consume events --json --exit-idle 2s > events.jsonl
  spate consume events --group billing --from end

With --group G the command is a member of consumer group G: the group's
coordinator shares the topic's partitions among its members, each partition
starts at G's committed offset (--from, beginning or end only, applies to
partitions without one), and offsets are committed every 5s and at exit.
A member killed without exiting keeps its partitions until
--session-timeout passes; the others then read them again from the last
commit (at least once). --partition does not combine with --group. With
--count, records fetched after the count is reached are committed without
being printed (GroupConsumer commits whole fetches).`,
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
}

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
	cfg.opts = []client.Opt{client.SeedBrokers(brokers(c)...)}
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
	if cfg.partitions != nil {
		if err := checkPartitions(ctx, cfg); err != nil {
			return 0, err
		}
	}
	c, err := client.NewConsumer(append(cfg.opts, client.Assign(cfg.topic, cfg.partitions, cfg.from))...)
	if err != nil {
		return 0, fmt.Errorf("consume: topic %q: %w", cfg.topic, err)
	}
	defer c.Close()
	return printAll(ctx, c, cfg, out)
}

// consumeGroup is consume as a member of cfg.group. Close runs after the
// output was flushed and commits the positions of everything fetched:
// everything printed, plus the rest of the last fetch when --count cut it.
func consumeGroup(ctx context.Context, cfg consumeConfig, out io.Writer) (int64, error) {
	settings := client.GroupSettings{SessionTimeout: cfg.sessionTimeout, Start: &cfg.from}
	// Kafka's rule of thumb, a heartbeat at most every third of the session,
	// so a short session (as in tests of a takeover) survives a lost beat.
	if settings.HeartbeatInterval = cfg.sessionTimeout / 3; settings.HeartbeatInterval > 3*time.Second {
		settings.HeartbeatInterval = 0 // the default, 3 s
	}
	gc, err := client.NewGroupConsumer(cfg.group, []string{cfg.topic}, settings, cfg.opts...)
	if err != nil {
		return 0, fmt.Errorf("consume: group %q, topic %q: %w", cfg.group, cfg.topic, err)
	}
	n, err := printAll(ctx, gc, cfg, out)
	if cerr := gc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("consume: commit offsets at exit: %w", cerr)
	}
	return n, err
}

// groupConfigFrom reads --group and --session-timeout into cfg.
func groupConfigFrom(c *cli.Context, cfg *consumeConfig) error {
	cfg.group, cfg.sessionTimeout = c.String("group"), c.Duration("session-timeout")
	if cfg.group == "" {
		if c.IsSet("session-timeout") {
			return errors.New("consume: --session-timeout needs --group")
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

// poller is a Consumer or a GroupConsumer.
type poller interface {
	Poll(ctx context.Context) (client.Fetches, error)
}

// printAll prints records of c to out (buffered) as printRecords does.
func printAll(ctx context.Context, c poller, cfg consumeConfig, out io.Writer) (int64, error) {
	w := bufio.NewWriterSize(out, 256<<10)
	n, err := printRecords(ctx, c, cfg, w)
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("consume: writing output: %w", ferr)
	}
	return n, err
}

func printRecords(ctx context.Context, c poller, cfg consumeConfig, w *bufio.Writer) (n int64, err error) {
	lastRecord, lastFlush := time.Now(), time.Now()
	for {
		wait := flushEvery
		if cfg.exitIdle > 0 {
			left := time.Until(lastRecord.Add(cfg.exitIdle))
			if left <= 0 {
				return n, nil
			}
			wait = min(wait, left)
		}
		pollCtx, cancel := context.WithTimeout(ctx, wait)
		fs, err := c.Poll(pollCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return n, nil
		case errors.Is(err, context.DeadlineExceeded):
			// Idle: show what is buffered now rather than when more comes.
			if err := flushIfBuffered(w, &lastFlush); err != nil {
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
				_, err = w.Write(appendJSONRecord(w.AvailableBuffer(), r))
			} else {
				_, err = w.Write(cfg.format.appendRecord(w.AvailableBuffer(), r))
			}
			if err != nil {
				return n, fmt.Errorf("consume: writing output: %w", err)
			}
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
		if time.Since(lastFlush) >= flushEvery {
			if err := flushIfBuffered(w, &lastFlush); err != nil {
				return n, err
			}
		}
	}
}

func flushIfBuffered(w *bufio.Writer, lastFlush *time.Time) error {
	if w.Buffered() == 0 {
		return nil
	}
	*lastFlush = time.Now()
	if err := w.Flush(); err != nil {
		return fmt.Errorf("consume: writing output: %w", err)
	}
	return nil
}

// checkPartitions fails when a --partition does not exist: the consumer
// would otherwise wait for its leader forever, printing nothing.
func checkPartitions(ctx context.Context, cfg consumeConfig) error {
	a, err := client.NewAdmin(cfg.opts...)
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
	if descs[0].Err != nil {
		return fmt.Errorf("consume: %w", descs[0].Err)
	}
	n := int32(len(descs[0].Partitions))
	for _, p := range cfg.partitions {
		if p >= n {
			return fmt.Errorf("consume: topic %q has %d partitions; there is no partition %d", cfg.topic, n, p)
		}
	}
	return nil
}
