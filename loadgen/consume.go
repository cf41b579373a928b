package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/client"
)

// pollWait bounds one Poll, so a consumer notices the end of a run while
// no records arrive.
const pollWait = 100 * time.Millisecond

// Consume runs cfg.Consumers consumers over the existing topic cfg.Topic,
// its partitions dealt round robin, each reading from the log start up to
// the high watermark seen when the run started (or for cfg.Duration, or
// until cfg.Records measured records, whichever comes first). It reports
// records/s and MB/s; Result.Latency stays empty.
func Consume(ctx context.Context, cfg Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	admin, err := client.NewAdmin(c.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("loadgen: admin: %w", err)
	}
	defer admin.Close()
	offs, err := describe(ctx, admin, c.Topic)
	if err != nil {
		return nil, err
	}
	c.Partitions = int32(len(offs.highWatermark))
	if offs.sumHighWatermarks() == sum(offs.logStart) {
		return nil, fmt.Errorf("loadgen: topic %q has no records to consume (run `spate bench produce` first): %w", c.Topic, ErrInvalidConfig)
	}
	c.Consumers = min(c.Consumers, int(c.Partitions))
	start := time.Now()
	cr := &consumeRun{cfg: &c, start: start, measureStart: start.Add(c.Warmup), stop: offs.highWatermark}
	cr.end.Store(math.MaxInt64)
	if c.Duration > 0 {
		cr.end.Store(cr.measureStart.Add(c.Duration).UnixNano())
	}
	if err := cr.open(ctx, offs.logStart); err != nil {
		return nil, err
	}
	// Only the settings a consumer has: the producer ones would be defaults
	// that played no part.
	full := resultOf("consume", &c)
	res := Result{Mode: full.Mode, Topic: full.Topic, Partitions: full.Partitions, Consumers: full.Consumers,
		WarmupS: full.WarmupS, HWDelta: -1}
	m := newMeter(cr.recs, c.Progress, start, cr.measureStart)
	go m.run()
	err = cr.run(ctx)
	m.close()
	if err != nil {
		return nil, err
	}
	counts, last, firstErr := m.collect()
	res.fill(counts, elapsedSince(cr.measureStart, last), firstErr)
	return &res, nil
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

// consumeRun is one run's consumer side, shared by Consume and E2E.
type consumeRun struct {
	cfg          *Config
	consumers    []*client.Consumer
	parts        [][]int32 // partitions of each consumer
	recs         []*recorder
	start        time.Time
	measureStart time.Time
	end          atomic.Int64 // Unix ns; E2E moves it while consumers run
	// from and stop are the offsets each partition is read from and up
	// to; stop nil reads until received reaches target (e2e).
	from     []int64
	stop     []int64
	received atomic.Int64 // records received, warm-up included
	target   atomic.Int64 // e2e: stop once received reaches it
	measured atomic.Int64 // measured records received
	e2e      bool         // record send → receive latency from the value
}

// open creates the consumers, consumer i taking partitions i, i+n, ...,
// each starting at from[partition].
func (cr *consumeRun) open(ctx context.Context, from []int64) error {
	c := cr.cfg
	cr.from = from
	cr.target.Store(math.MaxInt64)
	cr.parts = make([][]int32, c.Consumers)
	for p := range int32(len(from)) {
		cr.parts[int(p)%c.Consumers] = append(cr.parts[int(p)%c.Consumers], p)
	}
	for i := range c.Consumers {
		cons, err := client.NewConsumer(c.clientOpts()...)
		if err != nil {
			cr.close()
			return fmt.Errorf("loadgen: consumer: %w", err)
		}
		cr.consumers = append(cr.consumers, cons)
		cr.recs = append(cr.recs, newRecorder())
		for _, p := range cr.parts[i] {
			if err := cons.Assign(ctx, c.Topic, []int32{p}, client.At(from[p])); err != nil {
				cr.close()
				return fmt.Errorf("loadgen: topic %q partition %d: assign at offset %d: %w", c.Topic, p, from[p], err)
			}
		}
	}
	return nil
}

func (cr *consumeRun) close() {
	for _, cons := range cr.consumers {
		cons.Close()
	}
}

// run reads until the run ends and closes the consumers.
func (cr *consumeRun) run(ctx context.Context) error {
	defer cr.close()
	errs := make([]error, len(cr.consumers))
	var wg sync.WaitGroup
	for i := range cr.consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cr.read(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// read is consumer i's loop.
func (cr *consumeRun) read(ctx context.Context, i int) error {
	cons, rec := cr.consumers[i], cr.recs[i]
	var remaining int64 // records below the stop offsets not yet read
	if cr.stop != nil {
		for _, p := range cr.parts[i] {
			remaining += cr.stop[p] - cr.from[p]
		}
	}
	for ctx.Err() == nil && time.Now().UnixNano() < cr.end.Load() {
		if cr.stop != nil && remaining <= 0 || cr.stop == nil && cr.received.Load() >= cr.target.Load() {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		fs, err := cons.Poll(pctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("loadgen: topic %q: poll: %w", cr.cfg.Topic, err)
		}
		now := time.Now()
		measured := !now.Before(cr.measureStart)
		it := fs.Records()
		var n, bytes int64
		for it.Next() {
			r := it.Record()
			n++
			if cr.e2e && len(r.Value) >= 8 {
				sent := time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
				rec.record(sent, now, !sent.Before(cr.measureStart), len(r.Key)+len(r.Value), nil)
			} else {
				bytes += int64(len(r.Key) + len(r.Value))
			}
			if cr.stop != nil && r.Offset < cr.stop[r.Partition] {
				remaining--
			}
		}
		if !cr.e2e {
			rec.count(now, measured, n, bytes)
		}
		cr.received.Add(n)
		if err := it.Err(); err != nil {
			return fmt.Errorf("loadgen: topic %q: %w", cr.cfg.Topic, err)
		}
		for _, err := range fs.Errors() {
			rec.record(now, now, measured, 0, err)
		}
	}
	return nil
}
