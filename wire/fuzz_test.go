package wire

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRequest runs arbitrary bytes through the broker's dispatcher-level
// decode. It must never panic, must fail only with ErrMalformed or
// ErrUnsupportedVersion, and whatever decodes must re-encode to a body that
// decodes to the same thing.
func FuzzRequest(f *testing.F) {
	reqs := requestCases()
	for _, name := range sortedKeys(reqs) {
		f.Add(AppendRequestFrame(nil, 42, reqs[name])[SizeLen:])
	}
	f.Add([]byte{0, 99, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 4, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, payload []byte) {
		// Start from a Decoder that has already decoded large requests, so
		// stale capacity is exercised too.
		var d Decoder
		for _, name := range sortedKeys(reqs) {
			if _, _, err := d.Decode(AppendRequestFrame(nil, 1, reqs[name])[SizeLen:]); err != nil {
				t.Fatal(err)
			}
		}
		h, req, err := d.Decode(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if req.APIKey() != h.Key {
			t.Fatalf("decoded %s for key %s", req.APIKey(), h.Key)
		}
		enc := req.AppendTo(nil)
		again := newRequest(h.Key)
		if err := again.Decode(enc); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if enc2 := again.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip unstable:\n%x\n%x", enc, enc2)
		}
	})
}

// FuzzFrame checks SplitFrame on arbitrary streams: it never panics, never
// returns a payload over the limit, and never claims bytes it does not have.
func FuzzFrame(f *testing.F) {
	f.Add(AppendRequestFrame(nil, 1, requestCases()["Produce"]), 1<<20)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 100)
	f.Add([]byte{0, 0, 0, 3, 1, 2}, 100)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		payload, rest, ok, err := SplitFrame(b, limit)
		if (ok && err != nil) || (!ok && (payload != nil || rest != nil)) {
			t.Fatalf("ok=%v err=%v payload=%d rest=%d", ok, err, len(payload), len(rest))
		}
		if ok && (len(payload) > limit || SizeLen+len(payload)+len(rest) != len(b)) {
			t.Fatalf("payload %d rest %d of %d (limit %d)", len(payload), len(rest), len(b), limit)
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

// fuzzResponse fuzzes the client-side decode of one response type: a full
// response payload (correlation id + body). Seeds are the valid encodings
// from responseCases and the error-only form.
func fuzzResponse(f *testing.F, key APIKey) { fuzzResponseVersion(f, key, 0) }

// fuzzResponseVersion is fuzzResponse for version v of a response whose
// layout depends on the version (Produce).
func fuzzResponseVersion(f *testing.F, key APIKey, v int16) {
	resps := responseCases()
	for _, name := range sortedKeys(resps) {
		if resps[name].APIKey() == key && responseVersion(resps[name]) == v {
			f.Add(AppendResponseFrame(nil, 7, resps[name])[SizeLen:])
		}
	}
	f.Add(AppendErrorResponse(nil, 7, NotLeader)[SizeLen:])
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, body, err := ParseResponseHeader(payload)
		if err != nil {
			return
		}
		resp := newResponse(key)
		setVersion(resp, v)
		if err := resp.Decode(body); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		enc := resp.AppendTo(nil)
		again := newResponse(key)
		setVersion(again, v)
		if err := again.Decode(enc); err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		if enc2 := again.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip unstable:\n%x\n%x", enc, enc2)
		}
	})
}

func FuzzAPIVersionsResponse(f *testing.F)     { fuzzResponse(f, APIVersionsKey) }
func FuzzMetadataResponse(f *testing.F)        { fuzzResponse(f, MetadataKey) }
func FuzzCreateTopicsResponse(f *testing.F)    { fuzzResponse(f, CreateTopicsKey) }
func FuzzDeleteTopicsResponse(f *testing.F)    { fuzzResponse(f, DeleteTopicsKey) }
func FuzzProduceResponse(f *testing.F)         { fuzzResponse(f, ProduceKey) }
func FuzzFetchResponse(f *testing.F)           { fuzzResponse(f, FetchKey) }
func FuzzListOffsetsResponse(f *testing.F)     { fuzzResponse(f, ListOffsetsKey) }
func FuzzInitProducerIDResponse(f *testing.F)  { fuzzResponse(f, InitProducerIDKey) }
func FuzzDescribeConfigsResponse(f *testing.F) { fuzzResponse(f, DescribeConfigsKey) }
func FuzzAlterConfigsResponse(f *testing.F)    { fuzzResponse(f, AlterConfigsKey) }
func FuzzDeleteRecordsResponse(f *testing.F)   { fuzzResponse(f, DeleteRecordsKey) }
func FuzzEpochQueryResponse(f *testing.F)      { fuzzResponse(f, OffsetForLeaderEpochKey) }
func FuzzReassignResponse(f *testing.F)        { fuzzResponse(f, AlterPartitionReassignmentsKey) }
func FuzzListReassignmentsResponse(f *testing.F) {
	fuzzResponse(f, ListPartitionReassignmentsKey)
}
