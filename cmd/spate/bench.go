package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/loadgen"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure throughput and latency with real clients (load generator)",
		Description: `Drives a running cluster through the Go client and reports records/s,
MB/s (10^6 bytes of key+value) and latency percentiles from HDR histograms.
A progress line goes to stderr each second; the summary to stdout, or JSON
(--json) or CSV (--csv) for scripts. See package loadgen for what exactly
is measured.

Examples:
  spate bench produce --topic T --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 --duration 5s --json
  spate bench consume --topic T
  spate bench e2e --topic T --rate 10000 --duration 10s
  spate bench sweep --batch-sizes 1KiB,16KiB,64KiB,256KiB,1MiB --record-size 100 --duration 5s --json --chart perf/`,
		Subcommands: []*cli.Command{benchProduceCommand(), benchConsumeCommand(), benchE2ECommand(), benchSweepCommand(),
			benchChartCommand()},
	}
}

// benchFlags are the flags every bench command takes; produce adds
// producerFlags, consume consumerFlags. warmup is the --warmup default.
func benchFlags(warmup time.Duration) []cli.Flag {
	return []cli.Flag{
		brokersFlag(),
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "bench", Usage: "topic (created if missing by produce, e2e and sweep)"},
		&cli.IntFlag{Name: "partitions", Aliases: []string{"p"}, Value: 1, Usage: "partitions of a topic the run creates"},
		&cli.IntFlag{Name: "replication-factor", Value: -1, Usage: "replicas of a topic the run creates (-1: the broker's default)"},
		&cli.DurationFlag{Name: "warmup", Value: warmup, Usage: "run this long before measuring; excluded from every figure"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 10 * time.Second, Usage: "measure this long (0: until --records)"},
		&cli.Int64Flag{Name: "records", Aliases: []string{"n"}, Usage: "stop after this many measured records (0: no limit)"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"},
		&cli.BoolFlag{Name: "csv", Usage: "print the result as CSV on stdout"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines on stderr"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of this process to `FILE` (go tool pprof -top FILE)"},
		&cli.IntFlag{Name: "procs", Usage: "OS threads running the load generator (GOMAXPROCS); 0: $GOMAXPROCS if set, else one per producer and consumer, at most the CPU count"},
	}
}

// setBenchProcs sets the load generator's GOMAXPROCS (see --procs) and
// returns it. One per producer and consumer by default, so that on a
// machine the broker shares the load generator leaves it the other CPUs
// (perf/bench.md §10: with one producer on 2 vCPUs, 1 won 9 of 13
// alternated headline pairs against 2, medians 9.30 M and 9.05 M
// records/s: a small gain at best, within that machine's noise).
func setBenchProcs(c *cli.Context) int {
	n := c.Int("procs")
	if n <= 0 {
		if os.Getenv("GOMAXPROCS") != "" {
			return runtime.GOMAXPROCS(0)
		}
		n = min(max(c.Int("producers")+c.Int("consumers"), 1), runtime.NumCPU())
	}
	runtime.GOMAXPROCS(n)
	return n
}

func producerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "producers", Value: 1, Usage: "producers, each with its own connections"},
		&cli.StringFlag{Name: "record-size", Aliases: []string{"s"}, Value: "100", Usage: "value bytes: `N` or MIN..MAX (uniform)"},
		&cli.IntFlag{Name: "keys", Usage: "draw keys from this many distinct keys (0: no keys)"},
		&cli.StringFlag{Name: "acks", Value: "1", Usage: "0, 1 or all"},
		&cli.StringFlag{Name: "compression", Value: "none", Usage: "none, gzip, snappy, lz4 or zstd"},
		&cli.StringFlag{Name: "batch-size", Value: "1MiB", Usage: "producer batch size, e.g. 16KiB"},
		&cli.DurationFlag{Name: "linger", Value: 5 * time.Millisecond, Usage: "producer linger"},
		&cli.IntFlag{Name: "max-in-flight", Value: 5, Usage: "produce requests in flight per broker connection"},
		&cli.IntFlag{Name: "max-in-flight-per-partition", Usage: "batches of one partition in flight (0: 2 with acks 0 or 1, 1 with acks all; acks all is idempotent and allows at most 5)"},
		&cli.StringFlag{Name: "buffer", Usage: "each producer's unacknowledged bytes, e.g. 64MiB (default: 4 x batch size x partitions)"},
		&cli.Float64Flag{Name: "rate", Usage: "open loop: records/s across all producers, latency from intended send times (0: closed loop)"},
		&cli.BoolFlag{Name: "per-record", Usage: "send each record with Producer.Produce, as Kafka clients do (default in a closed loop without keys: whole batches with Producer.ProduceBatch)"},
	}
}

