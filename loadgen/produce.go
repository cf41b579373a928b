package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spate-io/spate/client"
)

// Produce runs cfg.Producers producers against cfg.Topic (created with
// cfg.Partitions partitions if missing) and reports send → ack latency and
// the acknowledged throughput. It returns an error only when the run
// could not be carried out (no broker, a topic that cannot be created);
// failed records are counted in Result.Errors.
func Produce(ctx context.Context, cfg Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
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
	recs := newRecorders(c.Producers)
	producers, err := newProducers(&c, recs)
	if err != nil {
		return nil, err
	}
	res := resultOf("produce", &c)
	pr := newProduceRun(&c, sendsOf(producers), producers, recs, false)
	res.API = "record"
	if c.bulk() {
		pr.bulk, res.API = producers, "batch"
	}
	m := newMeter(pr.recs, c.Progress, pr.start, pr.measureStart)
	go m.run()
	err = pr.run(ctx)
	m.close()
	if err != nil {
		return nil, err
	}
	counts, lastAck, firstErr := m.collect()
	res.fill(counts, elapsedSince(pr.measureStart, lastAck), firstErr)
	res.Latency = latencyOf(m.total)
	res.AckedTotal = counts.acked + counts.warmAcked
	settle := time.Duration(0)
	if c.Acks == client.AcksNone {
		// Sent is all acks=0 knows: the broker may still be appending.
		settle = time.Second
	}
	if res.HWDelta, err = highWatermarkDelta(ctx, admin, c.Topic, before, res.AckedTotal, settle); err != nil {
		return nil, err
	}
	return &res, nil
}

// highWatermarkDelta returns how far the topic's high watermarks moved since
// before. With settle > 0 it reads them again until the move reaches want or
// stays unchanged for settle (at most 10 settle periods).
func highWatermarkDelta(ctx context.Context, admin *client.Admin, topic string, before partitionOffsets, want int64, settle time.Duration) (int64, error) {
	deadline := time.Now().Add(10 * settle)
	last, lastMove := int64(-1), time.Now()
	for {
		after, err := describe(ctx, admin, topic)
		if err != nil {
			return 0, err
		}
		d := after.sumHighWatermarks() - before.sumHighWatermarks()
		if settle == 0 || d >= want {
			return d, nil
		}
		now := time.Now()
		if d != last {
			last, lastMove = d, now
		}
		if now.Sub(lastMove) >= settle || now.After(deadline) {
			return d, nil
		}
		time.Sleep(settle / 10)
	}
}

// elapsedSince is the measured time: up to the last outcome, or up to now
// when nothing was measured.
func elapsedSince(from, last time.Time) time.Duration {
	if last.IsZero() {
		last = time.Now()
	}
	return max(last.Sub(from), 0)
}

