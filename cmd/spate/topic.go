package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		Usage: "create, list, describe, alter and delete topics, and delete their oldest records",
		Description: `Every topic command takes --json: its result as one JSON document on
stdout, for scripts.

Examples:
  spate topic create events --partitions 6
  spate topic list
  spate topic describe events
  spate topic alter events --config retention.ms=3600000
  spate topic delete-records events --before 1000
  spate topic reassign events --partition 0 --replicas 2,3,4
  spate topic describe --under-replicated
  spate topic delete events`,
		Subcommands: []*cli.Command{
			topicCreateCommand(), topicListCommand(), topicDescribeCommand(), topicAlterCommand(),
			topicDeleteRecordsCommand(), topicReassignCommand(), topicDeleteCommand(),
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
			brokersFlag(), timeoutFlag(), jsonFlag(),
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
	var err error
	if cfg.configs, err = parseConfigs("topic create", list(c, "config")); err != nil {
		return err
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return createTopics(ctx, a, cfg, stdout(c))
	})
}

// parseConfigs reads --config key=value flags; an empty value is kept (for
// topic alter it removes the override).
func parseConfigs(cmd string, kvs []string) (map[string]string, error) {
	configs := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: --config %q: want key=value", cmd, kv)
		}
		configs[strings.TrimSpace(k)] = v
	}
	return configs, nil
}

