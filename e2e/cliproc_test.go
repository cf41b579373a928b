package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// runCLI runs `spate args...` against broker addr with stdin as input and
// returns its stdout, stderr and exit code. It fails the test if the
// command does not finish within timeout (the process is killed then).
func runCLI(t testing.TB, addr string, stdin io.Reader, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, spateBin, args...)
	cmd.Env = append(cmd.Environ(), "SPATE_BROKERS="+addr)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("spate %s did not finish within %v; stderr:\n%s", strings.Join(args, " "), timeout, errOut.String())
	}
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("spate %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// mustCLI is runCLI that fails the test unless the command exits 0.
func mustCLI(t testing.TB, addr string, stdin io.Reader, timeout time.Duration, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, addr, stdin, timeout, args...)
	if code != 0 {
		t.Fatalf("spate %s: exit code %d; stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// cliProc is a long-running spate client process (produce or consume)
// whose stdin the test writes and whose stdout lines it collects.
type cliProc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}

	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
}

// startCLI starts `spate args...` against broker addr. The process is
// killed at test cleanup if it is still running.
func startCLI(t testing.TB, addr string, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{t: t, name: "spate " + strings.Join(args, " "), exited: make(chan struct{})}
	p.cmd = exec.Command(spateBin, args...)
	p.cmd.Env = append(p.cmd.Environ(), "SPATE_BROKERS="+addr)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
	}()
	// Wait reads nothing more once the process is gone, so stdout is
	// drained before it is called.
	go func() { <-scanned; p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.errors())
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// output returns a copy of the stdout lines so far.
func (p *cliProc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *cliProc) lineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

func (p *cliProc) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wait waits for the process to exit and returns its exit code; it fails
// the test after timeout.
func (p *cliProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v; stderr:\n%s", p.name, timeout, p.errors())
		return -1
	}
}

// waitLines waits until the process printed at least n lines.
func (p *cliProc) waitLines(n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.lineCount() < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s printed %d lines within %v, want %d; stderr:\n%s", p.name, p.lineCount(), timeout, n, p.errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
