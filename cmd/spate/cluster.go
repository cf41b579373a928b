package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/wire"
)

// cluster describe and cluster health read the cluster from any broker;
// cluster up (clusterup.go) runs one locally.

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "run, describe and check a cluster of brokers",
		Subcommands: []*cli.Command{
			clusterUpCommand(),
			{
				Name:  "describe",
				Usage: "list the brokers, their states and addresses, the controller and the metadata offset",
				Description: `Asks one broker (any of --brokers) for the cluster as its copy of the
metadata has it. A broker is alive while it heartbeats the controller and
fenced when it stopped, went silent for broker.session.timeout.ms, or is
still catching up with the metadata log. METADATA-LAG is known only when
the broker asked is the controller.

Examples:
  spate cluster describe
  spate cluster describe -b 127.0.0.1:9292 --json`,
				Flags:  []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
				Action: withArgs(runClusterDescribe),
			},
			{
				Name:  "health",
				Usage: "exit 0 when the cluster is healthy, else name each problem and exit 1",
				Description: `Healthy means: a controller is elected, every registered broker is
alive, and every partition has a leader and its full replica set in sync.
Each problem is printed on its own line (no controller, fenced brokers,
offline partitions, under-replicated partitions).

Examples:
  spate cluster health && echo ok`,
				Flags:  []cli.Flag{brokersFlag(), timeoutFlag(), jsonFlag()},
				Action: withArgs(runClusterHealth),
			},
		},
	}
}

type describedBroker struct {
	ID          int32  `json:"id"`
	State       string `json:"state"`
	Native      string `json:"native"`
	Controller  string `json:"controller"`
	Admin       string `json:"admin"`
	Kafka       string `json:"kafka"`
	Rack        string `json:"rack"`
	Epoch       int64  `json:"broker_epoch"`
	MetadataLag int64  `json:"metadata_lag"`
}

type describedCluster struct {
	ClusterID       string                  `json:"cluster_id"`
	ControllerID    int32                   `json:"controller_id"`
	MetadataOffset  int64                   `json:"metadata_offset"`
	Brokers         []describedBroker       `json:"brokers"`
	Offline         []wire.ClusterPartition `json:"offline_partitions"`
	UnderReplicated []wire.ClusterPartition `json:"under_replicated_partitions"`
}

func describeCluster(ctx context.Context, a *client.Admin) (describedCluster, error) {
	d, err := a.DescribeCluster(ctx)
	if err != nil {
		return describedCluster{}, err
	}
	out := describedCluster{ClusterID: d.ClusterID, ControllerID: d.ControllerID, MetadataOffset: d.MetadataOffset,
		Brokers: []describedBroker{}, Offline: d.Offline, UnderReplicated: d.UnderReplicated}
	for _, b := range d.Brokers {
		state := "alive"
		if b.Fenced {
			state = "fenced"
		}
		out.Brokers = append(out.Brokers, describedBroker{b.ID, state, b.Native, b.Controller, b.Admin, b.Kafka, b.Rack, b.Epoch, b.MetadataLag})
	}
	if out.Offline == nil {
		out.Offline = []wire.ClusterPartition{}
	}
	if out.UnderReplicated == nil {
		out.UnderReplicated = []wire.ClusterPartition{}
	}
	return out, nil
}

func runClusterDescribe(c *cli.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("cluster describe: takes no arguments, got %d", len(args))
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		d, err := describeCluster(ctx, a)
		if err != nil {
			return err
		}
		return stdout(c).print(d, func(w io.Writer) error { return printCluster(w, d) })
	})
}

func printCluster(w io.Writer, d describedCluster) error {
	controller := "none elected"
	if d.ControllerID >= 0 {
		controller = fmt.Sprintf("broker %d", d.ControllerID)
	}
	fmt.Fprintf(w, "CLUSTER %s  CONTROLLER %s  METADATA OFFSET %d\n", orDash(d.ClusterID), controller, d.MetadataOffset)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tSTATE\tNATIVE\tCONTROLLER\tADMIN\tKAFKA\tRACK\tEPOCH\tMETADATA-LAG")
	for _, b := range d.Brokers {
		lag := "-"
		if b.MetadataLag >= 0 {
			lag = fmt.Sprint(b.MetadataLag)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", b.ID, b.State, orDash(b.Native), orDash(b.Controller),
			orDash(b.Admin), orDash(b.Kafka), orDash(b.Rack), b.Epoch, lag)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clusterProblems names everything that keeps the cluster from healthy.
func clusterProblems(d describedCluster) []string {
	var out []string
	if d.ControllerID < 0 {
		out = append(out, "no controller: the metadata quorum has no elected leader (are a majority of controller.quorum.voters running?)")
	}
	if len(d.Brokers) == 0 {
		out = append(out, "no broker is registered with the controller yet")
	}
	for _, b := range d.Brokers {
		if b.State != "alive" {
			out = append(out, fmt.Sprintf("broker %d is fenced (stopped, silent past broker.session.timeout.ms, or catching up)", b.ID))
		}
	}
	if n := len(d.Offline); n > 0 {
		out = append(out, fmt.Sprintf("%d offline partitions (no leader): %s", n, partitionList(d.Offline)))
	}
	if n := len(d.UnderReplicated); n > 0 {
		out = append(out, fmt.Sprintf("%d under-replicated partitions: %s", n, partitionList(d.UnderReplicated)))
	}
	return out
}

func partitionList(ps []wire.ClusterPartition) string {
	s := ""
	for i, p := range ps {
		if i == 10 {
			return s + fmt.Sprintf(", and %d more", len(ps)-10)
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s-%d", p.Topic, p.Partition)
	}
	return s
}

// errUnhealthy makes `cluster health` exit non-zero after printing.
var errUnhealthy = errors.New("cluster is not healthy")

func runClusterHealth(c *cli.Context, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("cluster health: takes no arguments, got %d", len(args))
	}
	return withAdmin(c, func(ctx context.Context, a *client.Admin) error {
		d, err := describeCluster(ctx, a)
		if err != nil {
			return err
		}
		problems := clusterProblems(d)
		doc := map[string]any{"healthy": len(problems) == 0, "problems": append([]string{}, problems...), "cluster": d}
		err = stdout(c).print(doc, func(w io.Writer) error {
			if len(problems) == 0 {
				_, err := fmt.Fprintf(w, "healthy: %d brokers alive, controller broker %d, metadata offset %d\n",
					len(d.Brokers), d.ControllerID, d.MetadataOffset)
				return err
			}
			for _, p := range problems {
				if _, err := fmt.Fprintln(w, "unhealthy: "+p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return errUnhealthy
		}
		return nil
	})
}
