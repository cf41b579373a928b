package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrokerConfigPrecedence runs `spate broker --print-config` with a
// config file, environment variables and flags: flags beat the
// environment, which beats the file, which beats the defaults; an unknown
// key fails start-up with a message naming it.
func TestBrokerConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "spate.properties")
	os.WriteFile(file, []byte("# test\nlog.flush.policy=interval\nnum.partitions=3\nlog.retention.ms=60000\ndata.dir=/from/file\n"), 0o644)

	cmd := exec.Command(spateBin, "broker", "--config", file, "--data-dir", "/from/flag", "--set", "log.retention.ms=120000", "--print-config")
	cmd.Env = append(os.Environ(), "SPATE_LOG_FLUSH_POLICY=always", "SPATE_LOG_RETENTION_MS=90000", "SPATE_NUM_PARTITIONS=5")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("print-config: %v\n%s", err, out)
	}
	for _, want := range []string{
		"data.dir=/from/flag",          // flag over file
		"log.flush.policy=always",      // env over file
		"log.retention.ms=120000",      // --set over env over file
		"num.partitions=5",             // env over file
		"log.segment.bytes=1073741824", // default
	} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}

	os.WriteFile(file, []byte("log.flush.polcy=always\n"), 0o644)
	out, err = exec.Command(spateBin, "broker", "--config", file, "--print-config").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown key "log.flush.polcy"`) || !strings.Contains(string(out), "spate.properties:1") {
		t.Fatalf("misspelt key: err %v, output:\n%s", err, out)
	}
	out, err = exec.Command(spateBin, "broker", "--set", "log.flush.policy=sometimes", "--print-config").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "log.flush.policy") {
		t.Fatalf("bad value: err %v, output:\n%s", err, out)
	}
}
