package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/record"
)

func produceCommand() *cli.Command {
	return &cli.Command{
		Name:      "produce",
		Aliases:   []string{"p"},
		Usage:     "write stdin lines to a topic, one record per line",
		ArgsUsage: "TOPIC",
		Description: `Reads stdin and produces one record per line; "\n" or "\r\n" ends a line
and is not part of the record, and a last line without a newline counts.
An empty line is a record with an empty value. With --key-separator, each
line is split at the first SEP into key and value; a line without SEP gets
a null key. SEP may use the escapes \t, \n, \r and \\. With --null-empty
(kcat's -Z) an empty value is sent as null instead: a tombstone, which
deletes its key from a topic with cleanup.policy=compact.

Records go to partitions by the SDK's partitioner: murmur2 of the key
(the partition Kafka clients pick for the same key), or, without a key,
sticky to one partition per batch. --partition sends everything to one
partition. The topic is created on first use if the broker allows it
(auto.create.topics.enable, default true).

The producer is idempotent under --acks all (the default): a batch it
retries after a lost connection or a broker crash is written once, so each
line is stored exactly once per run (a second run is a new producer, so
re-sending its input writes it again). --acks 0 or 1 turn idempotence off;
--idempotent=false does so under acks all too.

At end of input the producer flushes and waits for every acknowledgement,
then prints one line on stderr: the records acknowledged (under --acks 0:
sent) and failed. With --report-failed FILE, every input line whose record
was not acknowledged is written to FILE (in the order the failures were
known, which may differ from the input's), so it can be sent again:
  spate produce events --report-failed retry.txt < events.txt
  spate produce events < retry.txt
While a broker cannot be connected to, a line on stderr says so at once;
the producer goes on retrying until --delivery-timeout. A record that
fails because no broker could be connected to in that time ends the
attempts: the rest of the input is read but not sent, and counts as
failed (and goes to --report-failed).
Exit status: 0 when every record was acknowledged, 1 when any failed (the
first error is printed), 130 when interrupted by SIGINT or SIGTERM
(buffered records are flushed first).

Examples:
  echo hello | spate produce events
  seq 1 1000000 | spate produce events --batch-size 1MiB --linger 20ms
  printf 'user1:login\nuser2:logout\n' | spate produce events --key-separator :
  printf 'user1:\n' | spate produce profiles --key-separator : --null-empty   # tombstone
  spate produce events --acks 1 --compression zstd < events.txt`,
		Flags: []cli.Flag{
			brokersFlag(),
			&cli.StringFlag{Name: "key-separator", Aliases: []string{"K"}, Usage: "split each line at the first `SEP` into key and value"},
			&cli.BoolFlag{Name: "null-empty", Aliases: []string{"Z"}, Usage: "send an empty value as null (a tombstone for its key)"},
			&cli.IntFlag{Name: "partition", Value: -1, Usage: "produce every record to this partition (-1: the partitioner decides)"},
			&cli.StringFlag{Name: "acks", Value: "all", Usage: "`0`, 1 or all: replicas that must have a record before it counts as written"},
			&cli.BoolFlag{Name: "idempotent", Value: true, Usage: "idempotent producer (needs --acks all; off by default under 0 or 1)"},
			&cli.StringFlag{Name: "compression", Aliases: []string{"z"}, Value: "none", Usage: "batch codec: none, gzip, snappy, lz4 or zstd"},
			&cli.StringFlag{Name: "batch-size", Value: "16KiB", Usage: "close a partition's batch at this uncompressed `SIZE` (e.g. 16KiB, 1MiB)"},
			&cli.DurationFlag{Name: "linger", Value: 5 * time.Millisecond, Usage: "wait up to this long for a batch to fill"},
			&cli.DurationFlag{Name: "delivery-timeout", Value: 2 * time.Minute, Usage: "fail a record not acknowledged within this time, retries included"},
			&cli.StringFlag{Name: "max-line-bytes", Value: "1MiB", Usage: "longest accepted input line, `SIZE`"},
			&cli.StringFlag{Name: "report-failed", Usage: "write the input lines that were not acknowledged to `FILE`"},
		},
		Action: withArgs(runProduce),
	}
}

// produceConfig is what `spate produce` was asked to do.
type produceConfig struct {
	topic        string
	keySeparator []byte // nil: no keys
	nullEmpty    bool   // an empty value is sent as null
	partition    int32  // -1: the SDK's partitioner
	maxLine      int
	opts         []client.Opt
	// failedOut, if not nil, gets each input line whose record failed.
	failedOut io.Writer
}

