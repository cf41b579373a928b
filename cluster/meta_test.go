package cluster

import (
	"errors"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []dirMeta{{brokerID: 3}, {brokerID: 0, clusterID: ID16{1, 2, 3}}} {
		got, err := parseMeta(m.format())
		if err != nil || got != m {
			t.Fatalf("parseMeta(format(%+v)) = %+v, %v", m, got, err)
		}
	}
	bad := map[string]string{
		"no version":      "broker.id=1\n",
		"version 2":       "version=2\nbroker.id=1\n",
		"no broker id":    "version=1\n",
		"negative id":     "version=1\nbroker.id=-1\n",
		"bad cluster id":  "version=1\nbroker.id=1\ncluster.id=xyz\n",
		"not key=value":   "version=1\nbroker.id=1\ngarbage\n",
		"id out of range": "version=1\nbroker.id=99999999999\n",
	}
	for name, text := range bad {
		if _, err := parseMeta([]byte(text)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzParseMeta(f *testing.F) {
	f.Add(dirMeta{brokerID: 3, clusterID: ID16{9}}.format())
	f.Add([]byte("version=1\nbroker.id=1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again, err := parseMeta(m.format()); err != nil || again != m {
			t.Fatalf("format/parse changed %+v to %+v (%v)", m, again, err)
		}
	})
}

func FuzzParseVoters(f *testing.F) {
	f.Add("1@127.0.0.1:9193,2@127.0.0.1:9293,3@127.0.0.1:9393")
	f.Add("1@[::1]:1")
	f.Fuzz(func(t *testing.T, s string) {
		vs, err := ParseVoters(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidVoters) {
				t.Fatalf("error %v does not wrap ErrInvalidVoters", err)
			}
			return
		}
		again, err := ParseVoters(FormatVoters(vs))
		if err != nil || len(again) != len(vs) {
			t.Fatalf("FormatVoters(%v) does not parse back: %v", vs, err)
		}
		for i := range vs {
			if again[i] != vs[i] {
				t.Fatalf("round trip changed %v to %v", vs[i], again[i])
			}
		}
	})
}
