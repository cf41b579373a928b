package wire_test

import (
	"fmt"

	"github.com/spate-io/spate/wire"
)

// Example shows the broker's side of one connection: split frames off the
// inbound bytes, decode each, and answer — including the request the broker
// cannot serve. The client side is the mirror image.
func Example() {
	// What a client sends: a produce and a request for an unassigned API key.
	var in []byte
	in = wire.AppendRequestFrame(in, 1, &wire.ProduceRequest{Acks: wire.AcksLeader, TimeoutMs: 1000,
		Topics: []wire.ProduceTopic{{Name: "orders", Partitions: []wire.ProducePartition{{Partition: 0, Records: []byte("batch bytes")}}}}})
	in = append(in, 0, 0, 0, 8, 0, 39, 0, 0, 0, 0, 0, 2) // api key 39 (unassigned), correlation id 2

	var d wire.Decoder // one per event loop
	var out []byte
	for {
		payload, rest, ok, err := wire.SplitFrame(in, wire.DefaultMaxFrameSize)
		if err != nil {
			fmt.Println("close connection:", err)
			return
		}
		if !ok {
			break // need more bytes
		}
		in = rest
		h, req, err := d.Decode(payload)
		switch {
		case h.Key == wire.APIVersionsKey && wire.CodeOf(err) == wire.UnsupportedVersion:
			out = wire.AppendUnsupportedVersionResponse(out, h)
		case err != nil:
			fmt.Printf("request %d: %v\n", h.CorrelationID, wire.CodeOf(err))
			out = wire.AppendErrorResponse(out, h.CorrelationID, wire.CodeOf(err))
		default:
			// Records alias payload: append or copy them before moving on.
			p := req.(*wire.ProduceRequest)
			fmt.Printf("request %d: produce %d bytes to %s-%d\n", h.CorrelationID,
				len(p.Topics[0].Partitions[0].Records), p.Topics[0].Name, p.Topics[0].Partitions[0].Partition)
		}
	}
	fmt.Printf("%d response bytes queued\n", len(out))
	// Output:
	// request 1: produce 11 bytes to orders-0
	// request 2: UNSUPPORTED_VERSION
	// 10 response bytes queued
}
