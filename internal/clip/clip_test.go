package clip

import (
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdef", 3, "abc"},
		{"ab茶", 4, "ab"}, // 茶 is 3 bytes: not split
		{"ab茶", 5, "ab茶"},
		{"a\xffb", 10, "a?b"}, // invalid UTF-8 replaced
		{"茶茶", 2, ""},
		{"a\x00b\nc\x7f\u0085", 10, "a?b?c??"}, // controls (NUL: PostgreSQL refuses it)
	} {
		got := Bytes(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) || len(got) > c.n {
			t.Errorf("Bytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
