package engine

// Behavior: rebuilding the coordinator's state from __consumer_offsets.
// Every partition is read from its log start to its high watermark, record
// by record, and the latest record of each key wins; a tombstone (null
// value) deletes its key. A group whose latest metadata record has members
// is loaded Stable with fresh session deadlines (its members keep their
// ids and assignments and just go on heartbeating); one without members is
// Empty; a group with only offsets is Empty with no protocol type. A record
// whose key version this build does not know is skipped and counted
// (GroupCoordinator.SkippedOnLoad); any other malformed record fails the
// load, since it would mean a lost or misread commit.

import (
	"errors"
	"fmt"
	"time"

	"github.com/spate-io/spate/record"
)

// loadGroups reads the given partitions of the offsets topic into c.
func (c *groupCore) loadGroups(parts []*partition, now time.Time) error {
	c.advance(now)
	for _, p := range parts {
		if err := c.loadPartition(p); err != nil {
			return err
		}
	}
	for id, g := range c.groups {
		switch {
		case len(g.members) > 0:
			g.state = GroupStable
			for _, m := range g.members {
				m.deadline = c.now.Add(m.sessionTimeout)
			}
		case !g.hasMetadata && len(g.offsets) == 0:
			delete(c.groups, id)
		}
	}
	return nil
}

func (c *groupCore) loadPartition(p *partition) error {
	var it record.Iter
	// To the log end, as Kafka's coordinator loads: a new leader's high
	// watermark may lag what the previous leader committed until its
	// followers fetch (replica.go), and its log is the one that stays.
	end := p.log.LogEndOffset()
	for off := p.log.LogStartOffset(); off < end; {
		r, err := p.log.Read(off, 1<<20, end)
		if err != nil {
			return p.storageErr("load groups from", off, err)
		}
		if r.Len() == 0 {
			r.Release()
			break
		}
		data := r.Bytes()
		for len(data) > 0 {
			b, err := record.Parse(data)
			if err != nil {
				r.Release()
				return fmt.Errorf("%w: load groups from %s-%d: batch at offset %d: %w", ErrStorage, p.topic, p.id, off, err)
			}
			if err := c.loadBatch(b, &it); err != nil {
				r.Release()
				return fmt.Errorf("%w: load groups from %s-%d: %w", ErrStorage, p.topic, p.id, err)
			}
			data = data[b.Size():]
		}
		off = r.NextOffset()
		r.Release()
	}
	return nil
}

func (c *groupCore) loadBatch(b record.Batch, it *record.Iter) error {
	if b.IsControl() {
		return nil
	}
	if err := it.Reset(b); err != nil {
		return fmt.Errorf("batch at offset %d: %w", b.BaseOffset(), err)
	}
	for it.Next() {
		rec := it.Record()
		if err := c.loadRecord(rec.Offset, rec.Key, rec.Value); err != nil {
			return fmt.Errorf("record at offset %d: %w", rec.Offset, err)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("batch at offset %d: %w", b.BaseOffset(), err)
	}
	return nil
}

// loadRecord applies one record; key and value alias the log.
func (c *groupCore) loadRecord(logOffset int64, key, value []byte) error {
	k, err := parseKey(key)
	if errors.Is(err, errUnknownKeyVersion) {
		c.skipped++
		return nil
	}
	if err != nil {
		return err
	}
	g := c.groups[k.group]
	if k.version == groupKeyVersion {
		if value == nil {
			if g != nil {
				offsets := g.offsets
				*g = *newGroup(k.group)
				g.offsets = offsets
			}
			return nil
		}
		ng, err := parseGroupValue(k.group, value)
		if err != nil {
			return fmt.Errorf("group %q: %w", k.group, err)
		}
		if g != nil {
			ng.offsets = g.offsets
		}
		c.groups[k.group] = ng
		return nil
	}
	if value == nil {
		if g != nil {
			delete(g.offsets, k.tp)
		}
		return nil
	}
	v, err := parseOffsetValue(value)
	if err != nil {
		return fmt.Errorf("offset of group %q %s-%d: %w", k.group, k.tp.Topic, k.tp.Partition, err)
	}
	if g == nil {
		g = newGroup(k.group)
		c.groups[k.group] = g
	}
	v.logOffset = logOffset
	g.applyOffset(k.tp, v)
	return nil
}
