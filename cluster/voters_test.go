package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseVoters(t *testing.T) {
	got, err := ParseVoters(" 1@127.0.0.1:9193, 2@localhost:9293,3@[::1]:9393 ")
	want := []Voter{{1, "127.0.0.1:9193"}, {2, "localhost:9293"}, {3, "[::1]:9393"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v", got, err)
	}
	if s := FormatVoters(got); s != "1@127.0.0.1:9193,2@localhost:9293,3@[::1]:9393" {
		t.Fatalf("FormatVoters: %q", s)
	}
	if v, err := ParseVoters(""); v != nil || err != nil {
		t.Fatalf("empty: %v, %v", v, err)
	}
	bad := []struct{ in, mention string }{
		{"1@127.0.0.1:9193,", `entry 2 ""`},
		{"127.0.0.1:9193", "want ID@HOST:PORT"},
		{"x@127.0.0.1:9193", `broker id "x"`},
		{"-1@127.0.0.1:9193", `broker id "-1"`},
		{"99999999999@127.0.0.1:9193", "broker id"},
		{"1@127.0.0.1", "want HOST:PORT"},
		{"1@:9193", "no host"},
		{"1@127.0.0.1:0", `port "0"`},
		{"1@127.0.0.1:70000", `port "70000"`},
		{"1@127.0.0.1:http", `port "http"`},
		{"1@a:1,1@b:2", "broker id 1 is listed twice"},
		{"1@a:1,2@a:1", "also broker 1's"},
	}
	for _, c := range bad {
		_, err := ParseVoters(c.in)
		if !errors.Is(err, ErrInvalidVoters) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("ParseVoters(%q) = %v, want ErrInvalidVoters mentioning %q", c.in, err, c.mention)
		}
	}
}

func TestIsVoter(t *testing.T) {
	vs := []Voter{{5, "a:1"}, {6, "b:1"}, {7, "c:1"}, {8, "d:1"}}
	for id, want := range map[int32]bool{5: true, 7: true, 8: false, 1: false} {
		if isVoter(vs, id) != want {
			t.Errorf("isVoter(%d) = %v", id, !want)
		}
	}
}
