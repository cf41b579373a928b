package engine

import "errors"

// The group coordinator's sentinel errors (groupcoordinator.go). Each maps
// to the Kafka error code of the same name; returned errors wrap one with %w
// and name the group and member. An error from writing __consumer_offsets
// wraps both ErrCoordinatorNotAvailable and the storage error behind it, so
// a dispatcher must test the group sentinels before the generic ones.
var (
	// ErrCoordinatorNotAvailable: the group's state could not be written to
	// __consumer_offsets (or the topic could not be created). Retriable.
	ErrCoordinatorNotAvailable = errors.New("engine: group coordinator not available")
	// ErrNotCoordinator: the coordinator is closing, or (cluster mode)
	// another broker leads the group's partition of __consumer_offsets;
	// pending joins and syncs get it so that clients look the coordinator
	// up again.
	ErrNotCoordinator = errors.New("engine: not the group coordinator")
	// ErrIllegalGeneration: a sync, heartbeat or commit for a generation
	// that is not the group's current one.
	ErrIllegalGeneration = errors.New("engine: illegal generation")
	// ErrInconsistentGroupProtocol: a join whose protocol type differs from
	// the group's or that shares no protocol with the members, or a join
	// with no protocol at all.
	ErrInconsistentGroupProtocol = errors.New("engine: inconsistent group protocol")
	// ErrInvalidGroupID: an empty group id.
	ErrInvalidGroupID = errors.New("engine: invalid group id")
	// ErrUnknownMemberID: a member id the group does not have (expired,
	// left, replaced, or never joined).
	ErrUnknownMemberID = errors.New("engine: unknown member id")
	// ErrInvalidSessionTimeout: a session timeout outside
	// [GroupConfig.MinSessionTimeout, GroupConfig.MaxSessionTimeout].
	ErrInvalidSessionTimeout = errors.New("engine: invalid session timeout")
	// ErrRebalanceInProgress: the group is rebalancing; the member must
	// rejoin (heartbeat, sync, commit during CompletingRebalance).
	ErrRebalanceInProgress = errors.New("engine: rebalance in progress")
	// ErrNonEmptyGroup: DeleteGroups of a group that has members.
	ErrNonEmptyGroup = errors.New("engine: group is not empty")
	// ErrGroupIDNotFound: DeleteGroups of a group the coordinator does not know.
	ErrGroupIDNotFound = errors.New("engine: group id not found")
	// ErrMemberIDRequired: the first join of a dynamic member (KIP-394).
	// JoinGroupResult.MemberID carries the id to join again with.
	ErrMemberIDRequired = errors.New("engine: member id required")
	// ErrGroupMaxSizeReached: a join that would make the group larger than
	// GroupConfig.MaxGroupSize.
	ErrGroupMaxSizeReached = errors.New("engine: group max size reached")
	// ErrFencedInstanceID: a request from a static member whose instance id
	// now belongs to a newer member id.
	ErrFencedInstanceID = errors.New("engine: fenced instance id")
)
