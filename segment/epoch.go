package segment

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// EpochCache is the leader-epoch checkpoint (Kafka KIP-101): for each leader
// epoch, the first offset written under it. A follower asks the leader for
// EndOffsetFor(its latest epoch) and truncates to the answer. Every change is
// persisted before the method returns, atomically (temp file, fsync, rename,
// fsync of the directory).
//
// Invariant: epochs and start offsets both strictly increase.
type EpochCache struct {
	dir string
	leo *atomic.Int64 // the log end offset, read without the Log's lock

	mu      sync.Mutex
	entries []EpochEntry
}

// EpochEntry is one line of the checkpoint.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// The file is Kafka's text format: a version line ("0"), a count line, then
// one "epoch startOffset" line per entry.
const epochFileVersion = 0

func loadEpochCache(dir string, leo *atomic.Int64) (*EpochCache, error) {
	c := &EpochCache{dir: dir, leo: leo}
	path := filepath.Join(dir, epochFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("segment: read %s: %w", path, err)
	}
	if c.entries, err = parseEpochFile(data); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	// Entries past the log end belong to data the recovery cut.
	if err := c.truncateFromEnd(leo.Load() + 1); err != nil {
		return nil, err
	}
	return c, nil
}

func parseEpochFile(data []byte) ([]EpochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := line()
	if !ok || v != strconv.Itoa(epochFileVersion) {
		return nil, fmt.Errorf("bad version line %q", v)
	}
	cs, _ := line()
	n, err := strconv.Atoi(cs)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad count line %q", cs)
	}
	entries := make([]EpochEntry, 0, min(n, 1024))
	for i := range n {
		s, _ := line()
		var e EpochEntry
		if _, err := fmt.Sscanf(s, "%d %d", &e.Epoch, &e.StartOffset); err != nil {
			return nil, fmt.Errorf("entry %d %q: %w", i, s, err)
		}
		if len(entries) > 0 {
			if p := entries[len(entries)-1]; e.Epoch <= p.Epoch || e.StartOffset <= p.StartOffset {
				return nil, fmt.Errorf("entry %d (%d %d) does not follow (%d %d)", i, e.Epoch, e.StartOffset, p.Epoch, p.StartOffset)
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func (c *EpochCache) persistLocked() error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", epochFileVersion, len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return writeFileAtomic(c.dir, epochFile, b.Bytes())
}

// Assign records that epoch starts at startOffset. Re-assigning the latest
// epoch is a no-op; an epoch older than the latest, or a start offset below
// the latest entry's, is an error. A later epoch at the same start offset
// replaces the latest entry (that leader wrote nothing).
func (c *EpochCache) Assign(epoch int32, startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		switch {
		case epoch == last.Epoch:
			return nil
		case epoch < last.Epoch:
			return fmt.Errorf("segment: leader epoch %d is older than the latest %d in %s", epoch, last.Epoch, c.dir)
		case startOffset < last.StartOffset:
			return fmt.Errorf("segment: leader epoch %d starts at %d, before epoch %d's start %d in %s", epoch, startOffset, last.Epoch, last.StartOffset, c.dir)
		case startOffset == last.StartOffset:
			c.entries = c.entries[:n-1]
		}
	}
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return c.persistLocked()
}

// Latest returns the newest epoch and its start offset, or (-1, -1).
func (c *EpochCache) Latest() (epoch int32, startOffset int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return -1, -1
	}
	e := c.entries[len(c.entries)-1]
	return e.Epoch, e.StartOffset
}

// EndOffsetFor answers OffsetsForLeaderEpoch: the largest epoch <= epoch this
// log knows and the offset where it ended (the next epoch's start, or the log
// end offset for the latest epoch). It returns (-1, -1) when epoch is older
// than every entry.
func (c *EpochCache) EndOffsetFor(epoch int32) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.entries) - 1; i >= 0; i-- {
		if c.entries[i].Epoch <= epoch {
			if i == len(c.entries)-1 {
				return c.entries[i].Epoch, c.leo.Load()
			}
			return c.entries[i].Epoch, c.entries[i+1].StartOffset
		}
	}
	return -1, -1
}

// Entries returns a copy of the checkpoint's entries.
func (c *EpochCache) Entries() []EpochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]EpochEntry(nil), c.entries...)
}

// truncateFromEnd drops entries starting at or after offset (log truncation).
func (c *EpochCache) truncateFromEnd(offset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= offset {
		n--
	}
	if n == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:n]
	return c.persistLocked()
}

// clear drops every entry (the log was emptied to start elsewhere).
func (c *EpochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	return c.persistLocked()
}

// truncateFromStart drops entries wholly below offset (the new log start) and
// moves the start of the epoch that covers offset up to it.
func (c *EpochCache) truncateFromStart(offset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].StartOffset <= offset {
		i++
	}
	if len(c.entries) == 0 || (i == 0 && c.entries[0].StartOffset >= offset) {
		return nil
	}
	c.entries = c.entries[i:]
	c.entries[0].StartOffset = max(c.entries[0].StartOffset, offset)
	return c.persistLocked()
}
