// Package segment stores one partition's log on disk: segment files, sparse
// offset and time indexes, roll, retention, truncation, crash recovery, the
// flush policy with group commit, and the leader-epoch checkpoint. It knows
// nothing of networks or topics; a Log is one directory.
//
// # Files
//
// A log directory holds, for each segment, three files named by the segment's
// base offset (the offset of its first record) as 20 zero-padded decimal
// digits, so that names sort in offset order:
//
//	00000000000000000000.log        batches, back to back
//	00000000000000000000.index      sparse offset index
//	00000000000000000000.timeindex  sparse time index
//	00000000000000368769.log        the next segment starts at offset 368769
//	...
//
// and once per log:
//
//	recovery-point           offset below which everything was fdatasync'd
//	log-start-offset         log start moved by DeleteRecordsBefore
//	leader-epoch-checkpoint  leader epochs and their start offsets
//	clean-shutdown           empty; present only between Close and the next Open
//	cleaner-offset-checkpoint  offsets below it were compacted (same format as recovery-point)
//
// Files ending in .tmp are half-written replacements; Open deletes them, and
// index files whose .log is missing. The compaction files below are handled
// by Open before anything else.
//
// # .log
//
// Kafka RecordBatch v2 batches (see package record) with no extra framing:
// batch i+1 starts right after batch i and its base offset is batch i's
// LastOffset()+1. A segment holds at most 2 GiB - 1 bytes, so positions fit
// the index's uint32. Appends are one pwrite of the caller's bytes: the
// benchmark in perf/segment.md measured pwrite 4.5-5.4x faster than copying
// into a preallocated shared mapping for 256 KiB and 1 MiB batches (every new
// page of the mapping takes a write fault), a tie at 16 KiB and 3.5x slower at
// 1 KiB; batches are large where throughput matters, so mmap writes were
// deleted. Batches of Config.DirectWriteBytes and more are written with
// O_DIRECT instead (directWriter in direct.go): the active segment's file
// then ends on a page boundary, with up to a page of zeros after the last
// batch, which seal and Close cut and recovery treats as a torn tail (or,
// after a sealed segment's last batch, as padding).
//
// # .index (offset index)
//
// One entry per IndexIntervalBytes of log (the first batch, at position 0,
// is never indexed: a lookup with no entry starts at 0):
//
//	bytes  field            type              meaning
//	0-3    relative offset  uint32 big endian batch base offset - segment base offset
//	4-7    position         uint32 big endian byte position of that batch in the .log
//
// # .timeindex (time index)
//
// Written at the same moments as offset entries, when the segment's largest
// timestamp grew since the last entry, and once more when the segment is
// sealed (roll or close) so its largest timestamp survives a reopen:
//
//	bytes  field            type              meaning
//	0-7    timestamp        int64 big endian  largest MaxTimestamp so far in the segment (ms)
//	8-11   relative offset  uint32 big endian base offset of the batch carrying it - segment base
//
// Timestamps <= 0 are never indexed. Every batch before an entry's batch has
// a MaxTimestamp <= the entry's timestamp, which is what OffsetForTimestamp
// relies on.
//
// Both indexes of the active segment are preallocated to MaxIndexBytes (a
// full index forces a roll) and trimmed to their entries on roll and close.
// Lookups go through a read-only mmap; entries are written with pwrite, since
// a write fault on a fresh page of the mapping blocked for milliseconds on
// ext4. The number of valid entries is not stored: it is the longest prefix
// whose relative offsets and positions (timestamps, for the time index)
// strictly increase and whose positions lie inside the .log, so the zeros of
// the preallocated tail end it.
//
// # recovery-point and log-start-offset
//
//	bytes  field   type
//	0-7    offset  int64 big endian
//	8-11   CRC-32C of bytes 0-7, uint32 big endian
//
// A missing or damaged file counts as absent: recovery point 0 (validate
// everything), log start = first segment's base.
//
// # leader-epoch-checkpoint
//
// Kafka's text format: a line "0" (version), a line with the entry count,
// then one "epoch startOffset" line per entry, epochs and start offsets both
// strictly increasing. A checkpoint that does not parse makes Open fail with
// ErrCorrupt: it cannot be rebuilt from the log.
//
// # Checksums
//
// A batch's CRC-32C (Castagnoli) covers its bytes from attributes to the end
// (record package). It does not cover baseOffset, batchLength,
// partitionLeaderEpoch or magic: recovery checks those by framing (length
// covers at least a header and fits the file, magic is 2) and by offset
// continuity (each base offset equals the previous batch's next offset, the
// first equals the segment's base). Index files carry no checksum: they are
// checked structurally and against the batch headers they point at, and
// rebuilt when in doubt. The offset files carry a CRC-32C. Every file that is
// replaced (offset files, the epoch checkpoint, a truncated segment that
// readers still use) is written to a .tmp file, fsynced, renamed, and the
// directory fsynced.
//
// # Flush policies: what survives what
//
// An Append that returned without error has its bytes in the kernel's page
// cache, or, for a batch written with O_DIRECT (Config.DirectWriteBytes), in
// the device. Under every policy that survives a crash of the process (kill -9, a
// panic, an OOM kill): the page cache outlives the process, and recovery
// finds the batches and keeps them. What survives a power loss, a kernel
// crash or a hard VM stop depends on the policy:
//
//	FlushNever     Only what the kernel wrote back on its own (normally data
//	               older than about 30 s, vm.dirty_expire_centisecs), what a
//	               Flush or Close covered, and sealed segments, which the log
//	               fdatasyncs 30 s after each roll. Recent acknowledged
//	               appends can be lost: durability comes from replication.
//	FlushInterval  Everything appended before the start of the last completed
//	               periodic fdatasync: at most FlushInterval (plus one
//	               fdatasync) of acknowledged appends can be lost.
//	FlushAlways    Every batch whose Append returned (or whose WhenFlushed
//	               callback fired with nil): Append waits for an fdatasync that
//	               covers it. Nothing acknowledged is lost, provided the disk
//	               honours cache flushes.
//
// In all cases FlushedOffset() is exact: every offset below it survived.
// After a power loss the unsynced tail may hold zeros or a torn batch;
// recovery cuts the log at the first batch that fails its checks, dropping
// any later (unacknowledged under FlushAlways) batches with it.
//
// # Group commit
//
// One syncer goroutine per log runs every fdatasync. A round covers every
// append made before it started; appends that arrive during the fdatasync
// wait for the next round, so N concurrent FlushAlways appenders cost far
// fewer than N fdatasyncs (TestGroupCommit measures it). AppendNoWait plus
// WhenFlushed gives the same durability without blocking the caller.
//
// # Recovery
//
// Open trusts the indexes after a clean shutdown, checking only that the
// active segment ends on a batch boundary and that each segment's first and
// last index entries point at the batches they claim. After an unclean stop
// it validates every batch (framing, CRC, offset continuity) of the segments
// from the one holding the recovery point to the end, rebuilding their
// indexes; earlier segments get the cheap index check and, if it fails, are
// validated too. At the first bad batch the file is truncated and every later
// segment deleted. Everything recovered is fdatasync'd before Open returns.
//
// # Power-loss journal (tests only)
//
// With SPATE_TEST_POWER_LOSS_JOURNAL=1 in the environment
// (PowerLossJournalEnv), every fdatasync of a .log also writes the length
// it covered to <base>.log.synced (20 decimal digits). A fault test kills
// the broker and calls CutToSynced, which cuts each .log to that length
// (to empty without a sidecar): what a power loss leaves under the flush
// policy in force. Recovery ignores the sidecars. Unset, the journal costs
// one branch per fdatasync.
//
// # A full disk
//
// A full filesystem (ENOSPC, or EDQUOT) is not a failure of the log, unlike
// every other I/O error, after which the log refuses all calls. An append
// that meets it returns an error wrapping ErrDiskFull and is taken back
// whole: the segment file is cut to where the batch began (cutting needs no
// space), the index entries it added are forgotten and the log end offset
// never moved, so no reader saw it. A roll creates the new segment before it
// seals the old one, and sealing writes its only new bytes (the last time
// index entry) first, so a roll that finds no space leaves the old segment
// active and is tried again by the next append. The recovery-point file is
// the one piece of metadata a full disk may leave stale, at Open and after a
// roll's sync: a stale recovery point only makes recovery validate more.
// Close on a full disk succeeds too, since every batch is durable by then;
// if it cannot write the clean-shutdown marker, the next Open recovers as
// after a crash. Recovery that finds no room for the index entries it
// rebuilds keeps the indexes sparser (a lookup scans further from the last
// entry) rather than fail, so a log on a full disk always opens; the one
// loss is a sealed segment's final time entry, which makes its largest
// timestamp read lower after a later clean open. DeleteRecordsBefore
// deletes whole segments before it persists the new log start, so a full
// disk gets their space first. Everything stored stays
// readable, and appends succeed again as soon as
// space returns, with no reopen.
//
// # Compaction
//
// Log.Compact rewrites sealed segments (never the active one) keeping the
// latest record per key. Batches keep their base offset and lastOffsetDelta;
// recordCount drops to the records kept, so stored batches are checked with
// record.Batch.ValidateStored. A batch left with no record is replaced by an
// empty batch (recordCount 0) covering its offsets, merged with neighbouring
// ones, so batches still tile the offsets and recovery's continuity check
// holds. A tombstone's batch gets a delete horizon (attribute bit 6,
// baseTimestamp = first clean + delete retention) and loses its tombstones on
// a pass after that time; once the earliest pending horizon has passed, a
// pass runs whatever the dirty ratio (KIP-534; this is remembered in memory
// only, so after a restart the next dirty pass removes them).
//
// A pass cleans the sealed segments holding mapped offsets in groups of
// adjacent ones, each into one file named after the group's first base
// offset B (Kafka's LogCleaner.groupSegmentsBySize). A group grows while the
// segments' current sizes sum to at most SegmentBytes, its offsets span at
// most 2^31-1 (relative offsets of the indexes), the indexes rebuilt over
// that many bytes fit MaxIndexBytes, and it has fewer than 64 segments (the
// swap deletes the others' files under the log's lock). A group is swapped
// in when a record went or a delete horizon was stamped, or when it holds
// more than one segment; a lone segment with nothing removed is left alone.
// So segments a pass emptied are merged by the next pass, and a compacted log
// that keeps being written holds about one segment for what was cleaned plus
// the ones rolled since the last pass, not one per SegmentBytes ever written.
// Runs of emptied batches are merged across the group's old segment
// boundaries, so a Read at an offset that used to start a segment may now
// get an empty batch that starts before it (as a Read inside a segment
// already could after a later pass merged emptied batches); readers skip
// records below the offset they asked for, as Kafka clients do. Cleaning
// group B = B1..Bk (segment B1 = B, each Bi+1 the next offset after Bi)
// writes, next to B's files:
//
//  1. <B>.cleaned.log, fsynced; then <B>.cleaned.index and .timeindex are
//     built from it (every batch validated), fsynced and renamed to
//     <B>.swap.index and <B>.swap.timeindex; directory fsynced.
//  2. Under the log's lock, if B1..Bk are still adjacent sealed segments of
//     the log: rename <B>.cleaned.log to <B>.swap.log (the commit point). If
//     k > 1: fsync the directory, then delete the files of B2..Bk (.log,
//     .index, .timeindex). Then fsync the directory, rename both index .swap
//     files over B's indexes, fsync the directory, rename <B>.swap.log over
//     <B>.log, and fsync the directory once the lock is released. The new
//     segment replaces B1..Bk in the list and ends where Bk ended.
//
// Open first finishes every committed copy: for a <B>.swap.log it reads the
// batch headers to find the copy's end offset E (the batches tile [B, E),
// the copy was validated and fsynced before the commit), deletes the files of
// every segment with a base offset in (B, E), then, after a directory fsync,
// renames the index .swap files that are still there and, after another, the
// log. Then it deletes every other file with ".cleaned." or ".swap." in its
// name. What a crash leaves:
//
//	before the commit      B1..Bk untouched; the cleaner files are deleted
//	after the commit       <B>.swap.log plus any part of B2..Bk: Open
//	                       deletes the rest of B2..Bk and finishes the swap
//	during Open's finish   the same states again; every step repeats safely
//	after the log rename   the new B; B2..Bk's deletion was made durable
//	                       by the directory fsync before that rename
//
// So Open ends with either all of B1..Bk or the cleaned copy, never a gap or
// an overlap: no merged segment is deleted before the commit is durable, and
// while <B>.swap.log exists every index .swap file belongs to it, because
// the log is renamed last and only after the index renames are durable. A
// <B>.swap.log whose batch headers do not chain from B makes Open fail with
// ErrCorrupt, since the segments it replaced may already be gone. Readers
// holding a FileRange of an old segment (B's, or a merged one's whose files
// were deleted) keep its unlinked file until Release.
// The cleaner-offset-checkpoint file records where the next pass's dirty
// section starts; a lost or stale one only costs a redundant pass.
//
// # Concurrency
//
// A Log is safe for concurrent use. One RWMutex per log guards the segment
// list: appends, rolls, truncation and retention take it exclusively, Read
// and OffsetForTimestamp share it. fdatasync runs without the lock. Lock
// order: Log.cleaner, then Log.mu, then EpochCache.mu. A FileRange holds a reference on its
// segment, so its file descriptor (if it has one) and read-only mapping stay
// valid after retention or truncation removes the segment; truncation under
// a live range writes the kept prefix to a new file instead of shrinking the
// mapped one. The active segment's mapping is reserved at SegmentBytes, so
// appends never remap under a reader.
//
// # File descriptors
//
// A log holds one descriptor while nothing writes direct: the active .log
// (indexes are written by open, pwrite and close, a page of entries at a
// time; see index); the first direct append adds the O_DIRECT .log (see
// directWriter). Sealed segments hold none once no FileRange or sync
// round holds them (Log.releaseSealedLocked, at each roll and sync round):
// they are read through their mappings, and FileRange.File is nil for them.
package segment
