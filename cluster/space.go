package cluster

// Behavior: the metadata log keeps room of its own. A broker must write
// raft entries to restart (register, unfence), to delete a topic and to
// shut down in a controlled way, also on a disk that another process
// filled to the last block; and hashicorp/raft panics when it cannot
// persist a new term. So before bolt maps raft.db, the file is extended
// with written zeros to logHeadroom bytes past the pages bolt uses. Bolt
// takes new pages inside its file before it grows it, and overwriting
// blocks already written needs no new space, so those writes succeed on a
// full disk. On a disk too full for the headroom, what fits is kept and
// the node starts anyway: the engine refuses appends below
// log.dir.min.free.bytes, which leaves metadata writes their room.

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// logHeadroom is the written room kept past raft.db's used pages: some
// hundreds of metadata entries (a register, an unfence or a delete takes
// a few 4 KiB pages; a 1,000-partition create some tens).
const logHeadroom = 4 << 20

// reserveLogSpace makes the bolt file at path (created if missing) hold at
// least logHeadroom written bytes past the pages it uses. It returns how
// many bytes it added.
func reserveLogSpace(path string) (int64, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("cluster: open %s: %w", path, err)
	}
	var used int64
	db.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil })
	if err := db.Close(); err != nil {
		return 0, fmt.Errorf("cluster: close %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("cluster: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("cluster: stat %s: %w", path, err)
	}
	zeros := make([]byte, 1<<20)
	at := st.Size()
	for at < used+logHeadroom {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), used+logHeadroom-at)], at)
		at += int64(n)
		if errors.Is(err, unix.ENOSPC) {
			break // what fits is kept: see the Behavior comment
		}
		if err != nil {
			return at - st.Size(), fmt.Errorf("cluster: reserve room in %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return at - st.Size(), fmt.Errorf("cluster: reserve room in %s: fsync: %w", path, err)
	}
	return at - st.Size(), nil
}
