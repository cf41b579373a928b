package front

import (
	"errors"
	"strings"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/wire"
)

// ErrorCode maps an engine error to the code a client acts on: wire's
// codes, which are Kafka's numbers, so the Kafka front end sends them
// unchanged. nil is wire.None; an error no sentinel explains is
// UNKNOWN_SERVER_ERROR.
func ErrorCode(err error) wire.ErrorCode {
	if err == nil {
		return wire.None
	}
	if code, ok := groupErrorCode(err); ok {
		// First: a failed write to __consumer_offsets wraps both
		// ErrCoordinatorNotAvailable and the storage error behind it.
		return code
	}
	for _, e := range engineErrorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return wire.UnknownServerError
}

// ErrorMessage is err's text for an answer's error message, without the
// engine sentinel it starts with ("engine: invalid config: "): the error
// code already says that, and the client prints the code's name.
func ErrorMessage(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "engine: "); ok {
		if _, detail, ok := strings.Cut(rest, ": "); ok {
			return detail
		}
	}
	return msg
}

type errorCode struct {
	err  error
	code wire.ErrorCode
}

// engineErrorCodes maps the engine's sentinels, other than the group
// coordinator's, to their codes; the first that matches wins.
var engineErrorCodes = []errorCode{
	{engine.ErrUnknownTopicOrPartition, wire.UnknownTopicOrPartition},
	{engine.ErrTopicExists, wire.TopicAlreadyExists},
	{engine.ErrInvalidTopic, wire.InvalidTopic},
	{engine.ErrInvalidPartitions, wire.InvalidPartitions},
	{engine.ErrInvalidReplicationFactor, wire.InvalidReplicationFactor},
	{engine.ErrInvalidConfig, wire.InvalidConfig},
	{engine.ErrMessageTooLarge, wire.MessageTooLarge},
	{engine.ErrCorruptMessage, wire.CorruptMessage},
	{engine.ErrInvalidRecord, wire.CorruptMessage},
	{engine.ErrUnsupportedCompression, wire.UnsupportedCompressionType},
	{engine.ErrOffsetOutOfRange, wire.OffsetOutOfRange},
	{engine.ErrRequestTimedOut, wire.RequestTimedOut},
	{engine.ErrInvalidRequiredAcks, wire.InvalidRequiredAcks},
	{engine.ErrNotEnoughReplicas, wire.NotEnoughReplicas},
	{engine.ErrNotEnoughReplicasAfterAppend, wire.NotEnoughReplicasAfterAppend},
	{engine.ErrFencedLeaderEpoch, wire.FencedLeaderEpoch},
	{engine.ErrUnknownLeaderEpoch, wire.UnknownLeaderEpoch},
	{engine.ErrNotLeader, wire.NotLeader},
	{engine.ErrNotController, wire.NotController},
	{engine.ErrStorage, wire.KafkaStorageError},
	{engine.ErrDiskFull, wire.KafkaStorageError},
	// Kafka's answer for a create a broker-side rule refuses; not
	// retriable: the same create fails again until the limit changes.
	{engine.ErrResourceLimit, wire.PolicyViolation},
	// Retriable: the client reconnects to the restarted broker or another one.
	{engine.ErrShuttingDown, wire.BrokerNotAvailable},
	{engine.ErrInvalidRequest, wire.InvalidRequest},
	{engine.ErrOutOfOrderSequence, wire.OutOfOrderSequenceNumber},
	{engine.ErrInvalidProducerEpoch, wire.InvalidProducerEpoch},
}

// groupErrorCodes maps the group coordinator's sentinels to their codes.
var groupErrorCodes = []errorCode{
	{engine.ErrCoordinatorNotAvailable, wire.CoordinatorNotAvailable},
	{engine.ErrNotCoordinator, wire.NotCoordinator},
	{engine.ErrIllegalGeneration, wire.IllegalGeneration},
	{engine.ErrInconsistentGroupProtocol, wire.InconsistentGroupProtocol},
	{engine.ErrInvalidGroupID, wire.InvalidGroupID},
	{engine.ErrUnknownMemberID, wire.UnknownMemberID},
	{engine.ErrInvalidSessionTimeout, wire.InvalidSessionTimeout},
	{engine.ErrRebalanceInProgress, wire.RebalanceInProgress},
	{engine.ErrNonEmptyGroup, wire.NonEmptyGroup},
	{engine.ErrGroupIDNotFound, wire.GroupIDNotFound},
	{engine.ErrMemberIDRequired, wire.MemberIDRequired},
	{engine.ErrGroupMaxSizeReached, wire.GroupMaxSizeReached},
	{engine.ErrFencedInstanceID, wire.FencedInstanceID},
}

// groupErrorCode returns the code of a group coordinator error, if err is one.
func groupErrorCode(err error) (wire.ErrorCode, bool) {
	for _, g := range groupErrorCodes {
		if errors.Is(err, g.err) {
			return g.code, true
		}
	}
	return wire.None, false
}
