package netio

import (
	"fmt"
	"time"
)

// FileWriteStrategy selects how file-range chunks reach the socket.
type FileWriteStrategy int

const (
	// WriteMmap hands a file range's read-only mmap slice to writev(2),
	// in one call with the response's byte chunks. It is the default: it
	// beat WriteSendfile on this project's benchmark machine (perf/netio.md).
	WriteMmap FileWriteStrategy = iota
	// WriteSendfile sends a file range with sendfile(2), continuing from
	// where a short write stopped once the socket drains.
	WriteSendfile
)

// Defaults applied by Config for zero fields.
const (
	// DefaultMaxFrameSize matches the broker's largest accepted request.
	DefaultMaxFrameSize = 100 << 20
	// DefaultMaxInFlightBytes bounds per-connection memory: request bytes
	// being handled plus response bytes not yet on the socket.
	DefaultMaxInFlightBytes = 64 << 20
	// DefaultIdleTimeout is Kafka's connections.max.idle.ms default.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultWorkers is the number of goroutines that fault cold file pages
	// in; they block on disk so the event loops never do.
	DefaultWorkers = 4
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Addr is host:port to listen on; port 0 picks a free port, reported by
	// Server.Addr.
	Addr string
	// Multicore runs one event loop per CPU; NumEventLoop, if > 0, overrides it.
	Multicore    bool
	NumEventLoop int
	// MaxFrameSize is the largest accepted frame payload. A larger size
	// prefix closes the connection before the body is read.
	MaxFrameSize int
	// MaxInFlightBytes is the per-connection budget of request bytes handed
	// to the Handler and not yet answered plus response bytes not yet written
	// to the socket. Over it, the connection's frames are left unread in
	// gnet's inbound buffer; so they are while a response waits for the
	// socket to drain.
	MaxInFlightBytes int
	// MaxInboundBytes is the hard cap on gnet's inbound buffer for one
	// connection; beyond it the connection is closed, because gnet v2 cannot
	// stop reading a socket. Default 2*MaxFrameSize.
	MaxInboundBytes int
	// IdleTimeout closes connections that had no traffic and no outstanding
	// request for this long.
	IdleTimeout time.Duration
	// Ordered writes responses in request order on each connection (Kafka
	// requires it). Otherwise each response is written as soon as it is
	// complete; the bytes of two responses never interleave either way.
	Ordered bool
	// Workers is the size of the pool that faults cold file ranges in.
	Workers int
	// FileWrite picks the file-range write strategy (default WriteMmap).
	FileWrite FileWriteStrategy
}

func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		return c, fmt.Errorf("netio: config: empty Addr")
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.MaxInFlightBytes <= 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.MaxInboundBytes <= 0 {
		c.MaxInboundBytes = 2 * c.MaxFrameSize
	}
	if c.MaxInboundBytes < FrameHeaderSize+c.MaxFrameSize {
		return c, fmt.Errorf("netio: config: MaxInboundBytes %d cannot hold a frame of MaxFrameSize %d",
			c.MaxInboundBytes, c.MaxFrameSize)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	return c, nil
}
