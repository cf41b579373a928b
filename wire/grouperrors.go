package wire

// The consumer-group error codes, Kafka's numbers. They live beside the
// group codecs; init adds them to the table of errors.go so that Err,
// String, Retriable, CodeOf and Errors know them like every other code.
const (
	OffsetMetadataTooLarge    ErrorCode = 12
	CoordinatorLoadInProgress ErrorCode = 14
	CoordinatorNotAvailable   ErrorCode = 15
	NotCoordinator            ErrorCode = 16
	IllegalGeneration         ErrorCode = 22
	InconsistentGroupProtocol ErrorCode = 23
	InvalidGroupID            ErrorCode = 24
	UnknownMemberID           ErrorCode = 25
	InvalidSessionTimeout     ErrorCode = 26
	RebalanceInProgress       ErrorCode = 27
	NonEmptyGroup             ErrorCode = 68
	GroupIDNotFound           ErrorCode = 69
	MemberIDRequired          ErrorCode = 79
	GroupMaxSizeReached       ErrorCode = 81
	FencedInstanceID          ErrorCode = 82
)

// The Go errors of the group codes. Retriable follows Kafka: the coordinator
// ones are cured by finding the coordinator again or waiting for it to load;
// the membership ones need the client to act (rejoin, give up), so a plain
// resend would fail the same way.
var (
	ErrOffsetMetadataTooLarge = &Error{OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false,
		"the committed offset's metadata is longer than the broker's offset.metadata.max.bytes"}
	ErrCoordinatorLoadInProgress = &Error{CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true,
		"the coordinator is still loading the group's state from __consumer_offsets"}
	ErrCoordinatorNotAvailable = &Error{CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true,
		"the group coordinator is not available (its __consumer_offsets partition has no leader, or the group is being unloaded)"}
	ErrNotCoordinator = &Error{NotCoordinator, "NOT_COORDINATOR", true,
		"this broker is not the group's coordinator; find the coordinator again"}
	ErrIllegalGeneration = &Error{IllegalGeneration, "ILLEGAL_GENERATION", false,
		"the generation id is not the group's current one; rejoin the group"}
	ErrInconsistentGroupProtocol = &Error{InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false,
		"the member's protocol type or protocols are incompatible with the group's"}
	ErrInvalidGroupID = &Error{InvalidGroupID, "INVALID_GROUP_ID", false,
		"the group id is empty or invalid"}
	ErrUnknownMemberID = &Error{UnknownMemberID, "UNKNOWN_MEMBER_ID", false,
		"the member id is not a member of the group; rejoin with an empty member id"}
	ErrInvalidSessionTimeout = &Error{InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false,
		"the session timeout is outside the broker's allowed range"}
	ErrRebalanceInProgress = &Error{RebalanceInProgress, "REBALANCE_IN_PROGRESS", false,
		"the group is rebalancing; rejoin it"}
	ErrNonEmptyGroup = &Error{NonEmptyGroup, "NON_EMPTY_GROUP", false,
		"the group still has members and cannot be deleted"}
	ErrGroupIDNotFound = &Error{GroupIDNotFound, "GROUP_ID_NOT_FOUND", false,
		"the group does not exist"}
	ErrMemberIDRequired = &Error{MemberIDRequired, "MEMBER_ID_REQUIRED", false,
		"join again with the member id given in the response (KIP-394)"}
	ErrGroupMaxSizeReached = &Error{GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false,
		"the group already has the broker's maximum number of members"}
	ErrFencedInstanceID = &Error{FencedInstanceID, "FENCED_INSTANCE_ID", false,
		"another member joined with the same group instance id; this one is fenced"}
)

var groupErrors = []*Error{
	ErrOffsetMetadataTooLarge, ErrCoordinatorLoadInProgress, ErrCoordinatorNotAvailable, ErrNotCoordinator, ErrIllegalGeneration,
	ErrInconsistentGroupProtocol, ErrInvalidGroupID, ErrUnknownMemberID, ErrInvalidSessionTimeout,
	ErrRebalanceInProgress, ErrNonEmptyGroup, ErrGroupIDNotFound, ErrMemberIDRequired,
	ErrGroupMaxSizeReached, ErrFencedInstanceID,
}

// init runs after every package-level variable is initialized, so
// knownErrors and codeErrors exist; nothing reads them before init ends.
func init() {
	knownErrors = append(knownErrors, groupErrors...)
	for _, e := range groupErrors {
		codeErrors[e.Code] = e
	}
}
