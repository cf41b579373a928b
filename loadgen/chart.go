package loadgen

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart file names (each written as .png and .svg) in the directory given
// to WriteCharts.
const (
	ThroughputChart = "throughput-vs-batch-size"
	LatencyChart    = "latency-vs-batch-size"
)

// WriteCharts draws sweep rows into dir (created if missing): throughput
// (records/s) against batch size, and p50 and p99 latency against batch
// size, each as PNG and SVG. Rows that differ in anything but the batch
// size (linger, record size, acks, compression) get a line each. It
// returns the files written.
func WriteCharts(dir string, rows []Result) ([]string, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("loadgen: charts in %s: no rows", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("loadgen: charts: %w", err)
	}
	groups, labels := groupRows(rows)
	ticks := batchTicks(rows)

	tp := newChart("Produce throughput vs batch size", "records/s", ticks)
	tp.Y.Tick.Marker = siTicks{}
	// Throughput rises with the batch size, so the bottom right is free.
	tp.Legend.Top, tp.Legend.Left = false, false
	lat := newChart("Produce latency (send → ack) vs batch size", "latency (ms)", ticks)
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lat.Legend.Top, lat.Legend.Left = true, true
	for i, g := range groups {
		rps, p50, p99 := make(plotter.XYs, len(g)), make(plotter.XYs, len(g)), make(plotter.XYs, len(g))
		for j, r := range g {
			x := float64(r.BatchSize)
			rps[j] = plotter.XY{X: x, Y: r.RecordsPerSec}
			// A log axis cannot show 0; HDR's resolution is 1 µs anyway.
			p50[j] = plotter.XY{X: x, Y: max(r.P50, 0.001)}
			p99[j] = plotter.XY{X: x, Y: max(r.P99, 0.001)}
		}
		if err := addLine(tp, labels[i], rps, 2*i); err != nil {
			return nil, err
		}
		if err := addLine(lat, "p50 "+labels[i], p50, 2*i); err != nil {
			return nil, err
		}
		if err := addLine(lat, "p99 "+labels[i], p99, 2*i+1); err != nil {
			return nil, err
		}
	}
	// Room above the lines for the legend (latency) and a zero baseline
	// so throughput ratios read true.
	tp.Y.Min, tp.Y.Max = 0, tp.Y.Max*1.1
	lat.Y.Max *= 4
	var files []string
	for _, c := range []struct {
		p    *plot.Plot
		name string
	}{{tp, ThroughputChart}, {lat, LatencyChart}} {
		for _, ext := range []string{".png", ".svg"} {
			f := filepath.Join(dir, c.name+ext)
			if err := c.p.Save(8*vg.Inch, 5*vg.Inch, f); err != nil {
				return files, fmt.Errorf("loadgen: chart %s: %w", f, err)
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func newChart(title, yLabel string, ticks plot.ConstantTicks) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "batch size"
	p.Y.Label.Text = yLabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ticks
	p.X.Padding, p.Y.Padding = vg.Points(8), vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, label string, xys plotter.XYs, style int) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("loadgen: chart line %q: %w", label, err)
	}
	l.Color, pts.Color = plotutil.Color(style), plotutil.Color(style)
	l.Dashes = plotutil.Dashes(style)
	pts.Shape = plotutil.Shape(style)
	p.Add(l, pts)
	p.Legend.Add(label, l, pts)
	return nil
}

// groupRows splits rows by everything but the batch size, each group
// sorted by batch size, and names each group.
func groupRows(rows []Result) ([][]Result, []string) {
	var groups [][]Result
	var labels []string
	index := map[string]int{}
	for _, r := range rows {
		label := fmt.Sprintf("linger=%gms,record=%sB,acks=%s,compression=%s",
			r.LingerMS, Sizes{r.RecordSize, r.RecordSizeMax}, r.Acks, r.Compression)
		i, ok := index[label]
		if !ok {
			i = len(groups)
			index[label] = i
			groups = append(groups, nil)
			labels = append(labels, label)
		}
		groups[i] = append(groups[i], r)
	}
	for _, g := range groups {
		slices.SortFunc(g, func(a, b Result) int { return a.BatchSize - b.BatchSize })
	}
	return groups, labels
}

// batchTicks labels the x axis with the batch sizes swept.
func batchTicks(rows []Result) plot.ConstantTicks {
	var sizes []int
	for _, r := range rows {
		sizes = append(sizes, r.BatchSize)
	}
	slices.Sort(sizes)
	var ticks plot.ConstantTicks
	for _, s := range slices.Compact(sizes) {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: FormatSize(s)})
	}
	return ticks
}

// siTicks labels a linear axis with SI suffixes (250k, 1.5M), which read
// better than 1500000.
type siTicks struct{}

func (siTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = siLabel(ts[i].Value)
		}
	}
	return ts
}

func siLabel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', -1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