func runProduce(c *cli.Context, args []string) error {
	cfg, err := produceConfigFrom(c, args)
	if err != nil {
		return err
	}
	if path := c.String("report-failed"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("produce: --report-failed: %w", err)
		}
		w := bufio.NewWriter(f)
		cfg.failedOut = w
		defer func() {
			if err := errors.Join(w.Flush(), f.Close()); err != nil {
				fmt.Fprintf(os.Stderr, "spate: produce: writing %s: %v\n", path, err)
			}
		}()
	}
	ctx, stop := signalContext()
	defer stop()
	st, err := produce(ctx, cfg, os.Stdin)
	fmt.Fprintln(os.Stderr, st.summary(cfg.topic))
	if err != nil {
		return err
	}
	if st.failed > 0 {
		return fmt.Errorf("produce: the first failure: %w", st.firstErr)
	}
	if st.interrupted {
		return cli.Exit(fmt.Sprintf("spate: produce: interrupted after %d records", st.produced), 130)
	}
	return nil
}

func produceConfigFrom(c *cli.Context, args []string) (produceConfig, error) {
	if len(args) != 1 {
		return produceConfig{}, fmt.Errorf("produce: want one TOPIC argument, got %d", len(args))
	}
	cfg := produceConfig{topic: args[0], partition: int32(c.Int("partition")), nullEmpty: c.Bool("null-empty")}
	acks, err := parseAcks(c.String("acks"))
	if err != nil {
		return cfg, err
	}
	codec, err := parseCompression(c.String("compression"))
	if err != nil {
		return cfg, err
	}
	// 64 MiB: the producer's buffer memory, which must hold a whole batch.
	batch, err := sizeFlag(c, "batch-size", 64<<20)
	if err != nil {
		return cfg, err
	}
	maxLine, err := sizeFlag(c, "max-line-bytes", 64<<20)
	if err != nil {
		return cfg, err
	}
	cfg.maxLine = int(maxLine)
	if c.IsSet("key-separator") {
		sep, err := unescape(c.String("key-separator"))
		if err != nil || len(sep) == 0 {
			return cfg, fmt.Errorf("produce: --key-separator %q: want a non-empty separator (%v)", c.String("key-separator"), err)
		}
		cfg.keySeparator = []byte(sep)
	}
	cfg.opts = append(streamOpts(c), client.RequiredAcks(acks), client.Compression(codec),
		client.BatchSize(int(batch)), client.Linger(c.Duration("linger")), client.DeliveryTimeout(c.Duration("delivery-timeout")))
	if c.IsSet("idempotent") {
		cfg.opts = append(cfg.opts, client.Idempotent(c.Bool("idempotent")))
	}
	if cfg.partition < -1 {
		return cfg, fmt.Errorf("produce: --partition %d: want a partition number (or -1)", cfg.partition)
	}
	if cfg.partition >= 0 {
		cfg.opts = append(cfg.opts, client.Partitioner(client.PartitionManual))
	}
	return cfg, nil
}

// sizeFlag reads a size flag between 1 byte and max.
func sizeFlag(c *cli.Context, name string, max int64) (int64, error) {
	n, err := parseSize(c.String(name))
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	if n < 1 || n > max {
		return 0, fmt.Errorf("--%s %s: want 1 byte to %d MiB", name, c.String(name), max>>20)
	}
	return n, nil
}

func parseAcks(s string) (client.Acks, error) {
	switch s {
	case "0":
		return client.AcksNone, nil
	case "1":
		return client.AcksLeader, nil
	case "all", "-1":
		return client.AcksAll, nil
	}
	return 0, fmt.Errorf("--acks %q: want 0, 1 or all", s)
}

