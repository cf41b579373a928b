package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spate-io/spate/wire"
)

// promptly bounds the CLI's answer to a mistake: "within seconds", with
// room for a loaded machine. The commands are expected to take 0-5s.
const promptly = 10 * time.Second

// runPromptly is runCLI that also checks the command exited 1 within
// promptly and printed want on stderr.
func runPromptly(t *testing.T, addr, stdin, want string, args ...string) {
	t.Helper()
	start := time.Now()
	_, errOut, code := runCLI(t, addr, strings.NewReader(stdin), 60*time.Second, args...)
	took := time.Since(start)
	if code != 1 || !strings.Contains(errOut, want) || took > promptly {
		t.Errorf("spate %s: exit %d after %v, stderr %q; want exit 1 within %v and %q",
			strings.Join(args, " "), code, took.Round(time.Millisecond), errOut, promptly, want)
	}
}

// TestCLINoBroker: with nothing listening on --brokers, every command says
// so within seconds: admin commands and consumers fail, a producer reports
// it on stderr and keeps retrying within --delivery-timeout.
func TestCLINoBroker(t *testing.T) {
	addr := freeAddr(t) // nothing listens there
	want := "cannot connect to " + addr + ": connection refused"
	for _, args := range [][]string{
		{"topic", "list"},
		{"topic", "create", "t"},
		{"topic", "describe", "t", "--json"},
		{"topic", "alter", "t", "--config", "retention.ms=1"},
		{"topic", "delete-records", "t", "--before", "1"},
		{"group", "list"},
		{"consume", "t", "--exit-idle", "2s"},
		{"consume", "t", "--group", "g", "--exit-idle", "2s"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) { runPromptly(t, addr, "", want, args...) })
	}
	t.Run("produce", func(t *testing.T) {
		prod := startCLI(t, addr, "produce", "t", "--delivery-timeout", "2m")
		if _, err := prod.stdin.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(promptly)
		for !strings.Contains(prod.errors(), want+"; retrying") {
			if time.Now().After(deadline) {
				t.Fatalf("no %q on stderr within %v; stderr %q", want, promptly, prod.errors())
			}
			time.Sleep(50 * time.Millisecond)
		}
		select {
		case <-prod.exited:
			t.Fatalf("produce gave up before its delivery timeout; stderr %q", prod.errors())
		default:
		}
	})
	t.Run("produce past its delivery timeout", func(t *testing.T) {
		// The first record fails after 2s; the others are not tried.
		report := filepath.Join(t.TempDir(), "failed.txt")
		runPromptly(t, addr, "a\nb\nc\n", "0 records acknowledged, 3 failed",
			"produce", "t", "--delivery-timeout", "2s", "--report-failed", report)
		if got, err := os.ReadFile(report); err != nil || string(got) != "a\nb\nc\n" {
			t.Errorf("--report-failed wrote %q (%v), want every line", got, err)
		}
	})
}

// TestCLIInvalidTopicName: a produce to a name the broker can never accept
// fails at once (the client checks it) with the broker's own words, and
// auto-creation of such a name through Metadata answers
// INVALID_TOPIC_EXCEPTION rather than a retriable error.
func TestCLIInvalidTopicName(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0")
	for _, name := range []string{"a/b", "..", ""} {
		runPromptly(t, b.Addr, "x\n", "INVALID_TOPIC_EXCEPTION", "produce", name)
	}
	w := dialWire(t, b.Addr)
	var resp wire.MetadataResponse
	w.roundTrip(&wire.MetadataRequest{Topics: []string{"a/b", "__consumer.offsets"}, AutoCreate: true}, &resp)
	for _, mt := range resp.Topics {
		if mt.ErrorCode != wire.InvalidTopic {
			t.Errorf("metadata with auto-create of %q: %v, want INVALID_TOPIC_EXCEPTION", mt.Name, mt.ErrorCode)
		}
	}
}

// describedPartitions runs topic describe --json and returns its one topic.
func describeJSON(t *testing.T, addr, topic string) describedTopicJSON {
	t.Helper()
	out := mustCLI(t, addr, nil, 30*time.Second, "topic", "describe", topic, "--json")
	var doc []describedTopicJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc) != 1 {
		t.Fatalf("topic describe --json printed %s (%v)", out, err)
	}
	return doc[0]
}

