package replication

import (
	"fmt"
	"strings"
)

// record is one record of the in-memory log: the leader epoch it was
// written under and a value unique in the test, so two logs compare by
// content.
type record struct {
	epoch int32
	value int
}

// memLog is the log model the scenario tests replicate: records with their
// epochs, the epoch checkpoint kept by segment's rules, and how much of it
// was flushed (what survives a power loss).
type memLog struct {
	records []record
	epochs  Epochs
	flushed int64
}

func (m *memLog) end() int64 { return int64(len(m.records)) }

// assign follows segment.EpochCache.Assign: the latest epoch again is a
// no-op, an older epoch or an earlier start is an error, a later epoch at
// the latest start replaces it.
func (m *memLog) assign(e EpochStart) error {
	if n := len(m.epochs); n > 0 {
		last := m.epochs[n-1]
		switch {
		case e.Epoch == last.Epoch:
			return nil
		case e.Epoch < last.Epoch:
			return fmt.Errorf("epoch %d is older than the latest %d", e.Epoch, last.Epoch)
		case e.StartOffset < last.StartOffset:
			return fmt.Errorf("epoch %d starts at %d, before epoch %d's start %d", e.Epoch, e.StartOffset, last.Epoch, last.StartOffset)
		case e.StartOffset == last.StartOffset:
			m.epochs = m.epochs[:n-1]
		}
	}
	m.epochs = append(m.epochs, e)
	return nil
}

// appendRecords appends verbatim, as a follower does, assigning each new
// epoch at its first offset.
func (m *memLog) appendRecords(rs []record) error {
	for _, r := range rs {
		if err := m.assign(EpochStart{Epoch: r.epoch, StartOffset: m.end()}); err != nil {
			return fmt.Errorf("append at %d: %w", m.end(), err)
		}
		m.records = append(m.records, r)
	}
	return nil
}

// truncate drops records and checkpoint entries at or after to.
func (m *memLog) truncate(to int64) {
	if to < m.end() {
		m.records = m.records[:to]
	}
	for len(m.epochs) > 0 && m.epochs[len(m.epochs)-1].StartOffset >= to {
		m.epochs = m.epochs[:len(m.epochs)-1]
	}
	m.flushed = min(m.flushed, m.end())
}

func (m *memLog) flush() { m.flushed = m.end() }

// powerLoss cuts the log back to what was flushed.
func (m *memLog) powerLoss() { m.truncate(m.flushed) }

// commonPrefix returns how many first records m and o share.
func (m *memLog) commonPrefix(o *memLog) int64 {
	n := min(m.end(), o.end())
	for i := range n {
		if m.records[i] != o.records[i] {
			return i
		}
	}
	return n
}

func (m *memLog) equal(o *memLog) bool { return m.end() == o.end() && m.commonPrefix(o) == m.end() }

// String shows the log as runs of one epoch: "0-9@e0 10-12@e1".
func (m *memLog) String() string {
	var b strings.Builder
	for i := 0; i < len(m.records); {
		j := i
		for j+1 < len(m.records) && m.records[j+1].epoch == m.records[i].epoch {
			j++
		}
		fmt.Fprintf(&b, " %d-%d@e%d", i, j, m.records[i].epoch)
		i = j + 1
	}
	if b.Len() == 0 {
		return "empty"
	}
	return b.String()[1:]
}

func (es Epochs) String() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%d@%d", e.Epoch, e.StartOffset)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
