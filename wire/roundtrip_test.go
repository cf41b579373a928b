package wire

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"sort"
	"testing"

	"github.com/spate-io/spate/record"
)

func sortedKeys[T any](m map[string]T) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestRequestRoundTrip encodes every request as a frame, splits it, decodes
// it through the broker's Decoder and compares.
func TestRequestRoundTrip(t *testing.T) {
	cases := requestCases()
	var d Decoder
	for _, name := range sortedKeys(cases) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			frame := AppendRequestFrame([]byte("junk before"), 77, want)[len("junk before"):]
			payload, rest, ok, err := SplitFrame(frame, DefaultMaxFrameSize)
			if !ok || err != nil || len(rest) != 0 {
				t.Fatalf("SplitFrame: ok=%v err=%v rest=%d", ok, err, len(rest))
			}
			h, got, err := d.Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if h != (RequestHeader{Key: want.APIKey(), Version: versionOf(want), CorrelationID: 77}) {
				t.Fatalf("header %+v", h)
			}
			// The Decoder reuses its structs across cases, so an empty array may
			// come back as an empty rather than nil slice: compare encodings.
			if enc, wantEnc := got.AppendTo(nil), want.AppendTo(nil); !bytes.Equal(enc, wantEnc) {
				t.Fatalf("Decoder.Decode mismatch\n got %+v\nwant %+v", got, want)
			}
			// The standalone Decode (client side, tests) agrees.
			fresh := newRequest(want.APIKey())
			if p, ok := fresh.(*ProduceRequest); ok {
				p.Version = h.Version // from the header, as Decoder.Decode does
			}
			if err := fresh.Decode(payload[RequestHeaderLen:]); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(fresh, want) {
				t.Fatalf("Request.Decode mismatch\n got %+v\nwant %+v", fresh, want)
			}
		})
	}
}

