package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
)

// Flags and helpers shared by the client commands (topic, produce, consume).

// defaultBrokers is where `make run` listens.
const defaultBrokers = "127.0.0.1:9192"

// brokersFlag is on every client command rather than on the app, so it may
// be written after the command name, where rpk and kcat users put it.
func brokersFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "brokers",
		Aliases: []string{"b"},
		Usage:   "seed brokers, comma-separated `host:port` list",
		EnvVars: []string{"SPATE_BROKERS"},
		Value:   defaultBrokers,
	}
}

// brokers returns the --brokers list, blanks dropped. A blank list (an
// empty SPATE_BROKERS, say) means the default rather than no broker; a
// malformed address fails when the client dials it, naming it.
func brokers(c *cli.Context) []string {
	var out []string
	for _, b := range strings.Split(c.String("brokers"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return []string{defaultBrokers}
	}
	return out
}

// unreachableAfter is how long an admin command (and the topic check of
// consume) keeps trying while no broker accepts a connection: long enough
// for a broker that is still starting, short enough that a typo in
// --brokers or a stopped broker is reported at once rather than after
// --timeout.
const unreachableAfter = 3 * time.Second

// streamOpts are the client options of a producer or consumer: while a
// broker cannot be connected to, a line on stderr says so (the client
// retries on, within --delivery-timeout or until --exit-idle).
func streamOpts(c *cli.Context) []client.Opt {
	return []client.Opt{client.SeedBrokers(brokers(c)...), client.WithHooks(client.ConnectErrorLog(os.Stderr, "spate: "))}
}

// signalContext is canceled by the first SIGINT or SIGTERM. After that the
// signals are no longer caught, so a second Ctrl-C kills the process the
// default way if a clean stop hangs.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// withArgs runs action with the command's positional arguments after
// parsing any flags among them. urfave/cli v2 stops parsing flags at the
// first positional argument, but `spate consume t --count 5` is how rpk
// and kcat users type commands, so the rest is parsed here against the
// same flag set. "--" ends flag parsing; -h and --help show the help.
func withArgs(action func(c *cli.Context, args []string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		args, help, err := parseTrailingFlags(c)
		if err != nil {
			return err
		}
		if help {
			cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
			return nil
		}
		return action(c, args)
	}
}

func parseTrailingFlags(c *cli.Context) (args []string, help bool, err error) {
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			return append(args, rest[i+1:]...), false, nil
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			return nil, true, nil
		}
		f := findFlag(c.Command.Flags, name)
		if f == nil {
			return nil, false, fmt.Errorf("flag provided but not defined: %s", a)
		}
		if !hasValue {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				value = "true"
			} else if i+1 < len(rest) {
				i++
				value = rest[i]
			} else {
				return nil, false, fmt.Errorf("flag needs an argument: %s", a)
			}
		}
		if err := c.Set(f.Names()[0], value); err != nil {
			return nil, false, fmt.Errorf("invalid value %q for flag %s: %w", value, a, err)
		}
	}
	return args, false, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// listValue is a repeatable flag that keeps each value whole: urfave's
// StringSlice splits on commas, which would break `--config
// cleanup.policy=compact,delete`.
type listValue struct{ values []string }

func (l *listValue) Set(s string) error { l.values = append(l.values, s); return nil }
func (l *listValue) String() string     { return strings.Join(l.values, " ") }

// list returns the values of a listValue flag.
func list(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(*listValue); ok {
		return l.values
	}
	return nil
}

// parseSize reads a byte count: a plain integer, or one followed by a unit.
// KiB, MiB and GiB (and K, M, G alone) are powers of 1024; KB, MB and GB
// powers of 1000; B is bytes. Units are case-insensitive and may follow a
// space: "16384", "16KiB", "16k", "1 MiB", "1MB".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, e.g. 16384, 16KiB or 1MiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	var mult int64
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
		mult = 1
	case "k", "kib":
		mult = 1 << 10
	case "m", "mib":
		mult = 1 << 20
	case "g", "gib":
		mult = 1 << 30
	case "kb":
		mult = 1e3
	case "mb":
		mult = 1e6
	case "gb":
		mult = 1e9
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KiB, MiB, GiB, KB, MB or GB)", s, t[i:])
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// timeoutFlag bounds the admin commands, which otherwise retry a broker
// that answers with a retriable error forever; one that cannot be
// connected to at all fails them after unreachableAfter.
func timeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "timeout", Value: 30 * time.Second,
		Usage: "give up after this long (a broker that cannot be connected to fails the command after 3s)"}
}
