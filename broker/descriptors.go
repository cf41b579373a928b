package broker

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/spate-io/spate/segment"
)

// raiseNofileLimit sets RLIMIT_NOFILE's soft limit to the hard limit, as
// most servers do: every partition and connection holds descriptors, and
// the soft default (often 1024) is far below what the hard limit allows.
// The Go runtime does the same at start since Go 1.19; this keeps the
// broker's budget independent of that. It returns the soft limit before
// and after.
func raiseNofileLimit() (before, after uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("broker: read RLIMIT_NOFILE: %w", err)
	}
	before = rl.Cur
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return before, before, fmt.Errorf("broker: raise RLIMIT_NOFILE from %d to %d: %w", before, rl.Max, err)
		}
	}
	return before, rl.Cur, nil
}

// DescriptorBudget describes the broker's file descriptor use against
// RLIMIT_NOFILE, for the startup banner: partitions times their cost, the
// rest, the room left for connections, and whether the soft limit was
// raised.
func (b *Broker) DescriptorBudget() string {
	budget, ok := b.engine.Descriptors()
	if !ok {
		return "unknown (/proc/self/fd or RLIMIT_NOFILE unreadable)"
	}
	raised := "soft limit = hard limit"
	if b.nofileBefore < b.nofileAfter {
		raised = fmt.Sprintf("soft limit raised from %d to the hard limit", b.nofileBefore)
	}
	return fmt.Sprintf("%v (%s)", budget, raised)
}

// nofileHint explains an open that ran out of descriptors (the partitions
// already in the data dir need more than the limit allows); "" otherwise.
func nofileHint(err error, limit uint64) string {
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
		return ""
	}
	return fmt.Sprintf(" (RLIMIT_NOFILE is %d and every partition holds %d, %d while writing direct: raise the limit with ulimit -n)",
		limit, segment.DescriptorsPerLog, segment.DescriptorsPerLog+segment.DirectDescriptorsPerLog)
}
