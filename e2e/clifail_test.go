package e2e

import (
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
		{"topic", "describe", "t"},
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
