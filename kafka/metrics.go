package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/netio"
)

// metrics are the Kafka port's Prometheus instruments, named spate_kafka_*
// beside the native port's spate_* ones. Per-API instruments are resolved
// once, indexed like served, so a request does an atomic add and a
// histogram observe with no label lookup.
type metrics struct {
	connsOpen   prometheus.Gauge
	connsTotal  prometheus.Counter
	connsClosed prometheus.Counter // closed by the broker: bad input or a write failure
	requests    []prometheus.Counter
	latencies   []prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spate_kafka_connections_open", Help: "Kafka-protocol client connections currently open."}),
		connsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spate_kafka_connections_total", Help: "Kafka-protocol client connections accepted since start."}),
		connsClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spate_kafka_connections_closed_on_error_total",
			Help: "Kafka-protocol connections the broker closed: an unknown API key or version, a request that did not decode, a bad frame size, or a failed write."}),
	}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spate_kafka_requests_total", Help: "Kafka-protocol requests answered (or, for acks=0 produce, completed), by API."}, []string{"api"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "spate_kafka_request_duration_seconds",
		Help:    "Time from a Kafka request's frame being read to its response being handed to the network layer, by API.",
		Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 14), // 10µs .. ~1.5 min, as the native port's
	}, []string{"api"})
	for _, v := range served {
		name := kmsg.NameForKey(v.key)
		m.requests = append(m.requests, reqs.WithLabelValues(name))
		m.latencies = append(m.latencies, lat.WithLabelValues(name))
	}
	if reg != nil {
		reg.MustRegister(m.connsOpen, m.connsTotal, m.connsClosed, reqs, lat)
	}
	return m
}

// observe counts one finished request of served[api] that began at start.
func (m *metrics) observe(api int, start time.Time) {
	m.requests[api].Inc()
	m.latencies[api].Observe(time.Since(start).Seconds())
}

// OnOpen implements netio.ConnObserver.
func (h *Handler) OnOpen(netio.ConnInfo) {
	h.m.connsOpen.Inc()
	h.m.connsTotal.Inc()
}

// OnClose implements netio.ConnObserver.
func (h *Handler) OnClose(_ netio.ConnInfo, err error) {
	h.m.connsOpen.Dec()
	if err != nil {
		h.m.connsClosed.Inc()
	}
}
