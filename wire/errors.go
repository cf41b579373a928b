package wire

import (
	"errors"
	"fmt"
)

// ErrorCode is the int16 error code carried in responses. Codes reuse Apache
// Kafka's numbers wherever the meaning is the same, so the Kafka front end can
// pass them through unchanged. 0 means no error.
type ErrorCode int16

// The error codes Spate uses. See docs/protocol.md for the table.
const (
	UnknownServerError           ErrorCode = -1
	None                         ErrorCode = 0
	OffsetOutOfRange             ErrorCode = 1
	CorruptMessage               ErrorCode = 2
	UnknownTopicOrPartition      ErrorCode = 3
	InvalidFetchSize             ErrorCode = 4
	LeaderNotAvailable           ErrorCode = 5
	NotLeader                    ErrorCode = 6
	RequestTimedOut              ErrorCode = 7
	BrokerNotAvailable           ErrorCode = 8
	ReplicaNotAvailable          ErrorCode = 9
	MessageTooLarge              ErrorCode = 10
	NetworkException             ErrorCode = 13
	InvalidTopic                 ErrorCode = 17
	RecordListTooLarge           ErrorCode = 18
	NotEnoughReplicas            ErrorCode = 19
	NotEnoughReplicasAfterAppend ErrorCode = 20
	InvalidRequiredAcks          ErrorCode = 21
	InvalidTimestamp             ErrorCode = 32
	UnsupportedVersion           ErrorCode = 35
	TopicAlreadyExists           ErrorCode = 36
	InvalidPartitions            ErrorCode = 37
	InvalidReplicationFactor     ErrorCode = 38
	InvalidReplicaAssignment     ErrorCode = 39
	InvalidConfig                ErrorCode = 40
	NotController                ErrorCode = 41
	InvalidRequest               ErrorCode = 42
	PolicyViolation              ErrorCode = 44
	OutOfOrderSequenceNumber     ErrorCode = 45
	DuplicateSequenceNumber      ErrorCode = 46
	InvalidProducerEpoch         ErrorCode = 47
	KafkaStorageError            ErrorCode = 56
	UnknownProducerID            ErrorCode = 59
	FencedLeaderEpoch            ErrorCode = 74
	UnknownLeaderEpoch           ErrorCode = 75
	UnsupportedCompressionType   ErrorCode = 76
	OffsetNotAvailable           ErrorCode = 78
)

// Error is the Go value of a non-zero ErrorCode. There is exactly one *Error
// per known code (the Err... variables), so errors.Is(err, wire.ErrNotLeader)
// works on any error that wraps it, on either side of the connection.
type Error struct {
	Code ErrorCode
	// Name is the Kafka-style upper-case name, e.g. "NOT_LEADER_OR_FOLLOWER".
	Name string
	// Retriable reports whether the same request may succeed if sent again
	// later (possibly after refreshing metadata).
	Retriable bool
	// Message is a one-line human explanation.
	Message string
}

// Error implements error.
func (e *Error) Error() string { return "wire: " + e.Name + ": " + e.Message }

