package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/wire"
)

// metrics holds the broker's Prometheus instruments. Per-API instruments are
// resolved once at start into arrays indexed by API key, so the request path
// does an atomic add and a histogram observe, with no label lookup or
// allocation.
type metrics struct {
	reg *prometheus.Registry

	bytesIn, bytesOut prometheus.Counter
	connsOpen         prometheus.Gauge
	connsTotal        prometheus.Counter
	connsFailed       prometheus.Counter

	requests  [numAPIs]prometheus.Counter
	errors    [numAPIs]prometheus.Counter
	latencies [numAPIs]prometheus.Observer
	// unknownAPI counts frames whose api_key is outside the known range.
	unknownAPI prometheus.Counter
}

// numAPIs bounds the API keys that get their own series; higher keys count
// in unknownAPI.
const numAPIs = int(wire.ListPartitionReassignmentsKey) + 1

func newMetrics(e *engine.Engine, groups *engine.GroupCoordinator) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spate_network_bytes_in_total", Help: "Request bytes read from clients, frame headers included."})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spate_network_bytes_out_total", Help: "Response bytes handed to the network layer, record bytes included."})
	m.connsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "spate_connections_open", Help: "Client connections currently open."})
	m.connsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spate_connections_total", Help: "Client connections accepted since start."})
	m.connsFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spate_connections_closed_on_error_total", Help: "Client connections the broker closed because of an error (malformed frame, inbound buffer overflow, write failure)."})
	m.unknownAPI = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "spate_requests_unknown_api_total", Help: "Requests with an api_key this broker does not know."})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spate_requests_total", Help: "Requests received, by API."}, []string{"api"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "spate_request_errors_total", Help: "Requests answered with a top-level or partition error, by API."}, []string{"api"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "spate_request_duration_seconds",
		Help:    "Time from a request's frame being read to its response being handed to the network layer, by API.",
		Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 14), // 10µs .. ~1.5 min
	}, []string{"api"})
	m.reg.MustRegister(m.bytesIn, m.bytesOut, m.connsOpen, m.connsTotal, m.connsFailed, m.unknownAPI, reqs, errs, lat)
	for k := 0; k < numAPIs; k++ {
		name := wire.APIKey(k).String()
		m.requests[k] = reqs.WithLabelValues(name)
		m.errors[k] = errs.WithLabelValues(name)
		m.latencies[k] = lat.WithLabelValues(name)
	}
	m.reg.MustRegister(e.Collector(), groups.Collector())
	return m
}

// registerServer exposes the native listener's descriptor-exhaustion
// counters.
func (m *metrics) registerServer(srv *netio.Server) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "spate_accept_fd_exhausted_total",
			Help: "Accepts on the native listener that failed because the process (EMFILE) or system (ENFILE) was out of file descriptors."},
			func() float64 { return float64(srv.Stats().FDExhausted) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "spate_connections_refused_total",
			Help: "Client connections closed right after accept because no file descriptor was free to serve them."},
			func() float64 { return float64(srv.Stats().RefusedConns) }),
	)
}

// observe records one finished request. key is known to be in range.
func (m *metrics) observe(key wire.APIKey, start time.Time, failed bool) {
	m.latencies[key].Observe(time.Since(start).Seconds())
	if failed {
		m.errors[key].Inc()
	}
}
