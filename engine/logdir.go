package engine

// Behavior: the log dir guard. Appends are refused with ErrDiskFull while the
// data dir's filesystem has less than MinFreeBytes free (Kafka answers
// KAFKA_STORAGE_ERROR for a log dir it cannot write), so the writes that keep
// the broker correct and let an operator recover (topics.json, recovery
// points, clean-shutdown markers, index entries of a roll) always find room.
// Fetches are never refused. Appends resume by themselves once space returns:
// the guard reads statfs(2) again at least every LogDirCheckInterval, and at
// most every fullRecheck when a refused append asks.
//
// Checking is cheap on the produce path: each statfs grants a budget of at
// most budgetBytes (or the headroom above MinFreeBytes, if smaller), and an
// append only subtracts its size from it with one atomic add; statfs runs
// again when the budget is spent. Other writers to the filesystem are seen
// within LogDirCheckInterval; until then the budget may overshoot by what
// they wrote, which the free-space floor absorbs.
//
// A reserve file of reserveBytes, allocated while there is room, is released
// when topics.json must be rewritten to delete a topic on a disk that is
// full after all (another process filled it, or MinFreeBytes is 0), so a
// delete, which frees space, never needs space first.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// LogDirState is what a log dir can do.
type LogDirState int

const (
	// LogDirOK: appends are accepted.
	LogDirOK LogDirState = iota
	// LogDirFull: appends are refused: free space is below MinFreeBytes, or
	// the filesystem answered ENOSPC. Reads still work.
	LogDirFull
	// LogDirFailed: a partition's log failed with an I/O error (or statfs
	// fails); that partition refuses every call until the broker restarts.
	LogDirFailed
)

func (s LogDirState) String() string {
	switch s {
	case LogDirOK:
		return "ok"
	case LogDirFull:
		return "full"
	case LogDirFailed:
		return "failed"
	}
	return fmt.Sprintf("LogDirState(%d)", int(s))
}

// LogDirInfo describes one log dir, for /health and /metrics.
type LogDirInfo struct {
	Dir   string
	State LogDirState
	// FreeBytes and TotalBytes are from the last statfs: bytes available
	// to the broker, and the filesystem's size.
	FreeBytes, TotalBytes int64
	// MinFreeBytes is the effective floor below which appends are refused.
	MinFreeBytes int64
	// AppendsRefused counts produce requests refused for lack of space.
	AppendsRefused int64
	// Err says why the state is not LogDirOK: a failed partition's error or
	// the statfs error for LogDirFailed, the free space for LogDirFull.
	Err error
}

const (
	// autoMinFreeBytes is the default floor (MinFreeBytes = -1): 64 MiB,
	// room for recovery points and clean-shutdown markers of ~16,000
	// partitions (one 4 KiB block each) plus topics.json, but never more
	// than autoMinFreeShare of the filesystem, so a small test filesystem
	// (a 64 MB tmpfs) keeps most of its space for data.
	autoMinFreeBytes = 64 << 20
	autoMinFreeShare = 20 // 1/20 = 5%
	// budgetBytes bounds the appends one statfs admits: at 2 GB/s of
	// appends that is ~120 statfs calls a second, of ~5 µs each
	// (BenchmarkLogDirAdmit: 14 ns an append at 16 KiB, 290 ns at 1 MiB).
	budgetBytes = 16 << 20
	// fullRecheck is how often refused appends may call statfs.
	fullRecheck = 100 * time.Millisecond
	// fullLogEvery rate-limits the "refusing appends" log line.
	fullLogEvery = 30 * time.Second
	// reserveBytes is the reserve file's size: a topics.json of ~15,000
	// topics.
	reserveBytes = 1 << 20
	reserveFile  = "disk-reserve"
)

// logDir guards appends to one data dir; see the Behavior comment.
type logDir struct {
	path    string
	logf    func(format string, args ...any)
	minFree int64 // effective floor, resolved at open

	// budget is how many bytes appends may take before the next statfs;
	// negative while the dir is full.
	budget  atomic.Int64
	refused atomic.Int64

	mu struct {
		sync.Mutex
		free, total int64
		full        bool
		// blockedAt is the free space when an append was last refused for
		// lack of room (or met ENOSPC, then cause says so): the dir stays
		// full until free grows past it by unblockSlack, so a dir just above
		// the floor does not flap between full and ok (a log line each way)
		// as small metadata writes come and go.
		blockedAt int64
		cause     error
		statErr   error
		checked   time.Time // last statfs
		logged    time.Time // last "refusing appends" line
		reserved  bool      // the reserve file is in place
	}
}