type describedTopicJSON struct {
	Name       string `json:"name"`
	Partitions []struct {
		Partition      int32 `json:"partition"`
		LogStartOffset int64 `json:"log_start_offset"`
		HighWatermark  int64 `json:"high_watermark"`
	} `json:"partitions"`
	Configs []struct {
		Name     string `json:"name"`
		Value    string `json:"value"`
		Override bool   `json:"override"`
	} `json:"configs"`
}

func (d describedTopicJSON) config(name string) (string, bool) {
	for _, c := range d.Configs {
		if c.Name == name {
			return c.Value, c.Override
		}
	}
	return "", false
}

// TestCLITopicAdmin: topic alter changes configs (and refuses bad ones
// naming the key), topic describe shows them, delete-records hides the
// records below its offset from consumers and keeps doing so after a
// broker restart, and produce --report-failed writes the lines the broker
// refused.
func TestCLITopicAdmin(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	b := startBroker(t, dir, addr)
	mustCLI(t, addr, nil, 30*time.Second, "topic", "create", "adm")
	mustCLI(t, addr, strings.NewReader(string(seqInput(100))), 60*time.Second, "produce", "adm")

	out := mustCLI(t, addr, nil, 30*time.Second, "topic", "alter", "adm", "--config", "max.message.bytes=300", "--config", "retention.ms=3600000")
	if !strings.Contains(out, "altered topic adm: max.message.bytes=300 (set on the topic)") {
		t.Errorf("topic alter printed %q", out)
	}
	if v, override := describeJSON(t, addr, "adm").config("retention.ms"); v != "3600000" || !override {
		t.Errorf("retention.ms after alter = %q (override %v)", v, override)
	}
	runPromptly(t, addr, "", `INVALID_CONFIG: topic "adm": flush.policy cannot be altered`, "topic", "alter", "adm", "--config", "flush.policy=always")
	runPromptly(t, addr, "", "retention.ms", "topic", "alter", "adm", "--config", "retention.ms=soon")
	out = mustCLI(t, addr, nil, 30*time.Second, "topic", "alter", "adm", "--config", "retention.ms=", "--json")
	if !strings.Contains(out, `{"name":"retention.ms","value":"604800000","override":false}`) {
		t.Errorf("topic alter --json after removing retention.ms = %s", out)
	}

	// Each record its own batch (--batch-size 1), so only the long line's
	// batch is too large.
	big := strings.Repeat("y", 400)
	report := filepath.Join(t.TempDir(), "failed.txt")
	_, errOut, code := runCLI(t, addr, strings.NewReader("101\n"+big+"\n102\n"), 60*time.Second,
		"produce", "adm", "--batch-size", "1", "--report-failed", report)
	if code != 1 || !strings.Contains(errOut, `topic "adm": 2 records acknowledged, 1 failed`) || !strings.Contains(errOut, "MESSAGE_TOO_LARGE: adm-0: batch at byte 0: ") ||
		!strings.Contains(errOut, " bytes > max.message.bytes 300") {
		t.Errorf("produce with a too large line: exit %d, stderr %q", code, errOut)
	}
	if got, err := os.ReadFile(report); err != nil || string(got) != big+"\n" {
		t.Errorf("--report-failed wrote %q (%v), want the long line", got, err)
	}

	out = mustCLI(t, addr, nil, 30*time.Second, "topic", "delete-records", "adm", "--before", "40")
	if strings.Join(strings.Fields(out), " ") != "PARTITION LOG-START 0 40" {
		t.Errorf("delete-records printed %q", out)
	}
	runPromptly(t, addr, "", "OFFSET_OUT_OF_RANGE", "topic", "delete-records", "adm", "--before", "1000")
	check := func(when string) {
		t.Helper()
		if p := describeJSON(t, addr, "adm").Partitions[0]; p.LogStartOffset != 40 || p.HighWatermark != 102 {
			t.Errorf("%s: log start %d, high watermark %d; want 40 and 102", when, p.LogStartOffset, p.HighWatermark)
		}
		out := mustCLI(t, addr, nil, 30*time.Second, "consume", "adm", "--from", "beginning", "--count", "1")
		if out != "41\n" { // offset 40 holds line 41
			t.Errorf("%s: first record consumed from the beginning = %q, want 41", when, out)
		}
	}
	check("before restart")
	b.stop()
	startBroker(t, dir, addr)
	check("after restart")
}
