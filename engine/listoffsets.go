package engine

// Behavior: ListOffsets answers Kafka's ListOffsets for one partition:
// timestamp -2 (EarliestTimestamp) gives the log start offset, -1
// (LatestTimestamp) the high watermark, -3 (LogEndTimestamp) the log end
// offset, and any timestamp >= 0 the first
// offset whose batch has a record at or after it, or -1 when there is none
// below the high watermark (consumers must not see uncommitted offsets).

import "fmt"

// Special ListOffsets timestamps (Kafka's values).
const (
	LatestTimestamp   = -1
	EarliestTimestamp = -2
	// LogEndTimestamp is a Spate extension: the log end offset, records
	// above the high watermark included.
	LogEndTimestamp = -3
)

// ListOffsets returns the offset for timestamp in one partition. Errors:
// ErrUnknownTopicOrPartition, ErrInvalidRequest (another negative
// timestamp), ErrStorage, ErrShuttingDown.
func (e *Engine) ListOffsets(topic string, partition int32, timestamp int64) (int64, error) {
	if err := e.enter(); err != nil {
		return -1, err
	}
	defer e.leave()
	p, err := e.lookup(topic, partition)
	if err != nil {
		return -1, err
	}
	switch {
	case timestamp == EarliestTimestamp:
		return p.log.LogStartOffset(), nil
	case timestamp == LatestTimestamp:
		return p.highWatermark(), nil
	case timestamp == LogEndTimestamp:
		return p.log.LogEndOffset(), nil
	case timestamp < 0:
		return -1, fmt.Errorf("%w: %s-%d: ListOffsets timestamp %d is not supported", ErrInvalidRequest, topic, partition, timestamp)
	}
	off, err := p.log.OffsetForTimestamp(timestamp)
	if err != nil {
		return -1, p.storageErr("list offsets", timestamp, err)
	}
	if off >= p.highWatermark() {
		return -1, nil
	}
	return off, nil
}
