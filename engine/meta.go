package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/spate-io/spate/segment"
)

// metaFile lists the topics in DataDir; see doc.go for how it is replaced.
const metaFile = "topics.json"

// metaVersion is bumped on any incompatible change of the file's shape.
// Version 2 adds a topic's cluster id and hosted partitions; a file without
// cluster topics is still written as version 1, byte for byte as before, so
// a single broker's data dir stays readable by older builds, while an older
// build refuses a cluster broker's file instead of opening every partition.
const (
	metaVersion        = 1
	metaVersionCluster = 2
)

type metaTopic struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"` // overrides only
	// ID is the cluster's topic id (cluster mode), unpadded base64url as
	// Kafka prints a Uuid; absent for a single broker's topic.
	ID string `json:"id,omitempty"`
	// Hosted lists, for a topic with an ID, the partitions this broker
	// hosts, ascending (absent: none). Without an ID every partition is.
	Hosted []int32 `json:"hosted,omitempty"`
}

// metaOf is t as topics.json records it.
func metaOf(t *topic) metaTopic {
	mt := metaTopic{Name: t.name, Partitions: int32(len(t.partitions)), Configs: t.settings.Load().overrides}
	if t.id != ([16]byte{}) {
		mt.ID = base64.RawURLEncoding.EncodeToString(t.id[:])
		for p := range t.hosted() {
			mt.Hosted = append(mt.Hosted, p.id)
		}
	}
	return mt
}

// sameMeta reports whether a and b are recorded alike.
func sameMeta(a, b metaTopic) bool {
	return a.Name == b.Name && a.Partitions == b.Partitions && maps.Equal(a.Configs, b.Configs) &&
		a.ID == b.ID && slices.Equal(a.Hosted, b.Hosted)
}

type metaDoc struct {
	Version int         `json:"version"`
	Topics  []metaTopic `json:"topics"`
}

// persist writes topics as the new topics.json durably: a temp file that is
// fsynced, renamed over the old one, and the directory fsynced so the rename
// itself survives a power loss. Callers hold admin. freeing says the change
// deletes a topic: on a full disk it may use the log dir's reserve, since
// deleting is how an operator makes room.
func (e *Engine) persist(topics map[string]*topic, freeing bool) error {
	doc := metaDoc{Version: metaVersion, Topics: make([]metaTopic, 0, len(topics))}
	for _, t := range topics {
		mt := metaOf(t)
		if mt.ID != "" {
			doc.Version = metaVersionCluster
		}
		doc.Topics = append(doc.Topics, mt)
	}
	sort.Slice(doc.Topics, func(i, j int) bool { return doc.Topics[i].Name < doc.Topics[j].Name })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode %s: %w", ErrStorage, metaFile, err)
	}
	path := filepath.Join(e.cfg.DataDir, metaFile)
	data = append(data, '\n')
	err = writeFileAtomic(path, data)
	if freeing && segment.IsDiskFull(err) && e.logDir.releaseReserve() {
		err = writeFileAtomic(path, data)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", storageSentinel(err), err)
	}
	return nil
}

// storageSentinel is the sentinel for a storage error: ErrDiskFull for a
// full filesystem, ErrStorage for anything else.
func storageSentinel(err error) error {
	if segment.IsDiskFull(err) {
		return ErrDiskFull
	}
	return ErrStorage
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// load opens every topic in topics.json (none if the file is missing) and
// removes orphan partition directories.
func (e *Engine) load() error {
	path := filepath.Join(e.cfg.DataDir, metaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return e.removeOrphans(nil)
	}
	if err != nil {
		return fmt.Errorf("%w: read %s: %w", ErrStorage, path, err)
	}
	stored, err := e.decodeMeta(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	topics := make(map[string]*topic, len(stored))
	e.topics.Store(&topics) // so a failure below closes what was opened
	for _, st := range stored {
		t, err := e.openTopic(st.meta.Name, st.meta.Partitions, st.cfg, st.meta.Configs, st.hosted)
		if err != nil {
			return err
		}
		t.id = st.id
		topics[t.name] = t
	}
	return e.removeOrphans(topics)
}

// storedTopic is one checked topic of topics.json.
type storedTopic struct {
	meta   metaTopic
	cfg    TopicConfig
	id     [16]byte
	hosted []int32 // nil: every partition
}

// decodeMeta parses and checks topics.json; it opens nothing. Every error
// wraps ErrStorage (FuzzDecodeMeta).
func (e *Engine) decodeMeta(data []byte) ([]storedTopic, error) {
	var doc metaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrStorage, err)
	}
	if doc.Version != metaVersion && doc.Version != metaVersionCluster {
		return nil, fmt.Errorf("%w: version %d, this build reads %d and %d", ErrStorage, doc.Version, metaVersion, metaVersionCluster)
	}
	out := make([]storedTopic, 0, len(doc.Topics))
	seen := make(map[string]bool, len(doc.Topics))
	for _, mt := range doc.Topics {
		if seen[mt.Name] {
			return nil, fmt.Errorf("%w: topic %q is listed twice", ErrStorage, mt.Name)
		}
		seen[mt.Name] = true
		st, err := e.checkStoredTopic(mt)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// checkStoredTopic checks one topic of topics.json.
func (e *Engine) checkStoredTopic(mt metaTopic) (storedTopic, error) {
	st := storedTopic{meta: mt}
	if err := ValidateTopicName(mt.Name); err != nil {
		return st, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if mt.Partitions < 1 || mt.Partitions > MaxPartitionsPerTopic {
		return st, fmt.Errorf("%w: topic %q has %d partitions", ErrStorage, mt.Name, mt.Partitions)
	}
	var err error
	if st.cfg, err = applyOverrides(e.cfg.Topic, mt.Configs); err != nil {
		return st, fmt.Errorf("%w: topic %q: %w", ErrStorage, mt.Name, err)
	}
	if mt.ID == "" {
		if mt.Hosted != nil {
			return st, fmt.Errorf("%w: topic %q lists hosted partitions but no topic id", ErrStorage, mt.Name)
		}
		return st, nil
	}
	if !e.cfg.Clustered {
		// Serving a cluster's replica as the sole leader would hand out
		// offsets the cluster's leader hands out too.
		return st, fmt.Errorf("%w: topic %q was hosted for a cluster (id %s); open the data dir in cluster mode", ErrStorage, mt.Name, mt.ID)
	}
	if st.id, err = decodeTopicID(mt.ID); err != nil {
		return st, fmt.Errorf("%w: topic %q: %w", ErrStorage, mt.Name, err)
	}
	st.hosted = make([]int32, 0, len(mt.Hosted))
	for i, p := range mt.Hosted {
		if p < 0 || p >= mt.Partitions || (i > 0 && p <= mt.Hosted[i-1]) {
			return st, fmt.Errorf("%w: topic %q: hosted partitions %v: want ascending ids below %d", ErrStorage, mt.Name, mt.Hosted, mt.Partitions)
		}
		st.hosted = append(st.hosted, p)
	}
	return st, nil
}

// decodeTopicID reads a topic id as metaTopic.ID records it.
func decodeTopicID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) || [16]byte(b) == id {
		return id, fmt.Errorf("topic id %q: want 16 non-zero bytes in unpadded base64url", s)
	}
	return [16]byte(b), nil
}
