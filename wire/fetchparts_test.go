package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// reassemble builds the frame the broker sends from AppendFetchResponseParts'
// output, taking each partition's records from resp (as sendfile would from
// the segment file).
func reassemble(out []byte, frameStart int, parts []Part, resp *FetchResponse) []byte {
	var frame []byte
	prev := frameStart
	for _, p := range parts {
		frame = append(frame, out[prev:p.HeaderEnd]...)
		frame = append(frame, resp.Topics[p.Topic].Partitions[p.Partition].Records...)
		prev = p.HeaderEnd
	}
	return append(frame, out[prev:]...)
}

func TestFetchResponseParts(t *testing.T) {
	cases := map[string]*FetchResponse{
		"mixed":   responseCases()["Fetch"].(*FetchResponse),
		"empty":   {},
		"error":   {ErrorCode: UnknownServerError},
		"no recs": {Topics: []FetchTopicResponse{{Name: "a", Partitions: []FetchPartitionResponse{{Partition: 1, RecordsLen: -1}}}}},
		"last-has-records": {Topics: []FetchTopicResponse{
			{Name: "a", Partitions: []FetchPartitionResponse{{Partition: 0, RecordsLen: -1}}},
			{Name: "b", Partitions: []FetchPartitionResponse{{Partition: 0, Records: []byte("abc"), RecordsLen: 3}}},
		}},
	}
	for _, name := range sortedKeys(cases) {
		resp := cases[name]
		t.Run(name, func(t *testing.T) {
			prefix := []byte("earlier response bytes")
			out, parts := AppendFetchResponseParts(append([]byte(nil), prefix...), 31, resp, nil)
			if !bytes.Equal(out[:len(prefix)], prefix) {
				t.Fatal("dst prefix clobbered")
			}
			// The header bytes carry no record bytes at all.
			total := 0
			for _, p := range parts {
				total += p.RecordsLen
				if p.RecordsLen != len(resp.Topics[p.Topic].Partitions[p.Partition].Records) {
					t.Fatalf("part %+v does not match its partition", p)
				}
			}
			frame := reassemble(out, len(prefix), parts, resp)
			if len(frame) != len(out)-len(prefix)+total {
				t.Fatalf("frame %d bytes, header %d + records %d", len(frame), len(out)-len(prefix), total)
			}
			// Byte-identical to the copying encoder, so decoders cannot tell.
			if want := AppendResponseFrame(nil, 31, resp); !bytes.Equal(frame, want) {
				t.Fatalf("reassembled frame differs from AppendResponseFrame\n got %x\nwant %x", frame, want)
			}
			payload, rest, ok, err := SplitFrame(frame, DefaultMaxFrameSize)
			if !ok || err != nil || len(rest) != 0 {
				t.Fatalf("SplitFrame: ok=%v err=%v rest=%d", ok, err, len(rest))
			}
			corr, body, _ := ParseResponseHeader(payload)
			var got FetchResponse
			if err := got.Decode(body); err != nil || corr != 31 {
				t.Fatalf("Decode: corr=%d err=%v", corr, err)
			}
			if enc, wantEnc := got.AppendTo(nil), resp.AppendTo(nil); !bytes.Equal(enc, wantEnc) {
				t.Fatalf("decoded response differs: %+v", got)
			}
		})
	}
}

// TestFetchResponsePartsReuse: parts is appended to, so parts[:0] reuses it.
func TestFetchResponsePartsReuse(t *testing.T) {
	resp := responseCases()["Fetch"].(*FetchResponse)
	out, parts := AppendFetchResponseParts(nil, 1, resp, nil)
	out2, parts2 := AppendFetchResponseParts(out[:0], 1, resp, parts[:0])
	if &parts2[0] != &parts[0] || !reflect.DeepEqual(parts, parts2) || !bytes.Equal(out, out2) {
		t.Fatalf("reuse changed the result: %+v vs %+v", parts, parts2)
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2 (partitions with records)", len(parts))
	}
}
