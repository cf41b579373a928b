package engine

// Behavior: ProduceFanOut is one produce request's fan-out to Produce, the
// protocol-neutral part both front ends (native and Kafka) share, so each
// adds only its decoding and encoding. The front end adds the request's
// partitions in order, Run calls Produce once for each, and each result
// lands in Results at the index of its partition; a request naming a
// partition twice gets a result for each, in order. After the last result
// the done given to Reset runs once, on whichever goroutine delivered it:
// inside Run when every partition answers at once (acks 0 and 1), later
// from the syncer or a parked produce's timer (flush.policy=always,
// acks=all). A ProduceFanOut is meant to be pooled with the front end's
// per-request state: reused, it allocates nothing per partition (its
// callback is bound once and finds a result's slot by a scan, requests
// name few partitions).

import (
	"sync"
	"time"
)

// ProduceFanOut fans one produce request out to Engine.Produce; see the
// Behavior comment. The zero value is ready after Reset.
type ProduceFanOut struct {
	// Results has one entry per partition added, in order: Topic and
	// Partition from Add, the rest -1 until answered. Read it in done;
	// it is valid until the next Reset.
	Results []ProduceResult

	records  [][]byte // per partition; cleared once answered
	answered []bool
	done     func()
	resultFn func(ProduceResult) // f.result, bound once: no closure per partition

	// mu guards Results, records, answered and pending once Run has begun:
	// results arrive from several goroutines.
	mu      sync.Mutex
	pending int
}

// Reset empties f for a new request whose last result runs done.
func (f *ProduceFanOut) Reset(done func()) {
	f.Results, f.records, f.answered = f.Results[:0], f.records[:0], f.answered[:0]
	f.done, f.pending = done, 0
	if f.resultFn == nil {
		f.resultFn = f.result
	}
}

// Add appends one partition of the request. records aliases the caller's
// network buffer: Produce reads it during its call only, and f drops it
// once the partition is answered.
func (f *ProduceFanOut) Add(topic string, partition int32, records []byte) {
	f.Results = append(f.Results, ProduceResult{Topic: topic, Partition: partition, BaseOffset: -1, LogAppendTime: -1, LogStartOffset: -1})
	f.records = append(f.records, records)
	f.answered = append(f.answered, false)
}

// Run produces every partition added with acks and timeout (Produce's
// arguments); with none added, done runs at once. Once the last Produce
// call is made, f may already be answered and reused: Run touches nothing
// of f after it.
func (f *ProduceFanOut) Run(e *Engine, acks int16, timeout time.Duration) {
	n := len(f.Results)
	if n == 0 {
		f.done()
		return
	}
	f.pending = n
	results, records, resultFn := f.Results, f.records, f.resultFn
	for i := range n {
		e.Produce(ProduceRequest{Topic: results[i].Topic, Partition: results[i].Partition, Acks: acks, Timeout: timeout, Records: records[i]}, resultFn)
	}
}

// result stores one partition's result in the first unanswered slot for
// its topic and partition, and runs done after the last.
func (f *ProduceFanOut) result(res ProduceResult) {
	f.mu.Lock()
	for i := range f.Results {
		if !f.answered[i] && f.Results[i].Partition == res.Partition && f.Results[i].Topic == res.Topic {
			f.Results[i], f.answered[i], f.records[i] = res, true, nil
			break
		}
	}
	f.pending--
	last := f.pending == 0
	f.mu.Unlock()
	if last {
		f.done()
	}
}
