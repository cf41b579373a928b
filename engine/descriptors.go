package engine

// Behavior: the file descriptor budget. Every partition holds
// segment.DescriptorsPerLog descriptors while open, one more once it writes
// direct (when DirectWriteBytes is in force), and every client connection
// one. A topic create (or auto-create) that would leave fewer than a
// quarter of RLIMIT_NOFILE for connections and everything else, counting
// every partition at its most, fails with ErrResourceLimit, naming the
// limit, instead of failing half way with a storage error, or succeeding
// and leaving the listener no descriptor to accept with. Descriptors are counted in /proc/self/fd; where that
// cannot be read the check is skipped and an open that runs out fails with
// ErrStorage as before.

import (
	"fmt"
	"os"
	"syscall"

	"github.com/spate-io/spate/segment"
)

// DescriptorBudget is the process's file descriptor use against its limit.
type DescriptorBudget struct {
	Partitions int // open partitions, internal topics included
	// PerPartition is the most descriptors a partition holds:
	// segment.DescriptorsPerLog, plus segment.DirectDescriptorsPerLog when
	// direct writes are in force.
	PerPartition int
	InUse        int // descriptors open in the process now
	Limit        int // RLIMIT_NOFILE (the soft limit)
	// Reserved is the share of Limit creates leave free for connections
	// and everything else: a quarter of it.
	Reserved int
}

// Connections is how many client connections fit in what the budget
// leaves free now.
func (b DescriptorBudget) Connections() int { return max(b.Limit-b.InUse, 0) }

// committed is what the process may come to hold without a new partition
// or connection: every partition at its most, or what is open now.
func (b DescriptorBudget) committed() int { return max(b.InUse, b.Partitions*b.PerPartition) }

func (b DescriptorBudget) String() string {
	return fmt.Sprintf("%d partitions x %d at most = %d; %d in use of RLIMIT_NOFILE %d; room for ~%d connections now; creates keep %d free",
		b.Partitions, b.PerPartition, b.Partitions*b.PerPartition, b.InUse, b.Limit, b.Connections(), b.Reserved)
}

// Descriptors reports the budget now; ok is false where the descriptors in
// use or the limit cannot be read.
func (e *Engine) Descriptors() (b DescriptorBudget, ok bool) {
	b.PerPartition = segment.DescriptorsPerLog
	if e.cfg.DirectWriteBytes > 0 {
		b.PerPartition += segment.DirectDescriptorsPerLog
	}
	for _, t := range *e.topics.Load() {
		for range t.hosted() {
			b.Partitions++
		}
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return b, false
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return b, false
	}
	b.InUse, b.Limit = len(fds)-1, int(rl.Cur) // less the ReadDir's own
	b.Reserved = b.Limit / 4
	return b, true
}

// checkDescriptorsLocked fails with ErrResourceLimit when opening the given
// number of partitions (for what, e.g. `creating topic "x"`) would eat into
// the reserve; admin must be held, so two creates do not both take the last
// room.
func (e *Engine) checkDescriptorsLocked(what string, partitions int32) error {
	b, ok := e.Descriptors()
	if !ok {
		return nil
	}
	need := int(partitions) * b.PerPartition
	if b.committed()+need <= b.Limit-b.Reserved {
		return nil
	}
	return fmt.Errorf("%w: %s: %d partitions need up to %d file descriptors (%d each); RLIMIT_NOFILE is %d with %d committed (%d partitions, %d in use), and %d are kept for connections: raise the limit (ulimit -n) or use fewer partitions",
		ErrResourceLimit, what, partitions, need, b.PerPartition, b.Limit, b.committed(), b.Partitions, b.InUse, b.Reserved)
}