// createTopics creates the topics one request each, so every failure is
// reported against its own name, and prints one line per created topic.
func createTopics(ctx context.Context, a *client.Admin, cfg topicCreateConfig, out output) error {
	var errs []error
	results := make([]itemResult, 0, len(cfg.names))
	for _, name := range cfg.names {
		err := a.CreateTopic(ctx, name, cfg.partitions, cfg.replicationFactor, cfg.configs)
		switch {
		case errors.Is(err, wire.ErrTopicAlreadyExists):
			err = fmt.Errorf("topic %q already exists", name)
		case errors.Is(err, wire.ErrInvalidTopic):
			err = fmt.Errorf("invalid topic name %q: %w", name, err)
		case err != nil:
			err = fmt.Errorf("creating topic %q: %w", name, err)
		}
		results = append(results, result(name, err))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out.printResults("created topic", results, errs)
}

// result is the itemResult of one item.
func result(name string, err error) itemResult {
	if err != nil {
		return itemResult{Name: name, Error: err.Error()}
	}
	return itemResult{Name: name}
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
  spate topic list --names | xargs spate topic describe
  spate topic list --json | jq -r '.[] | select(.partitions > 1) | .name'`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "names", Aliases: []string{"q"}, Usage: "print names only"},
		},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("topic list: unexpected argument %q", args[0])
			}
			namesOnly := c.Bool("names")
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return listTopics(ctx, a, namesOnly, stdout(c))
			})
		}),
	}
}

// listedTopic is one row of topic list.
type listedTopic struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
}

func listTopics(ctx context.Context, a *client.Admin, namesOnly bool, out output) error {
	if namesOnly {
		names, err := a.ListTopics(ctx)
		if err != nil {
			return err
		}
		return out.print(names, func(w io.Writer) error {
			for _, n := range names {
				if _, err := fmt.Fprintln(w, n); err != nil {
					return err
				}
			}
			return nil
		})
	}
	descs, err := a.DescribeTopics(ctx)
	if err != nil {
		return err
	}
	rows := make([]listedTopic, 0, len(descs))
	for _, d := range descs {
		rf := 0
		if len(d.Partitions) > 0 {
			rf = len(d.Partitions[0].Replicas)
		}
		rows = append(rows, listedTopic{d.Name, len(d.Partitions), rf})
	}
	return out.print(rows, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICAS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", r.Name, r.Partitions, r.Replicas)
		}
		return tw.Flush()
	})
}

func topicDescribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Aliases:   []string{"d"},
		Usage:     "show topics' partitions, replicas, offsets and configs",
		ArgsUsage: "NAME...",
		Description: `Prints, for each named topic, one row per partition:

  PARTITION       the partition number
  LEADER          the broker id of its leader (-1: none)
  REPLICAS, ISR   broker ids of its replicas and of the in-sync ones
  LOG-START       the first offset still stored (retention and
                  topic delete-records move it)
  LOG-END         the offset the next appended record will get; records
                  between HIGH-WATERMARK and LOG-END are stored but not yet
                  committed (waiting for an fdatasync under
                  flush.policy=always, or for in-sync replicas)
  HIGH-WATERMARK  the end of what consumers may read; HIGH-WATERMARK minus
                  LOG-START is the number of records readable

then one row per topic config: CONFIG, its effective VALUE, and its
SOURCE: "topic" when set on the topic (by topic create or topic alter),
"default" when it follows the broker's default. With --json, offsets the
broker could not report are -1.

Exits 1 if any topic does not exist.

With --under-replicated (and no NAME), prints instead one row per
partition, of every topic, whose ISR is smaller than its replica set or
that a reassignment is moving (topic reassign): TOPIC, PARTITION, LEADER,
REPLICAS, ISR and REASSIGNING-TO, the target replica set (its members not
in the ISR are still catching up). No rows: everything is in sync.

Examples:
  spate topic describe events
  spate topic describe events orders
  spate topic describe events --json | jq '.[0].configs'
  spate topic describe --under-replicated`,
		Flags: []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "under-replicated", Usage: "list the partitions not fully in sync, of every topic"}},
		Action: withArgs(runTopicDescribe),
	}
}

func runTopicDescribe(c *cli.Context, args []string) error {
	if c.Bool("under-replicated") {
		if len(args) > 0 {
			return errors.New("topic describe: --under-replicated covers every topic; give no NAME")
		}
		return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
			return describeUnderReplicated(ctx, a, stdout(c))
		})
	}
	if len(args) == 0 {
		return errors.New("topic describe: no topic name given")
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return describeTopics(ctx, a, args, stdout(c))
	})
}

// describedTopic is one topic of topic describe.
type describedTopic struct {
	Name       string               `json:"name"`
	Partitions []describedPartition `json:"partitions"`
	Configs    []describedConfig    `json:"configs"`
}

type describedPartition struct {
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	LogStartOffset int64   `json:"log_start_offset"`
	LogEndOffset   int64   `json:"log_end_offset"`
	HighWatermark  int64   `json:"high_watermark"`
}

type describedConfig struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Override bool   `json:"override"`
}

// describeTopics prints a table of partitions and one of configs per
// topic. It checks that the topics exist first, because a Metadata request
// naming a topic creates it on a broker with auto.create.topics.enable
// (the native protocol has no flag to ask otherwise), and describing must
// not create anything.
func describeTopics(ctx context.Context, a *client.Admin, names []string, out output) error {
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
	topics, err := describeExisting(ctx, a, existing, &errs)
	if err != nil {
		return err
	}
	if err := out.print(topics, func(w io.Writer) error { return printTopics(w, topics) }); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// describeExisting gathers the partitions and configs of existing topics;
// per-topic and per-partition errors are appended to errs.
func describeExisting(ctx context.Context, a *client.Admin, names []string, errs *[]error) ([]describedTopic, error) {
	descs, err := a.DescribeTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	configs, err := a.DescribeConfigs(ctx, names...)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]client.TopicConfigs, len(configs))
	for _, tc := range configs {
		byName[tc.Name] = tc
	}
	var topics []describedTopic
	for _, d := range descs {
		if d.Err != nil {
			*errs = append(*errs, d.Err)
			continue
		}
		dt := describedTopic{Name: d.Name, Partitions: []describedPartition{}, Configs: []describedConfig{}}
		for _, p := range d.Partitions {
			dt.Partitions = append(dt.Partitions, describedPartition{p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR,
				p.LogStartOffset, p.LogEndOffset, p.HighWatermark})
			if p.Err != nil {
				*errs = append(*errs, p.Err)
			}
		}
		tc := byName[d.Name]
		if tc.Err != nil {
			*errs = append(*errs, tc.Err)
		}
		for _, c := range tc.Configs {
			dt.Configs = append(dt.Configs, describedConfig{c.Key, c.Value, c.Override})
		}
		topics = append(topics, dt)
	}
	return topics, nil
}

// printTopics is the text form of topic describe.
func printTopics(w io.Writer, topics []describedTopic) error {
	for i, d := range topics {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "TOPIC %s  PARTITIONS %d\n", d.Name, len(d.Partitions))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tLEADER\tLEADER-EPOCH\tREPLICAS\tISR\tLOG-START\tLOG-END\tHIGH-WATERMARK")
		for _, p := range d.Partitions {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader, p.LeaderEpoch, ids(p.Replicas), ids(p.ISR),
				offset(p.LogStartOffset), offset(p.LogEndOffset), offset(p.HighWatermark))
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
		for _, c := range d.Configs {
			source := "default"
			if c.Override {
				source = "topic"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Value, source)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
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
		Flags: []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) == 0 {
				return errors.New("topic delete: no topic name given")
			}
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return deleteTopics(ctx, a, args, stdout(c))
			})
		}),
	}
}

func deleteTopics(ctx context.Context, a *client.Admin, names []string, out output) error {
	var errs []error
	results := make([]itemResult, 0, len(names))
	for _, name := range names {
		err := a.DeleteTopic(ctx, name)
		switch {
		case errors.Is(err, wire.ErrUnknownTopicOrPartition):
			err = fmt.Errorf("topic %q does not exist", name)
		case err != nil:
			err = fmt.Errorf("deleting topic %q: %w", name, err)
		}
		results = append(results, result(name, err))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out.printResults("deleted topic", results, errs)
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
