package front

import (
	"fmt"
	"testing"

	"github.com/spate-io/spate/engine"
	"github.com/spate-io/spate/wire"
)

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want wire.ErrorCode
	}{
		{nil, wire.None},
		// A failed offsets write wraps both; the group code must win.
		{fmt.Errorf("write group %q: %w: %w", "g", engine.ErrCoordinatorNotAvailable, engine.ErrStorage), wire.CoordinatorNotAvailable},
		{fmt.Errorf("%w: group %q member %q", engine.ErrUnknownMemberID, "g", "m"), wire.UnknownMemberID},
		{engine.ErrRebalanceInProgress, wire.RebalanceInProgress},
		{engine.ErrMemberIDRequired, wire.MemberIDRequired},
		{engine.ErrStorage, wire.KafkaStorageError},
		{fmt.Errorf("%w: produce to t-0: log dir d has 0 bytes free", engine.ErrDiskFull), wire.KafkaStorageError},
		{fmt.Errorf("%w: t-3 is led by broker 2 (epoch 4); this broker follows", engine.ErrNotLeader), wire.NotLeader},
		{fmt.Errorf("%w: create topic %q: in cluster mode topics change through the controller", engine.ErrNotController, "t"), wire.NotController},
		{fmt.Errorf("%w: group %q belongs to __consumer_offsets-3", engine.ErrNotCoordinator, "g"), wire.NotCoordinator},
		{fmt.Errorf("batch 3: %w", engine.ErrInvalidRecord), wire.CorruptMessage},
		{engine.ErrShuttingDown, wire.BrokerNotAvailable},
		{fmt.Errorf("something no sentinel explains"), wire.UnknownServerError},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: retention.ms: not a number", engine.ErrInvalidConfig), "retention.ms: not a number"},
		{engine.ErrInvalidConfig, "engine: invalid config"},
		{fmt.Errorf("disk gone"), "disk gone"},
	} {
		if got := ErrorMessage(tc.err); got != tc.want {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
