package client

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Hook is any value implementing one or more of the Hook... interfaces
// below; WithHooks attaches it. Hooks are called synchronously on the
// goroutine that did the work (a connection's reader or writer, the
// producer's sender, the consumer's fetcher), so a hook must be fast and
// must not block: its cost is added to every request. An interface
// assertion is done once per hook when the client is built, not per call.
type Hook any

// HookBrokerConnect is called after every connection attempt; err is nil on
// success. dur covers the dial and the version handshake.
type HookBrokerConnect interface {
	OnBrokerConnect(node int32, addr string, dur time.Duration, err error)
}

// HookBrokerDisconnect is called when a connection closes, with the reason.
type HookBrokerDisconnect interface {
	OnBrokerDisconnect(node int32, addr string, err error)
}

// HookBrokerWrite is called after each write to a broker connection: bytes
// is what one write syscall carried (often several requests), dur how long
// it took.
type HookBrokerWrite interface {
	OnBrokerWrite(node int32, bytes int, dur time.Duration, err error)
}

// HookBrokerRead is called for each response: bytes is its frame size and
// dur the time from when its request was queued to when it was read.
type HookBrokerRead interface {
	OnBrokerRead(node int32, bytes int, dur time.Duration, err error)
}

// HookProduceBatchWritten is called when a batch is acknowledged (for
// AcksNone: handed to the connection). bytes is the encoded (compressed)
// batch size.
type HookProduceBatchWritten interface {
	OnProduceBatchWritten(topic string, partition int32, records, bytes int)
}

// HookFetchBatchRead is called for each batch a consumer fetched and
// validated, before its records are handed out. bytes is the encoded size.
type HookFetchBatchRead interface {
	OnFetchBatchRead(topic string, partition int32, records, bytes int)
}

// hooks holds the hooks sorted by interface, so a call site does a nil check
// and a slice walk, never an interface assertion.
type hooks struct {
	connect    []HookBrokerConnect
	disconnect []HookBrokerDisconnect
	write      []HookBrokerWrite
	read       []HookBrokerRead
	produced   []HookProduceBatchWritten
	fetched    []HookFetchBatchRead
}

func newHooks(hs []Hook) *hooks {
	h := new(hooks)
	for _, x := range hs {
		if v, ok := x.(HookBrokerConnect); ok {
			h.connect = append(h.connect, v)
		}
		if v, ok := x.(HookBrokerDisconnect); ok {
			h.disconnect = append(h.disconnect, v)
		}
		if v, ok := x.(HookBrokerWrite); ok {
			h.write = append(h.write, v)
		}
		if v, ok := x.(HookBrokerRead); ok {
			h.read = append(h.read, v)
		}
		if v, ok := x.(HookProduceBatchWritten); ok {
			h.produced = append(h.produced, v)
		}
		if v, ok := x.(HookFetchBatchRead); ok {
			h.fetched = append(h.fetched, v)
		}
	}
	return h
}

// ConnectErrorLog returns a Hook that writes a line to w, starting with
// prefix, the first time a broker address fails to connect ("spate: cannot
// connect to 127.0.0.1:9192: connection refused; retrying"), and one more
// when it connects again. The requests themselves go on retrying within
// their timeouts; the line tells the person waiting why nothing happens.
func ConnectErrorLog(w io.Writer, prefix string) Hook {
	return &connectErrorLog{w: w, prefix: prefix, failing: make(map[string]bool)}
}

type connectErrorLog struct {
	w       io.Writer
	prefix  string
	mu      sync.Mutex
	failing map[string]bool // by address: the last attempt failed and was reported
}

func (l *connectErrorLog) OnBrokerConnect(_ int32, addr string, _ time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && !l.failing[addr]:
		l.failing[addr] = true
		fmt.Fprintf(l.w, "%s%v; retrying\n", l.prefix, err)
	case err == nil && l.failing[addr]:
		delete(l.failing, addr)
		fmt.Fprintf(l.w, "%sconnected to %s\n", l.prefix, addr)
	}
}
