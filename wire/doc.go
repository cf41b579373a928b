// Package wire is Spate's native binary protocol: framing, the request and
// response codecs of every API, and the error codes. The broker (netio)
// decodes requests and encodes responses with it; the Go client does the
// opposite. docs/protocol.md is the byte-level specification; this comment
// covers how to use the Go API.
//
// # Frames
//
// A frame is an int32 big-endian size (the bytes after it) and a payload. A
// request payload starts with api_key, api_version and correlation_id
// (RequestHeader); a response payload with correlation_id. FrameSize and
// SplitFrame let an incremental framer refuse a frame from its size field
// alone (ErrFrameTooLarge, ErrMalformed) and tell those apart from "need
// more bytes" (ok == false, nil error).
//
// # Encoding
//
// Every request and response type has AppendTo(dst) []byte, which appends
// the body to the caller's buffer; AppendRequestFrame and
// AppendResponseFrame add the size and header. The broker's zero-copy
// fetch path uses AppendFetchResponseParts, which writes everything but the
// record bytes and says where each partition's records go.
//
// # Decoding and buffer ownership
//
// Decoders read with a sticky error, never panic, never read out of bounds,
// and check every count and length against the bytes left before allocating,
// so a hostile frame costs at most its own size.
//
// Decoding does not copy record bytes: ProducePartition.Records and
// FetchPartitionResponse.Records alias the payload they were decoded from.
// They are valid only as long as that payload is. On the broker the payload
// is netio's inbound buffer, which is reused as soon as the handler returns,
// so a handler that needs records afterwards (a parked acks=all produce, a
// replication hand-off) must have written or copied them before it returns.
// The same holds for the request struct itself: Decoder.Decode returns the
// Decoder's own struct and the next Decode overwrites it.
//
// Topic names are decoded as ordinary Go strings, safe to keep anywhere. To
// keep steady-state decoding free of allocations, Decoder interns them in a
// bounded table (1,024 names, 64 KiB), so a name seen before costs a map
// lookup and no allocation. Aliasing names into the frame (unsafe.String)
// was rejected: a name kept as a map key would silently change when the
// buffer is reused.
//
// Strings other than topic names (hosts, messages, configs) are copied: they
// are not on a hot path.
package wire
