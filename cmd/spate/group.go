package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
)

func groupCommand() *cli.Command {
	return &cli.Command{
		Name:  "group",
		Usage: "list, describe, reset and delete consumer groups",
		Description: `Every group command takes --json: its result as one JSON document on
stdout, for scripts.

Examples:
  spate group list
  spate group describe billing
  spate group reset-offsets billing --topic events --to-earliest --execute
  spate group delete billing`,
		Subcommands: []*cli.Command{
			groupListCommand(), groupDescribeCommand(), groupResetCommand(), groupDeleteCommand(),
		},
	}
}

func groupListCommand() *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list consumer groups",
		Description: `Prints a table of every group: GROUP STATE PROTOCOL-TYPE.

Example:
  spate group list`,
		Flags: []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("group list: unexpected argument %q", args[0])
			}
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return listGroups(ctx, a, stdout(c))
			})
		}),
	}
}

// listedGroup is one row of group list.
type listedGroup struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
}

func listGroups(ctx context.Context, a *client.Admin, out output) error {
	groups, err := a.ListGroups(ctx)
	if err != nil {
		return err
	}
	rows := make([]listedGroup, 0, len(groups))
	for _, g := range groups {
		rows = append(rows, listedGroup{g.GroupID, g.State, g.ProtocolType})
	}
	return out.print(rows, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL-TYPE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Group, r.State, r.ProtocolType)
		}
		return tw.Flush()
	})
}

func groupDescribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "describe",
		Aliases:   []string{"d"},
		Usage:     "show a group's offsets, lag and members",
		ArgsUsage: "GROUP",
		Description: `Prints one row for every partition of every topic the group has a
committed offset in or is assigned:

  CURRENT-OFFSET  the group's committed offset, the next one it reads
                  ("-": none committed)
  LOG-END-OFFSET  the partition's high watermark, the end of what
                  consumers can read
  LAG             LOG-END-OFFSET minus CURRENT-OFFSET ("-": no commit)
  MEMBER, HOST    the member the partition is assigned to and its address
                  ("-": none)

Example:
  spate group describe billing`,
		Flags: []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("group describe: want one GROUP argument, got %d", len(args))
			}
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return describeGroup(ctx, a, args[0], stdout(c))
			})
		}),
	}
}

// groupPartition is one row of `group describe`.
type groupPartition struct {
	tp                client.TopicPartition
	current, logEnd   int64 // -1: none
	member, host      string
	committed, listed bool
}

// describedGroupPartition is one row of group describe --json; offsets
// and lag are null where the text shows "-".
type describedGroupPartition struct {
	Group         string `json:"group"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"`
	LogEndOffset  *int64 `json:"log_end_offset"`
	Lag           *int64 `json:"lag"`
	Member        string `json:"member,omitempty"`
	Host          string `json:"host,omitempty"`
}

