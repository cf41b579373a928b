package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// Result is the outcome of one run. Its JSON field names are part of
// `spate bench`'s output format: scripts and the sweep charts read them.
type Result struct {
	Mode          string  `json:"mode"` // produce, consume or e2e
	Topic         string  `json:"topic"`
	Partitions    int32   `json:"partitions"`
	Producers     int     `json:"producers"`
	Consumers     int     `json:"consumers"`
	RecordSize    int     `json:"record_size"`     // value bytes (the minimum of a range)
	RecordSizeMax int     `json:"record_size_max"` // equal to RecordSize when fixed
	KeySpace      int     `json:"keyspace"`
	BatchSize     int     `json:"batch_size"`
	LingerMS      float64 `json:"linger_ms"`
	Acks          string  `json:"acks"`
	Compression   string  `json:"compression"`
	MaxInFlight   int     `json:"max_in_flight"`
	PartInFlight  int     `json:"max_in_flight_per_partition"`
	Idempotent    bool    `json:"idempotent"` // acks=all: see Config.PartitionInFlight
	BufferBytes   int64   `json:"buffer_bytes"`
	TargetRate    float64 `json:"target_rate"` // records/s; 0: closed loop
	// API is how producers sent: "batch" (client.Producer.ProduceBatch) or
	// "record" (client.Producer.Produce); see Config.PerRecord.
	API     string  `json:"api,omitempty"`
	WarmupS float64 `json:"warmup_s"`
	// Procs is the load generator's GOMAXPROCS during the run, when the
	// caller set it (spate bench --procs); 0 otherwise.
	Procs int `json:"procs,omitempty"`

	// ElapsedS runs from the end of the warm-up to the last measured
	// acknowledgement (or receipt).
	ElapsedS float64 `json:"elapsed_s"`
	// Records and Bytes count the measured records acknowledged (produce)
	// or received (consume, e2e); Errors the measured records that failed.
	Records       int64   `json:"records"`
	Bytes         int64   `json:"bytes"`
	Errors        int64   `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// Latency is send → ack for produce, send → receive for e2e, and
	// empty (zero) for consume.
	Latency

	// AckedTotal counts every acknowledged record, warm-up included, and
	// HWDelta the sum of the topic's high watermark moves over the run
	// (produce and e2e; -1 when not read). They agree unless a retried batch
	// was written twice.
	AckedTotal int64 `json:"acked_total"`
	HWDelta    int64 `json:"hw_delta"`
}

// fill sets the throughput figures from the counters.
func (r *Result) fill(c counts, elapsed time.Duration, firstErr error) {
	r.ElapsedS = elapsed.Seconds()
	r.Records, r.Bytes, r.Errors = c.acked, c.bytes, c.errors
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	if r.ElapsedS > 0 {
		r.RecordsPerSec = float64(c.acked) / r.ElapsedS
		r.MBPerSec = float64(c.bytes) / 1e6 / r.ElapsedS
	}
}

// resultOf fills the settings part of a Result from a defaulted Config.
func resultOf(mode string, c *Config) Result {
	return Result{Mode: mode, Topic: c.Topic, Partitions: c.Partitions, Producers: c.Producers,
		Consumers: c.Consumers, RecordSize: c.RecordSize.Min, RecordSizeMax: c.RecordSize.Max,
		KeySpace: c.KeySpace, BatchSize: c.BatchSize, LingerMS: float64(c.Linger) / float64(time.Millisecond),
		Acks: acksName(c.Acks), Compression: compressionName(c.Compression), MaxInFlight: c.MaxInFlight,
		PartInFlight: c.PartitionInFlight, Idempotent: c.idempotent(), BufferBytes: c.BufferBytes, TargetRate: c.Rate, WarmupS: c.Warmup.Seconds(), HWDelta: -1}
}

// WriteSummary writes r for people.
func WriteSummary(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\ttopic %s, %d partitions, %d producers, %d consumers\n", r.Mode, r.Topic, r.Partitions, r.Producers, r.Consumers)
	if r.Mode != "consume" {
		fmt.Fprintf(tw, "settings\trecord %s B, batch %s, linger %gms, acks %s, compression %s, in-flight %d, buffer %s, rate %s\n",
			Sizes{r.RecordSize, r.RecordSizeMax}, FormatSize(r.BatchSize), r.LingerMS, r.Acks, r.Compression,
			r.MaxInFlight, FormatSize(int(r.BufferBytes)), rateName(r.TargetRate))
	}
	fmt.Fprintf(tw, "throughput\t%.0f records/s, %.2f MB/s (%d records in %.3fs after %gs warm-up)\n",
		r.RecordsPerSec, r.MBPerSec, r.Records, r.ElapsedS, r.WarmupS)
	if r.Count > 0 {
		fmt.Fprintf(tw, "latency ms\tp50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  p99.99 %.3f  max %.3f  mean %.3f\n",
			r.P50, r.P90, r.P99, r.P999, r.P9999, r.Max, r.Mean)
	}
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	if r.Mode != "consume" {
		agree := "agree"
		if r.HWDelta != r.AckedTotal {
			agree = "DIFFER"
		}
		fmt.Fprintf(tw, "check\t%d records acked (warm-up included), high watermark delta %d: %s\n",
			r.AckedTotal, r.HWDelta, agree)
	}
	return tw.Flush()
}

func rateName(r float64) string {
	if r == 0 {
		return "closed loop"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// WriteJSON writes v (a *Result or a []Result) as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// csvColumns are the CSV columns, named like the JSON fields.
var csvColumns = []string{"mode", "topic", "partitions", "producers", "consumers", "record_size",
	"record_size_max", "keyspace", "batch_size", "linger_ms", "acks", "compression", "max_in_flight",
	"buffer_bytes", "target_rate", "warmup_s", "elapsed_s", "records", "bytes", "errors", "records_per_sec", "mb_per_sec",
	"p50_ms", "p90_ms", "p99_ms", "p999_ms", "p9999_ms", "max_ms", "mean_ms", "acked_total", "hw_delta"}

// WriteCSV writes a header line and one line per result.
func WriteCSV(w io.Writer, rs []Result) error {
	cw := csv.NewWriter(w)
	cw.Write(csvColumns)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	d := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rs {
		cw.Write([]string{r.Mode, r.Topic, d(int64(r.Partitions)), d(int64(r.Producers)), d(int64(r.Consumers)),
			d(int64(r.RecordSize)), d(int64(r.RecordSizeMax)), d(int64(r.KeySpace)), d(int64(r.BatchSize)),
			f(r.LingerMS), r.Acks, r.Compression, d(int64(r.MaxInFlight)), d(r.BufferBytes), f(r.TargetRate), f(r.WarmupS),
			f(r.ElapsedS), d(r.Records), d(r.Bytes), d(r.Errors), f(r.RecordsPerSec), f(r.MBPerSec),
			f(r.P50), f(r.P90), f(r.P99), f(r.P999), f(r.P9999), f(r.Max), f(r.Mean), d(r.AckedTotal), d(r.HWDelta)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes sweep rows as an aligned table.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\tlinger ms\trecord B\tacks\trecords/s\tMB/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\tacked\thw delta\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%g\t%s\t%s\t%.0f\t%.2f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t\n", FormatSize(r.BatchSize),
			r.LingerMS, Sizes{r.RecordSize, r.RecordSizeMax}, r.Acks, r.RecordsPerSec, r.MBPerSec,
			r.P50, r.P99, r.P999, r.Max, r.Errors, r.AckedTotal, r.HWDelta)
	}
	return tw.Flush()
}

// FormatSize writes a byte count the way the flags take it: 16KiB, 1MiB,
// or plain bytes when not a whole number of KiB.
func FormatSize(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
