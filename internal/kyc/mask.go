package kyc

import "strings"

// MaskIDNumber returns s with all but a few characters replaced by '*',
// for display and logs. An 18-character resident ID number keeps its first
// 3 and last 4 characters (110***********123X); a shorter number of at least
// 6 characters keeps its first 1 and last 2 (E******78); anything shorter is
// masked entirely. The result has as many characters as s, and never shows
// more than 7 of them.
func MaskIDNumber(s string) string {
	r := []rune(s)
	var head, tail int
	switch n := len(r); {
	case n >= residentIDLen:
		head, tail = 3, 4
	case n >= 6:
		head, tail = 1, 2
	default:
		return strings.Repeat("*", n)
	}
	var b strings.Builder
	b.Grow(len(r))
	b.WriteString(string(r[:head]))
	b.WriteString(strings.Repeat("*", len(r)-head-tail))
	b.WriteString(string(r[len(r)-tail:]))
	return b.String()
}
