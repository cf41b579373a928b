package engine

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spate-io/spate/replication"
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
		"Batches of at least this many bytes may be written with O_DIRECT (0: never); chosen=measured|config.",
		[]string{"dir", "chosen"}, nil)
	descWriteMode = prometheus.NewDesc("spate_log_dir_write_mode",
		"1 for the write path large appends use now (measured while running when chosen=measured).",
		[]string{"dir", "mode"}, nil)
	descWriteModeMBps = prometheus.NewDesc("spate_log_dir_write_mb_per_sec",
		"Latest MB/s of large appends by write path: the start-up probe's, then refreshed by real appends (absent when set by hand).",
		[]string{"dir", "mode"}, nil)
	descWriteModeSwitches = prometheus.NewDesc("spate_log_dir_write_mode_switches_total",
		"Times the write path of large appends changed while running.", []string{"dir"}, nil)

	descLogDirState = prometheus.NewDesc("spate_log_dir_state",
		"1 for the log dir's current state (ok: appends accepted; full: appends refused for lack of space; failed: a partition's log failed), 0 for the others.",
		[]string{"dir", "state"}, nil)
	descLogDirFree = prometheus.NewDesc("spate_log_dir_free_bytes",
		"Bytes free for the broker on the log dir's filesystem, at the last check.", []string{"dir"}, nil)
	descLogDirTotal = prometheus.NewDesc("spate_log_dir_total_bytes",
		"Size of the log dir's filesystem.", []string{"dir"}, nil)
	descLogDirMinFree = prometheus.NewDesc("spate_log_dir_min_free_bytes",
		"Free space below which appends are refused (log.dir.min.free.bytes, resolved).", []string{"dir"}, nil)
	descLogDirRefused = prometheus.NewDesc("spate_log_dir_appends_refused_total",
		"Produce requests refused because the log dir was full.", []string{"dir"}, nil)
	descLagRecords = prometheus.NewDesc("spate_replica_lag_records",
		"Per partition this broker leads, each follower's lag: the leader's log end minus the follower's last fetch offset.",
		[]string{"topic", "partition", "follower"}, nil)
	descLagSeconds = prometheus.NewDesc("spate_replica_lag_seconds",
		"Per partition this broker leads, how long each follower has not held all the leader held (0 while caught up).",
		[]string{"topic", "partition", "follower"}, nil)
	descISRChanges = prometheus.NewDesc("spate_isr_changes_total",
		"ISR changes this broker's partition leaders proposed to the controller, by outcome: shrink or expand (committed), or refused.", []string{"change"}, nil)
)

var logDirStates = [...]LogDirState{LogDirOK, LogDirFull, LogDirFailed}

// Collector returns a prometheus.Collector that reports every partition's
// log start offset, log end offset and high watermark, and each log dir's
// state and space, when scraped.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPartitions
	ch <- descLogStart
	ch <- descLogEnd
	ch <- descHighWatermark
	ch <- descDirectWriteBytes
	ch <- descWriteMode
	ch <- descWriteModeMBps
	ch <- descWriteModeSwitches
	ch <- descLogDirState
	ch <- descLogDirFree
	ch <- descLogDirTotal
	ch <- descLogDirMinFree
	ch <- descLogDirRefused
	ch <- descISRChanges
	ch <- descLagRecords
	ch <- descLagSeconds
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
	c.collectISRChanges(ch)
	c.collectLag(ch)
	c.collectWriteMode(ch)
	c.collectLogDirs(ch)
}

func (c collector) collectWriteMode(ch chan<- prometheus.Metric) {
	_, policy, direct := c.e.WriteMode()
	dir := c.e.cfg.DataDir
	chosen, mode := "config", segment.WritePageCache
	if direct > 0 {
		mode = segment.WriteDirect
	}
	if policy != nil {
		chosen, mode = "measured", policy.Mode()
		pc, dr, switches := policy.Figures()
		for m, v := range map[segment.WriteMode]float64{segment.WritePageCache: pc, segment.WriteDirect: dr} {
			if v > 0 {
				ch <- prometheus.MustNewConstMetric(descWriteModeMBps, prometheus.GaugeValue, v, dir, string(m))
			}
		}
		ch <- prometheus.MustNewConstMetric(descWriteModeSwitches, prometheus.CounterValue, float64(switches), dir)
	}
	ch <- prometheus.MustNewConstMetric(descDirectWriteBytes, prometheus.GaugeValue, float64(direct), dir, chosen)
	for _, m := range []segment.WriteMode{segment.WritePageCache, segment.WriteDirect} {
		v := 0.0
		if m == mode {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descWriteMode, prometheus.GaugeValue, v, dir, string(m))
	}
}

// collectLogDirs reports each log dir's state and space (logdir.go).
func (c collector) collectLogDirs(ch chan<- prometheus.Metric) {
	for _, d := range c.e.LogDirs() {
		for _, st := range logDirStates {
			v := 0.0
			if st == d.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descLogDirState, prometheus.GaugeValue, v, d.Dir, st.String())
		}
		ch <- prometheus.MustNewConstMetric(descLogDirFree, prometheus.GaugeValue, float64(d.FreeBytes), d.Dir)
		ch <- prometheus.MustNewConstMetric(descLogDirTotal, prometheus.GaugeValue, float64(d.TotalBytes), d.Dir)
		ch <- prometheus.MustNewConstMetric(descLogDirMinFree, prometheus.GaugeValue, float64(d.MinFreeBytes), d.Dir)
		ch <- prometheus.MustNewConstMetric(descLogDirRefused, prometheus.CounterValue, float64(d.AppendsRefused), d.Dir)
	}
}

// collectISRChanges reports the ISR changes a cluster member's leaders
// proposed (replica.go); a broker alone has none to report.
func (c collector) collectISRChanges(ch chan<- prometheus.Metric) {
	if !c.e.cfg.Clustered {
		return
	}
	st := &c.e.replStats
	for _, v := range []struct {
		change string
		n      *atomic.Int64
	}{{"shrink", &st.shrinks}, {"expand", &st.expands}, {"refused", &st.refused}} {
		ch <- prometheus.MustNewConstMetric(descISRChanges, prometheus.CounterValue, float64(v.n.Load()), v.change)
	}
}

// collectLag reports the lag of every follower of every partition led here
// with followers. The label sets are bounded by the partitions this broker
// leads and their replicas.
func (c collector) collectLag(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, t := range *c.e.topics.Load() {
		for p := range t.hosted() {
			r := &p.repl
			if r.hw.Load() < 0 {
				continue // no ISR core: one replica, or offline
			}
			r.mu.Lock()
			var lags []replication.FollowerLag
			if r.leader != nil {
				lags = r.leader.Lag(now)
			}
			r.mu.Unlock()
			id := strconv.Itoa(int(p.id))
			for _, l := range lags {
				follower := strconv.Itoa(int(l.Replica))
				ch <- prometheus.MustNewConstMetric(descLagRecords, prometheus.GaugeValue, float64(l.Records), p.topic, id, follower)
				ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, l.Time.Seconds(), p.topic, id, follower)
			}
		}
	}
}
