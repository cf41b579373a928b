package engine

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHWCheckpointRoundTrip(t *testing.T) {
	entries := []hwEntry{{"a", 0, 0}, {"a", 12, 1 << 40}, {"b.c_d-e", 3, 7}}
	data := appendHWCheckpoint(nil, entries)
	if want := "0\n3\na 0 0\na 12 1099511627776\nb.c_d-e 3 7\n"; string(data) != want {
		t.Fatalf("file %q, want %q", data, want)
	}
	got, err := parseHWCheckpoint(data)
	want := map[string]int64{"a-0": 0, "a-12": 1 << 40, "b.c_d-e-3": 7}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("parse: %v, %v; want %v", got, err, want)
	}
	if got, err := parseHWCheckpoint(appendHWCheckpoint(nil, nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty checkpoint: %v, %v", got, err)
	}
	for _, bad := range []string{"", "0\n", "1\n0\n", "0\n2\na 0 1\n", "0\n1\na 0 1", "0\n1\na 0\n", "0\n1\na -1 1\n",
		"0\n1\na 0 -1\n", "0\n1\na/b 0 1\n", "0\n2\na 0 1\na 0 2\n", "0\n1\na 0 1 2\n", "0\nx\n", "0\n1\na 99999999999 1\n"} {
		if _, err := parseHWCheckpoint([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseHWCheckpoint(f *testing.F) {
	f.Add(appendHWCheckpoint(nil, []hwEntry{{"a", 0, 5}, {"b", 1, 9}}))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseHWCheckpoint(data)
		if err != nil {
			return
		}
		// Whatever parses says the same written again.
		var entries []hwEntry
		for key, hw := range got {
			i := strings.LastIndexByte(key, '-')
			var p int32
			for _, c := range key[i+1:] {
				p = p*10 + int32(c-'0')
			}
			entries = append(entries, hwEntry{key[:i], p, hw})
		}
		again, err := parseHWCheckpoint(appendHWCheckpoint(nil, entries))
		if err != nil || !maps.Equal(again, got) {
			t.Fatalf("re-encoded %v: %v, %v", got, again, err)
		}
	})
}

// TestHWCheckpointServesAfterRestart: a leader's high watermark, written at
// Close, is where its core starts after a restart, so consumers read the
// committed records before the follower has fetched again; without the
// file the high watermark waits at 0 for the follower.
func TestHWCheckpointServesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	withFollower := func(epoch int32) TopicSpec {
		return spread("ck", 6, 1, epoch, func(int) (int32, []int32) { return self, []int32{self, 2} })
	}
	e := openClustered(t, dir, nil)
	mustApply(t, e, withFollower(1))
	for range 3 {
		produceOne(t, e, "ck", 0, 1)
	}
	if hw, _, err := replicaFetch(t, e, 2, "ck", 0, 1, 6); err != nil || hw != 6 {
		t.Fatalf("follower at the log end: hw %d, %v", hw, err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, hwCheckpointFile))
	if err != nil || string(data) != "0\n1\nck 0 6\n" {
		t.Fatalf("checkpoint %q, %v", data, err)
	}

	e = openClustered(t, dir, nil)
	mustApply(t, e, withFollower(2))
	if hw := consumerHW(t, e, "ck", 0); hw != 6 {
		t.Fatalf("high watermark after the restart %d, want the checkpoint's 6", hw)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(filepath.Join(dir, hwCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	e = openClustered(t, dir, nil)
	mustApply(t, e, withFollower(3))
	if hw := consumerHW(t, e, "ck", 0); hw != 0 {
		t.Fatalf("high watermark with no checkpoint %d, want 0 until the follower fetches", hw)
	}
}
