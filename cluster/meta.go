package cluster

// Behavior: <data dir>/meta.properties (Kafka's file of the same name)
// records which broker and which cluster a data dir belongs to:
//
//	# spate: the identity of this data dir; do not edit
//	version=1
//	broker.id=1
//	cluster.id=yH3hQ8bhS-qJ4Ck9kVxMXw
//
// It is written when a node first starts on an empty dir (without
// cluster.id) and again once the node learns the cluster id from the
// metadata. A node started with another broker.id, or that learns that its
// cluster's id is not the recorded one, refuses the dir (ErrDataDir). The
// file is replaced atomically: written to a .tmp, fsync'ed, renamed, and the
// directory fsync'ed.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	metaFileName = "meta.properties"
	metaVersion  = 1
)

// dirMeta is the content of meta.properties.
type dirMeta struct {
	brokerID  int32
	clusterID ID16 // zero until known
}

// readMeta reads dir's meta.properties; ok is false when there is none.
func readMeta(dir string) (m dirMeta, ok bool, err error) {
	path := filepath.Join(dir, metaFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	m, err = parseMeta(data)
	if err != nil {
		return m, false, fmt.Errorf("%w: %s: %w", ErrDataDir, path, err)
	}
	return m, true, nil
}

func parseMeta(data []byte) (dirMeta, error) {
	var m dirMeta
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return m, fmt.Errorf("%w: line %q is not key=value", ErrCorrupt, line)
		}
		keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if keys["version"] != strconv.Itoa(metaVersion) {
		return m, fmt.Errorf("%w: version %q, this build reads %d", ErrCorrupt, keys["version"], metaVersion)
	}
	id, err := strconv.ParseInt(keys["broker.id"], 10, 32)
	if err != nil || id < 0 {
		return m, fmt.Errorf("%w: broker.id %q", ErrCorrupt, keys["broker.id"])
	}
	m.brokerID = int32(id)
	if s, ok := keys["cluster.id"]; ok {
		if m.clusterID, err = ParseID16(s); err != nil {
			return m, fmt.Errorf("%w: cluster.id: %w", ErrCorrupt, err)
		}
	}
	return m, nil
}

func (m dirMeta) format() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# spate: the identity of this data dir; do not edit\nversion=%d\nbroker.id=%d\n", metaVersion, m.brokerID)
	if !m.clusterID.IsZero() {
		fmt.Fprintf(&b, "cluster.id=%s\n", m.clusterID)
	}
	return []byte(b.String())
}

// writeMeta replaces dir's meta.properties with m, durably.
func writeMeta(dir string, m dirMeta) error {
	path := filepath.Join(dir, metaFileName)
	tmp := path + ".tmp"
	if err := writeSynced(tmp, m.format()); err != nil {
		return fmt.Errorf("%w: write %s: %w", ErrDataDir, tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%w: fsync %s: %w", ErrDataDir, dir, err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkBroker refuses a data dir recorded for another broker id.
func (m dirMeta) checkBroker(dir string, brokerID int32) error {
	if m.brokerID != brokerID {
		return fmt.Errorf("%w: %s belongs to broker.id %d (its %s), this broker is broker.id %d; give each broker its own data dir",
			ErrDataDir, dir, m.brokerID, metaFileName, brokerID)
	}
	return nil
}

// checkCluster refuses a data dir recorded for another cluster.
func (m dirMeta) checkCluster(dir string, clusterID ID16) error {
	if !m.clusterID.IsZero() && m.clusterID != clusterID {
		return fmt.Errorf("%w: %s belongs to cluster %s (its %s), but the metadata is cluster %s's; a data dir belongs to one cluster",
			ErrDataDir, dir, m.clusterID, metaFileName, clusterID)
	}
	return nil
}