// openLogDir reads the filesystem, resolves minFree (-1: automatic) and puts
// the reserve file in place if there is room.
func openLogDir(path string, minFree int64, logf func(string, ...any)) (*logDir, error) {
	_, total, err := statfs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if minFree < 0 {
		minFree = min(autoMinFreeBytes, total/autoMinFreeShare)
	}
	d := &logDir{path: path, logf: logf, minFree: minFree}
	d.mu.blockedAt = -1
	d.mu.reserved = fileExists(filepath.Join(path, reserveFile))
	d.refresh()
	return d, nil
}

func statfs(path string) (free, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	// Bavail, not Bfree: the broker must not count on blocks reserved for root.
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// admit takes n bytes of an append to topic-partition from the budget, or
// returns an error wrapping ErrDiskFull. The fast path is one atomic add.
func (d *logDir) admit(n int, topic string, partition int32) error {
	if d.budget.Add(-int64(n)) >= 0 {
		return nil
	}
	return d.admitSlow(int64(n), topic, partition)
}

// admitSlow runs when the budget is spent: statfs again (while full, at
// most every fullRecheck) and grant a new budget, or refuse.
func (d *logDir) admitSlow(n int64, topic string, partition int32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	who := fmt.Sprintf("appends to %s-%d", topic, partition)
	if !d.mu.full || now.Sub(d.mu.checked) >= fullRecheck {
		d.refreshLocked(now, who)
	}
	if headroom := d.mu.free - d.minFree; !d.mu.full && d.mu.statErr == nil && n <= headroom {
		d.budget.Store(min(headroom-n, budgetBytes))
		return nil
	}
	d.refused.Add(1)
	if d.mu.statErr == nil {
		d.blockLocked(now, d.mu.free, nil, who)
	}
	if now.Sub(d.mu.logged) >= fullLogEvery {
		d.mu.logged = now
		d.logf("engine: still refusing appends (%d so far, the latest to %s-%d): %s", d.refused.Load(), topic, partition, d.whyLocked())
	}
	return d.fullErrLocked(fmt.Sprintf("produce to %s-%d", topic, partition))
}

// whyLocked says why the dir is full.
func (d *logDir) whyLocked() string {
	if d.mu.cause != nil {
		return fmt.Sprintf("log dir %s has %d bytes free: %v", d.path, d.mu.free, d.mu.cause)
	}
	return fmt.Sprintf("log dir %s has %d bytes free, log.dir.min.free.bytes is %d", d.path, d.mu.free, d.minFree)
}

// fullErrLocked says why what was refused, wrapping ErrDiskFull (and the
// ENOSPC behind it, if any).
func (d *logDir) fullErrLocked(what string) error {
	if d.mu.statErr != nil {
		return fmt.Errorf("%w: %s: %w", ErrStorage, what, d.mu.statErr)
	}
	if d.mu.cause != nil {
		return fmt.Errorf("%w: %s: log dir %s has %d bytes free: %w", ErrDiskFull, what, d.path, d.mu.free, d.mu.cause)
	}
	return fmt.Errorf("%w: %s: %s", ErrDiskFull, what, d.whyLocked())
}

// refresh reads statfs now; the background check calls it.
func (d *logDir) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshLocked(time.Now(), "appends")
}

// refreshLocked reads statfs and sets the state and the budget, and puts
// the reserve back once there is room for it. who names the appends that
// would be refused, for the log line.
func (d *logDir) refreshLocked(now time.Time, who string) {
	free, total, err := statfs(d.path)
	d.mu.checked, d.mu.statErr = now, err
	if err != nil {
		d.budget.Store(-1) // the next append asks again
		return
	}
	d.mu.free, d.mu.total = free, total
	if d.mu.blockedAt >= 0 && free > d.mu.blockedAt+d.unblockSlack() {
		d.mu.blockedAt, d.mu.cause = -1, nil
	}
	headroom := free - d.minFree
	if headroom <= 0 || d.mu.blockedAt >= 0 {
		d.blockLocked(now, free, d.mu.cause, who)
		return
	}
	if d.mu.full {
		d.mu.full = false
		d.logf("engine: log dir %s has space again: %d bytes free; accepting appends (%d refused in all)", d.path, free, d.refused.Load())
	}
	if !d.mu.reserved && headroom > 2*reserveBytes && d.ensureReserveLocked() {
		headroom -= reserveBytes
	}
	d.budget.Store(min(headroom, budgetBytes))
}

