package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spate-io/spate/cluster"
	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/kafka"
	"github.com/spate-io/spate/netio"
	"github.com/spate-io/spate/segment"
)

// Broker is one running Spate broker. Make it with New, then Start; Close
// stops it gracefully.
type Broker struct {
	cfg     Config
	engine  *engine.Engine
	groups  *engine.GroupCoordinator
	server  *netio.Server
	kafka   *netio.Server // nil when kafka.addr is empty
	metrics *metrics
	member  *member // the broker's side of the cluster (cluster.go)

	admin     *http.Server
	adminLn   net.Listener
	adminDone chan struct{}

	// nofileBefore and nofileAfter are RLIMIT_NOFILE's soft limit before
	// and after New raised it to the hard limit.
	nofileBefore, nofileAfter uint64

	stopping  atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and opens the storage engine (recovering any partition
// that was not closed cleanly). It does not listen yet: call Start.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ecfg, err := engineConfig(cfg)
	if err != nil {
		return nil, err
	}
	// Before any partition opens: the descriptor budget counts on it.
	before, after, err := raiseNofileLimit()
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, nofileBefore: before, nofileAfter: after}
	// Every broker is a cluster member: with no cluster keys, a one-voter
	// cluster of itself. The hooks reach the member once it exists; the
	// engine calls them only while serving requests, after New.
	ecfg.Clustered = true
	ecfg.CreateTopicHook = func(name string, partitions int32, configs map[string]string) error {
		return b.member.createTopic(name, partitions, -1, configs)
	}
	ecfg.AllocateProducerIDs = func() (int64, int32, error) { return b.member.allocateProducerIDs() }
	ecfg.AlterPartitionHook = func(topic string, partition, leader, leaderEpoch, partitionEpoch int32, isr []int32) error {
		return b.member.alterPartition(topic, partition, leader, leaderEpoch, partitionEpoch, isr)
	}
	ecfg.ReplicaLagTimeMax = cfg.ReplicaLagTimeMax
	e, err := engine.Open(ecfg)
	if err != nil {
		return nil, fmt.Errorf("broker: open data dir %s: %w%s", cfg.DataDir, err, nofileHint(err, after))
	}
	b.engine = e
	// After the engine: its lock keeps a second broker off the data dir
	// before the metadata there is read.
	node, err := startNode(cfg)
	if err != nil {
		e.Close(context.Background())
		return nil, fmt.Errorf("broker: metadata quorum: %w", err)
	}
	b.member = newMember(b, node)
	// The coordinator reloads every group from __consumer_offsets, so it
	// opens after the engine has recovered that topic's logs.
	groups, err := engine.OpenGroupCoordinator(e, cfg.groupConfig())
	if err != nil {
		b.closeStorage()
		return nil, fmt.Errorf("broker: open group coordinator in %s: %w", cfg.DataDir, err)
	}
	b.groups = groups
	b.metrics = newMetrics(e, groups)
	b.metrics.reg.MustRegister(clusterCollector{b.member})
	srv, err := netio.NewServer(cfg.listener(cfg.Addr), newNativeHandler(b, b.metrics))
	if err != nil {
		b.closeStorage()
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.server = srv
	b.metrics.registerServer(srv)
	if cfg.KafkaAddr != "" {
		if b.kafka, err = b.newKafkaServer(); err != nil {
			b.closeStorage()
			return nil, fmt.Errorf("broker: kafka listener: %w", err)
		}
	}
	// The start is accepted: only now does the data dir record it (its
	// boot id, a crash from here on being an unclean stop), so a refused
	// start leaves the directory as it found it.
	if err := e.Started(); err != nil {
		b.closeStorage()
		return nil, fmt.Errorf("broker: data dir %s: %w", cfg.DataDir, err)
	}
	return b, nil
}

// closeStorage undoes New's opens when a later step fails.
func (b *Broker) closeStorage() {
	if b.groups != nil {
		b.groups.Close()
	}
	b.member.node.Shutdown()
	b.engine.Close(context.Background())
}

// Failed delivers an error when the broker cannot go on as a cluster
// member (its broker.id is held by another live broker, or its metadata
// node stopped); the caller should Close it.
func (b *Broker) Failed() <-chan error { return b.member.failed }

// Node returns the broker's metadata node.
func (b *Broker) Node() *cluster.Node { return b.member.node }

// newKafkaServer builds the Kafka-protocol front end on the same engine.
// Its responses are ordered: Kafka clients match answers to requests by
// position as well as by correlation id.
func (b *Broker) newKafkaServer() (*netio.Server, error) {
	cfg := b.cfg
	h := kafka.NewHandler(kafka.Config{
		Engine:           b.engine,
		Groups:           b.groups,
		Cluster:          kafkaView{b.member},
		Admin:            b,
		OffLoop:          true,
		AutoCreateTopics: cfg.AutoCreateTopics,
		Registerer:       b.metrics.reg,

		OffsetMetadataMaxBytes: cfg.OffsetMetadataMaxBytes,
	})
	ncfg := cfg.listener(cfg.KafkaAddr)
	ncfg.Ordered = true
	return netio.NewServer(ncfg, h)
}

// listener is the network layer's configuration for a front end on addr;
// both front ends share the socket and connection keys.
func (c Config) listener(addr string) netio.Config {
	return netio.Config{
		Addr:             addr,
		Multicore:        c.EventLoops == 0,
		NumEventLoop:     c.EventLoops,
		MaxFrameSize:     int(c.MaxFrameBytes),
		MaxInFlightBytes: int(c.MaxInFlightBytes),
		IdleTimeout:      c.IdleTimeout,
		Workers:          c.FetchWorkers,
	}
}

// engineConfig maps the broker's keys onto the engine's defaults.
func engineConfig(cfg Config) (engine.Config, error) {
	ec := engine.DefaultConfig()
	ec.DataDir = cfg.DataDir
	ec.BrokerID = cfg.BrokerID
	ec.DefaultPartitions = cfg.NumPartitions
	ec.AutoCreateTopics = cfg.AutoCreateTopics
	ec.RetentionCheckInterval = cfg.RetentionCheckEvery
	ec.IndexIntervalBytes = cfg.IndexIntervalBytes
	ec.DirectWriteBytes = cfg.DirectWriteBytes
	ec.BeforeAppendWrite = cfg.beforeAppendWrite
	ec.MinFreeBytes = cfg.MinFreeBytes
	t := &ec.Topic
	t.RetentionMs = cfg.RetentionAge
	t.RetentionBytes = cfg.RetentionBytes
	t.SegmentBytes = cfg.SegmentBytes
	t.SegmentMs = cfg.SegmentAge
	t.MaxMessageBytes = cfg.MaxMessageBytes
	t.FlushMs = cfg.FlushInterval
	policy, err := segment.ParseFlushPolicy(cfg.FlushPolicy)
	if err != nil {
		return ec, fmt.Errorf("%w: log.flush.policy: %v", ErrConfig, err)
	}
	t.FlushPolicy = policy
	ec.CompactionCheckInterval = cfg.CleanerBackoff
	t.CleanupPolicy = cfg.Cleanup.CleanupPolicy
	t.DeleteRetentionMs = cfg.Cleanup.DeleteRetentionMs
	t.MinCleanableDirtyRatio = cfg.Cleanup.MinCleanableDirtyRatio
	t.MinCompactionLagMs = cfg.Cleanup.MinCompactionLagMs
	return ec, nil
}

// Start binds the native, Kafka and admin HTTP listeners and begins
// serving. With port 0 in an address, Addr and AdminAddr report the port
// picked.
func (b *Broker) Start() error {
	if err := b.server.Start(); err != nil {
		return fmt.Errorf("broker: native listener %s: %w", b.cfg.Addr, err)
	}
	if b.kafka != nil {
		if err := b.kafka.Start(); err != nil {
			b.server.Stop(context.Background())
			return fmt.Errorf("broker: kafka listener %s: %w", b.cfg.KafkaAddr, err)
		}
	}
	if err := b.startAdmin(); err != nil {
		b.server.Stop(context.Background())
		if b.kafka != nil {
			b.kafka.Stop(context.Background())
		}
		return err
	}
	// Last: the registration carries every bound address.
	b.member.start()
	return nil
}

// startAdmin serves /metrics, /health and pprof on admin.addr, if set.
func (b *Broker) startAdmin() error {
	if b.cfg.AdminAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", b.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("broker: admin listener %s: %w", b.cfg.AdminAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", b.health)
	// Profiles of the running broker (go tool pprof http://ADMIN/debug/pprof/profile?seconds=5).
	// The admin listener defaults to loopback; expose it only where profiles may be read.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	b.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	b.adminLn = ln
	b.adminDone = make(chan struct{})
	go func() {
		defer close(b.adminDone)
		b.admin.Serve(ln)
	}()
	return nil
}

