package engine

// Behavior: the high-watermark checkpoint (Kafka's
// replication-offset-checkpoint). In cluster mode the high watermark of
// every replicated partition lives in its ISR core, in memory; a restarted
// broker used to start each core at 0, so a partition it led again showed
// consumers nothing until every ISR member had fetched at the new epoch.
// Now the engine writes every replicated partition's high watermark to
// <data dir>/replication-offset-checkpoint every hwCheckpointInterval (on
// the engine's own ticker goroutine, never a network event loop; only when
// a high watermark moved) and at a clean Close, and reads it back when it
// opens: a partition's first core after the restart starts from it, capped
// at its log end as any kept high watermark is.
//
// Why it is safe: a checkpointed high watermark was committed (every ISR
// member held the records below it when it was computed), so serving up
// to it again exposes nothing that could be lost; a log that recovery cut
// shorter caps it. A stale file (a crash since the last write) only makes
// the restored value lower than it was, never higher.
//
// File layout (text, Kafka's):
//
//	0                    version
//	<n>                  entry count
//	<topic> <partition> <high watermark>     n lines, in topic and partition order
//
// written to a temp file, fsynced and renamed over the old one. A file that
// does not parse is ignored with a log line: it only speeds a restart up.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hwCheckpointFile is the checkpoint's name in the data dir.
const hwCheckpointFile = "replication-offset-checkpoint"

// hwCheckpointInterval is Kafka's replica.high.watermark.checkpoint.interval.ms
// default: how much committed progress a crash can make a restart forget.
const hwCheckpointInterval = 5 * time.Second

// hwCheckpoint is the engine's checkpoint state.
type hwCheckpoint struct {
	// restored is what the file held at open, by "topic-partition"; read
	// only after New.
	restored map[string]int64
	mu       struct {
		sync.Mutex
		last []byte // the file's content as last written or read
	}
}

func hwKey(topic string, partition int32) string { return partitionDir(topic, partition) }

// hwEntry is one line of the checkpoint.
type hwEntry struct {
	topic         string
	partition     int32
	highWatermark int64
}

// appendHWCheckpoint appends the checkpoint file holding entries (already
// in order) to dst.
func appendHWCheckpoint(dst []byte, entries []hwEntry) []byte {
	dst = fmt.Appendf(dst, "0\n%d\n", len(entries))
	for _, e := range entries {
		dst = fmt.Appendf(dst, "%s %d %d\n", e.topic, e.partition, e.highWatermark)
	}
	return dst
}

// parseHWCheckpoint parses a checkpoint file. Anything but version 0, a
// count that does not match the lines, a malformed line, an invalid topic
// name, a negative partition or high watermark, or a repeated partition is
// an error naming the line (FuzzParseHWCheckpoint).
func parseHWCheckpoint(data []byte) (map[string]int64, error) {
	lines := strings.Split(string(data), "\n")
	if len(lines) < 3 || lines[len(lines)-1] != "" {
		return nil, errors.New("not a whole checkpoint (no version and count lines, or no final newline)")
	}
	lines = lines[:len(lines)-1]
	if lines[0] != "0" {
		return nil, fmt.Errorf("version %q, this build reads 0", lines[0])
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("count %q for %d entries", lines[1], len(lines)-2)
	}
	out := make(map[string]int64, n)
	for i, l := range lines[2:] {
		f := strings.Split(l, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: %q is not \"topic partition offset\"", i+3, l)
		}
		p, perr := strconv.ParseInt(f[1], 10, 32)
		hw, herr := strconv.ParseInt(f[2], 10, 64)
		switch {
		case ValidateTopicName(f[0]) != nil:
			return nil, fmt.Errorf("line %d: invalid topic name %q", i+3, f[0])
		case perr != nil || p < 0 || herr != nil || hw < 0:
			return nil, fmt.Errorf("line %d: bad partition or offset in %q", i+3, l)
		}
		key := hwKey(f[0], int32(p))
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: %s twice", i+3, key)
		}
		out[key] = hw
	}
	return out, nil
}

// loadHWCheckpoint reads the checkpoint at open (cluster mode). A missing
// file is an empty one; one that does not parse is logged and ignored.
func (e *Engine) loadHWCheckpoint() {
	path := filepath.Join(e.cfg.DataDir, hwCheckpointFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		e.hwCkpt.restored, err = parseHWCheckpoint(data)
	}
	if err != nil {
		e.cfg.Logf("spate: %s ignored (high watermarks start from 0 until the followers fetch): %v", path, err)
		e.hwCkpt.restored = nil
		return
	}
	e.hwCkpt.mu.last = data
}

// restoredHW is the checkpointed high watermark of a partition, -1 if none.
func (e *Engine) restoredHW(topic string, partition int32) int64 {
	if hw, ok := e.hwCkpt.restored[hwKey(topic, partition)]; ok {
		return hw
	}
	return -1
}

// WriteHWCheckpoint writes every replicated partition's high watermark to
// the checkpoint, unless the file already holds exactly that. The engine
// calls it every hwCheckpointInterval and at Close; it is exported for
// tests. Errors: ErrStorage, ErrDiskFull (the previous file stays).
func (e *Engine) WriteHWCheckpoint() error {
	var entries []hwEntry
	for _, t := range *e.topics.Load() {
		for p := range t.hosted() {
			if hw := p.repl.hw.Load(); hw >= 0 && !p.closed.Load() {
				entries = append(entries, hwEntry{p.topic, p.id, hw})
			}
		}
	}
	slices.SortFunc(entries, func(a, b hwEntry) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	data := appendHWCheckpoint(nil, entries)
	e.hwCkpt.mu.Lock()
	defer e.hwCkpt.mu.Unlock()
	if bytes.Equal(data, e.hwCkpt.mu.last) {
		return nil
	}
	path := filepath.Join(e.cfg.DataDir, hwCheckpointFile)
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("%w: high-watermark checkpoint %s: %w", storageSentinel(err), path, err)
	}
	e.hwCkpt.mu.last = data
	return nil
}
