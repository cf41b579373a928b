package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteModeAuto: with the default log.direct.write.bytes=auto a broker
// measures its data dir at the first start, says which write path it chose
// and why on its start lines and on /metrics, stores the result, and reuses
// it at the next start on the same device and kernel.
func TestWriteModeAuto(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	b := startBroker(t, dir, addr, "--set", "log.direct.write.bytes=auto")
	line := startLine(t, b, "write path")
	if !strings.Contains(line, "measured now") && !strings.Contains(line, "not measured") {
		t.Fatalf("first start's write path line does not say it measured: %q", line)
	}
	if strings.Contains(line, "not measured") {
		t.Skipf("no probe on this data dir: %s", line)
	}
	var stored struct {
		Mode string `json:"mode"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, ".write-calibration.json"))
	if err != nil || json.Unmarshal(raw, &stored) != nil {
		t.Fatalf("stored calibration: %v\n%s", err, raw)
	}
	if !strings.HasPrefix(line, stored.Mode+" (") {
		t.Fatalf("start line %q does not name the stored mode %q", line, stored.Mode)
	}
	metrics := scrape(t, b.Admin)
	if !strings.Contains(metrics, `spate_log_dir_direct_write_bytes{chosen="measured"`) ||
		!strings.Contains(metrics, `spate_log_dir_write_mb_per_sec{`) ||
		!strings.Contains(metrics, `spate_log_dir_write_mode{dir="`+dir+`",mode="`+stored.Mode+`"} 1`) {
		t.Fatalf("/metrics lacks the write path series:\n%s", grepLines(metrics, "spate_log_dir"))
	}
	b.stop()

	again := startBroker(t, dir, addr, "--set", "log.direct.write.bytes=auto")
	if line := startLine(t, again, "write path"); !strings.HasPrefix(line, stored.Mode+" (") || !strings.Contains(line, "measured 2") {
		t.Fatalf("restart's write path line %q: want the stored %s reused", line, stored.Mode)
	}
}

// startLine returns the text after the label on the broker's start lines,
// waiting up to 10 s for it (startBroker returns at the data directory
// line, before the ones after it are read).
func startLine(t *testing.T, b *brokerProc, label string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(b.output(), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), label); ok {
				return strings.TrimSpace(rest)
			}
		}
	}
	t.Fatalf("no %q line in the broker's output:\n%s", label, b.output())
	return ""
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
