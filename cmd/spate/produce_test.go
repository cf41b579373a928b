package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSplitKey(t *testing.T) {
	for _, tc := range []struct {
		line, sep string
		noSep     bool
		key       *string
		value     string
	}{
		{line: "k:v", noSep: true, value: "k:v"},
		{line: "k:v", sep: ":", key: ptr("k"), value: "v"},
		{line: "k:v:w", sep: ":", key: ptr("k"), value: "v:w"},
		{line: "novalue", sep: ":", value: "novalue"},
		{line: ":v", sep: ":", key: ptr(""), value: "v"},
		{line: "k:", sep: ":", key: ptr("k"), value: ""},
		{line: "a::b", sep: "::", key: ptr("a"), value: "b"},
		{line: "a\tb", sep: "\t", key: ptr("a"), value: "b"},
	} {
		var sep []byte
		if !tc.noSep {
			sep = []byte(tc.sep)
		}
		k, v := splitKey([]byte(tc.line), sep)
		switch {
		case tc.key == nil && k != nil:
			t.Errorf("splitKey(%q, %q): key %q, want null", tc.line, tc.sep, k)
		case tc.key != nil && (k == nil || string(k) != *tc.key):
			t.Errorf("splitKey(%q, %q): key %q (nil %v), want %q", tc.line, tc.sep, k, k == nil, *tc.key)
		case string(v) != tc.value:
			t.Errorf("splitKey(%q, %q): value %q, want %q", tc.line, tc.sep, v, tc.value)
		}
	}
}

func ptr(s string) *string { return &s }

func readAll(t *testing.T, r io.Reader, max int) ([]string, error) {
	t.Helper()
	lr := newLineReader(r, max)
	var lines []string
	for {
		l, err := lr.next()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		lines = append(lines, string(l))
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 700<<10) // longer than the reader's 256 KiB buffer
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty input", "", nil},
		{"lf", "a\nb\n", []string{"a", "b"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"empty lines", "\n\na\n", []string{"", "", "a"}},
		{"lone cr kept", "a\rb\nc\r", []string{"a\rb", "c\r"}},
		{"long line", "s\n" + long + "\r\nt", []string{"s", long, "t"}},
		{"long last line", long, []string{long}},
	} {
		for _, slow := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if slow {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(t, r, 1<<20)
			if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("%s (one byte reads %v): got %d lines, err %v; want %d", tc.name, slow, len(got), err, len(tc.want))
			}
		}
	}
}

func TestLineReaderTooLong(t *testing.T) {
	for _, in := range []string{"ok\n" + strings.Repeat("y", 11) + "\n", "ok\n" + strings.Repeat("y", 600<<10)} {
		max := 10
		if len(in) > 1000 {
			max = 512 << 10
		}
		got, err := readAll(t, strings.NewReader(in), max)
		if err == nil || !strings.Contains(err.Error(), "line 2 is longer than") || len(got) != 1 {
			t.Errorf("max %d: got %d lines, err %v; want line 2 refused", max, len(got), err)
		}
	}
	// Exactly at the limit, with its "\r\n", is fine.
	if got, err := readAll(t, strings.NewReader("0123456789\r\n"), 10); err != nil || len(got) != 1 {
		t.Errorf("line at the limit: %q, %v", got, err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := readAll(t, io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)), 100); !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`:`: ":", `\t`: "\t", `a\\b`: `a\b`, `\r\n`: "\r\n", ``: ""} {
		if got, err := unescape(in); err != nil || got != want {
			t.Errorf("unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\`, `\x`, `a\`} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) accepted", bad)
		}
	}
}

func TestParseAcksCompression(t *testing.T) {
	for _, s := range []string{"0", "1", "all", "-1"} {
		if _, err := parseAcks(s); err != nil {
			t.Errorf("parseAcks(%q): %v", s, err)
		}
	}
	if _, err := parseAcks("2"); err == nil {
		t.Error("parseAcks(2) accepted")
	}
	for _, s := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		c, err := parseCompression(s)
		if err != nil || c.String() != s {
			t.Errorf("parseCompression(%q) = %v, %v", s, c, err)
		}
	}
	if _, err := parseCompression("brotli"); err == nil {
		t.Error("parseCompression(brotli) accepted")
	}
}
