package record

import (
	"strings"
	"testing"
)

func TestCheckTopicName(t *testing.T) {
	cases := []struct {
		name string
		want string // a part of the error; "" for a valid name
	}{
		{"orders", ""},
		{"A-Z_0.9", ""},
		{"...", ""},
		{strings.Repeat("x", 249), ""},
		{strings.Repeat("x", 250), "250 characters, above the limit of 249"},
		{"", "empty"},
		{".", `"." is not allowed`},
		{"..", `".." is not allowed`},
		{"a/b", `has '/' at byte 1`},
		{"ü", `at byte 0`},
	}
	for _, c := range cases {
		err := CheckTopicName(c.name)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckTopicName(%.20q): %v, want ok", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckTopicName(%.20q) = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
