package engine

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spate-io/spate/segment"
)

// Per-partition offset gauges, read at scrape time (nothing is recorded on
// the hot path).
var (
	descPartitions = prometheus.NewDesc("spate_partitions", "Partitions hosted by this broker.", nil, nil)
	descLogStart   = prometheus.NewDesc("spate_partition_log_start_offset",
		"First offset still in the partition's log.", []string{"topic", "partition"}, nil)
	descLogEnd = prometheus.NewDesc("spate_partition_log_end_offset",
		"Next offset the partition will assign.", []string{"topic", "partition"}, nil)
	descHighWatermark = prometheus.NewDesc("spate_partition_high_watermark",
		"Offset below which records are committed and visible to consumers.", []string{"topic", "partition"}, nil)
	descDirectWriteBytes = prometheus.NewDesc("spate_log_dir_direct_write_bytes",
		"Batches of at least this many bytes are written with O_DIRECT (0: every batch through the page cache); mode is the write path in force, chosen=measured|config.",
		[]string{"dir", "mode", "chosen"}, nil)
	descCalibration = prometheus.NewDesc("spate_log_dir_calibration_mb_per_sec",
		"Median MB/s of the start-up write probe that chose the data dir's write path, by mode (absent when set by hand or not measured).",
		[]string{"dir", "mode"}, nil)
)

// Collector returns a prometheus.Collector that reports every partition's
// log start offset, log end offset and high watermark when scraped.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPartitions
	ch <- descLogStart
	ch <- descLogEnd
	ch <- descHighWatermark
	ch <- descDirectWriteBytes
	ch <- descCalibration
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := 0
	c.e.EachPartition(func(topic string, partition int32, logStart, logEnd, hw int64) {
		n++
		id := strconv.Itoa(int(partition))
		ch <- prometheus.MustNewConstMetric(descLogStart, prometheus.GaugeValue, float64(logStart), topic, id)
		ch <- prometheus.MustNewConstMetric(descLogEnd, prometheus.GaugeValue, float64(logEnd), topic, id)
		ch <- prometheus.MustNewConstMetric(descHighWatermark, prometheus.GaugeValue, float64(hw), topic, id)
	})
	ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(n))
	c.collectWriteMode(ch)
}

func (c collector) collectWriteMode(ch chan<- prometheus.Metric) {
	cal, direct, measured := c.e.WriteMode()
	mode, chosen := segment.WritePageCache, "config"
	if direct > 0 {
		mode = segment.WriteDirect
	}
	if measured {
		chosen = "measured"
	}
	dir := c.e.cfg.DataDir
	ch <- prometheus.MustNewConstMetric(descDirectWriteBytes, prometheus.GaugeValue, float64(direct), dir, string(mode), chosen)
	if measured && cal.Unmeasured == "" {
		for m, v := range map[segment.WriteMode][]float64{segment.WritePageCache: cal.PageCacheMBps, segment.WriteDirect: cal.DirectMBps} {
			if len(v) > 0 {
				ch <- prometheus.MustNewConstMetric(descCalibration, prometheus.GaugeValue, segment.Median(v), dir, string(m))
			}
		}
	}
}
