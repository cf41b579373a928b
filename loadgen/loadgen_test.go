package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/broker"
	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/loadgen"
)

// startBroker runs a broker in the test process on a free port; the
// load generator still reaches it only through the client over TCP.
func startBroker(t *testing.T) string {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir, cfg.Addr, cfg.KafkaAddr, cfg.AdminAddr = t.TempDir(), "127.0.0.1:0", "", ""
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Addr()
}

func baseConfig(addr, topic string) loadgen.Config {
	return loadgen.Config{Brokers: []string{addr}, Topic: topic, Acks: client.AcksLeader,
		BatchSize: 64 << 10, Linger: time.Millisecond, RecordSize: loadgen.Sizes{Min: 100, Max: 100}}
}

// TestProduceClosedLoop runs both send paths: whole batches (the default
// for a closed loop without keys) and a Produce call per record.
func TestProduceClosedLoop(t *testing.T) {
	for _, api := range []string{"batch", "record"} {
		t.Run(api, func(t *testing.T) { testProduceClosedLoop(t, api) })
	}
}

func testProduceClosedLoop(t *testing.T, api string) {
	addr := startBroker(t)
	cfg := baseConfig(addr, "closed")
	cfg.Partitions, cfg.Producers = 2, 2
	cfg.Warmup, cfg.Duration = 200*time.Millisecond, time.Second
	cfg.PerRecord = api == "record"
	var progress bytes.Buffer
	cfg.Progress = &progress
	r, err := loadgen.Produce(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("result: %+v\nprogress:\n%s", *r, progress.String())
		}
	})
	if r.RecordsPerSec <= 0 || r.Records == 0 || r.Errors != 0 {
		t.Fatalf("records %d at %.0f/s, %d errors (%s)", r.Records, r.RecordsPerSec, r.Errors, r.FirstError)
	}
	if r.Partitions != 2 || r.API != api {
		t.Fatalf("topic has %d partitions, sent by %q: want the 2 asked for, by %q", r.Partitions, r.API, api)
	}
	if r.AckedTotal != r.HWDelta {
		t.Fatalf("acked %d records, high watermarks moved by %d", r.AckedTotal, r.HWDelta)
	}
	if r.AckedTotal <= r.Records {
		t.Fatalf("acked total %d includes no warm-up records beyond the %d measured", r.AckedTotal, r.Records)
	}
	if r.Count != r.Records {
		t.Fatalf("latency histogram holds %d values for %d measured records", r.Count, r.Records)
	}
	if !(r.P50 > 0 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.P9999 && r.P9999 <= r.Max) {
		t.Fatalf("percentiles out of order: %+v", r.Latency)
	}
	if lines := strings.Count(progress.String(), "rec/s"); lines < 1 {
		t.Fatalf("no progress line in %q", progress.String())
	}

	// Consume reads back exactly what the topic holds.
	cc := baseConfig(addr, "closed")
	cc.Consumers, cc.Duration = 2, 10*time.Second
	c, err := loadgen.Consume(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Partitions != 2 || c.Consumers != 2 {
		t.Fatalf("consume: %d partitions, %d consumers: want 2 and 2", c.Partitions, c.Consumers)
	}
	if c.Records != r.HWDelta || c.Bytes != 100*r.HWDelta || c.RecordsPerSec <= 0 {
		t.Fatalf("consumed %d records (%d bytes) at %.0f/s, want the %d produced", c.Records, c.Bytes, c.RecordsPerSec, r.HWDelta)
	}
}

