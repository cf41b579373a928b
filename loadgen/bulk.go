package loadgen

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/spate-io/spate/client"
	"github.com/spate-io/spate/record"
)

// The batch path (Config.PerRecord off): a worker builds each batch in
// place with client.Producer.ProduceBatch and gets one callback per batch.
// Latency is still per record: records are appended in groups of up to
// groupRecords that share one clock read, taken before the group's first
// record, so a record's recorded send time is at most one group's append
// time (~1-2 µs at 100-byte records) early and its latency is overstated
// by as much, never understated. At the ack every group is recorded in the
// histogram with its count.
const groupRecords = 64

// sendGroup is groupRecords (or fewer) records appended at one clock read.
type sendGroup struct {
	sent     time.Time
	records  int
	bytes    int // key and value bytes
	measured bool
}

// bulkBatch is one batch in the making and then in flight; pooled per
// worker with its fill and ack funcs bound once.
type bulkBatch struct {
	w      *bulkWorker
	groups []sendGroup
	fill   func(*record.Builder)
	acked  func(client.BatchResult, error)
}

// bulkWorker is worker i of a run on the batch path.
type bulkWorker struct {
	pr      *produceRun
	rec     *recorder
	vals    values
	pool    sync.Pool
	limit   int  // batch bytes to fill up to
	stopped bool // the run's end (or record count) was reached in a fill
	yield   bool // GOMAXPROCS is 1: fills yield (see yieldGroups)
}

// workBulk is producer p's loop on the batch path: batches go to the
// partitions in turn, starting at the worker's index.
func (pr *produceRun) workBulk(ctx context.Context, i int, p *client.Producer) {
	w := &bulkWorker{pr: pr, rec: pr.recs[i], vals: pr.values(i), limit: pr.cfg.BatchSize, yield: runtime.GOMAXPROCS(0) == 1}
	w.pool.New = func() any {
		b := &bulkBatch{w: w}
		b.fill, b.acked = b.fillBatch, b.ackBatch
		return b
	}
	part := int32(i) % pr.cfg.Partitions
	for ctx.Err() == nil && !w.stopped && pr.now().Before(pr.end) {
		b := w.pool.Get().(*bulkBatch)
		b.groups = b.groups[:0]
		p.ProduceBatch(ctx, pr.cfg.Topic, part, b.fill, b.acked)
		part = (part + 1) % pr.cfg.Partitions
	}
}

// fillBatch appends records until the batch is full or the run ends.
func (b *bulkBatch) fillBatch(bd *record.Builder) {
	w := b.w
	pr := w.pr
	for !w.stopped {
		sent := pr.now()
		if !sent.Before(pr.end) {
			w.stopped = true
			return
		}
		g := sendGroup{sent: sent, measured: !sent.Before(pr.measureStart)}
		want := w.take(g.measured)
		ts := sent.UnixMilli()
		for g.records < want {
			value := w.vals.next()
			// A record's encoding is at most 21 bytes above its value (five
			// varints and the attributes byte, record/doc.go).
			if bd.Count() > 0 && bd.Size()+len(value)+21 > w.limit {
				w.giveBack(g.measured, want-g.records)
				b.add(g)
				return
			}
			bd.Append(ts, nil, value, nil)
			g.records++
			g.bytes += len(value)
		}
		b.add(g)
		if w.yield && len(b.groups)%yieldGroups == 0 {
			runtime.Gosched()
		}
	}
}

// yieldGroups: with one OS thread for Go code (spate bench's default
// --procs), a worker filling a batch lets the producer's sender and
// connection reader run every yieldGroups groups (~50 KB of 100-byte
// records). Without it an acknowledgement that arrives mid-fill waits for
// the whole batch (about 1 ms at 1 MiB) before the sender sends the next
// one: with one batch in flight (acks=all, idempotent) that wait is on
// every batch's path. With more threads they run elsewhere, and a yield
// would only wake an idle one.
const yieldGroups = 8

// take returns how many records the next group may hold: a full group,
// or what is left of Config.Records (the worker stops after it). What a
// group cannot use goes back at once, so that workers racing for the last
// records never count more than they send.
func (w *bulkWorker) take(measured bool) int {
	limit := w.pr.cfg.Records
	if !measured || limit <= 0 {
		return groupRecords
	}
	over := w.pr.measured.Add(groupRecords) - limit
	if over <= 0 {
		return groupRecords
	}
	unused := min(over, groupRecords)
	w.pr.measured.Add(-unused)
	w.stopped = true
	return groupRecords - int(unused)
}

// giveBack returns records take counted that a full batch left unsent.
func (w *bulkWorker) giveBack(measured bool, n int) {
	if measured && w.pr.cfg.Records > 0 && n > 0 {
		w.pr.measured.Add(-int64(n))
		w.stopped = false
	}
}

func (b *bulkBatch) add(g sendGroup) {
	if g.records > 0 {
		b.groups = append(b.groups, g)
	}
}

// ackBatch records the batch's groups at one clock read.
func (b *bulkBatch) ackBatch(_ client.BatchResult, err error) {
	w := b.w
	if errors.Is(err, client.ErrInvalidOption) && len(b.groups) == 0 {
		err = nil // the run ended before fill appended a record: nothing was sent
	}
	if len(b.groups) > 0 {
		w.rec.ackGroups(b.groups, w.pr.now(), err)
	}
	b.groups = b.groups[:0]
	w.pool.Put(b)
}
