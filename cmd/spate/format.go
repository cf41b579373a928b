package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/spate-io/spate/client"
)

// formatHelp documents --format and --json; it is part of the consume help.
const formatHelp = `--format writes each record through a template:
  %v value    %k key (empty when null)    %p partition    %o offset
  %t timestamp, Unix milliseconds           %% a literal %
  \n newline  \t tab  \r carriage return    \\ a literal backslash
The default is '%v\n'. Key and value bytes are written as they are.

--json writes one JSON object per line instead:
  {"topic":"t","partition":0,"offset":42,"timestamp":1700000000000,"key":"k","value":"v"}
timestamp is Unix milliseconds. A key or value that is valid UTF-8 is a
JSON string under "key" / "value"; one that is not is base64 (standard
alphabet, padded) under "key_base64" / "value_base64" instead, so the
field name says how to read it. A null key is "key":null.`

// formatOp is one step of a record format: a literal or a record field.
type formatOp struct {
	field   byte   // 0 for a literal, else one of 'k', 'v', 'p', 'o', 't'
	literal []byte // when field is 0
}

// recordFormat is a parsed --format template.
type recordFormat []formatOp

// parseFormat parses a --format template (see formatHelp).
func parseFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f = append(f, formatOp{literal: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' && c != '\\' {
			lit = append(lit, c)
			continue
		}
		if i+1 == len(s) {
			return nil, fmt.Errorf("format %q: %q at the end needs a character after it", s, c)
		}
		i++
		d := s[i]
		switch {
		case c == '%' && d == '%':
			lit = append(lit, '%')
		case c == '%' && (d == 'k' || d == 'v' || d == 'p' || d == 'o' || d == 't'):
			flush()
			f = append(f, formatOp{field: d})
		case c == '\\' && d == 'n':
			lit = append(lit, '\n')
		case c == '\\' && d == 't':
			lit = append(lit, '\t')
		case c == '\\' && d == 'r':
			lit = append(lit, '\r')
		case c == '\\' && d == '\\':
			lit = append(lit, '\\')
		default:
			return nil, fmt.Errorf("format %q: unknown %c%c at byte %d (see spate consume --help)", s, c, d, i-1)
		}
	}
	flush()
	return f, nil
}

// appendRecord appends r formatted by f to dst.
func (f recordFormat) appendRecord(dst []byte, r *client.Record) []byte {
	for _, op := range f {
		switch op.field {
		case 0:
			dst = append(dst, op.literal...)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 't':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		}
	}
	return dst
}

// appendJSONRecord appends r as one line of JSON (see formatHelp).
func appendJSONRecord(dst []byte, r *client.Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendJSONString(dst, r.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
	if r.Key == nil {
		dst = append(dst, `,"key":null`...)
	} else {
		dst = appendJSONBytes(dst, "key", r.Key)
	}
	if r.Value == nil {
		dst = append(dst, `,"value":null`...)
	} else {
		dst = appendJSONBytes(dst, "value", r.Value)
	}
	return append(dst, "}\n"...)
}

// appendJSONBytes appends ,"name":"text" for UTF-8 b, else ,"name_base64":"...".
func appendJSONBytes(dst []byte, name string, b []byte) []byte {
	if utf8.Valid(b) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		return appendJSONString(dst, b)
	}
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `_base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendJSONString appends s, which must be valid UTF-8, as a JSON string.
// Only what JSON requires is escaped: '"', '\\' and control characters.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
