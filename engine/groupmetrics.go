package engine

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Consumer group gauges, read at scrape time from the coordinator's memory
// and the partitions' high watermarks.
var (
	descGroupMembers = prometheus.NewDesc("spate_consumer_group_members",
		"Members of the consumer group.", []string{"group"}, nil)
	descGroupCommitted = prometheus.NewDesc("spate_consumer_group_committed_offset",
		"The group's committed offset of the partition: the next offset it reads.", []string{"group", "topic", "partition"}, nil)
	descGroupLag = prometheus.NewDesc("spate_consumer_group_lag",
		"High watermark minus the group's committed offset (0 when the commit is past it), for partitions that exist.",
		[]string{"group", "topic", "partition"}, nil)
)

// Collector returns a prometheus.Collector that reports every group's
// member count and, per partition it has committed, its committed offset
// and lag, when scraped.
func (c *GroupCoordinator) Collector() prometheus.Collector { return groupCollector{c} }

type groupCollector struct{ c *GroupCoordinator }

func (g groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descGroupMembers
	ch <- descGroupCommitted
	ch <- descGroupLag
}

func (g groupCollector) Collect(ch chan<- prometheus.Metric) {
	type row struct {
		group  string
		tp     TopicPartition
		offset int64
	}
	var rows []row
	members := map[string]int{}
	g.c.mu.Lock()
	for id, gr := range g.c.mu.core.groups {
		members[id] = len(gr.members)
		for tp, v := range gr.offsets {
			rows = append(rows, row{id, tp, v.offset})
		}
	}
	g.c.mu.Unlock()
	// The engine is read without the coordinator's lock (its lock order).
	for id, n := range members {
		ch <- prometheus.MustNewConstMetric(descGroupMembers, prometheus.GaugeValue, float64(n), id)
	}
	for _, r := range rows {
		p := strconv.Itoa(int(r.tp.Partition))
		ch <- prometheus.MustNewConstMetric(descGroupCommitted, prometheus.GaugeValue, float64(r.offset), r.group, r.tp.Topic, p)
		if part, err := g.c.e.lookup(r.tp.Topic, r.tp.Partition); err == nil {
			ch <- prometheus.MustNewConstMetric(descGroupLag, prometheus.GaugeValue, float64(max(part.highWatermark()-r.offset, 0)), r.group, r.tp.Topic, p)
		}
	}
}