// unblockSlack is how much free space must grow past blockedAt: a
// sixteenth of the floor, at least 64 KiB and at most 1 MiB.
func (d *logDir) unblockSlack() int64 { return min(max(d.minFree/16, 64<<10), 1<<20) }

// blockLocked makes the dir full until free space grows past free (and
// unblockSlack); cause is the ENOSPC that said so, or nil for the floor.
// When the dir was not full yet it logs which appends (who) it refuses.
func (d *logDir) blockLocked(now time.Time, free int64, cause error, who string) {
	d.mu.blockedAt, d.mu.cause = free, cause
	d.budget.Store(-1)
	if d.mu.full {
		return
	}
	d.mu.full, d.mu.logged = true, now
	d.logf("engine: refusing %s until space returns: %s", who, d.whyLocked())
}

// markFull records cause, an ENOSPC met by an append the budget had
// admitted (another process filled the disk, or the floor is 0).
func (d *logDir) markFull(cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refused.Add(1)
	now := time.Now()
	free, _, err := statfs(d.path)
	if err != nil {
		free = d.mu.free
	}
	d.mu.free, d.mu.checked = free, now
	d.blockLocked(now, free, cause, "appends") // cause names the partition
}

// fullErr returns an error wrapping ErrDiskFull while the dir is full, for
// what, an operation that would take space (creating a topic).
func (d *logDir) fullErr(what string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := time.Now(); now.Sub(d.mu.checked) >= fullRecheck {
		d.refreshLocked(now, "appends")
	}
	if d.mu.full || d.mu.statErr != nil {
		return d.fullErrLocked(what)
	}
	return nil
}

// ensureReserveLocked allocates the reserve file and reports whether it
// did; on any error it leaves none (a later refresh tries again).
func (d *logDir) ensureReserveLocked() bool {
	path := filepath.Join(d.path, reserveFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return false
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, reserveBytes)
	if errors.Is(err, unix.EOPNOTSUPP) {
		_, err = f.Write(make([]byte, reserveBytes))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false
	}
	d.mu.reserved = true
	return true
}

// releaseReserve deletes the reserve file and reports whether there was
// one to release: its space is free for the caller's next write.
func (d *logDir) releaseReserve() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.mu.reserved {
		return false
	}
	d.mu.reserved = false
	if err := os.Remove(filepath.Join(d.path, reserveFile)); err != nil {
		return false
	}
	d.logf("engine: log dir %s is full: released the %d-byte reserve to rewrite %s", d.path, reserveBytes, metaFile)
	return true
}

// info returns the dir's state; failed is the first error of a failed
// partition log, if any.
func (d *logDir) info(failed error) LogDirInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := LogDirInfo{Dir: d.path, FreeBytes: d.mu.free, TotalBytes: d.mu.total,
		MinFreeBytes: d.minFree, AppendsRefused: d.refused.Load()}
	switch {
	case failed != nil:
		in.State, in.Err = LogDirFailed, failed
	case d.mu.statErr != nil:
		in.State, in.Err = LogDirFailed, d.mu.statErr
	case d.mu.full:
		in.State, in.Err = LogDirFull, d.fullErrLocked("appends refused")
	}
	return in
}

// LogDirs returns the state of each log dir (one: DataDir). A dir is
// failed when any partition's log in it has failed.
func (e *Engine) LogDirs() []LogDirInfo {
	var failed error
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			if err := p.log.Err(); err != nil {
				failed = fmt.Errorf("%w: %s-%d: %w", ErrStorage, p.topic, p.id, err)
				break
			}
		}
	}
	return []LogDirInfo{e.logDir.info(failed)}
}

// PartitionSize returns the bytes of batches topic-partition's log holds
// on this broker, led or followed here (DescribeLogDirs). Errors:
// ErrUnknownTopicOrPartition (also for a partition not hosted here),
// ErrShuttingDown.
func (e *Engine) PartitionSize(topic string, partition int32) (int64, error) {
	if err := e.enter(); err != nil {
		return -1, err
	}
	defer e.leave()
	t := (*e.topics.Load())[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.partitions) || t.partitions[partition] == nil {
		return -1, fmt.Errorf("%w: %s-%d is not hosted on broker %d", ErrUnknownTopicOrPartition, topic, partition, e.cfg.BrokerID)
	}
	return t.partitions[partition].log.Size(), nil
}
