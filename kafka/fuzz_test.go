package kafka

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/spate-io/spate/front"
)

// seedRequest is a request payload (no size prefix) as a client sends it.
func seedRequest(key, version int16) []byte {
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, 2)
	b = append(b, "id"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// FuzzKafkaRequest feeds arbitrary payloads to the request decoder: it
// must return a request or an error wrapping ErrMalformedRequest or
// ErrUnsupportedRequest, never panic.
func FuzzKafkaRequest(f *testing.F) {
	for _, v := range served {
		for ver := v.min; ver <= v.max; ver++ {
			f.Add(seedRequest(v.key, ver))
		}
	}
	f.Add([]byte{0, 18, 0, 9, 0, 0, 0, 1, 0xff, 0xff}) // ApiVersions v9
	f.Add([]byte{0, 1, 0, 13, 0, 0, 0, 1, 0xff, 0xff}) // Fetch v13: refused in its own form
	f.Add([]byte{0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0x05, 0x01, 0x7f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		hdr, req, refusal, err := decodeRequest(payload)
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformedRequest) && !errors.Is(err, ErrUnsupportedRequest) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
		case refusal != nil:
			vr, _, _ := servedRange(hdr.key)
			if req != nil || (hdr.version >= vr.min && hdr.version <= vr.max) {
				t.Fatalf("key %d v%d (served %d-%d) refused with request %v", hdr.key, hdr.version, vr.min, vr.max, req)
			}
			appendResponseFrame(nil, hdr, refusal) // must encode
		case req == nil:
			t.Fatalf("no request, refusal nor error for key %d v%d", hdr.key, hdr.version)
		default:
			if req.Key() != hdr.key || req.GetVersion() != hdr.version {
				t.Fatalf("decoded key %d v%d from a header of key %d v%d", req.Key(), req.GetVersion(), hdr.key, hdr.version)
			}
			vr, _, _ := servedRange(hdr.key)
			if hdr.version < vr.min || hdr.version > vr.max {
				t.Fatalf("decoded key %d at unserved version %d", hdr.key, hdr.version)
			}
		}
	})
}

// Every served key refused at an unserved version either answers
// UNSUPPORTED_VERSION in a form kmsg decodes back, or closes: never a
// top-level code of 0, never at a version its form does not have.
func TestUnsupportedVersionAnswers(t *testing.T) {
	answered := map[int16]bool{}
	for _, vr := range served {
		req := kmsg.RequestForKey(vr.key)
		for v := int16(0); v <= req.MaxVersion()+1; v++ {
			if v >= vr.min && v <= vr.max {
				continue
			}
			resp := unsupportedVersion(vr.key, v)
			if resp == nil {
				continue
			}
			answered[vr.key] = true
			want := v
			if vr.key == apiVersionsKey {
				want = 0
			}
			if resp.GetVersion() != want {
				t.Fatalf("key %d v%d answered at v%d", vr.key, v, resp.GetVersion())
			}
			back := req.ResponseKind()
			back.SetVersion(want)
			if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatalf("key %d v%d: answer does not decode: %v", vr.key, v, err)
			}
			if code := reflect.ValueOf(back).Elem().FieldByName("ErrorCode").Int(); code != int64(kerr.UnsupportedVersion.Code) {
				t.Fatalf("key %d v%d: answer decodes with error code %d", vr.key, v, code)
			}
		}
	}
	// Fetch v13+, ListGroups v5 and InitProducerId v5 have a top-level code;
	// Produce's form never does.
	for key, want := range map[int16]bool{0: false, 1: true, 16: true, 18: true, 22: true} {
		if answered[key] != want {
			t.Errorf("key %d answered at some unserved version: %v, want %v", key, answered[key], want)
		}
	}
}

// The hand encoder, records spliced in at its cuts, decodes with kmsg to
// what it was given, at every served Fetch version.
func TestAppendFetchResponse(t *testing.T) {
	topics := []front.FetchTopic{{Name: "a", Partitions: 2}, {Name: "bee", Partitions: 1}, {Name: "empty"}}
	answers := []front.FetchAnswer{
		{Partition: 0, HighWatermark: 10, LogStartOffset: 2, RecordsLen: 5},
		{Partition: 3, Code: 1, HighWatermark: -1, LogStartOffset: -1},
		{Partition: 1, HighWatermark: 7, RecordsLen: 200},
	}
	records := [][]byte{[]byte("12345"), nil, make([]byte, 200)}
	records[2][0], records[2][199] = 'x', 'y'
	for v := int16(4); v <= 12; v++ {
		hdr := requestHeader{key: 1, version: v, correlationID: 42}
		frame, cuts := appendFetchResponse(nil, hdr, 0, topics, answers, nil)
		var whole []byte
		prev, next := 0, 0
		for i, a := range answers {
			if a.RecordsLen == 0 {
				continue
			}
			whole = append(whole, frame[prev:cuts[next]]...)
			whole = append(whole, records[i]...)
			prev = cuts[next]
			next++
		}
		if next != len(cuts) {
			t.Fatalf("v%d: %d cuts, %d partitions with records", v, len(cuts), next)
		}
		whole = append(whole, frame[prev:]...)
		if size := int(binary.BigEndian.Uint32(whole)); size != len(whole)-4 {
			t.Fatalf("v%d: size prefix %d, frame has %d bytes after it", v, size, len(whole)-4)
		}
		if corr := binary.BigEndian.Uint32(whole[4:]); corr != 42 {
			t.Fatalf("v%d: correlation id %d", v, corr)
		}
		body := whole[8:]
		if v >= 12 {
			body = body[1:]
		}
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(v)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("v%d: kmsg cannot decode: %v", v, err)
		}
		i := 0
		for ti, rt := range resp.Topics {
			if rt.Topic != topics[ti].Name || len(rt.Partitions) != topics[ti].Partitions {
				t.Fatalf("v%d: topic %d decoded as %q with %d partitions", v, ti, rt.Topic, len(rt.Partitions))
			}
			for pi, p := range rt.Partitions {
				want := answers[i]
				logStart := want.LogStartOffset
				if v < 5 {
					logStart = -1 // kmsg's default where the field is absent
				}
				if p.Partition != want.Partition || p.ErrorCode != int16(want.Code) || p.HighWatermark != want.HighWatermark ||
					p.LastStableOffset != want.HighWatermark || p.LogStartOffset != logStart ||
					string(p.RecordBatches) != string(records[i]) {
					t.Fatalf("v%d: topic %d partition %d decoded as %+v, want %+v", v, ti, pi, p, want)
				}
				i++
			}
		}
		if len(resp.Topics) != len(topics) || resp.SessionID != 0 {
			t.Fatalf("v%d: %d topics, session %d", v, len(resp.Topics), resp.SessionID)
		}
	}
}
