package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
)

// topic reassign: moving partitions' replicas between brokers.

func topicReassignCommand() *cli.Command {
	return &cli.Command{
		Name:      "reassign",
		Usage:     "move a partition's replicas to other brokers",
		ArgsUsage: "[NAME]",
		Description: `Moves partition --partition of topic NAME to the replica set --replicas
(broker ids, preferred leader first), or every partition a --plan file
lists. The new replicas copy the log from the leader and join the ISR;
once every listed replica is in sync, the controller removes the others
(handing leadership to a listed replica first if the leader is removed)
and each removed broker deletes its copy. The command returns once the
move has started; topic describe --under-replicated shows it until it
finished. Reassigning a partition again replaces the move in progress
(reassign it to its former replicas to cancel). This is how a dead
broker's replicas move to a new one.

A plan is a JSON array of {"topic": T, "partition": P, "replicas": [ids]}.
Exits 1 if any partition could not be reassigned.

Examples:
  spate topic reassign events --partition 0 --replicas 2,3,4
  spate topic reassign --plan moves.json
  spate topic describe --under-replicated`,
		Flags: []cli.Flag{
			brokersFlag(), timeoutFlag(), jsonFlag(),
			&cli.IntFlag{Name: "partition", Aliases: []string{"p"}, Value: -1, Usage: "the partition to move"},
			&cli.StringFlag{Name: "replicas", Aliases: []string{"r"}, Usage: "the new replica set: broker `ids`, comma separated, preferred leader first"},
			&cli.StringFlag{Name: "plan", Usage: "a JSON `file` of moves: [{\"topic\":T,\"partition\":P,\"replicas\":[ids]}]"},
		},
		Action: withArgs(runTopicReassign),
	}
}

// move is one partition to reassign (a plan's element).
type move struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

func runTopicReassign(c *cli.Context, args []string) error {
	moves, err := reassignMoves(args, c.Int("partition"), c.String("replicas"), c.String("plan"))
	if err != nil {
		return err
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		return reassign(ctx, a, moves, stdout(c))
	})
}

// reassignMoves is what the arguments ask: one move, or a plan's.
func reassignMoves(args []string, partition int, replicas, plan string) ([]move, error) {
	if plan != "" {
		if len(args) > 0 || replicas != "" || partition != -1 {
			return nil, errors.New("topic reassign: --plan takes no NAME, --partition or --replicas")
		}
		b, err := os.ReadFile(plan)
		if err != nil {
			return nil, fmt.Errorf("topic reassign: %w", err)
		}
		return parsePlan(plan, b)
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("topic reassign: want one topic NAME (or --plan), got %d", len(args))
	}
	if partition < 0 || replicas == "" {
		return nil, errors.New("topic reassign: --partition P and --replicas ids are required")
	}
	ids, err := parseIDs(replicas)
	if err != nil {
		return nil, fmt.Errorf("topic reassign: --replicas %q: %w", replicas, err)
	}
	return []move{{Topic: args[0], Partition: int32(partition), Replicas: ids}}, nil
}

// parsePlan decodes a plan file's JSON.
func parsePlan(name string, b []byte) ([]move, error) {
	var moves []move
	if err := json.Unmarshal(b, &moves); err != nil {
		return nil, fmt.Errorf("topic reassign: plan %s: %w", name, err)
	}
	if len(moves) == 0 {
		return nil, fmt.Errorf("topic reassign: plan %s lists no moves", name)
	}
	for i, m := range moves {
		if m.Topic == "" || m.Partition < 0 || len(m.Replicas) == 0 {
			return nil, fmt.Errorf("topic reassign: plan %s: move %d needs a topic, a partition >= 0 and replicas", name, i)
		}
	}
	return moves, nil
}

// parseIDs parses comma-separated broker ids.
func parseIDs(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("%q is not a broker id", f)
		}
		out = append(out, int32(id))
	}
	return out, nil
}

// reassignResult is the JSON of one move.
type reassignResult struct {
	move
	Error string `json:"error,omitempty"`
}

func reassign(ctx context.Context, a *client.Admin, moves []move, out output) error {
	var errs []error
	results := make([]reassignResult, 0, len(moves))
	for _, m := range moves {
		r := reassignResult{move: m}
		if err := a.ReassignPartition(ctx, m.Topic, m.Partition, m.Replicas); err != nil {
			r.Error = err.Error()
			errs = append(errs, err)
		}
		results = append(results, r)
	}
	err := out.print(results, func(w io.Writer) error {
		for _, r := range results {
			if r.Error == "" {
				fmt.Fprintf(w, "reassigning %s-%d to %s\n", r.Topic, r.Partition, ids(r.Replicas))
			}
		}
		return nil
	})
	return errors.Join(append([]error{err}, errs...)...)
}

// underReplicated is one row of topic describe --under-replicated.
type underReplicated struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	// Target is the replica set a reassignment in progress moves to;
	// absent when none is.
	Target []int32 `json:"target,omitempty"`
}

// describeUnderReplicated lists, over every topic, the partitions whose
// ISR is smaller than their replica set and those being reassigned.
func describeUnderReplicated(ctx context.Context, a *client.Admin, out output) error {
	moving, err := a.ListReassignments(ctx)
	if err != nil {
		return err
	}
	names, err := a.ListTopics(ctx)
	if err != nil {
		return err
	}
	targets := map[string][]int32{}
	for _, r := range moving {
		targets[fmt.Sprintf("%s-%d", r.Topic, r.Partition)] = r.Target
	}
	rows := []underReplicated{}
	if len(names) > 0 {
		descs, err := a.DescribeTopics(ctx, names...)
		if err != nil {
			return err
		}
		for _, d := range descs {
			for _, p := range d.Partitions {
				target := targets[fmt.Sprintf("%s-%d", d.Name, p.Partition)]
				if len(p.ISR) < len(p.Replicas) || target != nil {
					rows = append(rows, underReplicated{d.Name, p.Partition, p.Leader, p.Replicas, p.ISR, target})
				}
			}
		}
	}
	return out.print(rows, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR\tREASSIGNING-TO")
		for _, r := range rows {
			target := "-"
			if r.Target != nil {
				target = ids(r.Target)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", r.Topic, r.Partition, r.Leader, ids(r.Replicas), ids(r.ISR), target)
		}
		return tw.Flush()
	})
}
