// Package kafka is Spate's Kafka wire-protocol front end: a netio.Handler
// that decodes Kafka request frames with franz-go's kmsg, calls the same
// engine as the native front end, and encodes Kafka responses. Kafka
// clients (kcat/librdkafka, franz-go, ...) point at it unchanged.
//
// Behavior, per frame (netio strips the int32 size prefix; the server runs
// with netio.Config.Ordered, so answers leave in request order per
// connection, as Kafka requires):
//
//	payload shorter than a request header   close the connection
//	api key not in Spate's table            close the connection (Kafka does the same)
//	ApiVersions at a version above ours     v0-form answer, UNSUPPORTED_VERSION and our
//	                                        ApiVersions range (KIP-511); the client retries
//	another key at a version outside ours   the key's own response form at that version
//	                                        with UNSUPPORTED_VERSION, when the form has a
//	                                        top-level error code (Fetch v13+, ListGroups v5,
//	                                        ...); else close the connection: the body is not
//	                                        decoded, and a per-topic error needs its topics
//	a body kmsg cannot decode               close the connection
//	Produce acks=0                          no answer
//	everything else                         an answer with per-partition error codes
//
// Request header (all versions): api_key int16, api_version int16,
// correlation_id int32, client_id nullable string (int16 length, -1 =
// null); when the request is a flexible version, tagged fields follow
// (uvarint count, then per field uvarint tag, uvarint size, bytes).
// Response header: correlation_id int32, then one empty tagged-field byte
// when the response is flexible, except for ApiVersions, whose response
// header never has it (KIP-511).
//
// Ownership: the frame payload aliases gnet's inbound buffer. kmsg's
// decoded byte fields (Produce records) alias it too; engine.Produce reads
// them and stamps base offset and leader epoch in place before it returns
// (the one copy), so nothing here keeps a reference past ServeFrame.
//
// Fetch answers are encoded by hand (fetch.go) around the engine's file
// ranges, which netio sends from the segment files without copying them
// into user space; every other API is encoded with kmsg.
package kafka
