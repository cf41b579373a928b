package broker

// Behavior: a cluster member's /metrics describe the cluster as its
// metadata image has it, computed at scrape time: the controller, brokers
// by state, offline and under-replicated partitions, the applied metadata
// offset, the leader elections this broker made as controller, and (on
// the controller, which alone knows the heartbeats) each broker's metadata
// lag.

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descController = prometheus.NewDesc("spate_cluster_controller_id",
		"Broker id of the controller (the metadata quorum's raft leader); -1 while none is elected.", nil, nil)
	descBrokers = prometheus.NewDesc("spate_cluster_brokers",
		"Registered brokers by state: alive (heartbeating, caught up) or fenced.", []string{"state"}, nil)
	descOffline = prometheus.NewDesc("spate_cluster_offline_partitions",
		"Partitions with no leader.", nil, nil)
	descUnderReplicated = prometheus.NewDesc("spate_cluster_under_replicated_partitions",
		"Partitions whose ISR is smaller than their replica set.", nil, nil)
	descOffset = prometheus.NewDesc("spate_cluster_metadata_offset",
		"The metadata log offset this broker has applied.", nil, nil)
	descElections = prometheus.NewDesc("spate_leader_elections_total",
		"Partition leaders this broker elected while it was the controller, since it started: clean (an in-sync replica) or unclean (unclean.leader.election.enable).",
		[]string{"kind"}, nil)
	descLag = prometheus.NewDesc("spate_cluster_metadata_lag",
		"Metadata entries a broker is behind the controller at its last heartbeat (reported by the controller only).", []string{"broker"}, nil)
)

// clusterCollector is the member's prometheus.Collector.
type clusterCollector struct{ m *member }

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descController, descBrokers, descOffline, descUnderReplicated, descOffset, descElections, descLag} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.m.node
	img := n.Image()
	ctrl := -1.0
	if id, ok := n.ControllerID(); ok {
		ctrl = float64(id)
	}
	ch <- prometheus.MustNewConstMetric(descController, prometheus.GaugeValue, ctrl)
	var alive, fenced float64
	for _, b := range img.Brokers() {
		if b.Fenced {
			fenced++
		} else {
			alive++
		}
	}
	ch <- prometheus.MustNewConstMetric(descBrokers, prometheus.GaugeValue, alive, "alive")
	ch <- prometheus.MustNewConstMetric(descBrokers, prometheus.GaugeValue, fenced, "fenced")
	ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, float64(len(img.OfflinePartitions())))
	ch <- prometheus.MustNewConstMetric(descUnderReplicated, prometheus.GaugeValue, float64(len(img.UnderReplicatedPartitions())))
	ch <- prometheus.MustNewConstMetric(descOffset, prometheus.GaugeValue, float64(img.Offset()))
	clean, unclean := n.LeaderElections()
	ch <- prometheus.MustNewConstMetric(descElections, prometheus.CounterValue, float64(clean), "clean")
	ch <- prometheus.MustNewConstMetric(descElections, prometheus.CounterValue, float64(unclean), "unclean")
	if !n.IsController() {
		return
	}
	ls, err := n.Liveness()
	if err != nil {
		return
	}
	for _, l := range ls {
		if l.MetadataLag >= 0 {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(l.MetadataLag), strconv.Itoa(int(l.BrokerID)))
		}
	}
}