func consumerFlags() []cli.Flag {
	return []cli.Flag{&cli.IntFlag{Name: "consumers", Value: 1, Usage: "consumers; the topic's partitions are dealt among them"}}
}

func benchProduceCommand() *cli.Command {
	return &cli.Command{
		Name:  "produce",
		Usage: "produce as fast as possible (or at --rate) and report send → ack latency",
		Description: `Throughput counts only acknowledged records; failures are reported as
errors. The summary also shows the records acknowledged against the
topic's high watermark delta: the two agree.

Example:
  spate bench produce --topic T --partitions 1 --record-size 100 --batch-size 1MiB --acks 1 --duration 5s --json`,
		Flags:  append(benchFlags(time.Second), producerFlags()...),
		Action: func(c *cli.Context) error { return runBench(c, true, loadgen.Produce) },
	}
}

func benchConsumeCommand() *cli.Command {
	return &cli.Command{
		Name:  "consume",
		Usage: "read a topic from its start to its high watermark and report records/s and MB/s",
		Description: `Example:
  spate bench produce --topic T --duration 5s && spate bench consume --topic T --consumers 1`,
		// A topic often reads in under a second: no warm-up by default.
		Flags:  append(benchFlags(0), consumerFlags()...),
		Action: func(c *cli.Context) error { return runBench(c, false, loadgen.Consume) },
	}
}

func benchE2ECommand() *cli.Command {
	return &cli.Command{
		Name:  "e2e",
		Usage: "produce and consume at once and report send → receive latency",
		Description: `Records carry their send time in the first 8 bytes of the value, so
--record-size must be at least 8. Use --rate for latency under a fixed load.

Example:
  spate bench e2e --topic T --partitions 4 --consumers 2 --rate 50000 --duration 10s`,
		Flags:  append(append(benchFlags(time.Second), producerFlags()...), consumerFlags()...),
		Action: func(c *cli.Context) error { return runBench(c, true, loadgen.E2E) },
	}
}

func benchSweepCommand() *cli.Command {
	return &cli.Command{
		Name:  "sweep",
		Usage: "one produce run per batch size (optionally per linger, record size, acks), each on a fresh topic",
		Description: `Prints a table (to stderr under --json or --csv). --json prints an array
with one object per run, whose fields include batch_size, records_per_sec,
mb_per_sec, p50_ms, p99_ms, p999_ms and max_ms. --chart DIR writes
throughput and latency against batch size as PNG and SVG. Each run's topic
is --topic followed by ".<unix seconds>.<run>", deleted after the run
unless --keep-topics.

Examples:
  spate bench sweep --batch-sizes 1KiB,16KiB,64KiB,256KiB,1MiB --record-size 100 --duration 5s --json
  spate bench sweep --batch-sizes 16KiB,1MiB --lingers 0s,5ms --acks 1,all --chart /tmp/charts`,
		Flags: append(append(benchFlags(time.Second), producerFlags()...),
			&cli.StringFlag{Name: "batch-sizes", Value: "1KiB,16KiB,64KiB,256KiB,1MiB", Usage: "comma-separated batch sizes"},
			&cli.StringFlag{Name: "lingers", Usage: "comma-separated lingers (default: --linger)"},
			&cli.StringFlag{Name: "record-sizes", Usage: "comma-separated record sizes (default: --record-size)"},
			&cli.StringFlag{Name: "chart", Usage: "write PNG and SVG charts into `DIR`"},
			&cli.BoolFlag{Name: "keep-topics", Usage: "keep each run's topic"},
		),
		Action: runSweep,
	}
}