// newProducers builds a producer per recorder, each with the hook that
// keeps its recorder's shared ack clock read within one batch.
func newProducers(c *Config, recs []*recorder) ([]*client.Producer, error) {
	ps := make([]*client.Producer, 0, len(recs))
	for _, rec := range recs {
		p, err := client.NewProducer(append(c.producerOpts(), client.WithHooks(batchAcked{rec}))...)
		if err != nil {
			for _, p := range ps {
				p.Close()
			}
			return nil, fmt.Errorf("loadgen: producer: %w", err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// sendFunc is client.Producer.Produce; tests replace it to stall a send.
type sendFunc func(ctx context.Context, r *client.Record, cb func(*client.Record, error))

// produceRun is one run's producer side, shared by Produce and E2E.
type produceRun struct {
	cfg          *Config
	sends        []sendFunc
	closers      []*client.Producer
	recs         []*recorder
	start        time.Time
	measureStart time.Time
	end          time.Time          // no record is sent at or after end
	measured     atomic.Int64       // measured records handed to a producer
	stamp        bool               // write the send time into the value (e2e)
	bulk         []*client.Producer // per worker: send whole batches (Config.PerRecord off)
	payloads     [][]byte           // random bytes values are cut from, per worker
}

// newProduceRun sets up a worker per send function, each recording into
// its recorder and cutting values from its own payload; closers are closed
// (flushing them) once every worker stopped. The run starts (start, and
// the warm-up with it) when it returns, after the payloads are filled, so
// that filling them is not charged to the warm-up.
func newProduceRun(c *Config, sends []sendFunc, closers []*client.Producer, recs []*recorder, stamp bool) *produceRun {
	pr := &produceRun{cfg: c, sends: sends, closers: closers, recs: recs, stamp: stamp}
	seed := uint64(time.Now().UnixNano())
	for i := range sends {
		rng := rand.New(rand.NewPCG(uint64(i)+1, seed))
		payload := make([]byte, max(payloadBytes, 2*c.RecordSize.Max)+8)
		for j := 0; j+8 <= len(payload); j += 8 {
			binary.LittleEndian.PutUint64(payload[j:], rng.Uint64())
		}
		pr.payloads = append(pr.payloads, payload)
	}
	pr.start = time.Now()
	pr.measureStart = pr.start.Add(c.Warmup)
	pr.end = time.Unix(0, math.MaxInt64)
	if c.Duration > 0 {
		pr.end = pr.measureStart.Add(c.Duration)
	}
	return pr
}

func newRecorders(n int) []*recorder {
	recs := make([]*recorder, n)
	for i := range recs {
		recs[i] = newRecorder()
	}
	return recs
}

func sendsOf(ps []*client.Producer) []sendFunc {
	sends := make([]sendFunc, len(ps))
	for i, p := range ps {
		sends[i] = p.Produce
	}
	return sends
}

// now reads the clock twice per record, so its cost shows at millions of
// records/s: the monotonic clock alone (time.Since) costs about half of
// time.Now, which also reads the wall clock (26 vs 48 ns on the machine of
// perf/bench.md). The result carries a monotonic reading like time.Now's.
func (pr *produceRun) now() time.Time { return pr.start.Add(time.Since(pr.start)) }

// run sends until the end of the run, then flushes and closes every
// producer, so that every record's callback has run when it returns.
func (pr *produceRun) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range pr.sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pr.bulk != nil {
				pr.workBulk(ctx, i, pr.bulk[i])
			} else {
				pr.work(ctx, i)
			}
		}()
	}
	wg.Wait()
	var firstErr error
	for _, p := range pr.closers {
		if err := p.Close(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("loadgen: topic %q: closing producer: %w", pr.cfg.Topic, err)
		}
	}
	return firstErr
}

// pacer yields send times: now in a closed loop, or a fixed schedule of
// one record per interval starting at start.
type pacer struct {
	start    time.Time
	interval time.Duration // 0: closed loop
	next     int64
}

// sendTime returns the send time of the next record and how long to wait
// before sending it (0 when it is due or overdue).
func (p *pacer) sendTime(now time.Time) (time.Time, time.Duration) {
	if p.interval == 0 {
		return now, 0
	}
	t := p.start.Add(time.Duration(p.next) * p.interval)
	p.next++
	return t, max(t.Sub(now), 0)
}

// newPacer spreads rate over n workers: worker i starts i/n of an interval
// late so the workers do not send in lockstep.
func newPacer(start time.Time, rate float64, i, n int) pacer {
	if rate <= 0 {
		return pacer{}
	}
	interval := time.Duration(float64(time.Second) * float64(n) / rate)
	return pacer{start: start.Add(interval * time.Duration(i) / time.Duration(n)), interval: interval}
}

// payloadBytes is the random buffer values are cut from, one after
// another: larger than the 32-64 KiB windows of gzip, snappy and lz4, so
// they find little to compress, as with real encrypted or already
// compressed payloads (zstd's window can span it).
const payloadBytes = 1 << 20

// values cuts record values from one worker's random payload, each where
// the last ended, sized by Config.RecordSize.
type values struct {
	rng      *rand.Rand
	payload  []byte
	min, max int
	pos      int // where the next value starts
}

// values returns worker i's value source.
func (pr *produceRun) values(i int) values {
	return values{rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(pr.start.UnixNano())^0x5eed)),
		payload: pr.payloads[i], min: pr.cfg.RecordSize.Min, max: pr.cfg.RecordSize.Max}
}

func (v *values) next() []byte {
	size := v.min
	if v.max > size {
		size += v.rng.IntN(v.max - size + 1)
	}
	// Values follow each other through the payload, so the copy into the
	// batch reads memory in order (perf/bench.md: less load-generator CPU
	// per record than random offsets), and no value repeats within a pass.
	// Each pass starts at a random offset below 4 KiB.
	if v.pos+size > len(v.payload) {
		v.pos = v.rng.IntN(4096)
	}
	off := v.pos
	v.pos += size
	return v.payload[off : off+size]
}

// work is producer i's loop. Records come from a pool and go back to it
// in their callback, so a steady run allocates nothing per record.
func (pr *produceRun) work(ctx context.Context, i int) {
	c := pr.cfg
	rec := pr.recs[i]
	send := pr.sends[i]
	rng := rand.New(rand.NewPCG(uint64(i)+1, uint64(pr.start.UnixNano())))
	vals := pr.values(i)
	var key []byte
	pool := sync.Pool{New: func() any { return new(client.Record) }}
	clock := pr.now
	cb := func(r *client.Record, err error) {
		rec.ack(r.Timestamp, !r.Timestamp.Before(pr.measureStart), len(r.Key)+len(r.Value), err, clock)
		pool.Put(r)
	}
	p := newPacer(pr.start, c.Rate, i, len(pr.sends))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		sent, wait := p.sendTime(clock())
		if !sent.Before(pr.end) {
			return
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if !sent.Before(pr.measureStart) && c.Records > 0 && pr.measured.Add(1) > c.Records {
			return
		}
		value := vals.next()
		if pr.stamp {
			binary.BigEndian.PutUint64(value, uint64(sent.UnixNano()))
		}
		r := pool.Get().(*client.Record)
		*r = client.Record{Topic: c.Topic, Value: value, Timestamp: sent}
		if c.KeySpace > 0 {
			key = strconv.AppendInt(append(key[:0], 'k'), int64(rng.IntN(c.KeySpace)), 10)
			r.Key = key
		}
		send(ctx, r, cb)
	}
}
