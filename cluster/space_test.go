package cluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReserveLogSpace: the metadata log's file keeps logHeadroom written
// bytes past its used pages, once: a second call adds nothing, and bolt
// opens the extended file and keeps what it held.
func TestReserveLogSpace(t *testing.T) {
	dir := t.TempDir()
	n := startLone(t, dir, 1)
	if _, err := n.CreateTopic("t", 3, 1, nil); err == nil {
		t.Fatal("created a topic with no broker registered")
	}
	registerUnfenced(t, n, 1, ID16{1}, "127.0.0.1:1000")
	if _, err := n.CreateTopic("t", 3, 1, nil); err != nil {
		t.Fatal(err)
	}
	last := n.Image().Offset()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "metadata", "raft.db")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < logHeadroom {
		t.Fatalf("raft.db is %d bytes, want at least the %d of headroom", st.Size(), logHeadroom)
	}
	// Blocks written, not a sparse hole: overwriting them needs no space.
	if blocks := st.Sys().(*syscall.Stat_t).Blocks; blocks*512 < logHeadroom {
		t.Fatalf("raft.db holds %d bytes of blocks, want at least %d written", blocks*512, logHeadroom)
	}
	if added, err := reserveLogSpace(path); err != nil || added != 0 {
		t.Fatalf("reserving again added %d bytes, %v; want 0", added, err)
	}
	n = startLone(t, dir, 1)
	if tp := waitOffset(t, n, last).Topic("t"); tp == nil || len(tp.Partitions) != 3 {
		t.Fatalf("topic t after reopening the extended raft.db: %+v", tp)
	}
}