func benchChartCommand() *cli.Command {
	return &cli.Command{
		Name:  "chart",
		Usage: "draw the charts of a sweep saved with --json",
		Description: `Example:
  spate bench sweep --json > sweep.json && spate bench chart --in sweep.json --chart perf/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "in", Required: true, Usage: "sweep JSON `FILE` (an array of rows)"},
			&cli.StringFlag{Name: "chart", Required: true, Usage: "write PNG and SVG charts into `DIR`"},
		},
		Action: runBenchChart,
	}
}

func runBenchChart(c *cli.Context) error {
	in := c.String("in")
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("bench chart: %w", err)
	}
	var rows []loadgen.Result
	if err := json.Unmarshal(b, &rows); err != nil {
		return fmt.Errorf("bench chart: %s: %w", in, err)
	}
	files, err := loadgen.WriteCharts(c.String("chart"), rows)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, strings.Join(files, "\n"))
	return nil
}

// benchOutput is where and how a bench command prints.
type benchOutput struct {
	json, csv  bool
	cpuprofile string
}

func benchOutputFrom(c *cli.Context) (benchOutput, error) {
	o := benchOutput{json: c.Bool("json"), csv: c.Bool("csv"), cpuprofile: c.String("cpuprofile")}
	if o.json && o.csv {
		return o, errors.New("bench: --json and --csv: choose one")
	}
	return o, nil
}

// benchBrokers returns the --brokers list, blanks dropped (an empty list
// fails in loadgen with an error naming it).
func benchBrokers(c *cli.Context) []string {
	var out []string
	for _, b := range strings.Split(c.String("brokers"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// benchConfigFrom builds a loadgen.Config from the flags; producer says
// whether the command has the producer flags.
func benchConfigFrom(c *cli.Context, producer bool) (loadgen.Config, error) {
	cfg := loadgen.Config{Brokers: benchBrokers(c), Topic: c.String("topic"), Partitions: int32(c.Int("partitions")),
		ReplicationFactor: int16(c.Int("replication-factor")), Producers: c.Int("producers"),
		Consumers: c.Int("consumers"), KeySpace: c.Int("keys"), Linger: c.Duration("linger"),
		MaxInFlight: c.Int("max-in-flight"), Rate: c.Float64("rate"), PerRecord: c.Bool("per-record"),
		PartitionInFlight: c.Int("max-in-flight-per-partition"), Warmup: c.Duration("warmup"),
		Duration: c.Duration("duration"), Records: c.Int64("records")}
	var err error
	if !c.Bool("quiet") {
		cfg.Progress = os.Stderr
	}
	if !producer {
		return cfg, nil
	}
	if cfg.RecordSize, err = loadgen.ParseSizes(c.String("record-size")); err != nil {
		return cfg, err
	}
	// sweep takes a list of acks; its base config gets the first.
	acks, _, _ := strings.Cut(c.String("acks"), ",")
	if cfg.Acks, err = loadgen.ParseAcks(acks); err != nil {
		return cfg, err
	}
	if cfg.Compression, err = loadgen.ParseCompression(c.String("compression")); err != nil {
		return cfg, err
	}
	batch, err := parseSize(c.String("batch-size"))
	if err != nil {
		return cfg, fmt.Errorf("--batch-size: %w", err)
	}
	cfg.BatchSize = int(batch)
	if b := c.String("buffer"); b != "" {
		if cfg.BufferBytes, err = parseSize(b); err != nil {
			return cfg, fmt.Errorf("--buffer: %w", err)
		}
	}
	return cfg, nil
}

// runBench is produce, consume and e2e: flags, a config, one loadgen call.
func runBench(c *cli.Context, producer bool, run func(context.Context, loadgen.Config) (*loadgen.Result, error)) error {
	cfg, err := benchConfigFrom(c, producer)
	if err != nil {
		return err
	}
	out, err := benchOutputFrom(c)
	if err != nil {
		return err
	}
	procs := setBenchProcs(c)
	ctx, stop := signalContext()
	defer stop()
	var res *loadgen.Result
	err = withCPUProfile(out.cpuprofile, func() (err error) {
		res, err = run(ctx, cfg)
		return err
	})
	if err != nil {
		return err
	}
	res.Procs = procs
	w := c.App.Writer
	switch {
	case out.json:
		return loadgen.WriteJSON(w, res)
	case out.csv:
		return loadgen.WriteCSV(w, []loadgen.Result{*res})
	}
	return loadgen.WriteSummary(w, res)
}

func runSweep(c *cli.Context) error {
	base, err := benchConfigFrom(c, true)
	if err != nil {
		return err
	}
	out, err := benchOutputFrom(c)
	if err != nil {
		return err
	}
	sc := loadgen.SweepConfig{Base: base, KeepTopics: c.Bool("keep-topics")}
	if sc.BatchSizes, err = parseList(c.String("batch-sizes"), func(s string) (int, error) {
		n, err := parseSize(s)
		return int(n), err
	}); err != nil {
		return fmt.Errorf("--batch-sizes: %w", err)
	}
	if sc.Lingers, err = parseList(c.String("lingers"), time.ParseDuration); err != nil {
		return fmt.Errorf("--lingers: %w", err)
	}
	if sc.RecordSizes, err = parseList(c.String("record-sizes"), loadgen.ParseSizes); err != nil {
		return fmt.Errorf("--record-sizes: %w", err)
	}
	if sc.Acks, err = parseList(c.String("acks"), loadgen.ParseAcks); err != nil {
		return fmt.Errorf("--acks: %w", err)
	}
	table := c.App.Writer
	if out.json || out.csv {
		table = c.App.ErrWriter
	}
	if !c.Bool("quiet") {
		sc.OnRow = func(r loadgen.Result) {
			fmt.Fprintf(os.Stderr, "run batch=%s,linger=%gms,record=%dB,acks=%s: %.0f records/s, p99 %.3f ms\n",
				loadgen.FormatSize(r.BatchSize), r.LingerMS, r.RecordSize, r.Acks, r.RecordsPerSec, r.P99)
		}
	}
	procs := setBenchProcs(c)
	ctx, stop := signalContext()
	defer stop()
	var rows []loadgen.Result
	err = withCPUProfile(out.cpuprofile, func() (err error) {
		rows, err = loadgen.Sweep(ctx, sc)
		return err
	})
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Procs = procs
	}
	return printSweep(c, out, table, rows)
}

func printSweep(c *cli.Context, out benchOutput, table io.Writer, rows []loadgen.Result) error {
	if table == nil {
		table = os.Stderr
	}
	if err := loadgen.WriteTable(table, rows); err != nil {
		return err
	}
	if dir := c.String("chart"); dir != "" {
		files, err := loadgen.WriteCharts(dir, rows)
		if err != nil {
			return err
		}
		fmt.Fprintln(table, "charts:", strings.Join(files, " "))
	}
	switch {
	case out.json:
		return loadgen.WriteJSON(c.App.Writer, rows)
	case out.csv:
		return loadgen.WriteCSV(c.App.Writer, rows)
	}
	return nil
}

// parseList parses a comma-separated list; empty gives nil.
func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// withCPUProfile runs fn, profiling the process into file when it is set.
func withCPUProfile(file string, fn func() error) error {
	if file == "" {
		return fn()
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", file, err)
	}
	err = fn()
	pprof.StopCPUProfile()
	return err
}
