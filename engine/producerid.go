package engine

// Behavior: InitProducerID hands out producer ids for idempotent producers.
// Ids must never repeat, across restarts too: a repeated id would make a new
// producer's batches look like duplicates of an old one's and be dropped.
// The allocator persists the end of the block of ids it may hand out in
// <DataDir>/producer_id_block (fsynced, replaced atomically), and takes a
// new block of 1,000 when one is used up, so a crash wastes at most the rest
// of a block and costs one fsync per 1,000 producers.
//
// A random 63-bit id was rejected: it needs no file, but by the birthday
// bound a busy cluster handing out a billion ids over its life has a ~5%
// chance of one collision, and a collision silently drops records. Blocks
// carry over to a cluster as Kafka's KIP-730 does: with
// Config.AllocateProducerIDs set, the controller hands out the blocks
// instead of this file (one call per block used up; the file is then not
// written).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// producerIDFile holds the first id not yet allocated to any broker run,
// as decimal text and a newline.
const producerIDFile = "producer_id_block"

// producerIDBlockSize is how many ids one persisted block covers.
const producerIDBlockSize = 1000

// producerIDs allocates producer ids from persisted blocks.
type producerIDs struct {
	path string
	// fileEnd is the block end the file held at open: the data dir handed
	// out every id below it (LocalProducerIDEnd).
	fileEnd int64
	// fromController, when set, supplies the blocks instead of the file
	// (Config.AllocateProducerIDs).
	fromController func() (first int64, count int32, err error)
	mu             struct {
		sync.Mutex
		next, end int64 // ids [next, end) may be handed out without a write
	}
}

// openProducerIDs reads the persisted block end; a missing file starts at 0.
// The ids below the persisted end are never handed out again: the previous
// run may have used any of them.
func openProducerIDs(dataDir string, fromController func() (int64, int32, error)) (*producerIDs, error) {
	a := &producerIDs{path: filepath.Join(dataDir, producerIDFile), fromController: fromController}
	data, err := os.ReadFile(a.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("%w: read %s: %w", ErrStorage, a.path, err)
	}
	end, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || end < 0 {
		return nil, fmt.Errorf("%w: %s holds %q, want a non-negative id", ErrStorage, a.path, data)
	}
	a.mu.next, a.mu.end, a.fileEnd = end, end, end
	return a, nil
}

// allocate returns a fresh id, persisting a new block first when the
// current one is used up.
func (a *producerIDs) allocate() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.next == a.mu.end && a.fromController != nil {
		first, count, err := a.fromController()
		if err != nil {
			// Retriable, as Kafka's answer while its block request is out.
			return -1, fmt.Errorf("%w: producer id block from the controller: %w", ErrCoordinatorNotAvailable, err)
		}
		if first < 0 || count < 1 || first > maxInt64-int64(count) {
			return -1, fmt.Errorf("%w: the controller's producer id block [%d, +%d) is not a block of ids", ErrCoordinatorNotAvailable, first, count)
		}
		a.mu.next, a.mu.end = first, first+int64(count)
	}
	if a.mu.next == a.mu.end {
		end := a.mu.end + producerIDBlockSize
		if err := writeFileAtomic(a.path, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return -1, fmt.Errorf("%w: persist producer id block ending at %d: %w", ErrStorage, end, err)
		}
		a.mu.end = end
	}
	id := a.mu.next
	a.mu.next++
	return id, nil
}

// LocalProducerIDEnd is the end of the producer ids this data dir handed
// out from its own producer_id_block file, before the controller gave the
// blocks: ids below it may be in its logs' producer state, so a cluster
// that adopts the data dir must not hand them out again. 0 when the file
// never existed.
func (e *Engine) LocalProducerIDEnd() int64 { return e.producerIDs.fileEnd }

// InitProducerID returns a new producer id and its epoch (always 0: a
// producer without a transactional id never resumes an old id). Errors:
// ErrStorage when the next id block cannot be persisted,
// ErrCoordinatorNotAvailable when AllocateProducerIDs fails (retriable),
// ErrShuttingDown.
func (e *Engine) InitProducerID() (id int64, epoch int16, err error) {
	if err := e.enter(); err != nil {
		return -1, -1, err
	}
	defer e.leave()
	id, err = e.producerIDs.allocate()
	if err != nil {
		return -1, -1, err
	}
	return id, 0, nil
}
