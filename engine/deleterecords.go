package engine

// Behavior: DeleteRecords is Kafka's: it moves a partition's log start
// offset up to an offset at or below the high watermark, so records below
// it are no longer fetched (OFFSET_OUT_OF_RANGE) nor counted by ListOffsets
// earliest. segment.Log.DeleteRecordsBefore persists the new start in the
// partition's log-start-offset file before it answers, so it survives a
// restart, and deletes the segments wholly below it.

import "fmt"

// DeleteRecords moves the log start offset of topic-partition up to
// offset; offset -1 means the high watermark. An offset at or below the
// current start changes nothing. It returns the log start offset after the
// call. Errors: ErrUnknownTopicOrPartition, ErrOffsetOutOfRange (below -1
// or above the high watermark), ErrInvalidTopic (an internal topic),
// ErrStorage, ErrShuttingDown.
func (e *Engine) DeleteRecords(topic string, partition int32, offset int64) (int64, error) {
	if err := e.enter(); err != nil {
		return -1, err
	}
	defer e.leave()
	if err := refuseInternal("delete records of", topic); err != nil {
		return -1, err
	}
	p, err := e.lookup(topic, partition)
	if err != nil {
		return -1, err
	}
	hw := p.highWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, fmt.Errorf("%w: %s-%d: delete records before offset %d: want -1 or 0 to the high watermark %d",
			ErrOffsetOutOfRange, topic, partition, offset, hw)
	}
	if err := p.log.DeleteRecordsBefore(offset); err != nil {
		return -1, p.storageErr("delete records before", offset, err)
	}
	return p.log.LogStartOffset(), nil
}
