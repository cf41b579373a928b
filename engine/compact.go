package engine

// Behavior: log compaction for topics whose cleanup.policy includes
// "compact". A background loop (one goroutine per engine, period
// Config.CompactionCheckInterval) runs segment.Log.Compact on each such
// partition in turn with the topic's delete.retention.ms,
// min.compaction.lag.ms and min.cleanable.dirty.ratio; the pass holds no
// engine lock, and the log's own lock only to pick segments and swap each
// cleaned one in, so produce and fetch go on meanwhile. Produce to a
// compacted topic refuses records with a null key (INVALID_RECORD, as Kafka
// does): the cleaner could never tell which of them is the latest.

import (
	"errors"
	"fmt"
	"time"

	"github.com/spate-io/spate/record"
	"github.com/spate-io/spate/segment"
)

// Compact runs one compaction pass at now over every partition of every
// compacted topic and returns the number of segments rewritten and the
// partitions that failed. The background loop calls it every
// CompactionCheckInterval; partitions closed meanwhile are skipped.
func (e *Engine) Compact(now time.Time) (segments int, err error) {
	var errs []error
	for _, t := range *e.topics.Load() {
		if !t.config().compacted() {
			continue
		}
		for p := range t.hosted() {
			if e.closing.Load() {
				return segments, errors.Join(errs...)
			}
			n, err := p.compact(now)
			segments += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return segments, errors.Join(errs...)
}

func (p *partition) compact(now time.Time) (int, error) {
	cfg := p.config()
	res, err := p.log.Compact(segment.CompactOptions{
		Now:              now,
		DeleteRetention:  cfg.DeleteRetentionMs,
		MinCompactionLag: cfg.MinCompactionLagMs,
		MinDirtyRatio:    cfg.MinCleanableDirtyRatio,
	})
	if err != nil && !errors.Is(err, segment.ErrClosed) {
		return res.Segments, fmt.Errorf("%w: compact %s-%d: %w", ErrStorage, p.topic, p.id, err)
	}
	return res.Segments, nil
}

// validateKeys refuses a batch for a compacted topic when one of its records
// has a null key. Only compacted topics pay for decoding records here.
func (p *partition) validateKeys(b record.Batch, pos int) error {
	var it record.Iter
	if err := it.Reset(b); err != nil {
		return fmt.Errorf("%w: %s-%d: batch at byte %d: %w", ErrCorruptMessage, p.topic, p.id, pos, err)
	}
	for i := 0; it.Next(); i++ {
		if it.Record().Key == nil {
			return fmt.Errorf("%w: %s-%d: batch at byte %d: record %d has a null key, which a compacted topic refuses",
				ErrInvalidRecord, p.topic, p.id, pos, i)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("%w: %s-%d: batch at byte %d: %w", ErrCorruptMessage, p.topic, p.id, pos, err)
	}
	return nil
}