// The Go error of each code, for errors.Is. The broker wraps them with
// context (fmt.Errorf("topic %q partition %d: %w", ...)); CodeOf recovers
// the code.
var (
	ErrUnknownServerError = &Error{UnknownServerError, "UNKNOWN_SERVER_ERROR", false,
		"the broker hit an unexpected error; see its log"}
	ErrOffsetOutOfRange = &Error{OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false,
		"the offset is below the log start offset or above the log end offset"}
	ErrCorruptMessage = &Error{CorruptMessage, "CORRUPT_MESSAGE", true,
		"a record batch failed its CRC, length or record-count check"}
	ErrUnknownTopicOrPartition = &Error{UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true,
		"this broker does not host the topic-partition"}
	ErrInvalidFetchSize = &Error{InvalidFetchSize, "INVALID_FETCH_SIZE", false,
		"the fetch size is negative or zero"}
	ErrLeaderNotAvailable = &Error{LeaderNotAvailable, "LEADER_NOT_AVAILABLE", true,
		"the partition has no leader right now (election in progress)"}
	ErrNotLeader = &Error{NotLeader, "NOT_LEADER_OR_FOLLOWER", true,
		"this broker is not the leader of the partition; refresh metadata"}
	ErrRequestTimedOut = &Error{RequestTimedOut, "REQUEST_TIMED_OUT", true,
		"the request did not complete within its timeout"}
	ErrBrokerNotAvailable = &Error{BrokerNotAvailable, "BROKER_NOT_AVAILABLE", true,
		"the broker is not available"}
	ErrReplicaNotAvailable = &Error{ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true,
		"the replica is not available for the partition"}
	ErrMessageTooLarge = &Error{MessageTooLarge, "MESSAGE_TOO_LARGE", false,
		"a record batch is larger than the topic's max message size"}
	ErrNetworkException = &Error{NetworkException, "NETWORK_EXCEPTION", true,
		"the connection closed before the response arrived"}
	ErrInvalidTopic = &Error{InvalidTopic, "INVALID_TOPIC_EXCEPTION", false,
		"the topic name is invalid or the topic is internal"}
	ErrRecordListTooLarge = &Error{RecordListTooLarge, "RECORD_LIST_TOO_LARGE", false,
		"the records of a partition are larger than a segment"}
	ErrNotEnoughReplicas = &Error{NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true,
		"fewer in-sync replicas than min.insync.replicas; nothing was written"}
	ErrNotEnoughReplicasAfterAppend = &Error{NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
		"written to the leader, but the ISR shrank below min.insync.replicas before it committed"}
	ErrInvalidRequiredAcks = &Error{InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false,
		"acks must be 0, 1 or -1"}
	ErrInvalidTimestamp = &Error{InvalidTimestamp, "INVALID_TIMESTAMP", false,
		"a record timestamp is out of the accepted range"}
	ErrUnsupportedVersion = &Error{UnsupportedVersion, "UNSUPPORTED_VERSION", false,
		"the broker does not support this api key or api version"}
	ErrTopicAlreadyExists = &Error{TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false,
		"a topic with this name already exists"}
	ErrInvalidPartitions = &Error{InvalidPartitions, "INVALID_PARTITIONS", false,
		"the partition count is below 1 or above the broker's limit"}
	ErrInvalidReplicationFactor = &Error{InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false,
		"the replication factor is below 1 or above the number of live brokers"}
	ErrInvalidReplicaAssignment = &Error{InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false,
		"the replica assignment is invalid"}
	ErrInvalidConfig = &Error{InvalidConfig, "INVALID_CONFIG", false,
		"a topic config key is unknown or its value is invalid"}
	ErrNotController = &Error{NotController, "NOT_CONTROLLER", true,
		"this broker is not the controller; retry on the controller"}
	ErrInvalidRequest = &Error{InvalidRequest, "INVALID_REQUEST", false,
		"the request body is malformed or inconsistent"}
	ErrPolicyViolation = &Error{PolicyViolation, "POLICY_VIOLATION", false,
		"the request violates a broker policy"}
	// The idempotent-producer errors are not retriable, as in Kafka: sending
	// the same batch again cannot change the broker's answer.
	ErrOutOfOrderSequenceNumber = &Error{OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
		"the batch's sequence number does not follow the producer's last one on this partition; nothing was written"}
	ErrDuplicateSequenceNumber = &Error{DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false,
		"the batch was already written; the broker no longer knows its offset"}
	ErrInvalidProducerEpoch = &Error{InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false,
		"the batch's producer epoch is older than the partition's for this producer id"}
	ErrUnknownProducerID = &Error{UnknownProducerID, "UNKNOWN_PRODUCER_ID", false,
		"the broker has no state for the batch's producer id"}
	ErrKafkaStorageError = &Error{KafkaStorageError, "KAFKA_STORAGE_ERROR", true,
		"the broker cannot read or write the log: its disk is full or failed (see its /health and log)"}
	ErrFencedLeaderEpoch = &Error{FencedLeaderEpoch, "FENCED_LEADER_EPOCH", true,
		"the leader epoch in the request is older than the broker's"}
	ErrUnknownLeaderEpoch = &Error{UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true,
		"the leader epoch in the request is newer than the broker's"}
	ErrUnsupportedCompressionType = &Error{UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false,
		"the batch uses a compression codec the broker does not support"}
	ErrOffsetNotAvailable = &Error{OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true,
		"the new leader's high watermark has not caught up yet"}
)

