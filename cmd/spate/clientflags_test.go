package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"16384", 16384}, {"1B", 1}, {"16KiB", 16 << 10}, {"16k", 16 << 10}, {"16K", 16 << 10},
		{"1MiB", 1 << 20}, {"1 MiB", 1 << 20}, {"1m", 1 << 20}, {"2GiB", 2 << 30}, {"1g", 1 << 30},
		{"1KB", 1000}, {"1kb", 1000}, {"5MB", 5e6}, {"1GB", 1e9}, {" 7 ", 7},
	} {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "1.5MiB", "1XB", "1 MiB B", "9223372036854775807KiB", "99999999999999999999"} {
		if n, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, n)
		}
	}
}

// runFlags runs a one-command app with the same flag kinds the client
// commands use and returns what the action saw.
func runFlags(t *testing.T, args ...string) (pos []string, count int, json bool, parts []string, err error) {
	t.Helper()
	app := &cli.App{
		Writer:    io.Discard,
		ErrWriter: io.Discard,
		Commands: []*cli.Command{{
			Name: "consume",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "count", Aliases: []string{"n"}},
				&cli.BoolFlag{Name: "json"},
				&cli.GenericFlag{Name: "partition", Value: &listValue{}},
			},
			Action: withArgs(func(c *cli.Context, args []string) error {
				pos, count, json, parts = args, c.Int("count"), c.Bool("json"), list(c, "partition")
				return nil
			}),
		}},
	}
	err = app.Run(append([]string{"spate", "consume"}, args...))
	return
}

func TestTrailingFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		pos   []string
		count int
		json  bool
		parts []string
	}{
		{[]string{"t"}, []string{"t"}, 0, false, nil},
		{[]string{"--count", "5", "t"}, []string{"t"}, 5, false, nil},
		{[]string{"t", "--count", "5"}, []string{"t"}, 5, false, nil},
		{[]string{"t", "-n", "5", "--json"}, []string{"t"}, 5, true, nil},
		{[]string{"t", "--count=7", "--json=false"}, []string{"t"}, 7, false, nil},
		{[]string{"t", "--partition", "1", "u", "--partition", "2,3"}, []string{"t", "u"}, 0, false, []string{"1", "2,3"}},
		{[]string{"t", "--", "--count", "5"}, []string{"t", "--count", "5"}, 0, false, nil},
		{[]string{"t", "-"}, []string{"t", "-"}, 0, false, nil},
	} {
		pos, count, json, parts, err := runFlags(t, tc.args...)
		if err != nil || !slices.Equal(pos, tc.pos) || count != tc.count || json != tc.json || !slices.Equal(parts, tc.parts) {
			t.Errorf("%q: got args %q count %d json %v partitions %q err %v; want %q %d %v %q",
				tc.args, pos, count, json, parts, err, tc.pos, tc.count, tc.json, tc.parts)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"t", "--bogus"}, "not defined"},
		{[]string{"t", "--count"}, "needs an argument"},
		{[]string{"t", "--count", "five"}, "invalid value"},
	} {
		if _, _, _, _, err := runFlags(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestBrokers(t *testing.T) {
	for _, tc := range []struct {
		env, flag string
		want      []string
	}{
		{"", "", []string{defaultBrokers}},
		{"", " , ", []string{defaultBrokers}},
		{"10.0.0.1:9192", "", []string{"10.0.0.1:9192"}},
		{"10.0.0.1:9192", "a:1, b:2,", []string{"a:1", "b:2"}},
	} {
		t.Setenv("SPATE_BROKERS", tc.env)
		var got []string
		app := &cli.App{Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{{
			Name: "x", Flags: []cli.Flag{brokersFlag()},
			Action: withArgs(func(c *cli.Context, _ []string) error {
				got = brokers(c)
				return nil
			}),
		}}}
		args := []string{"spate", "x"}
		if tc.flag != "" {
			args = append(args, "--brokers", tc.flag)
		}
		if err := app.Run(args); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("env %q flag %q: got %q, %v; want %q", tc.env, tc.flag, got, err, tc.want)
		}
	}
}
