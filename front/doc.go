// Package front is the request handling Spate's two front ends share: the
// native protocol (broker/native*.go) and the Kafka protocol (kafka/). A
// front end decodes its own wire form, hands the request to the pieces
// here in protocol-neutral terms, and encodes the answer in its own form,
// so what a request means to the engine, and which error code answers
// which engine error, is written once:
//
//	errors.go   ErrorCode and ErrorMessage: engine errors to Kafka's error
//	            codes (wire's codes are Kafka's numbers)
//	fetch.go    Fetch: one fetch request through the engine (long poll,
//	            high watermark, max bytes) and back to the connection, the
//	            records sent from the segment files with no user-space copy
//	groups.go   Groups: the consumer-group requests onto
//	            engine.GroupCoordinator (the checks before a commit, the
//	            codes of leave, delete, describe and list)
//
// engine.ProduceFanOut is the produce counterpart; it lives in engine
// because it needs nothing of the network.
//
// Dependencies: front imports engine, netio (the file and byte chunks of
// an answer) and wire (the error codes); both front ends import front.
package front