// Addr returns the native protocol address, with the real port once started.
func (b *Broker) Addr() string {
	if a := b.server.Addr(); a != nil {
		return a.String()
	}
	return b.cfg.Addr
}

// AdvertisedAddr is the native address clients and other brokers are told
// to dial: advertised.addr, or the native listener's own address.
func (b *Broker) AdvertisedAddr() string {
	if b.cfg.AdvertisedAddr != "" {
		return b.cfg.AdvertisedAddr
	}
	return b.Addr()
}

// KafkaAddr returns the Kafka protocol address, with the real port once
// started, or "" when kafka.addr is empty.
func (b *Broker) KafkaAddr() string {
	if b.kafka == nil {
		return ""
	}
	if a := b.kafka.Addr(); a != nil {
		return a.String()
	}
	return b.cfg.KafkaAddr
}

// KafkaAdvertisedAddr is the address Kafka clients are told to dial:
// kafka.advertised.addr, or the Kafka listener's own address.
func (b *Broker) KafkaAdvertisedAddr() string {
	if b.cfg.KafkaAdvertisedAddr != "" {
		return b.cfg.KafkaAdvertisedAddr
	}
	return b.KafkaAddr()
}

// AdminAddr returns the admin HTTP address, or "" when disabled.
func (b *Broker) AdminAddr() string {
	if b.adminLn != nil {
		return b.adminLn.Addr().String()
	}
	return ""
}