// TestResponseRoundTrip does the same for every response.
func TestResponseRoundTrip(t *testing.T) {
	cases := responseCases()
	for _, name := range sortedKeys(cases) {
		want := cases[name]
		t.Run(name, func(t *testing.T) {
			frame := AppendResponseFrame(nil, -5, want)
			payload, _, ok, err := SplitFrame(frame, DefaultMaxFrameSize)
			if !ok || err != nil {
				t.Fatalf("SplitFrame: ok=%v err=%v", ok, err)
			}
			corr, body, err := ParseResponseHeader(payload)
			if err != nil || corr != -5 {
				t.Fatalf("ParseResponseHeader: corr=%d err=%v", corr, err)
			}
			got := newResponse(want.APIKey())
			setVersion(got, responseVersion(want))
			if err := got.Decode(body); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("mismatch\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDecodeReusesStruct decodes a large request and then a small one into
// the same struct: the small one must come out exactly, with no leftovers.
func TestDecodeReusesStruct(t *testing.T) {
	big := requestCases()["Produce"].(*ProduceRequest)
	small := &ProduceRequest{Acks: AcksLeader, TimeoutMs: 1, Topics: []ProduceTopic{
		{Name: "s", Partitions: []ProducePartition{{Partition: 3, Records: []byte{1, 2, 3}}}},
	}}
	var d Decoder
	for _, want := range []*ProduceRequest{big, small, big} {
		payload := AppendRequestFrame(nil, 1, want)[SizeLen:]
		_, got, err := d.Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		if enc, wantEnc := got.AppendTo(nil), want.AppendTo(nil); !bytes.Equal(enc, wantEnc) {
			t.Fatalf("reused decode re-encodes differently:\n got %x\nwant %x", enc, wantEnc)
		}
	}
	if len(d.Produce.Topics) != 2 || cap(d.Produce.Topics[1].Partitions) < 2 {
		t.Fatalf("capacity was not reused: %+v", d.Produce.Topics)
	}
}

// TestProduceRecordsParse checks that records arrive as whole batches that
// record.Parse accepts, aliasing the frame.
func TestProduceRecordsParse(t *testing.T) {
	want := requestCases()["Produce"].(*ProduceRequest)
	payload := AppendRequestFrame(nil, 1, want)[SizeLen:]
	var d Decoder
	_, req, err := d.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	recs := req.(*ProduceRequest).Topics[0].Partitions[0].Records
	var offsets []int64
	for len(recs) > 0 {
		b, err := record.Parse(recs)
		if err != nil {
			t.Fatalf("record.Parse: %v", err)
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		offsets = append(offsets, b.BaseOffset())
		recs = recs[b.Size():]
	}
	if !reflect.DeepEqual(offsets, []int64{0, 10}) {
		t.Fatalf("batch base offsets %v", offsets)
	}
	// Aliasing: a write to the frame shows through the decoded records.
	first := req.(*ProduceRequest).Topics[0].Partitions[0].Records
	i := bytes.Index(payload, first[:record.HeaderSize])
	payload[i+record.HeaderSize] ^= 0xff
	if first[record.HeaderSize] != payload[i+record.HeaderSize] {
		t.Fatal("records do not alias the payload")
	}
}

// TestErrorOnlyResponse: every response decoder reads the error-only form
// the broker sends for unknown APIs and malformed requests.
func TestErrorOnlyResponse(t *testing.T) {
	for _, vr := range SupportedVersions() {
		frame := AppendErrorResponse(nil, 9, UnsupportedVersion)
		payload, _, ok, err := SplitFrame(frame, DefaultMaxFrameSize)
		if !ok || err != nil {
			t.Fatalf("SplitFrame: %v %v", ok, err)
		}
		corr, body, err := ParseResponseHeader(payload)
		if err != nil || corr != 9 {
			t.Fatalf("header: %d %v", corr, err)
		}
		resp := newResponse(vr.Key)
		if err := resp.Decode(body); err != nil {
			t.Fatalf("%s: %v", vr.Key, err)
		}
		if code := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode").Interface().(ErrorCode); code != UnsupportedVersion {
			t.Fatalf("%s: error code %v", vr.Key, code)
		}
	}
	// A zero code with nothing after it is not the error-only form.
	var p ProduceResponse
	if err := p.Decode([]byte{0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated success body: %v", err)
	}
}

// TestDecoderUnsupported: an unknown key or version is reported with a
// usable header so the broker can answer it.
func TestDecoderUnsupported(t *testing.T) {
	var d Decoder
	for _, hdr := range []RequestHeader{{Key: 39, CorrelationID: 4}, {Key: ProduceKey, Version: 2, CorrelationID: 5}, {Key: -1, CorrelationID: 6}} {
		payload := appendInt32(appendInt16(appendInt16(nil, int16(hdr.Key)), hdr.Version), hdr.CorrelationID)
		h, req, err := d.Decode(payload)
		if !errors.Is(err, ErrUnsupportedVersion) || CodeOf(err) != UnsupportedVersion || req != nil || h != hdr {
			t.Fatalf("%+v: h=%+v req=%v err=%v", hdr, h, req, err)
		}
	}
	// A body that is malformed keeps the header too.
	payload := appendInt32(appendInt16(appendInt16(nil, int16(ProduceKey)), 0), 8)
	payload = append(payload, 0, 1) // acks, then nothing
	h, _, err := d.Decode(payload)
	if !errors.Is(err, ErrMalformed) || CodeOf(err) != InvalidRequest || h.CorrelationID != 8 {
		t.Fatalf("malformed body: h=%+v err=%v", h, err)
	}
	if _, _, err := d.Decode([]byte{0, 4, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
}

// TestHostileCounts: a huge count or length in a small body fails fast
// without allocating for it.
func TestHostileCounts(t *testing.T) {
	huge := []byte{0x7f, 0xff, 0xff, 0xff}
	bodies := map[string][]byte{
		"produce topics":     append([]byte{0, 1, 0, 0, 0, 0}, huge...),
		"produce records":    append([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0}, huge...),
		"produce neg length": {0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe},
		"fetch topics":       append(make([]byte, 16), huge...),
		"metadata topics":    {0x80, 0, 0, 0},
		"string length":      {0, 0, 0, 1, 0x7f, 0xff},
	}
	for name, body := range bodies {
		var req Request = &ProduceRequest{}
		switch name {
		case "fetch topics":
			req = &FetchRequest{}
		case "metadata topics", "string length":
			req = &MetadataRequest{}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := req.Decode(body)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: err %v", name, err)
		}
		// The error message costs a few hundred bytes; allocating for the
		// declared count would cost gigabytes.
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Fatalf("%s: %d bytes allocated", name, n)
		}
	}
}

// TestTrailingBytes: a body with bytes after its last field is malformed.
func TestTrailingBytes(t *testing.T) {
	cases := requestCases()
	for _, name := range sortedKeys(cases) {
		req := cases[name]
		body := append(req.AppendTo(nil), 0)
		if err := newRequest(req.APIKey()).Decode(body); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestNamesInterned: a topic name seen before is the same string without a
// new allocation, and the table stays bounded.
func TestNamesInterned(t *testing.T) {
	var n names
	a := n.get([]byte("orders"))
	allocs := testing.AllocsPerRun(100, func() { _ = n.get([]byte("orders")) })
	if a != "orders" || allocs != 0 {
		t.Fatalf("got %q with %v allocs", a, allocs)
	}
	for i := 0; i < 2*maxNames; i++ {
		_ = n.get([]byte{byte(i), byte(i >> 8), 'x'})
	}
	if len(n.m) > maxNames || n.bytes > maxNamesBytes {
		t.Fatalf("table grew to %d names, %d bytes", len(n.m), n.bytes)
	}
	if got := n.get([]byte("never-seen-before")); got != "never-seen-before" {
		t.Fatalf("full table returned %q", got)
	}
}

// TestUnsupportedVersionResponse: a too-new ApiVersions still gets the list;
// other APIs get the error-only form.
func TestUnsupportedVersionResponse(t *testing.T) {
	var d Decoder
	for _, key := range []APIKey{APIVersionsKey, ProduceKey, 12} {
		h, _, err := d.Decode(appendInt32(appendInt16(appendInt16(nil, int16(key)), 3), 99))
		if !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("%s v3: %v", key, err)
		}
		payload, _, ok, err := SplitFrame(AppendUnsupportedVersionResponse(nil, h), DefaultMaxFrameSize)
		if !ok || err != nil {
			t.Fatalf("SplitFrame: %v %v", ok, err)
		}
		corr, body, _ := ParseResponseHeader(payload)
		var resp APIVersionsResponse
		if err := resp.Decode(body); err != nil || corr != 99 || resp.ErrorCode != UnsupportedVersion {
			t.Fatalf("%s: corr=%d resp=%+v err=%v", key, corr, resp, err)
		}
		if wantList := key == APIVersionsKey; wantList != reflect.DeepEqual(resp.APIs, SupportedVersions()) {
			t.Fatalf("%s: APIs %+v", key, resp.APIs)
		}
	}
}
