package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
)

// cluster up: N local brokers, each a `spate broker` child process of this
// one, so that killing one (kill -9 PID) is a real broker failure.

func clusterUpCommand() *cli.Command {
	return &cli.Command{
		Name:  "up",
		Usage: "start a local cluster of brokers and stop them all on Ctrl-C",
		Description: `Starts -n brokers (ids 1..n) as child processes on 127.0.0.1, each with a
data dir under --data-dir (broker-1, broker-2, ...). Broker i listens on
  native      base + 100*(i-1)       (9192, 9292, 9392 by default)
  controller  base + 100*(i-1) + 1   (the metadata quorum: the first three vote)
  admin       base + 100*(i-1) + 2   (/metrics, /health)
  kafka       9092 + (i-1)
It prints a table of the brokers and the export SPATE_BROKERS=... line, waits
until every broker is alive, and stops them all (SIGTERM: controlled
shutdown) on Ctrl-C or SIGTERM. Each broker's output is prefixed with its id.
Extra broker settings go to every broker with --set.

Examples:
  spate cluster up -n 3
  spate cluster up -n 3 --data-dir /tmp/spate --set log.flush.policy=always`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "brokers", Aliases: []string{"n"}, Value: 3, Usage: "how many brokers"},
			&cli.StringFlag{Name: "data-dir", Value: "data-cluster", Usage: "parent of the brokers' data dirs"},
			&cli.IntFlag{Name: "base-port", Value: 9192, Usage: "native port of broker 1; see the description"},
			&cli.IntFlag{Name: "kafka-base-port", Value: 9092, Usage: "Kafka port of broker 1 (0: no Kafka listeners)"},
			&cli.StringSliceFlag{Name: "set", Usage: "set a broker config `key=value` on every broker (repeatable)"},
		},
		Action: runClusterUp,
	}
}

type localBroker struct {
	id                               int
	native, controller, admin, kafka string
	dir                              string
	cmd                              *exec.Cmd
	exited                           chan error
}

func runClusterUp(c *cli.Context) error {
	n, base, kbase := c.Int("brokers"), c.Int("base-port"), c.Int("kafka-base-port")
	if n < 1 || n > 50 {
		return fmt.Errorf("cluster up: -n %d: want 1 to 50 brokers", n)
	}
	if base < 1 || base+100*(n-1)+2 > 65535 {
		return fmt.Errorf("cluster up: --base-port %d does not leave room for %d brokers", base, n)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cluster up: find the spate binary: %w", err)
	}
	brokers := make([]*localBroker, n)
	var voters []string
	for i := range brokers {
		p := base + 100*i
		b := &localBroker{id: i + 1, native: addr(p), controller: addr(p + 1), admin: addr(p + 2),
			dir: filepath.Join(c.String("data-dir"), fmt.Sprintf("broker-%d", i+1)), exited: make(chan error, 1)}
		if kbase > 0 {
			b.kafka = addr(kbase + i)
		}
		if i < 3 {
			voters = append(voters, fmt.Sprintf("%d@%s", b.id, b.controller))
		}
		brokers[i] = b
	}
	var out sync.Mutex // one line at a time from the children
	for _, b := range brokers {
		args := []string{"broker", "--data-dir", b.dir, "--addr", b.native, "--admin-addr", b.admin, "--kafka-addr", b.kafka,
			"--set", fmt.Sprintf("broker.id=%d", b.id), "--set", "controller.addr=" + b.controller,
			"--set", "controller.quorum.voters=" + strings.Join(voters, ",")}
		for _, kv := range c.StringSlice("set") {
			args = append(args, "--set", kv)
		}
		if err := b.start(self, args, &out); err != nil {
			stopAll(brokers)
			return err
		}
	}
	printLocalCluster(os.Stdout, brokers)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := waitAlive(ctx, brokers); err != nil {
		fmt.Fprintln(os.Stderr, "spate cluster up:", err)
	} else if ctx.Err() == nil {
		fmt.Printf("cluster up: %d brokers alive; Ctrl-C stops them all\n", n)
	}
	for _, b := range brokers {
		go func() {
			err := <-b.exited
			b.exited <- err // for stopAll
			if ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "spate cluster up: broker %d (pid %d) exited: %v\n", b.id, b.cmd.Process.Pid, exitText(err))
			}
		}()
	}
	<-ctx.Done()
	fmt.Println("cluster up: stopping every broker")
	return stopAll(brokers)
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// start runs the broker with its output prefixed by its id.
func (b *localBroker) start(self string, args []string, out *sync.Mutex) error {
	b.cmd = exec.Command(self, args...)
	b.cmd.Stdin = nil
	pr, pw := io.Pipe()
	b.cmd.Stdout, b.cmd.Stderr = pw, pw
	// Its own process group: Ctrl-C in the terminal reaches this process
	// only, which then stops the brokers in order.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("cluster up: start broker %d: %w", b.id, err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			out.Lock()
			fmt.Printf("[broker %d] %s\n", b.id, s.Text())
			out.Unlock()
		}
	}()
	go func() {
		err := b.cmd.Wait()
		pw.Close()
		b.exited <- err
	}()
	return nil
}

func printLocalCluster(w io.Writer, brokers []*localBroker) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tPID\tNATIVE\tCONTROLLER\tADMIN\tKAFKA\tDATA DIR")
	var natives []string
	for _, b := range brokers {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", b.id, b.cmd.Process.Pid, b.native, b.controller, b.admin, orDash(b.kafka), b.dir)
		natives = append(natives, b.native)
	}
	tw.Flush()
	fmt.Fprintf(w, "export SPATE_BROKERS=%s\n", strings.Join(natives, ","))
}

// waitAlive waits until every broker is registered and alive.
func waitAlive(ctx context.Context, brokers []*localBroker) error {
	var natives []string
	for _, b := range brokers {
		natives = append(natives, b.native)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	a, err := client.NewAdmin(client.SeedBrokers(natives...))
	if err != nil {
		return err
	}
	defer a.Close()
	for {
		if d, err := describeCluster(ctx, a); err == nil {
			alive := 0
			for _, b := range d.Brokers {
				if b.State == "alive" {
					alive++
				}
			}
			if alive == len(brokers) && d.ControllerID >= 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("not every broker alive within 60s; see their output above")
			}
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopAll sends SIGTERM to every running broker (each moves its
// leadership away first) and waits for them, killing any still running
// after 30 s.
func stopAll(brokers []*localBroker) error {
	var errs []error
	for _, b := range brokers {
		if b != nil && b.cmd != nil && b.cmd.Process != nil {
			b.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, b := range brokers {
		if b == nil || b.cmd == nil || b.cmd.Process == nil {
			continue
		}
		select {
		case err := <-b.exited:
			if err != nil && !isSignalExit(err) {
				errs = append(errs, fmt.Errorf("broker %d: %s", b.id, exitText(err)))
			}
		case <-time.After(30 * time.Second):
			b.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("broker %d did not stop within 30s; killed", b.id))
		}
	}
	return errors.Join(errs...)
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