func describeGroup(ctx context.Context, a *client.Admin, group string, out output) error {
	rows, err := groupPartitions(ctx, a, group)
	if err != nil {
		return err
	}
	if out.json {
		doc := make([]describedGroupPartition, 0, len(rows))
		for _, r := range rows {
			d := describedGroupPartition{Group: group, Topic: r.tp.Topic, Partition: r.tp.Partition}
			if r.committed {
				d.CurrentOffset = &r.current
			}
			if r.listed {
				d.LogEndOffset = &r.logEnd
			}
			if r.committed && r.listed {
				lag := max(r.logEnd-r.current, 0)
				d.Lag = &lag
			}
			if r.member != "-" {
				d.Member, d.Host = r.member, r.host
			}
			doc = append(doc, d)
		}
		return out.print(doc, nil)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER\tHOST")
	for _, r := range rows {
		current, lag, logEnd := "-", "-", "-"
		if r.listed {
			logEnd = fmt.Sprint(r.logEnd)
		}
		if r.committed {
			current = fmt.Sprint(r.current)
			if r.listed {
				lag = fmt.Sprint(max(r.logEnd-r.current, 0))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", group, r.tp.Topic, r.tp.Partition, current, logEnd, lag, r.member, r.host)
	}
	return tw.Flush()
}

// groupPartitions gathers the rows of `group describe`, sorted by topic and
// partition.
func groupPartitions(ctx context.Context, a *client.Admin, group string) ([]groupPartition, error) {
	descs, err := a.DescribeGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	if descs[0].Err != nil {
		return nil, descs[0].Err
	}
	offsets, err := a.FetchGroupOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if descs[0].State == "Dead" && len(offsets) == 0 {
		return nil, fmt.Errorf("group %q does not exist", group)
	}
	var topics []string
	for tp := range offsets {
		topics = append(topics, tp.Topic)
	}
	owner := map[client.TopicPartition]client.GroupMemberDescription{}
	for _, m := range descs[0].Members {
		for _, tp := range m.Assigned {
			owner[tp] = m
			topics = append(topics, tp.Topic)
		}
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	var rows []groupPartition
	var tps []client.TopicPartition
	if len(topics) > 0 {
		tds, err := a.DescribeTopics(ctx, topics...)
		if err != nil {
			return nil, err
		}
		for _, td := range tds {
			for _, p := range td.Partitions {
				tps = append(tps, client.TopicPartition{Topic: td.Name, Partition: p.Partition})
			}
		}
	}
	ends, err := a.ListOffsets(ctx, client.Latest(), tps...)
	if err != nil {
		return nil, err
	}
	for _, tp := range tps {
		r := groupPartition{tp: tp, current: -1, logEnd: -1, member: "-", host: "-"}
		r.current, r.committed = offsets[tp]
		if e := ends[tp]; e.Err == nil {
			r.logEnd, r.listed = e.Offset, true
		}
		if m, ok := owner[tp]; ok {
			r.member, r.host = m.MemberID, m.ClientHost
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func groupResetCommand() *cli.Command {
	return &cli.Command{
		Name:      "reset-offsets",
		Usage:     "move a group's committed offsets on a topic",
		ArgsUsage: "GROUP",
		Description: `Sets the group's committed offset of every partition of --topic to the
position one of these flags names:

  --to-earliest        the log start
  --to-latest          the high watermark (skip everything stored)
  --to-offset N        offset N, clamped to [log start, high watermark]
  --to-datetime TIME   the first record at or after an RFC 3339 TIME (the
                       high watermark where none is)

Without --execute it is a dry run: it prints the plan (GROUP TOPIC
PARTITION CURRENT-OFFSET NEW-OFFSET) and changes nothing. The group must
have no members: stop its consumers first (the broker refuses otherwise).

Examples:
  spate group reset-offsets billing --topic events --to-earliest
  spate group reset-offsets billing --topic events --to-datetime 2026-11-24T21:00:00Z --execute`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(), jsonFlag(),
			// Not Required: urfave/cli checks that before withArgs has read
			// the flags after GROUP, so the documented order would fail.
			&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "the `TOPIC` whose offsets move (required)"},
			&cli.BoolFlag{Name: "to-earliest", Usage: "reset to the log start"},
			&cli.BoolFlag{Name: "to-latest", Usage: "reset to the high watermark"},
			&cli.Int64Flag{Name: "to-offset", Usage: "reset to offset `N`"},
			&cli.StringFlag{Name: "to-datetime", Usage: "reset to the first record at or after RFC 3339 `TIME`"},
			&cli.BoolFlag{Name: "execute", Usage: "apply the plan (default: print it only)"},
		},
		Action: withArgs(runGroupReset),
	}
}

// resetTo is the position flag of `group reset-offsets`.
type resetTo int

const (
	toEarliest resetTo = iota
	toLatest
	toOffset
	toDatetime
)

// resetConfig is what `spate group reset-offsets` was asked to do.
type resetConfig struct {
	group, topic string
	to           resetTo
	offset       int64     // toOffset
	at           time.Time // toDatetime
	execute      bool
}

func runGroupReset(c *cli.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("group reset-offsets: want one GROUP argument, got %d", len(args))
	}
	cfg := resetConfig{group: args[0], topic: c.String("topic"), execute: c.Bool("execute")}
	if cfg.topic == "" {
		return fmt.Errorf("group reset-offsets: --topic is required")
	}
	var chosen []string
	if c.Bool("to-earliest") {
		chosen, cfg.to = append(chosen, "--to-earliest"), toEarliest
	}
	if c.Bool("to-latest") {
		chosen, cfg.to = append(chosen, "--to-latest"), toLatest
	}
	if c.IsSet("to-offset") {
		n := c.Int64("to-offset")
		if n < 0 {
			return fmt.Errorf("group reset-offsets: --to-offset %d: an offset is at least 0", n)
		}
		chosen, cfg.to, cfg.offset = append(chosen, "--to-offset"), toOffset, n
	}
	if s := c.String("to-datetime"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("group reset-offsets: --to-datetime %q: want an RFC 3339 time like 2026-11-24T21:00:00Z", s)
		}
		chosen, cfg.to, cfg.at = append(chosen, "--to-datetime"), toDatetime, t
	}
	if len(chosen) != 1 {
		return fmt.Errorf("group reset-offsets: want exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime; got %d", len(chosen))
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return resetOffsets(ctx, a, cfg, stdout(c), os.Stderr)
	})
}

// resetOffsets prints the plan to out and, with cfg.execute, commits it.
// plannedReset is one row of group reset-offsets --json.
type plannedReset struct {
	Group         string `json:"group"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset *int64 `json:"current_offset"` // null: none committed
	NewOffset     int64  `json:"new_offset"`
}

func resetOffsets(ctx context.Context, a *client.Admin, cfg resetConfig, out output, notes io.Writer) error {
	descs, err := a.DescribeGroups(ctx, cfg.group)
	if err != nil {
		return err
	}
	if n := len(descs[0].Members); n > 0 {
		return fmt.Errorf("group reset-offsets: group %q has %d active members; stop its consumers first", cfg.group, n)
	}
	plan, err := resetPlan(ctx, a, cfg)
	if err != nil {
		return err
	}
	current, err := a.FetchGroupOffsets(ctx, cfg.group)
	if err != nil {
		return err
	}
	tps := make([]client.TopicPartition, 0, len(plan))
	for tp := range plan {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(x, y client.TopicPartition) int { return int(x.Partition) - int(y.Partition) })
	rows := make([]plannedReset, 0, len(tps))
	for _, tp := range tps {
		r := plannedReset{Group: cfg.group, Topic: tp.Topic, Partition: tp.Partition, NewOffset: plan[tp]}
		if off, ok := current[tp]; ok {
			r.CurrentOffset = &off
		}
		rows = append(rows, r)
	}
	err = out.print(rows, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
		for _, r := range rows {
			cur := "-"
			if r.CurrentOffset != nil {
				cur = fmt.Sprint(*r.CurrentOffset)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", r.Group, r.Topic, r.Partition, cur, r.NewOffset)
		}
		return tw.Flush()
	})
	if err != nil {
		return err
	}
	if !cfg.execute {
		fmt.Fprintln(notes, "dry run: nothing changed; add --execute to apply")
		return nil
	}
	if err := a.CommitGroupOffsets(ctx, cfg.group, plan); err != nil {
		return fmt.Errorf("group reset-offsets: %w", err)
	}
	fmt.Fprintf(notes, "reset %d partitions of topic %s for group %s\n", len(plan), cfg.topic, cfg.group)
	return nil
}

// resetPlan computes the new offset of every partition of cfg.topic.
func resetPlan(ctx context.Context, a *client.Admin, cfg resetConfig) (map[client.TopicPartition]int64, error) {
	tds, err := a.DescribeTopics(ctx, cfg.topic)
	if err != nil {
		return nil, err
	}
	if len(tds) != 1 {
		return nil, fmt.Errorf("group reset-offsets: topic %q: the broker described %d topics", cfg.topic, len(tds))
	}
	if tds[0].Err != nil {
		return nil, fmt.Errorf("group reset-offsets: %w", tds[0].Err)
	}
	var byTime map[client.TopicPartition]client.ListedOffset
	if cfg.to == toDatetime {
		tps := make([]client.TopicPartition, len(tds[0].Partitions))
		for i, p := range tds[0].Partitions {
			tps[i] = client.TopicPartition{Topic: cfg.topic, Partition: p.Partition}
		}
		if byTime, err = a.ListOffsets(ctx, client.AtTime(cfg.at), tps...); err != nil {
			return nil, err
		}
	}
	plan := make(map[client.TopicPartition]int64)
	for _, p := range tds[0].Partitions {
		if p.Err != nil {
			return nil, fmt.Errorf("group reset-offsets: %w", p.Err)
		}
		tp := client.TopicPartition{Topic: cfg.topic, Partition: p.Partition}
		switch cfg.to {
		case toEarliest:
			plan[tp] = p.LogStartOffset
		case toLatest:
			plan[tp] = p.HighWatermark
		case toOffset:
			plan[tp] = min(max(cfg.offset, p.LogStartOffset), p.HighWatermark)
		case toDatetime:
			lo := byTime[tp]
			if lo.Err != nil {
				return nil, fmt.Errorf("group reset-offsets: %w", lo.Err)
			}
			// No record at or after the time: past the end, like Kafka.
			plan[tp] = p.HighWatermark
			if lo.Offset >= 0 {
				plan[tp] = lo.Offset
			}
		}
	}
	return plan, nil
}

func groupDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete consumer groups and their committed offsets",
		ArgsUsage: "GROUP...",
		Description: `Deletes each named group. A group with active members cannot be deleted:
stop its consumers first. Exits 1 if any group could not be deleted.

Example:
  spate group delete billing`,
		Flags: []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
		Action: withArgs(func(c *cli.Context, args []string) error {
			if len(args) == 0 {
				return errors.New("group delete: no group name given")
			}
			return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
				return deleteGroups(ctx, a, args, stdout(c))
			})
		}),
	}
}

func deleteGroups(ctx context.Context, a *client.Admin, groups []string, out output) error {
	var errs []error
	results := make([]itemResult, 0, len(groups))
	for _, g := range groups {
		err := a.DeleteGroups(ctx, g)
		results = append(results, result(g, err))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out.printResults("deleted group", results, errs)
}
