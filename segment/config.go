package segment

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// FlushPolicy says when appended bytes are forced to stable storage with
// fdatasync(2). doc.go says exactly which failures each policy survives.
type FlushPolicy int

const (
	// FlushNever leaves write-back to the kernel; Spate syncs only on Flush,
	// on Close and in the background after a segment roll.
	FlushNever FlushPolicy = iota
	// FlushInterval syncs every Config.FlushInterval.
	FlushInterval
	// FlushAlways syncs before Append returns. One fdatasync covers every
	// append pending when it starts (group commit).
	FlushAlways
)

// String returns the policy's config name.
func (p FlushPolicy) String() string {
	switch p {
	case FlushNever:
		return "never"
	case FlushInterval:
		return "interval"
	case FlushAlways:
		return "always"
	}
	return "unknown"
}

// ParseFlushPolicy parses the names String returns: never, interval, always.
func ParseFlushPolicy(name string) (FlushPolicy, error) {
	for _, p := range []FlushPolicy{FlushNever, FlushInterval, FlushAlways} {
		if name == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("flush policy %q is not never, interval or always", name)
}

// Config tunes one Log. Zero fields are not replaced by defaults: start from
// DefaultConfig and change what you need.
type Config struct {
	// SegmentBytes: roll when the active segment would exceed this many bytes.
	// A single batch larger than this gets a segment of its own.
	SegmentBytes int64
	// SegmentAge: roll when the active segment's first batch is older than
	// this; 0 = never.
	SegmentAge time.Duration
	// IndexIntervalBytes: bytes of log between two sparse index entries. Smaller
	// means bigger indexes and shorter forward scans on Read.
	IndexIntervalBytes int
	// MaxIndexBytes: size each .index/.timeindex is preallocated to; a segment
	// rolls when either is full.
	MaxIndexBytes int
	// Flush: when appends are fdatasync'd.
	Flush FlushPolicy
	// FlushInterval: the period of FlushInterval.
	FlushInterval time.Duration
	// RetentionBytes: ApplyRetention deletes the oldest segments while the log
	// would stay at or above this size without them; -1 = unlimited.
	RetentionBytes int64
	// RetentionAge: ApplyRetention deletes segments whose newest batch is older
	// than this; 0 or negative = unlimited.
	RetentionAge time.Duration
	// DirectWriteBytes: appends of at least this many bytes are written with
	// O_DIRECT, past the page cache (directWriter says why), unless the
	// active segment was read within the last 10 s (tailReadWindow);
	// 0 = never. On a filesystem without O_DIRECT every append goes through
	// the page cache.
	DirectWriteBytes int
	// WritePolicy, when set, decides append by append whether batches of
	// at least its threshold go direct (DirectWriteBytes must then equal
	// its threshold, so the active segment has a direct writer); nil: every
	// batch of DirectWriteBytes or more goes direct.
	WritePolicy *WritePolicy
	// BeforeWrite, when set, runs before each append's write, under the
	// log's lock: a test hook that makes a disk slow or fails it. nil
	// outside tests.
	BeforeWrite func()
}

// DefaultConfig returns Kafka's defaults for the same settings.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,            // Kafka log.segment.bytes
		SegmentAge:         7 * 24 * time.Hour, // Kafka log.roll.hours = 168
		IndexIntervalBytes: 4096,               // Kafka log.index.interval.bytes
		MaxIndexBytes:      10 << 20,           // Kafka log.index.size.max.bytes
		Flush:              FlushNever,         // Kafka relies on replication, not fsync
		FlushInterval:      time.Second,        // only used by FlushInterval
		RetentionBytes:     -1,                 // Kafka log.retention.bytes
		RetentionAge:       7 * 24 * time.Hour, // Kafka log.retention.hours = 168
		DirectWriteBytes:   directWriteDefault,
	}
}

func (c Config) check() error {
	switch {
	case c.SegmentBytes <= 0 || c.SegmentBytes > maxSegmentBytes:
		return errors.New("segment: SegmentBytes must be in (0, 2 GiB)")
	case c.IndexIntervalBytes <= 0:
		return errors.New("segment: IndexIntervalBytes must be positive")
	case c.MaxIndexBytes < 4*timeEntrySize:
		return errors.New("segment: MaxIndexBytes must hold at least 4 entries")
	case c.Flush < FlushNever || c.Flush > FlushAlways:
		return errors.New("segment: unknown FlushPolicy")
	case c.DirectWriteBytes < 0:
		return errors.New("segment: DirectWriteBytes must not be negative")
	case c.Flush == FlushInterval && c.FlushInterval <= 0:
		return errors.New("segment: FlushInterval must be positive with the interval policy")
	}
	return nil
}

// directWriteDefault sends batches of 64 KiB and more past the page cache.
// perf/bench.md §8 has the measurements behind it.
const directWriteDefault = 64 << 10

// maxSegmentBytes keeps every position inside a segment representable by the
// uint32 position field of an index entry (and below the int32 range Kafka uses).
const maxSegmentBytes = 1<<31 - 1

// Errors. Test with errors.Is; returned errors wrap these with the offset or
// file that failed.
var (
	// ErrOffsetOutOfRange: Read, TruncateTo or DeleteRecordsBefore got an
	// offset below LogStartOffset or above LogEndOffset.
	ErrOffsetOutOfRange = errors.New("segment: offset out of range")
	// ErrClosed: the log was closed (or deleted); every call after Close returns it.
	ErrClosed = errors.New("segment: log closed")
	// ErrCorrupt: on-disk state that recovery cannot repair (a corrupt
	// leader-epoch checkpoint) or that changed under a running log. A log that
	// returned ErrCorrupt or an I/O error refuses every later call.
	ErrCorrupt = errors.New("segment: corrupt")
	// ErrOffsetMismatch: AppendVerbatim got a batch whose base offset is not
	// the log end offset.
	ErrOffsetMismatch = errors.New("segment: batch base offset is not the log end offset")
	// ErrDiskFull: an append (or the roll before it) found no space on the
	// filesystem (ENOSPC, or EDQUOT for a quota). Unlike other I/O errors it
	// does not fail the log: the append left nothing behind, everything
	// stored stays readable, and a later append succeeds once space returns.
	ErrDiskFull = errors.New("segment: no space left on the log's filesystem")
)

// IsDiskFull reports whether err says the filesystem has no space left:
// ErrDiskFull, or an ENOSPC or EDQUOT from a system call.
func IsDiskFull(err error) bool {
	return errors.Is(err, ErrDiskFull) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
