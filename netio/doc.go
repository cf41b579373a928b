// Package netio is Spate's client-facing network core: gnet v2 event loops
// that cut an inbound byte stream into length-prefixed frames, hand each
// frame to a Handler, and write the answers back (in request order when
// asked), including file ranges sent with sendfile(2). It knows nothing of
// the protocol inside a frame; the native dispatcher and the Kafka front end
// sit on top of it through Handler.
//
// # Framing
//
//	| int32 big-endian size | size bytes of payload |
//
// A negative size, or one above Config.MaxFrameSize, closes the connection
// as soon as the 4 size bytes are in, before any of the body is awaited.
// Frames may arrive split at any byte and several to a read; a frame is
// served once it is complete in gnet's inbound buffer.
//
// # Buffer ownership
//
//   - ServeFrame's payload aliases gnet's inbound buffer and is valid only
//     until ServeFrame returns; gnet reuses the bytes afterwards.
//   - The Responder belongs to the handler until its one Reply or NoReply
//     call, and to the server after it (it is pooled).
//   - Chunk buffers passed to Reply belong to the server, which returns them
//     to bytebufferpool once their bytes are on the socket.
//   - Each FileRange is released exactly once: after it was sent, or when
//     its connection closed before that.
//
// # How replies reach the loop
//
// Reply, from any goroutine, appends the Responder to its connection's
// completion queue and, unless the loop is already draining that queue,
// calls gnet's Conn.Wake, which runs OnTraffic on the connection's loop.
// OnTraffic drains completions, then serves frames, until both are empty.
// While the loop is in a pass for any of its connections (a frame served
// on one connection often completes a parked request of another: a
// leader's append answers follower fetches), the connection is queued on
// the loop instead and the pass runs it before returning (pass.go): no
// eventfd write, no extra epoll round.
// Every write therefore happens on the loop, one response at a time, so the
// bytes of two responses never interleave.
//
// In ordered mode (Config.Ordered, which Kafka needs) each frame gets a slot
// in a per-connection ring in arrival order; responses are written from the
// head while the head is complete, and a NoReply frees its slot. Otherwise
// each response is written as soon as the loop sees it.
//
// # Writing file ranges
//
// Byte chunks and file ranges go out with writev(2) straight on the socket;
// a file range is passed as its read-only mmap slice (WriteMmap, the
// default) or sent with sendfile(2) (WriteSendfile). perf/netio.md has the
// measurement that picked the default. Neither path reads file data with
// read(2); the mmap path copies it once, in the kernel, into the socket.
//
// Nothing is handed to gnet's outbound buffer, which would copy record
// bytes in user space (with 16 MiB fetches that copy was 38-49% of the
// broker's CPU; perf/consume.md). At a short write or EAGAIN the connection keeps
// the rest of the response as a cursor over its chunks (the buffers and
// file ranges stay referenced, not copied) and arms the writable watcher
// (writable.go): a second epoll set, waited on by one goroutine, in which
// the socket is registered for EPOLLOUT once. When the socket drains the
// watcher wakes the loop, which continues from the cursor. While a tail is
// pending, later responses wait behind it in order and no new frame is
// served, so a slow reader holds at most one partly written response plus
// the ones already answered, all counted in its in-flight budget.
//
// No loop waits on disk: before a response with file ranges is written, the
// ranges' pages are checked with mincore(2). If any is not in the page
// cache, the response goes to a worker (Config.Workers) that issues
// MADV_WILLNEED and touches one byte per page, then hands the response back
// to the loop. In ordered mode later responses wait behind it.
//
// # Backpressure and memory bounds
//
// Each connection has a budget, Config.MaxInFlightBytes, of request bytes
// being handled plus response bytes not yet on the socket. While the budget
// is spent, or a response waits for the socket to drain, the loop stops
// serving frames; they stay in gnet's inbound buffer. A single frame larger
// than the budget is still served when nothing else is in flight. Every
// event that frees budget (a reply, the socket draining) runs a loop pass,
// which serves the held-back frames.
//
// Limits of gnet v2 that shape this: it cannot stop reading a socket (no
// API removes read interest from its poller), so a paused connection keeps
// growing gnet's inbound buffer; past Config.MaxInboundBytes (default
// 2*MaxFrameSize) the connection is closed. Per-connection heap is thus
// bounded by MaxInboundBytes plus MaxInFlightBytes plus the largest single
// response, which callers cap (fetch max.bytes); file ranges are mapped,
// not heap.
//
// # Connections closing
//
// OnClose drops everything the connection holds (completions, ordered
// slots, a partly written response and those behind it); Responders still
// with the handler or a worker are dropped when they complete, so chunks
// are released once and nothing leaks. Idle
// connections (no traffic and no outstanding request for
// Config.IdleTimeout) are closed by the ticker.
//
// Stop is graceful: new connections are closed on accept, no new frame is
// served, and Stop waits until every served frame is answered and written
// (or ctx ends) before stopping the loops.
//
// # Accepting
//
// The Server accepts in its own goroutine and hands connections to gnet
// loops, so running out of file descriptors refuses connections instead of
// closing the listener; accept.go tells how.
package netio