// GroupRecordsSkipped is how many records of __consumer_offsets the group
// coordinator skipped at open (key versions this build does not know).
func (b *Broker) GroupRecordsSkipped() int { return b.groups.SkippedOnLoad() }

// DataDir returns the directory the broker stores its data in.
func (b *Broker) DataDir() string { return b.cfg.DataDir }

// Engine returns the broker's storage engine, for tests and embedding.
func (b *Broker) Engine() *engine.Engine { return b.engine }

// Close stops the broker gracefully within cfg.ShutdownTimeout: /health
// turns 503, the listener stops accepting, requests in flight finish (or
// fail with a retriable error once the timeout passes), every log is
// flushed and closed cleanly, and the admin listener closes last. Later
// calls return the first call's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.stopping.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ShutdownTimeout)
		defer cancel()
		// Leadership moves away while this broker still answers, so
		// clients find the new leaders before it goes.
		b.member.controlledShutdown(ctx)
		errNode := b.member.close()
		// The engine closes first so parked requests (acks=all, long-poll
		// fetches) complete and their answers can still be written; then
		// the network layer drains and closes the connections. The group
		// coordinator closes before the engine: it answers parked joins
		// and syncs with NOT_COORDINATOR and must not write to a closed
		// engine.
		b.groups.Close()
		errEngine := b.engine.Close(ctx)
		errServer := b.server.Stop(ctx)
		if b.kafka != nil {
			errServer = errors.Join(errServer, b.kafka.Stop(ctx))
		}
		var errAdmin error
		if b.admin != nil {
			errAdmin = b.admin.Shutdown(ctx)
			<-b.adminDone
		}
		b.closeErr = errors.Join(errEngine, errServer, errAdmin, errNode)
	})
	return b.closeErr
}
