package main

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

var testRecord = client.Record{Topic: "t", Partition: 3, Offset: 42, Key: []byte("k1"), Value: []byte("v1"),
	Timestamp: time.UnixMilli(1700000000123)}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{`%v\n`, "v1\n"},
		{`%k %p\n`, "k1 3\n"},
		{`%p/%o %k=%v at %t\t|`, "3/42 k1=v1 at 1700000000123\t|"},
		{`100%% \\ %v\r\n`, "100% \\ v1\r\n"},
		{`plain`, "plain"},
		{``, ""},
		{`%v%v`, "v1v1"},
	} {
		f, err := parseFormat(tc.format)
		if err != nil {
			t.Errorf("parseFormat(%q): %v", tc.format, err)
			continue
		}
		if got := string(f.appendRecord([]byte("pre:"), &testRecord)); got != "pre:"+tc.want {
			t.Errorf("format %q = %q, want %q", tc.format, got, "pre:"+tc.want)
		}
	}
	for _, bad := range []string{`%`, `\`, `%x`, `%V`, `\q`, `abc%`} {
		if _, err := parseFormat(bad); err == nil {
			t.Errorf("parseFormat(%q) accepted", bad)
		}
	}
}

func TestFormatNullKey(t *testing.T) {
	f, err := parseFormat(`[%k]`)
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord
	r.Key = nil
	if got := string(f.appendRecord(nil, &r)); got != "[]" {
		t.Errorf("null key printed as %q, want []", got)
	}
}

func TestJSONRecord(t *testing.T) {
	type line struct {
		Topic       string  `json:"topic"`
		Partition   int32   `json:"partition"`
		Offset      int64   `json:"offset"`
		Timestamp   int64   `json:"timestamp"`
		Key         *string `json:"key"`
		KeyBase64   *string `json:"key_base64"`
		Value       *string `json:"value"`
		ValueBase64 *string `json:"value_base64"`
	}
	text := "quote\" backslash\\ nl\n tab\t ctl\x01\x1f é 日本 \u2028"
	binary := []byte{0xff, 0x00, 0xfe, 'a'}
	for _, tc := range []struct {
		name       string
		key, value []byte
	}{
		{"text", []byte("k1"), []byte(text)},
		{"null key", nil, []byte("v")},
		{"binary", binary, binary},
		{"empty", []byte{}, []byte{}},
		{"null value", []byte("k"), nil},
	} {
		r := testRecord
		r.Key, r.Value = tc.key, tc.value
		out := appendJSONRecord(nil, &r)
		if out[len(out)-1] != '\n' {
			t.Errorf("%s: no trailing newline", tc.name)
		}
		var l line
		if err := json.Unmarshal(out, &l); err != nil {
			t.Errorf("%s: %s does not parse: %v", tc.name, out, err)
			continue
		}
		if l.Topic != "t" || l.Partition != 3 || l.Offset != 42 || l.Timestamp != 1700000000123 {
			t.Errorf("%s: header fields wrong in %s", tc.name, out)
		}
		check := func(field string, want []byte, str, b64 *string) {
			switch {
			case want == nil:
				if str != nil || b64 != nil {
					t.Errorf("%s: %s of a null should be null: %s", tc.name, field, out)
				}
			case b64 != nil:
				got, err := base64.StdEncoding.DecodeString(*b64)
				if err != nil || string(got) != string(want) || str != nil {
					t.Errorf("%s: %s_base64 wrong in %s", tc.name, field, out)
				}
				if string(want) != string(binary) {
					t.Errorf("%s: %s is UTF-8 but came as base64: %s", tc.name, field, out)
				}
			case str == nil || *str != string(want):
				t.Errorf("%s: %s wrong in %s", tc.name, field, out)
			}
		}
		check("key", tc.key, l.Key, l.KeyBase64)
		check("value", tc.value, l.Value, l.ValueBase64)
	}
}

func BenchmarkFormat(b *testing.B) {
	f, err := parseFormat(`%p %o %k %v\n`)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.appendRecord(buf[:0], &testRecord)
	}
}

func BenchmarkJSON(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendJSONRecord(buf[:0], &testRecord)
	}
}
