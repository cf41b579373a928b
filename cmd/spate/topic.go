package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

func topicCommand() *cli.Command {
	return &cli.Command{
		Name:  "topic",
		Usage: "create, list, describe and delete topics",
		Description: `Examples:
  spate topic create events --partitions 6
  spate topic list
  spate topic describe events
  spate topic delete events`,
		Subcommands: []*cli.Command{
			topicCreateCommand(), topicListCommand(), topicDescribeCommand(), topicDeleteCommand(),
		},
	}
}

func topicCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create topics",
		ArgsUsage: "NAME...",
		Description: `Creates each named topic. Names are ASCII letters, digits, '.', '_' and
'-', at most 249 characters. --config takes topic-level keys (Kafka names,
e.g. retention.ms, segment.bytes, flush.policy) and may be repeated.
Exits 1 if any topic could not be created (e.g. it already exists).

Examples:
  spate topic create events
  spate topic create events --partitions 12 --config retention.ms=86400000
  spate topic create a b c -p 3`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(),
			&cli.IntFlag{Name: "partitions", Aliases: []string{"p"}, Value: -1, Usage: "partitions (-1: the broker's num.partitions)"},
			&cli.IntFlag{Name: "replication-factor", Aliases: []string{"r"}, Value: -1, Usage: "replicas per partition (-1: the broker's default)"},
			&cli.GenericFlag{Name: "config", Aliases: []string{"c"}, Value: &listValue{}, Usage: "topic config `key=value` (repeatable)"},
		},
		Action: withArgs(runTopicCreate),
	}
}

// topicCreateConfig is what `spate topic create` was asked to do.
type topicCreateConfig struct {
	names             []string
	partitions        int32
	replicationFactor int16
	configs           map[string]string
}

func runTopicCreate(c *cli.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("topic create: no topic name given")
	}
	cfg := topicCreateConfig{names: args, partitions: int32(c.Int("partitions")),
		replicationFactor: int16(c.Int("replication-factor")), configs: map[string]string{}}
	if p := c.Int("partitions"); p == 0 || p < -1 {
		return fmt.Errorf("topic create: --partitions %d: want at least 1 (or -1 for the broker default)", p)
	}
	if r := c.Int("replication-factor"); r == 0 || r < -1 || r > 1<<15-1 {
		return fmt.Errorf("topic create: --replication-factor %d: want at least 1 (or -1 for the broker default)", r)
	}
	for _, kv := range list(c, "config") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("topic create: --config %q: want key=value", kv)
		}
		cfg.configs[strings.TrimSpace(k)] = v
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return createTopics(ctx, a, cfg, os.Stdout)
	})
}

// createTopics creates the topics one request each, so every failure is
// reported against its own name, and prints one line per created topic.
func createTopics(ctx context.Context, a *client.Admin, cfg topicCreateConfig, out io.Writer) error {
	var errs []error
	for _, name := range cfg.names {
		err := a.CreateTopic(ctx, name, cfg.partitions, cfg.replicationFactor, cfg.configs)
		switch {
		case errors.Is(err, wire.ErrTopicAlreadyExists):
			errs = append(errs, fmt.Errorf("topic %q already exists", name))
		case errors.Is(err, wire.ErrInvalidTopic):
			errs = append(errs, fmt.Errorf("invalid topic name %q: %w", name, err))
		case err != nil:
			errs = append(errs, fmt.Errorf("creating topic %q: %w", name, err))
		default:
			fmt.Fprintf(out, "created topic %s\n", name)
		}
	}
	return errors.Join(errs...)
}

func topicListCommand() *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list topics",
		Description: `Prints a table of every topic: NAME PARTITIONS REPLICAS (the replication
factor). With --names, prints only the names, one per line, for scripts.

Examples:
  spate topic list
  spate topic list --names | xargs spate topic describe`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(),
			&cli.BoolFlag{Name: "names", Aliases: []string{"q"}, Usage: "print names only"},
		},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("topic list: unexpected argument %q", args[0])
			}
			namesOnly := c.Bool("names")
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return listTopics(ctx, a, namesOnly, os.Stdout)
			})
		}),
	}
}

