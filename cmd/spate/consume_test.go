package main

import (
	"slices"
	"testing"
	"time"

	"github.com/spate-io/spate/client"
)

func TestParseFrom(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want client.Offset
	}{
		{"beginning", client.Earliest()},
		{"earliest", client.Earliest()},
		{"end", client.Latest()},
		{"latest", client.Latest()},
		{"0", client.At(0)},
		{"42", client.At(42)},
		{"@1700000000000", client.AtTime(time.UnixMilli(1700000000000))},
		{"@0", client.AtTime(time.UnixMilli(0))},
		{"2026-11-24T21:00:00Z", client.AtTime(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))},
		{"2026-11-24T22:00:00+01:00", client.AtTime(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))},
		{"2026-11-24T21:00:00.250Z", client.AtTime(time.UnixMilli(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC).UnixMilli() + 250))},
	} {
		got, err := parseFrom(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseFrom(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	// A plain number is an offset, never a time.
	if at, _ := parseFrom("1700000000000"); at != client.At(1700000000000) {
		t.Errorf("a plain number was not read as an offset: %+v", at)
	}
	for _, bad := range []string{"", "begin", "-1", "@", "@-5", "@1.5", "2026-11-24", "2026-11-24 21:00:00", "1h"} {
		if got, err := parseFrom(bad); err == nil {
			t.Errorf("parseFrom(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestParsePartitions(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []int32
	}{
		{nil, nil},
		{[]string{"0"}, []int32{0}},
		{[]string{"0,2", "5"}, []int32{0, 2, 5}},
		{[]string{" 1 , 1", "1"}, []int32{1}},
	} {
		got, err := parsePartitions(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parsePartitions(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{{""}, {"-1"}, {"a"}, {"1,,2"}, {"4294967296"}} {
		if got, err := parsePartitions(bad); err == nil {
			t.Errorf("parsePartitions(%q) = %v, want an error", bad, got)
		}
	}
}