// TestProduceAcksNone: under acks=0 what was sent must all reach the log,
// and the result must say so (the broker may still be appending when the
// producer is done).
func TestProduceAcksNone(t *testing.T) {
	addr := startBroker(t)
	cfg := baseConfig(addr, "fire")
	cfg.Acks, cfg.BatchSize = client.AcksNone, 1<<20
	cfg.Warmup, cfg.Duration = 200*time.Millisecond, time.Second
	r, err := loadgen.Produce(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Records == 0 || r.Errors != 0 || r.AckedTotal != r.HWDelta {
		t.Fatalf("sent %d records (%d measured, %d errors: %s), high watermarks moved by %d", r.AckedTotal, r.Records, r.Errors, r.FirstError, r.HWDelta)
	}
}

// TestProduceAcksAllWindow: under acks=all one batch of a partition flies
// at a time by default, and a wider window keeps the producer idempotent;
// every record is acknowledged and written once (the high watermark moves
// by exactly the records produced). Above 5 the client refuses the window.
func TestProduceAcksAllWindow(t *testing.T) {
	addr := startBroker(t)
	for _, tc := range []struct{ window, wantWindow int }{{0, 1}, {4, 4}} {
		cfg := baseConfig(addr, "window"+strconv.Itoa(tc.window))
		cfg.Acks, cfg.PartitionInFlight, cfg.Records = client.AcksAll, tc.window, 50_000
		r, err := loadgen.Produce(context.Background(), cfg)
		if err != nil {
			t.Fatalf("window %d: %v", tc.window, err)
		}
		if r.PartInFlight != tc.wantWindow || !r.Idempotent {
			t.Errorf("window %d: ran with %d in flight, idempotent %v: want %d, idempotent",
				tc.window, r.PartInFlight, r.Idempotent, tc.wantWindow)
		}
		if r.Errors != 0 || r.AckedTotal != cfg.Records || r.HWDelta != cfg.Records {
			t.Errorf("window %d: acked %d, hw delta %d, %d errors (%s): want %d each, no error",
				tc.window, r.AckedTotal, r.HWDelta, r.Errors, r.FirstError, cfg.Records)
		}
	}
	cfg := baseConfig(addr, "window6")
	cfg.Acks, cfg.PartitionInFlight, cfg.Records = client.AcksAll, 6, 1000
	if _, err := loadgen.Produce(context.Background(), cfg); !errors.Is(err, client.ErrInvalidOption) {
		t.Fatalf("window 6 with acks=all: %v, want client.ErrInvalidOption", err)
	}
}

// TestProduceRecordCount: a run bounded by a record count stops at
// exactly that many measured records, on both send paths, with several
// producers competing for the last ones.
func TestProduceRecordCount(t *testing.T) {
	addr := startBroker(t)
	for _, perRecord := range []bool{false, true} {
		cfg := baseConfig(addr, "count-"+strconv.FormatBool(perRecord))
		cfg.Partitions, cfg.Producers, cfg.PerRecord = 3, 3, perRecord
		cfg.BatchSize, cfg.Records = 4<<10, 100_003
		r, err := loadgen.Produce(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Records != cfg.Records || r.AckedTotal != cfg.Records || r.HWDelta != cfg.Records || r.Count != cfg.Records || r.Errors != 0 {
			t.Fatalf("api %s: measured %d, acked %d, hw delta %d, histogram %d, errors %d (%s): want %d each, no error",
				r.API, r.Records, r.AckedTotal, r.HWDelta, r.Count, r.Errors, r.FirstError, cfg.Records)
		}
	}
}

func TestProduceFixedRate(t *testing.T) {
	addr := startBroker(t)
	cfg := baseConfig(addr, "rate")
	cfg.Producers, cfg.Rate, cfg.Duration = 2, 400, 1500*time.Millisecond
	cfg.RecordSize, cfg.KeySpace = loadgen.Sizes{Min: 10, Max: 200}, 16
	r, err := loadgen.Produce(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Records acknowledged per second of the sending window is the rate the
	// load generator held; RecordsPerSec also waits for the last ack, so a
	// stall of the shared test machine at the end lowers it a little.
	if held := float64(r.Records) / cfg.Duration.Seconds(); math.Abs(held-400)/400 > 0.10 {
		t.Fatalf("%d records in the %v window: %.1f/s, want 400 ± 10%%", r.Records, cfg.Duration, held)
	}
	if r.RecordsPerSec < 0.75*400 || r.RecordsPerSec > 1.1*400 {
		t.Fatalf("%.1f records/s (%d in %.3fs), want about 400; latency %+v", r.RecordsPerSec, r.Records, r.ElapsedS, r.Latency)
	}
	if r.Count != r.Records || r.AckedTotal != r.Records || r.HWDelta != r.Records || r.Errors != 0 {
		t.Fatalf("histogram %d, measured %d, acked %d, hw delta %d, errors %d: want one count",
			r.Count, r.Records, r.AckedTotal, r.HWDelta, r.Errors)
	}
	// Uniform 10..200 values plus keys "k0".."k15": the mean record is
	// about 108 bytes; a fixed size would give 100 or 200 exactly.
	if mean := float64(r.Bytes) / float64(r.Records); mean < 80 || mean > 140 {
		t.Fatalf("mean record %.1f bytes, want about 108", mean)
	}
}

func TestE2E(t *testing.T) {
	addr := startBroker(t)
	cfg := baseConfig(addr, "e2e")
	cfg.Partitions, cfg.Consumers = 2, 2
	cfg.Rate, cfg.Duration = 1000, time.Second
	r, err := loadgen.E2E(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Partitions != 2 || r.Consumers != 2 {
		t.Fatalf("%d partitions, %d consumers: want 2 and 2", r.Partitions, r.Consumers)
	}
	if r.Records != r.AckedTotal || r.HWDelta != r.AckedTotal || r.Records < 900 {
		t.Fatalf("received %d, acked %d, hw delta %d: want equal, about 1000", r.Records, r.AckedTotal, r.HWDelta)
	}
	if r.Count != r.Records || r.P50 <= 0 || r.Max > 5000 {
		t.Fatalf("latency: %+v", r.Latency)
	}
}

func TestSweepJSON(t *testing.T) {
	addr := startBroker(t)
	cfg := baseConfig(addr, "sweep")
	cfg.Duration = 300 * time.Millisecond
	rows, err := loadgen.Sweep(context.Background(), loadgen.SweepConfig{Base: cfg, BatchSizes: []int{1 << 10, 16 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := loadgen.WriteJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("sweep JSON: %v\n%s", err, buf.Bytes())
	}
	if len(decoded) != 2 {
		t.Fatalf("%d rows, want one per batch size (2)", len(decoded))
	}
	for i, want := range []float64{1 << 10, 16 << 10} {
		row := decoded[i]
		for _, k := range []string{"batch_size", "records_per_sec", "mb_per_sec", "p50_ms", "p99_ms", "p999_ms", "max_ms"} {
			if _, ok := row[k].(float64); !ok {
				t.Fatalf("row %d: field %q missing or not a number: %v", i, k, row)
			}
		}
		if row["batch_size"] != want || row["records_per_sec"].(float64) <= 0 || row["acked_total"] != row["hw_delta"] {
			t.Fatalf("row %d: %v", i, row)
		}
	}
	// Each run's topic was deleted after it.
	admin, err := client.NewAdmin(client.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != 0 {
		t.Fatalf("topics left after the sweep: %v", topics)
	}
}

func TestWriteCharts(t *testing.T) {
	var rows []loadgen.Result
	for i, batch := range []int{1 << 10, 16 << 10, 1 << 20} {
		for _, linger := range []float64{0, 5} {
			rows = append(rows, loadgen.Result{BatchSize: batch, LingerMS: linger, RecordSize: 100, RecordSizeMax: 100,
				Acks: "1", Compression: "none", RecordsPerSec: float64(1+i) * 1e5,
				Latency: loadgen.Latency{P50: float64(i) + 0.5, P99: float64(i) + 2}})
		}
	}
	dir := filepath.Join(t.TempDir(), "charts")
	files, err := loadgen.WriteCharts(dir, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("files %v, want a PNG and an SVG of two charts", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".png":
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
				t.Fatalf("%s: not a PNG (%d bytes)", f, len(b))
			}
		case ".svg":
			if s := strings.TrimSpace(string(b)); !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") || !strings.Contains(s, "</svg>") {
				t.Fatalf("%s: not an SVG: %.80q", f, b)
			}
		default:
			t.Fatalf("unexpected file %s", f)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]loadgen.Config{
		"no brokers":  {Topic: "t", Duration: time.Second},
		"no topic":    {Brokers: []string{"127.0.0.1:1"}, Duration: time.Second},
		"no end":      {Brokers: []string{"127.0.0.1:1"}, Topic: "t"},
		"bad size":    {Brokers: []string{"127.0.0.1:1"}, Topic: "t", Duration: time.Second, RecordSize: loadgen.Sizes{Min: 9, Max: 3}},
		"e2e 4 bytes": {Brokers: []string{"127.0.0.1:1"}, Topic: "t", Duration: time.Second, RecordSize: loadgen.Sizes{Min: 4, Max: 4}},
	} {
		if _, err := loadgen.E2E(ctx, cfg); !errors.Is(err, loadgen.ErrInvalidConfig) {
			t.Errorf("%s: err %v, want an invalid config error", name, err)
		}
	}
	for in, want := range map[string]loadgen.Sizes{"100": {100, 100}, "64..1024": {64, 1024}} {
		if got, err := loadgen.ParseSizes(in); err != nil || got != want {
			t.Errorf("ParseSizes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := loadgen.ParseSizes("1-2"); err == nil {
		t.Error(`ParseSizes("1-2") succeeded`)
	}
}
