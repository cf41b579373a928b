package engine

// Behavior: EndOffsetForEpoch answers Kafka's OffsetForLeaderEpoch from the
// partition log's leader-epoch checkpoint (segment.EpochCache.EndOffsetFor):
// the largest epoch at or below the one asked for and the offset where it
// ended, the log end offset for the latest. A log whose checkpoint is empty
// was written by a broker running alone, which stamps every batch with
// epoch 0 (produce.go) and never records it: its one epoch, 0, covers the
// whole log.

// EndOffsetForEpoch returns the largest leader epoch <= epoch that
// topic-partition knows and the end offset of that epoch, or (-1, -1) when
// epoch is older than every epoch the log knows. Errors:
// ErrUnknownTopicOrPartition, ErrShuttingDown.
func (e *Engine) EndOffsetForEpoch(topic string, partition int32, epoch int32) (int32, int64, error) {
	if err := e.enter(); err != nil {
		return -1, -1, err
	}
	defer e.leave()
	p, err := e.lookup(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	epochs := p.log.Epochs()
	if latest, _ := epochs.Latest(); latest >= 0 {
		found, end := epochs.EndOffsetFor(epoch)
		return found, end, nil
	}
	if epoch < 0 {
		return -1, -1, nil
	}
	return 0, p.log.LogEndOffset(), nil
}
