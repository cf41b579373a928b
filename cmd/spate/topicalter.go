package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

// topic alter and topic delete-records: changing a topic in place.

func topicAlterCommand() *cli.Command {
	return &cli.Command{
		Name:      "alter",
		Usage:     "change a topic's configs or add partitions",
		ArgsUsage: "NAME",
		Description: `Sets each --config key=value on the topic; with an empty value
(key=) the key's override is removed and the broker default applies again.
Keys not named keep their values. The broker checks every change as topic
create does and applies all of them or none, persisted before it answers.
flush.policy and flush.ms are fixed at creation and refused. Prints the
topic's resulting value of each key changed. --partitions N grows the topic
to N partitions (a broker alone adds them, a cluster's controller places
them; a topic never shrinks).

Examples:
  spate topic alter events --config retention.ms=3600000
  spate topic alter events --config max.message.bytes=1048576 --config retention.bytes=
  spate topic alter events -c cleanup.policy=compact,delete --json
  spate topic alter events --partitions 24`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(), jsonFlag(),
			&cli.GenericFlag{Name: "config", Aliases: []string{"c"}, Value: &listValue{}, Usage: "topic config `key=value` to set, or key= to remove (repeatable)"},
			&cli.IntFlag{Name: "partitions", Usage: "grow the topic to `N` partitions"},
		},
		Action: withArgs(runTopicAlter),
	}
}

func runTopicAlter(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("topic alter: want one topic NAME, got %d", len(args))
	}
	changes, err := parseConfigs("topic alter", list(c, "config"))
	if err != nil {
		return err
	}
	total := c.Int("partitions")
	if len(changes) == 0 && total == 0 {
		return errors.New("topic alter: no --config key=value or --partitions N given")
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		if total != 0 {
			if err := a.CreatePartitions(ctx, args[0], int32(total)); err != nil {
				return fmt.Errorf("adding partitions to topic %q: %w", args[0], err)
			}
			if len(changes) == 0 {
				return stdout(c).print(map[string]any{"name": args[0], "partitions": total}, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "altered topic %s: %d partitions\n", args[0], total)
					return err
				})
			}
		}
		return alterTopic(ctx, a, args[0], changes, stdout(c))
	})
}

// alterTopic applies changes and prints the resulting value of each key.
func alterTopic(ctx context.Context, a *client.Admin, topic string, changes map[string]string, out output) error {
	err := a.AlterConfigs(ctx, topic, changes)
	switch {
	case errors.Is(err, wire.ErrUnknownTopicOrPartition):
		return fmt.Errorf("topic %q does not exist", topic)
	case err != nil:
		return fmt.Errorf("altering topic %q: %w", topic, err)
	}
	configs, err := a.DescribeConfigs(ctx, topic)
	if err != nil {
		return err
	}
	switch {
	case len(configs) != 1:
		return fmt.Errorf("topic %q altered, but the broker described %d topics", topic, len(configs))
	case configs[0].Err != nil:
		return fmt.Errorf("topic %q altered, but describing it failed: %w", topic, configs[0].Err)
	}
	var changed []describedConfig
	for _, c := range configs[0].Configs {
		if _, ok := changes[c.Key]; ok {
			changed = append(changed, describedConfig{c.Key, c.Value, c.Override})
		}
	}
	doc := describedTopic{Name: topic, Configs: changed}
	return out.print(doc, func(w io.Writer) error {
		for _, c := range changed {
			source := "the broker default"
			if c.Override {
				source = "set on the topic"
			}
			if _, err := fmt.Fprintf(w, "altered topic %s: %s=%s (%s)\n", topic, c.Name, c.Value, source); err != nil {
				return err
			}
		}
		return nil
	})
}

func topicDeleteRecordsCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete-records",
		Usage:     "delete a topic's records below an offset",
		ArgsUsage: "NAME",
		Description: `Moves the log start offset of the topic's partitions (all, or those
given with --partition) up to --before (Kafka's kafka-delete-records):
records below it are no longer readable, consumers reading from the
beginning start there, and segments wholly below it are deleted. The broker
persists the new start before it answers, so it survives a restart.
--before is an offset, or "end" for the high watermark (every committed
record). An offset above a partition's high watermark fails for that
partition. Prints PARTITION LOG-START (the start after the call).

Examples:
  spate topic delete-records events --before 1000
  spate topic delete-records events --before end --partition 0,2`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(), jsonFlag(),
			&cli.StringFlag{Name: "before", Usage: "the new log start `OFFSET`, or end (required)"},
			&cli.GenericFlag{Name: "partition", Aliases: []string{"p"}, Value: &listValue{}, Usage: "only these `partitions` (repeatable or comma list; default all)"},
		},
		Action: withArgs(runTopicDeleteRecords),
	}
}

func runTopicDeleteRecords(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("topic delete-records: want one topic NAME, got %d", len(args))
	}
	before, err := parseBefore(c.String("before"))
	if err != nil {
		return err
	}
	partitions, err := parsePartitions(list(c, "partition"))
	if err != nil {
		return err
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return deleteRecords(ctx, a, args[0], partitions, before, stdout(c))
	})
}

// parseBefore reads --before: an offset, or "end" (wire.HighWatermarkOffset).
func parseBefore(s string) (int64, error) {
	switch s {
	case "":
		return 0, errors.New("topic delete-records: --before OFFSET is required")
	case "end", "latest":
		return wire.HighWatermarkOffset, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("topic delete-records: --before %q: want an offset (0 or more) or end", s)
	}
	return n, nil
}

// logStart is one row of topic delete-records.
type logStart struct {
	Partition      int32  `json:"partition"`
	LogStartOffset int64  `json:"log_start_offset"`
	Error          string `json:"error,omitempty"`
}

func deleteRecords(ctx context.Context, a *client.Admin, topic string, partitions []int32, before int64, out output) error {
	descs, err := a.DescribeTopics(ctx, topic)
	if err != nil {
		return err
	}
	if len(descs) != 1 || errors.Is(descs[0].Err, wire.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("topic %q does not exist", topic)
	}
	if descs[0].Err != nil {
		return descs[0].Err
	}
	n := int32(len(descs[0].Partitions))
	offsets := make(map[int32]int64)
	for p := int32(0); p < n; p++ {
		if partitions == nil || slices.Contains(partitions, p) {
			offsets[p] = before
		}
	}
	for _, p := range partitions {
		if p >= n {
			return fmt.Errorf("topic %q has %d partitions; there is no partition %d", topic, n, p)
		}
	}
	results, err := a.DeleteRecords(ctx, topic, offsets)
	if err != nil {
		return err
	}
	var errs []error
	rows := make([]logStart, 0, len(offsets))
	for p := int32(0); p < n; p++ {
		if _, asked := offsets[p]; !asked {
			continue
		}
		r, answered := results[p]
		row := logStart{Partition: p, LogStartOffset: r.LogStartOffset}
		if !answered {
			r.Err = fmt.Errorf("topic %q partition %d: no answer from the broker", topic, p)
		}
		if r.Err != nil {
			row.LogStartOffset, row.Error = -1, r.Err.Error()
			errs = append(errs, r.Err)
		}
		rows = append(rows, row)
	}
	err = out.print(rows, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tLOG-START")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\n", r.Partition, offset(r.LogStartOffset))
		}
		return tw.Flush()
	})
	return errors.Join(append(errs, err)...)
}