// knownErrors lists every Err... value once; codeErrors indexes it by code.
var knownErrors = []*Error{
	ErrUnknownServerError, ErrOffsetOutOfRange, ErrCorruptMessage, ErrUnknownTopicOrPartition,
	ErrInvalidFetchSize, ErrLeaderNotAvailable, ErrNotLeader, ErrRequestTimedOut,
	ErrBrokerNotAvailable, ErrReplicaNotAvailable, ErrMessageTooLarge, ErrNetworkException,
	ErrInvalidTopic, ErrRecordListTooLarge, ErrNotEnoughReplicas, ErrNotEnoughReplicasAfterAppend,
	ErrInvalidRequiredAcks, ErrInvalidTimestamp, ErrUnsupportedVersion, ErrTopicAlreadyExists,
	ErrInvalidPartitions, ErrInvalidReplicationFactor, ErrInvalidReplicaAssignment, ErrInvalidConfig,
	ErrNotController, ErrInvalidRequest, ErrPolicyViolation, ErrOutOfOrderSequenceNumber,
	ErrDuplicateSequenceNumber, ErrInvalidProducerEpoch, ErrKafkaStorageError,
	ErrUnknownProducerID, ErrFencedLeaderEpoch, ErrUnknownLeaderEpoch, ErrUnsupportedCompressionType, ErrOffsetNotAvailable,
}

var codeErrors = func() map[ErrorCode]*Error {
	m := make(map[ErrorCode]*Error, len(knownErrors))
	for _, e := range knownErrors {
		m[e.Code] = e
	}
	return m
}()

// Errors returns every known error, for documentation and tests. The caller
// must not modify the returned values.
func Errors() []*Error { return knownErrors }

// Err returns the error value of c: nil for None, the Err... variable for a
// known code, and for a code this build does not know (a newer peer) a fresh
// *Error named "UNKNOWN_CODE_<n>" that is not retriable.
func (c ErrorCode) Err() error {
	if c == None {
		return nil
	}
	if e, ok := codeErrors[c]; ok {
		return e
	}
	return &Error{Code: c, Name: fmt.Sprintf("UNKNOWN_CODE_%d", int16(c)), Message: "error code unknown to this build"}
}

// String returns the code's name, e.g. "UNKNOWN_TOPIC_OR_PARTITION".
func (c ErrorCode) String() string {
	if c == None {
		return "NONE"
	}
	if e, ok := codeErrors[c]; ok {
		return e.Name
	}
	return fmt.Sprintf("UNKNOWN_CODE_%d", int16(c))
}

// Retriable reports whether a request that failed with c may succeed if sent
// again. None and unknown codes are not retriable.
func (c ErrorCode) Retriable() bool {
	e, ok := codeErrors[c]
	return ok && e.Retriable
}

// CodeOf returns the code to put on the wire for err: None for nil, the code
// of the first *Error in err's chain, InvalidRequest for a decode error
// (ErrMalformed), and UnknownServerError for anything else. So a dispatcher
// can answer any error of Decoder.Decode that has a header with
// AppendErrorResponse(dst, h.CorrelationID, CodeOf(err)).
func CodeOf(err error) ErrorCode {
	if err == nil {
		return None
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrMalformed) {
		return InvalidRequest
	}
	return UnknownServerError
}

// IsRetriable reports whether err carries a retriable wire error.
func IsRetriable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retriable
}
