package engine

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
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
}
