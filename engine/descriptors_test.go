package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCreateRefusedOverDescriptorBudget lowers the test process's
// RLIMIT_NOFILE to a little above what it has open: a create that needs
// more descriptors than the budget leaves fails at once with
// ErrResourceLimit, naming the limit, and opens nothing; a small one still
// succeeds.
func TestCreateRefusedOverDescriptorBudget(t *testing.T) {
	e := openTestEngine(t, nil)
	b, ok := e.Descriptors()
	if !ok {
		t.Skip("descriptors in use cannot be read here")
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	low := orig
	low.Cur = uint64(b.InUse + 200)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatalf("lower RLIMIT_NOFILE to %d: %v", low.Cur, err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("restore RLIMIT_NOFILE: %v", err)
		}
	})

	for _, create := range []func() error{
		func() error { return e.ValidateCreateTopic("wide", 1000, -1, nil) },
		func() error { return e.CreateTopic("wide", 1000, nil) },
	} {
		err := create()
		if !errors.Is(err, ErrResourceLimit) {
			t.Fatalf("create of 1000 partitions under RLIMIT_NOFILE %d: %v, want ErrResourceLimit", low.Cur, err)
		}
		for _, want := range []string{`"wide"`, "1000 partitions", "RLIMIT_NOFILE is " + strconv.FormatUint(low.Cur, 10)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.cfg.DataDir, "wide-*")); len(dirs) != 0 {
		t.Fatalf("a refused create left %d partition directories", len(dirs))
	}
	mustCreate(t, e, "narrow", 2, nil)
	if got, _ := e.Descriptors(); got.Partitions != b.Partitions+2 {
		t.Fatalf("Descriptors().Partitions = %d after creating 2, want %d", got.Partitions, b.Partitions+2)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.DataDir, "narrow-1")); err != nil {
		t.Fatal(err)
	}
}
