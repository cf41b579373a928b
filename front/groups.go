package front

// Behavior: Groups puts the consumer-group requests of both front ends
// onto one engine.GroupCoordinator, so both see the same groups and
// committed offsets and answer them with the same codes. What a front end
// keeps is its wire form: it copies a request's fields into the engine's
// request types and the results into its answer.
//
//	FindCoordinator   FindCoordinator: group keys only (a transaction
//	                  coordinator is INVALID_REQUEST); the front end turns
//	                  the broker id into its own listener's address
//	OffsetCommit      CommitOffsets: an unknown partition is
//	                  UNKNOWN_TOPIC_OR_PARTITION, metadata over
//	                  offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE,
//	                  the rest committed; the commit's error, if any, is
//	                  repeated in each of those, as Kafka does
//	OffsetFetch       ByTopic groups the coordinator's offsets per topic
//	ListGroups        ListGroups: an unknown state name is INVALID_REQUEST
//	DescribeGroups    DescribedCode: an empty id is INVALID_GROUP_ID, a group
//	                  another broker coordinates NOT_COORDINATOR
//	LeaveGroup, DeleteGroups   CodeAt: one code per member or group
//	JoinGroup, SyncGroup, Heartbeat   the coordinator's calls, ErrorCode

import (
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/wire"
)

// ErrUnsupportedCoordinator answers FindCoordinator for a coordinator
// other than a group's; its code is INVALID_REQUEST.
var ErrUnsupportedCoordinator = errors.New("only group coordinators exist (key type 0)")

// Groups is the group coordination both front ends share; see the
// Behavior comment.
type Groups struct {
	Engine      *engine.Engine
	Coordinator *engine.GroupCoordinator
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes: the longest
	// metadata string an OffsetCommit may store.
	OffsetMetadataMaxBytes int32
}

// FindCoordinator returns the broker that coordinates key, a group id when
// keyType is wire.CoordinatorKeyGroup (Kafka's number too; 1, a
// transactional id, has no coordinator in Spate), or the code and error
// that say why there is none. The first lookup may create
// __consumer_offsets through the controller: in a cluster, call it off
// the event loop.
func (g *Groups) FindCoordinator(keyType int8, key string) (brokerID int32, code wire.ErrorCode, err error) {
	if keyType != wire.CoordinatorKeyGroup {
		return -1, wire.InvalidRequest, fmt.Errorf("%w: key type %d", ErrUnsupportedCoordinator, keyType)
	}
	id, _, err := g.Coordinator.FindCoordinator(key)
	if err != nil {
		return -1, ErrorCode(err), err
	}
	return id, wire.None, nil
}

// CommitOffsets commits req's offsets, which list every partition of the
// request in order, and calls done with one code per partition, in that
// order, and whether any is not wire.None; done runs once the offsets are
// written (from another goroutine, or inside the call when there is
// nothing to write). CommitOffsets takes req.Offsets over: it keeps in it
// the offsets it commits.
func (g *Groups) CommitOffsets(req engine.OffsetCommitRequest, now time.Time, done func(codes []wire.ErrorCode, failed bool)) {
	codes := make([]wire.ErrorCode, len(req.Offsets))
	refused := false
	kept := req.Offsets[:0]
	for i, o := range req.Offsets {
		switch {
		case !g.Engine.HasPartition(o.Topic, o.Partition):
			// A commit must not bring back offsets of a deleted topic
			// (DeleteTopics removed them).
			codes[i] = wire.UnknownTopicOrPartition
		case len(o.Metadata) > int(g.OffsetMetadataMaxBytes):
			codes[i] = wire.OffsetMetadataTooLarge
		default:
			kept = append(kept, o)
			continue
		}
		refused = true
	}
	req.Offsets = kept
	g.Coordinator.CommitOffsets(req, now, func(err error) {
		code := ErrorCode(err)
		for i := range codes {
			if codes[i] == wire.None {
				codes[i] = code
			}
		}
		done(codes, refused || err != nil)
	})
}

// ByTopic yields the coordinator's offsets (FetchOffsets) per topic, in
// their order. FetchOffsets returns the request's order, or topic then
// partition order for all topics, so one topic's partitions are adjacent.
func ByTopic(offsets []engine.CommittedOffset) iter.Seq2[string, []engine.CommittedOffset] {
	return func(yield func(string, []engine.CommittedOffset) bool) {
		for start := 0; start < len(offsets); {
			end := start + 1
			for end < len(offsets) && offsets[end].Topic == offsets[start].Topic {
				end++
			}
			if !yield(offsets[start].Topic, offsets[start:end]) {
				return
			}
			start = end
		}
	}
}

// ListGroups lists the groups in the states named (every group when none
// is), or answers wire.InvalidRequest for a name that is not a state.
func (g *Groups) ListGroups(stateNames []string) ([]engine.GroupListing, wire.ErrorCode) {
	states := make([]engine.GroupState, 0, len(stateNames))
	for _, name := range stateNames {
		st, ok := engine.ParseGroupState(name)
		if !ok {
			return nil, wire.InvalidRequest
		}
		states = append(states, st)
	}
	return g.Coordinator.ListGroups(states...), wire.None
}

// DescribedCode is the code of one group DescribeGroups described: an
// empty id is INVALID_GROUP_ID, a group coordinated by another broker
// (cluster mode) NOT_COORDINATOR; an unknown group is described as Dead,
// without error, as Kafka does.
func DescribedCode(d *engine.GroupDescription) wire.ErrorCode {
	if d.GroupID == "" {
		return wire.InvalidGroupID
	}
	return ErrorCode(d.Err)
}

// CodeAt is the code of errs[i], the coordinator's error for the i-th
// member of a LeaveGroup or the i-th group of a DeleteGroups; wire.None
// past the end of errs (the coordinator answered the request as a whole).
func CodeAt(errs []error, i int) wire.ErrorCode {
	if i < len(errs) {
		return ErrorCode(errs[i])
	}
	return wire.None
}
