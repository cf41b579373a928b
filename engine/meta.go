package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spate-io/spate/segment"
)

// metaFile lists the topics in DataDir; see doc.go for how it is replaced.
const metaFile = "topics.json"

// metaVersion is bumped on any incompatible change of the file's shape.
const metaVersion = 1

type metaTopic struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"` // overrides only
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
		doc.Topics = append(doc.Topics, metaTopic{Name: t.name, Partitions: int32(len(t.partitions)), Configs: t.settings.Load().overrides})
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
	var doc metaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrStorage, path, err)
	}
	if doc.Version != metaVersion {
		return fmt.Errorf("%w: %s has version %d, this build reads %d", ErrStorage, path, doc.Version, metaVersion)
	}
	topics := make(map[string]*topic, len(doc.Topics))
	e.topics.Store(&topics) // so a failure below closes what was opened
	for _, mt := range doc.Topics {
		if err := ValidateTopicName(mt.Name); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrStorage, path, err)
		}
		if mt.Partitions < 1 || mt.Partitions > MaxPartitionsPerTopic {
			return fmt.Errorf("%w: %s: topic %q has %d partitions", ErrStorage, path, mt.Name, mt.Partitions)
		}
		cfg, err := applyOverrides(e.cfg.Topic, mt.Configs)
		if err != nil {
			return fmt.Errorf("%w: %s: topic %q: %w", ErrStorage, path, mt.Name, err)
		}
		t, err := e.openTopic(mt.Name, mt.Partitions, cfg, mt.Configs)
		if err != nil {
			return err
		}
		topics[mt.Name] = t
	}
	return e.removeOrphans(topics)
}
