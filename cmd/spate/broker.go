package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/segment"
)

func brokerCommand() *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run a broker",
		Description: `Starts a single broker and serves until SIGINT or SIGTERM, then stops
gracefully (finishes in-flight requests, flushes, closes every log cleanly).

Configuration, later sources win:
  1. embedded defaults (see --print-config)
  2. --config FILE, in server.properties form: key=value lines, # comments
  3. environment variables SPATE_<KEY>, e.g. SPATE_LOG_FLUSH_POLICY=always
  4. flags: --data-dir, --addr, --kafka-addr, --admin-addr, --set key=value (repeatable)
Unknown keys in a file or in --set are errors.

Examples:
  spate broker
  spate broker --data-dir /var/lib/spate --addr 0.0.0.0:9192 --set log.flush.policy=always
  spate broker --config spate.properties --print-config
  spate broker --set broker.id=1 --set controller.addr=127.0.0.1:9193 \
    --set controller.quorum.voters=1@127.0.0.1:9193,2@127.0.0.1:9293,3@127.0.0.1:9393

A broker with controller.addr or controller.quorum.voters set is a member of
a cluster (see "spate cluster up" for three local brokers in one command).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "config file (server.properties form)"},
			&cli.StringFlag{Name: "data-dir", Usage: "data directory (key data.dir)"},
			&cli.StringFlag{Name: "addr", Usage: "native protocol listener host:port (key addr)"},
			&cli.StringFlag{Name: "kafka-addr", Usage: "Kafka protocol listener host:port; empty disables (key kafka.addr)"},
			&cli.StringFlag{Name: "admin-addr", Usage: "admin HTTP listener for /metrics and /health; empty disables (key admin.addr)"},
			&cli.StringSliceFlag{Name: "set", Usage: "set any config key, `key=value` (repeatable)"},
			&cli.BoolFlag{Name: "print-config", Usage: "print the effective configuration and exit"},
		},
		Action: runBroker,
	}
}

// brokerConfig applies defaults, file, environment and flags, in that order.
func brokerConfig(c *cli.Context) (broker.Config, error) {
	cfg := broker.DefaultConfig()
	if path := c.String("config"); path != "" {
		if err := cfg.LoadFile(path); err != nil {
			return cfg, err
		}
	}
	unknown, err := cfg.LoadEnv(os.Environ())
	if err != nil {
		return cfg, err
	}
	for _, name := range unknown {
		if name != "SPATE_BROKERS" && name != segment.PowerLossJournalEnv {
			fmt.Fprintf(os.Stderr, "spate: warning: environment variable %s names no broker config key\n", name)
		}
	}
	for flag, key := range map[string]string{"data-dir": "data.dir", "addr": "addr", "kafka-addr": "kafka.addr", "admin-addr": "admin.addr"} {
		if c.IsSet(flag) {
			if err := cfg.Set(key, c.String(flag)); err != nil {
				return cfg, err
			}
		}
	}
	for _, kv := range setFlags(c.StringSlice("set")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("%w: --set %q: want key=value", broker.ErrConfig, kv)
		}
		if err := cfg.Set(strings.TrimSpace(k), v); err != nil {
			return cfg, err
		}
	}
	return cfg, cfg.Validate()
}

// writePath describes how large appends reach the disk, and why.
// setFlags rejoins --set values that the flag library split at commas:
// "controller.quorum.voters=1@h:1,2@h:2" arrives as two items, the second
// without "=", and belongs to the first.
func setFlags(items []string) []string {
	var out []string
	for _, it := range items {
		if len(out) > 0 && !strings.Contains(it, "=") {
			out[len(out)-1] += "," + it
			continue
		}
		out = append(out, it)
	}
	return out
}

func writePath(b *broker.Broker) string {
	cal, policy, direct := b.Engine().WriteMode()
	switch {
	case policy != nil:
		return cal.String() + "; re-measured on large appends while running"
	case direct > 0:
		return fmt.Sprintf("direct for batches of %d bytes and more (log.direct.write.bytes)", direct)
	default:
		return "page-cache (log.direct.write.bytes=0)"
	}
}

func runBroker(c *cli.Context) error {
	cfg, err := brokerConfig(c)
	if err != nil {
		return err
	}
	if c.Bool("print-config") {
		for _, kv := range cfg.Keys() {
			fmt.Printf("%s=%s\n", kv[0], kv[1])
		}
		return nil
	}
	b, err := broker.New(cfg)
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		b.Close()
		return err
	}
	dir, _ := filepath.Abs(b.DataDir())
	fmt.Printf("spate broker %d started\n", cfg.BrokerID)
	fmt.Printf("  native protocol  %s\n", b.Addr())
	if a := b.AdvertisedAddr(); a != b.Addr() {
		fmt.Printf("  advertised as    %s (advertised.addr)\n", a)
	}
	if a := b.KafkaAddr(); a != "" {
		fmt.Printf("  kafka protocol   %s\n", a)
	}
	if a := b.AdminAddr(); a != "" {
		fmt.Printf("  admin http       http://%s/metrics  http://%s/health  http://%s/debug/pprof/\n", a, a, a)
	}
	if n := b.Node(); n.Lone() {
		fmt.Printf("  controller       none: a one-voter cluster of this broker, on no port (controller.addr and controller.quorum.voters make a cluster of several)\n")
	} else {
		voters := cfg.Voters
		if voters == "" {
			voters = "none: a one-voter cluster of this broker"
		}
		fmt.Printf("  controller       %s (controller.quorum.voters %s)\n", n.Addr(), voters)
		if n.AdvertisedAddr() != n.Addr() {
			fmt.Printf("  advertised as    %s (controller.advertised.addr)\n", n.AdvertisedAddr())
		}
	}
	fmt.Printf("  data directory   %s\n", dir)
	fmt.Printf("  flush policy     %s\n", cfg.FlushPolicy)
	fmt.Printf("  write path       %s\n", writePath(b))
	fmt.Printf("  descriptors      %s\n", b.DescriptorBudget())
	for _, d := range b.Engine().LogDirs() {
		fmt.Printf("  log dir          %s: %s, %d bytes free, appends refused below %d (log.dir.min.free.bytes)\n", d.Dir, d.State, d.FreeBytes, d.MinFreeBytes)
	}
	if n := b.GroupRecordsSkipped(); n > 0 {
		fmt.Fprintf(os.Stderr, "spate broker: warning: skipped %d records of __consumer_offsets with a key version this build does not know\n", n)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		fmt.Printf("spate broker: %s received, stopping\n", s)
	case err := <-b.Failed():
		b.Close()
		return err
	}
	signal.Stop(sig) // a second signal kills the process the default way
	if err := b.Close(); err != nil {
		return fmt.Errorf("stopping broker: %w", err)
	}
	fmt.Println("spate broker: stopped cleanly")
	return nil
}
