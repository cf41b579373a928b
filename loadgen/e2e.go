package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spate-io/spate/client"
)

// e2eDrainTimeout is how long consumers may take, after the producers
// finished, to receive every acknowledged record.
const e2eDrainTimeout = 10 * time.Second

// E2E runs producers and consumers on cfg.Topic at once (creating it if
// missing) and reports the time from each record's send (its intended
// time in open-loop runs) to its receipt by a consumer, and the received
// throughput. Consumers start at the high watermarks seen before the
// producers start, and the run ends once they have received every
// acknowledged record (or e2eDrainTimeout after the producers finished).
// Values are at least 8 bytes: they carry the send time.
func E2E(ctx context.Context, cfg Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.RecordSize.Min < 8 {
		return nil, fmt.Errorf("loadgen: e2e record size %s: want at least 8 bytes for the send time: %w", c.RecordSize, ErrInvalidConfig)
	}
	admin, err := client.NewAdmin(c.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("loadgen: admin: %w", err)
	}
	defer admin.Close()
	before, err := ensureTopic(ctx, admin, &c)
	if err != nil {
		return nil, err
	}
	c.Partitions = int32(len(before.highWatermark))
	c.Consumers = min(c.Consumers, int(c.Partitions))
	cr := &consumeRun{cfg: &c, e2e: true}
	if err := cr.open(ctx, before.highWatermark); err != nil {
		return nil, err
	}
	recs := newRecorders(c.Producers)
	producers, err := newProducers(&c, recs)
	if err != nil {
		cr.close()
		return nil, err
	}
	pr := newProduceRun(&c, sendsOf(producers), producers, recs, true)
	cr.start, cr.measureStart = pr.start, pr.measureStart
	cr.end.Store(math.MaxInt64) // until the producers are done
	m := newMeter(cr.recs, c.Progress, pr.start, cr.measureStart)
	go m.run()
	consumed := make(chan error, 1)
	go func() { consumed <- cr.run(ctx) }()
	perr := pr.run(ctx)
	pm := newMeter(pr.recs, nil, pr.start, pr.measureStart)
	pc, _, pFirstErr := pm.collect()
	cr.target.Store(pc.acked + pc.warmAcked)
	cr.end.Store(time.Now().Add(e2eDrainTimeout).UnixNano())
	cerr := <-consumed
	m.close()
	if err := errors.Join(perr, cerr); err != nil {
		return nil, err
	}
	after, err := describe(ctx, admin, c.Topic)
	if err != nil {
		return nil, err
	}
	counts, last, firstErr := m.collect()
	if firstErr == nil {
		firstErr = pFirstErr
	}
	counts.errors += pc.errors
	res := resultOf("e2e", &c)
	res.fill(counts, elapsedSince(cr.measureStart, last), firstErr)
	res.Latency = latencyOf(m.total)
	res.AckedTotal = pc.acked + pc.warmAcked
	res.HWDelta = after.sumHighWatermarks() - before.sumHighWatermarks()
	return &res, nil
}
