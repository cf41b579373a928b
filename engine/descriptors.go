package engine

// Behavior: the file descriptor budget. Every partition holds
// segment.DescriptorsPerLog descriptors while open, and every client
// connection one more. A topic create (or auto-create) that would leave
// fewer than a quarter of RLIMIT_NOFILE for connections and everything else
// fails with ErrResourceLimit, naming the limit, instead of failing half way
// with a storage error, or succeeding and leaving the listener no descriptor
// to accept with. Descriptors are counted in /proc/self/fd; where that
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
	Partitions   int // open partitions, internal topics included
	PerPartition int // descriptors each holds (segment.DescriptorsPerLog)
	InUse        int // descriptors open in the process now
	Limit        int // RLIMIT_NOFILE (the soft limit)
	// Reserved is the share of Limit creates leave free for connections
	// and everything else: a quarter of it.
	Reserved int
}

// Connections is how many client connections fit in what the budget
// leaves free now.
func (b DescriptorBudget) Connections() int { return max(b.Limit-b.InUse, 0) }

func (b DescriptorBudget) String() string {
	return fmt.Sprintf("%d partitions x %d + %d other = %d in use of RLIMIT_NOFILE %d; room for ~%d connections; creates keep %d free",
		b.Partitions, b.PerPartition, max(b.InUse-b.Partitions*b.PerPartition, 0), b.InUse, b.Limit, b.Connections(), b.Reserved)
}

// Descriptors reports the budget now; ok is false where the descriptors in
// use or the limit cannot be read.
func (e *Engine) Descriptors() (b DescriptorBudget, ok bool) {
	b.PerPartition = segment.DescriptorsPerLog
	for _, t := range *e.topics.Load() {
		b.Partitions += len(t.partitions)
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
// number of partitions for topic name would eat into the reserve;
// admin must be held, so two creates do not both take the last room.
func (e *Engine) checkDescriptorsLocked(name string, partitions int32) error {
	b, ok := e.Descriptors()
	if !ok {
		return nil
	}
	need := int(partitions) * b.PerPartition
	if b.InUse+need <= b.Limit-b.Reserved {
		return nil
	}
	return fmt.Errorf("%w: creating topic %q with %d partitions needs ~%d file descriptors (%d each); RLIMIT_NOFILE is %d with %d in use, and %d are kept for connections: raise the limit (ulimit -n) or use fewer partitions",
		ErrResourceLimit, name, partitions, need, b.PerPartition, b.Limit, b.InUse, b.Reserved)
}
