package engine

// Behavior: committed offsets expire (Kafka's offsets.retention.minutes,
// KIP-211). A group that uses membership keeps its offsets while it has
// members; once it has been Empty for OffsetsRetention, all its offsets
// and its metadata are deleted with tombstones and the group is gone. A
// group that only ever had standalone commits (no protocol type) loses
// each offset OffsetsRetention after its commit. Memory follows once the
// tombstones are written, and only for what was not committed or rewritten
// meanwhile, so memory and a reload agree.

import "time"

// expireOffsets writes tombstones for every expired offset (and the
// metadata of every group that expires whole) as of now.
func (c *groupCore) expireOffsets(now time.Time, o *outbox) {
	horizon := now.Add(-c.cfg.OffsetsRetention)
	for id, g := range c.groups {
		if g.state != GroupEmpty || len(g.pending) > 0 {
			continue
		}
		whole := g.protocolType != "" && !g.emptySince.IsZero() && !g.emptySince.After(horizon)
		expired := map[TopicPartition]int64{} // partition -> log offset of the commit that expires
		var recs []offsetsRecord
		for tp, v := range g.offsets {
			if whole || (g.protocolType == "" && !time.UnixMilli(v.commitTimestamp).After(horizon)) {
				expired[tp] = v.logOffset
				recs = append(recs, offsetsRecord{key: offsetKey(id, tp)})
			}
		}
		dropMeta := g.hasMetadata && (whole || g.protocolType == "" && len(expired) == len(g.offsets))
		if dropMeta {
			recs = append(recs, offsetsRecord{key: groupKey(id)})
		}
		if len(recs) == 0 {
			continue
		}
		metaWrites := g.metaWrites
		o.writes = append(o.writes, groupWrite{group: id, records: recs, then: func(o *outbox, _ int64, err error) {
			cur := c.groups[id]
			if err != nil || cur != g {
				return // the next check tries again; a deleted group is gone anyway
			}
			for tp, logOffset := range expired {
				if v, ok := g.offsets[tp]; ok && v.logOffset == logOffset {
					delete(g.offsets, tp)
				}
			}
			if dropMeta && g.metaWrites == metaWrites {
				g.hasMetadata = false
			}
			if g.forgettable() {
				delete(c.groups, id)
			}
		}})
	}
}