func parseCompression(s string) (record.Compression, error) {
	for c := record.None; c <= record.Zstd; c++ {
		if s == c.String() {
			return c, nil
		}
	}
	return 0, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// produceStats is the outcome of a produce run.
type produceStats struct {
	produced    int64 // records handed to the producer
	failed      int64
	firstErr    error
	interrupted bool // ctx ended before the input did
}

// summary is the line printed at the end of a run, e.g. `produce: topic
// "events": 998 records acknowledged, 2 failed`.
func (st produceStats) summary(topic string) string {
	return fmt.Sprintf("spate: produce: topic %q: %d records acknowledged, %d failed", topic, st.produced-st.failed, st.failed)
}

// produce sends every line of in to cfg.topic and returns once each record
// is acknowledged or failed. The returned error is for the run itself
// (bad input, a producer that cannot start); record failures are counted
// in the stats.
func produce(ctx context.Context, cfg produceConfig, in io.Reader) (produceStats, error) {
	p, err := client.NewProducer(cfg.opts...)
	if err != nil {
		return produceStats{}, err
	}
	var (
		failed    atomic.Int64
		errMu     sync.Mutex // guards firstErr, reportErr and writes to cfg.failedOut
		firstErr  error
		reportErr error
	)
	recordPool := sync.Pool{New: func() any { return new(client.Record) }}
	// cutOff is set once a record failed because no broker could be
	// connected to within --delivery-timeout: each further record would
	// wait as long again, so the rest of the input fails without a try.
	var cutOff atomic.Bool
	// A record is the SDK's until its callback; then it is free again.
	done := func(r *client.Record, err error) {
		var unreachable *client.ConnectError
		if errors.As(err, &unreachable) {
			cutOff.Store(true)
		}
		if err != nil {
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			if cfg.failedOut != nil && reportErr == nil {
				reportErr = writeLine(cfg.failedOut, r, cfg.keySeparator)
			}
			errMu.Unlock()
			failed.Add(1) // after firstErr is set: failed > 0 implies firstErr != nil
		}
		*r = client.Record{}
		recordPool.Put(r)
	}
	var produced atomic.Int64
	readErr := make(chan error, 1)
	// Reading runs on its own goroutine because a read of a terminal or an
	// idle pipe cannot be interrupted: on a signal the main goroutine stops
	// waiting for it, flushes and returns.
	go func() {
		lr := newLineReader(in, cfg.maxLine)
		for ctx.Err() == nil {
			line, err := lr.next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
			r := recordPool.Get().(*client.Record)
			r.Topic, r.Partition = cfg.topic, cfg.partition
			r.Key, r.Value = splitKey(line, cfg.keySeparator)
			if cfg.nullEmpty && len(r.Value) == 0 {
				r.Value = nil
			}
			if cfg.failedOut != nil {
				// The callback may write the line back out, after line
				// was reused: the record keeps its own copy.
				r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
			}
			produced.Add(1)
			if cutOff.Load() {
				done(r, errNotSent)
				continue
			}
			p.Produce(ctx, r, done) // copies key and value: line may be reused
		}
		readErr <- nil
	}()
	var st produceStats
	select {
	case err = <-readErr:
	case <-ctx.Done():
		st.interrupted = true
	}
	closeErr := p.Close() // flushes: every record produced so far completes
	st.produced, st.failed = produced.Load(), failed.Load()
	errMu.Lock()
	st.firstErr = firstErr
	errMu.Unlock()
	if err != nil {
		return st, fmt.Errorf("produce: reading stdin after %d lines: %w", st.produced, err)
	}
	if reportErr != nil {
		return st, fmt.Errorf("produce: --report-failed: %w", reportErr)
	}
	return st, closeErr
}

// writeLine writes r back out as the input line it came from: key, SEP
// and value with a key separator and a non-null key, else the value.
func writeLine(w io.Writer, r *client.Record, sep []byte) error {
	var line []byte
	if sep != nil && r.Key != nil {
		line = append(append(append(line, r.Key...), sep...), r.Value...)
	} else {
		line = append(line, r.Value...)
	}
	_, err := w.Write(append(line, '\n'))
	return err
}

// errNotSent fails the records read after the producer was cut off.
var errNotSent = errors.New("not sent: no broker could be connected to within --delivery-timeout")

// splitKey splits line at the first sep into key and value. Without sep
// (nil) or when the line lacks it, the key is nil: a null key, which the
// partitioner places sticky rather than by hash. Both results alias line.
func splitKey(line, sep []byte) (key, value []byte) {
	if sep == nil {
		return nil, line
	}
	i := bytes.Index(line, sep)
	if i < 0 {
		return nil, line
	}
	return line[:i], line[i+len(sep):]
}

// lineReader yields input lines without their "\n" or "\r\n".
type lineReader struct {
	r    *bufio.Reader
	max  int
	long []byte // assembles a line longer than r's buffer
	n    int64  // lines returned
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10), max: max}
}

// next returns the next line, valid until the following call, or io.EOF.
// A last line without a newline is returned like any other.
func (lr *lineReader) next() ([]byte, error) {
	line, err := lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(lr.long) > lr.max+2 { // +2: the "\r\n" still to be trimmed
				return nil, lr.tooLong()
			}
			line, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n > 1 && line[n-2] == '\r' {
			line = line[:n-2]
		}
	}
	if len(line) > lr.max {
		return nil, lr.tooLong()
	}
	lr.n++
	return line, nil
}

func (lr *lineReader) tooLong() error {
	return fmt.Errorf("line %d is longer than %d bytes (raise --max-line-bytes; the broker's message.max.bytes bounds it too)", lr.n+1, lr.max)
}

// unescape resolves \n, \t, \r and \\ in a separator or format string; any
// other backslash sequence is an error, so a typo does not go unnoticed.
func unescape(s string) (string, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("trailing backslash")
		}
		i++
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case '\\':
			b = append(b, '\\')
		default:
			return "", fmt.Errorf("unknown escape \\%c at byte %d", s[i], i-1)
		}
	}
	return string(b), nil
}
