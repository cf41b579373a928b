package cluster

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// fsm is the raft.FSM: raft calls Apply, Snapshot and Restore from one
// goroutine; readers load the current image with no lock.
type fsm struct {
	current atomic.Pointer[Image]
	// publishMu orders publishers (raft's FSM goroutine and Node.fail) so
	// each image's changed channel is closed exactly once.
	publishMu sync.Mutex
	// applied counts entries applied since the last Restore, so tests can
	// check how much of the log a restart replayed.
	applied atomic.Int64
}

func newFSM() *fsm {
	f := &fsm{}
	f.current.Store(emptyImage())
	return f
}

func (f *fsm) image() *Image { return f.current.Load() }

// publish makes next the current image and wakes whoever waits on the one
// it replaces.
func (f *fsm) publish(next *Image) {
	f.publishMu.Lock()
	defer f.publishMu.Unlock()
	close(f.current.Swap(next).changed)
}

// republish publishes a copy of the current image, waking its waiters.
func (f *fsm) republish() {
	f.publishMu.Lock()
	defer f.publishMu.Unlock()
	cur := f.current.Load()
	f.current.Store(cur.at(cur.offset))
	close(cur.changed)
}

// Apply applies one raft log entry. Only command entries reach it (raft
// handles its configuration entries itself). It returns nil or the error
// the entry was refused with; a refused or undecodable entry changes
// nothing but the offset, the same way on every node, since every node
// reads the same bytes.
func (f *fsm) Apply(l *raft.Log) any {
	cur := f.image()
	offset := int64(l.Index)
	recs, err := DecodeEntry(l.Data)
	next := cur.at(offset)
	if err == nil {
		next, err = cur.next(offset, recs)
	}
	f.publish(next)
	f.applied.Add(1)
	if err != nil {
		return fmt.Errorf("metadata offset %d: %w", offset, err)
	}
	return nil
}

// Snapshot captures the current image; raft persists it from another
// goroutine while Apply goes on, which is safe because images are
// immutable.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return imageSnapshot{f.image()}, nil }

// Restore replaces the state with a snapshot written by Persist.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("cluster: read metadata snapshot: %w", err)
	}
	img, err := decodeImage(data)
	if err != nil {
		return err
	}
	f.publish(img)
	f.applied.Store(0)
	return nil
}

type imageSnapshot struct{ img *Image }

func (s imageSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(appendImage(nil, s.img)); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: write metadata snapshot at offset %d: %w", s.img.offset, err)
	}
	return sink.Close()
}

func (imageSnapshot) Release() {}
