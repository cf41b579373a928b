package cluster

// Behavior: before raft starts on an existing metadata dir (and before its
// transport accepts a connection), two things it recorded are checked.
//
// Its cluster id, from the newest snapshot or else the InitCluster record
// in the log, must be meta.properties' (which learns it here if it missed
// it: the node may have stopped between applying InitCluster and writing
// the file). The handshake then names this cluster from the first
// connection on, so a dir of another cluster cannot join this one.
//
// The voters it
// recorded (the latest configuration in its log, else in its newest
// snapshot) must be the configured ones: the first MaxVoters of
// controller.quorum.voters, or this broker alone when none are configured.
// A data dir from another cluster (or a one-voter dir given to a member of
// a quorum) is refused here with ErrDataDir, before raft could elect
// itself, vote, or have its log overwritten. A one-voter broker is
// compared by id alone, since it may listen on a new port each start; a
// quorum by id and address, since raft dials the recorded addresses: a dir
// of broker 3 of cluster X started with cluster Y's voters would otherwise
// rejoin X through its recorded addresses while configured as Y's. This package has
// no way to change the voters of a running quorum, so a mismatch is never a
// legitimate reconfiguration.

import (
	"fmt"
	"io"
	"slices"

	"github.com/hashicorp/raft"
)

// checkStored runs both checks.
func (n *Node) checkStored(logs raft.LogStore, snaps raft.SnapshotStore) error {
	if err := n.checkStoredVoters(logs, snaps); err != nil {
		return err
	}
	id, err := storedClusterID(logs, snaps)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDataDir, n.dir, err)
	}
	if id.IsZero() {
		return nil
	}
	return n.recordClusterID(id)
}

// storedClusterID returns the cluster id recorded in the newest snapshot,
// else in the log's InitCluster record, else zero.
func storedClusterID(logs raft.LogStore, snaps raft.SnapshotStore) (ID16, error) {
	metas, err := snaps.List()
	if err != nil {
		return ID16{}, fmt.Errorf("list metadata snapshots: %w", err)
	}
	if len(metas) > 0 {
		_, rc, err := snaps.Open(metas[0].ID)
		if err != nil {
			return ID16{}, fmt.Errorf("open metadata snapshot %s: %w", metas[0].ID, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return ID16{}, fmt.Errorf("read metadata snapshot %s: %w", metas[0].ID, err)
		}
		img, err := decodeImage(data)
		if err != nil {
			return ID16{}, fmt.Errorf("metadata snapshot %s: %w", metas[0].ID, err)
		}
		if !img.ClusterID().IsZero() {
			return img.ClusterID(), nil
		}
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return ID16{}, fmt.Errorf("metadata log: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return ID16{}, fmt.Errorf("metadata log: %w", err)
	}
	// InitCluster is among the first entries of a cluster's log: the
	// forward scan ends early.
	for i := max(first, 1); i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return ID16{}, fmt.Errorf("metadata log entry %d: %w", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		recs, err := DecodeEntry(l.Data)
		if err != nil {
			continue // apply skips it the same way
		}
		for _, rec := range recs {
			if r, ok := rec.(InitCluster); ok {
				return r.ClusterID, nil
			}
		}
	}
	return ID16{}, nil
}

// checkStoredVoters refuses a metadata dir whose recorded voters differ
// from the configured ones.
func (n *Node) checkStoredVoters(logs raft.LogStore, snaps raft.SnapshotStore) error {
	stored, found, err := storedConfiguration(logs, snaps)
	if err != nil || !found {
		return err
	}
	quorum := len(n.cfg.Voters) > 0
	var have, want []string
	for _, s := range stored.Servers {
		if s.Suffrage == raft.Voter {
			id, err := parseServerID(s.ID)
			if err != nil {
				return fmt.Errorf("%w: %s records raft server id %q: %w", ErrDataDir, n.dir, s.ID, err)
			}
			have = append(have, voterKey(id, string(s.Address), quorum))
		}
	}
	for _, v := range n.cfg.Voters[:min(len(n.cfg.Voters), MaxVoters)] {
		want = append(want, voterKey(v.ID, v.Addr, quorum))
	}
	if !quorum {
		want = []string{voterKey(n.cfg.BrokerID, "", false)}
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return fmt.Errorf("%w: %s holds the metadata of a quorum whose voters are %v, but controller.quorum.voters makes the voters %v (%q): it is another cluster's data dir, or the voters changed, which is not supported",
			ErrDataDir, n.dir, have, want, FormatVoters(n.cfg.Voters))
	}
	return nil
}

// voterKey names a voter for checkStoredVoters: "id@addr" in a quorum,
// "id" for a one-voter broker.
func voterKey(id int32, addr string, withAddr bool) string {
	if withAddr {
		return fmt.Sprintf("%d@%s", id, addr)
	}
	return fmt.Sprint(id)
}

// storedConfiguration returns the latest raft configuration in the log, or
// in the newest snapshot if the log holds none after it.
func storedConfiguration(logs raft.LogStore, snaps raft.SnapshotStore) (c raft.Configuration, found bool, err error) {
	metas, err := snaps.List()
	if err != nil {
		return c, false, fmt.Errorf("cluster: list metadata snapshots: %w", err)
	}
	var snapIndex uint64
	if len(metas) > 0 {
		c, found, snapIndex = metas[0].Configuration, true, metas[0].Index
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return c, false, fmt.Errorf("cluster: metadata log: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return c, false, fmt.Errorf("cluster: metadata log: %w", err)
	}
	for i := last; i >= max(first, snapIndex+1) && i > 0; i-- {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return c, false, fmt.Errorf("cluster: metadata log entry %d: %w", i, err)
		}
		if l.Type == raft.LogConfiguration {
			c, err := decodeConfiguration(l.Data)
			return c, err == nil, err
		}
	}
	return c, found, nil
}

// decodeConfiguration is raft.DecodeConfiguration, which panics on bad
// bytes, with the panic turned into an error.
func decodeConfiguration(b []byte) (c raft.Configuration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: raft configuration entry: %v", ErrCorrupt, r)
		}
	}()
	return raft.DecodeConfiguration(b), nil
}
