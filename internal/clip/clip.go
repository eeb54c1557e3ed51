// Package clip shortens text from outside (a bank's reason, an HTTP
// client's error) to fit a stored column: valid UTF-8 without control
// characters, at most a number of bytes, cut at a character boundary.
package clip

import (
	"strings"
	"unicode/utf8"
)

// Bytes returns s with invalid UTF-8 and control characters (NUL, which
// PostgreSQL refuses in text, among them) replaced by "?", cut to at most n
// bytes without splitting a character.
func Bytes(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