func listTopics(ctx context.Context, a *client.Admin, namesOnly bool, out io.Writer) error {
	if namesOnly {
		names, err := a.ListTopics(ctx)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(out, n)
		}
		return nil
	}
	descs, err := a.DescribeTopics(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICAS")
	for _, d := range descs {
		rf := 0
		if len(d.Partitions) > 0 {
			rf = len(d.Partitions[0].Replicas)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", d.Name, len(d.Partitions), rf)
	}
	return tw.Flush()
}

func topicDescribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Aliases:   []string{"d"},
		Usage:     "show topics' partitions, replicas and offsets",
		ArgsUsage: "NAME...",
		Description: `Prints, for each named topic, one row per partition:

  PARTITION       the partition number
  LEADER          the broker id of its leader (-1: none)
  REPLICAS, ISR   broker ids of its replicas and of the in-sync ones
  LOG-START       the first offset still stored (retention moves it)
  LOG-END         the offset the next appended record will get; records
                  between HIGH-WATERMARK and LOG-END are stored but not yet
                  committed (waiting for an fdatasync under
                  flush.policy=always, or for in-sync replicas)
  HIGH-WATERMARK  the end of what consumers may read; HIGH-WATERMARK minus
                  LOG-START is the number of records readable

Exits 1 if any topic does not exist.

Examples:
  spate topic describe events
  spate topic describe events orders`,
		Flags:  []cli.Flag{brokersFlag(), timeoutFlag()},
		Action: withArgs(runTopicDescribe),
	}
}

func runTopicDescribe(c *cli.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("topic describe: no topic name given")
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return describeTopics(ctx, a, args, os.Stdout)
	})
}

// describeTopics prints a table per topic. It checks that the topics exist
// first, because a Metadata request naming a topic creates it on a broker
// with auto.create.topics.enable (the native protocol has no flag to ask
// otherwise), and describing must not create anything.
func describeTopics(ctx context.Context, a *client.Admin, names []string, out io.Writer) error {
	all, err := a.ListTopics(ctx)
	if err != nil {
		return err
	}
	var errs []error
	var existing []string
	for _, n := range names {
		if slices.Contains(all, n) {
			existing = append(existing, n)
		} else {
			errs = append(errs, fmt.Errorf("topic %q does not exist", n))
		}
	}
	if len(existing) == 0 {
		return errors.Join(errs...)
	}
	descs, err := a.DescribeTopics(ctx, existing...)
	if err != nil {
		return err
	}
	for i, d := range descs {
		if d.Err != nil {
			errs = append(errs, d.Err)
			continue
		}
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "TOPIC %s  PARTITIONS %d\n", d.Name, len(d.Partitions))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tLOG-END\tHIGH-WATERMARK")
		for _, p := range d.Partitions {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader, ids(p.Replicas), ids(p.ISR),
				offset(p.LogStartOffset), offset(p.LogEndOffset), offset(p.HighWatermark))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range d.Partitions {
			if p.Err != nil {
				errs = append(errs, p.Err)
			}
		}
	}
	return errors.Join(errs...)
}

// ids formats broker ids as Kafka tools do: [1,2,3].
func ids(v []int32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, id)
	}
	b.WriteByte(']')
	return b.String()
}

// offset shows an unknown offset (-1, the partition answered an error) as "-".
func offset(o int64) string {
	if o < 0 {
		return "-"
	}
	return fmt.Sprint(o)
}

func topicDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Aliases:   []string{"rm"},
		Usage:     "delete topics and their data",
		ArgsUsage: "NAME...",
		Description: `Deletes each named topic with all its records. There is no undo.
Exits 1 if any topic could not be deleted (e.g. it does not exist).

Examples:
  spate topic delete events
  spate topic list --names | grep '^test-' | xargs spate topic delete`,
		Flags: []cli.Flag{brokersFlag(), timeoutFlag()},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) == 0 {
				return errors.New("topic delete: no topic name given")
			}
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return deleteTopics(ctx, a, args, os.Stdout)
			})
		}),
	}
}

func deleteTopics(ctx context.Context, a *client.Admin, names []string, out io.Writer) error {
	var errs []error
	for _, name := range names {
		err := a.DeleteTopic(ctx, name)
		switch {
		case errors.Is(err, wire.ErrUnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("topic %q does not exist", name))
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting topic %q: %w", name, err))
		default:
			fmt.Fprintf(out, "deleted topic %s\n", name)
		}
	}
	return errors.Join(errs...)
}

// withAdmin runs fn with an admin client and a context bounded by
// --timeout and canceled by Ctrl-C.
func withAdmin(c *cli.Context, fn func(context.Context, *client.Admin) error) error {
	a, err := client.NewAdmin(client.SeedBrokers(brokers(c)...), client.UnreachableTimeout(unreachableAfter))
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, stop := signalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	return fn(ctx, a)
}
