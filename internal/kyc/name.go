package kyc

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"danbao/internal/apperr"
)

// MaxLegalNameLen is the longest legal name accepted, in characters.
const MaxLegalNameLen = 64

// nameMarks are the punctuation characters a legal name may contain besides
// letters and spaces: the middle dots that separate the parts of a
// transcribed name (买买提·艾力), hyphens, apostrophes and periods.
const nameMarks = "·・•-'.’"

// NormalizeLegalName validates a legal name and returns its canonical form:
// surrounding white space removed and every inner run of white space made
// one ASCII space. A name has 1 to MaxLegalNameLen characters, at least one
// letter, and nothing but letters (of any script, with their combining
// marks), spaces and the marks · ・ • - ' . ’. Digits are refused, so no ID
// number can hide in a name. Errors are INVALID_INPUT on field legalName.
func NormalizeLegalName(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", apperr.Invalid("legalName", "legal name is not valid text")
	}
	name := strings.Join(strings.Fields(raw), " ")
	if name == "" {
		return "", apperr.Invalid("legalName", "legal name is required")
	}
	if utf8.RuneCountInString(name) > MaxLegalNameLen {
		return "", apperr.Invalid("legalName", "legal name must have at most %d characters", MaxLegalNameLen)
	}
	letters := 0
	for _, r := range name {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.M, r), r == ' ', strings.ContainsRune(nameMarks, r):
		default:
			return "", apperr.Invalid("legalName", "legal name may contain only letters, spaces and the marks · - ' .")
		}
	}
	if letters == 0 {
		return "", apperr.Invalid("legalName", "legal name must contain a letter")
	}
	return name, nil
}

// MaskLegalName shows the first character of a name and replaces every
// other character but spaces with '*': 李四 → 李*, 欧阳娜娜 → 欧***,
// ZHANG SAN → Z**** ***. A name of one character is masked entirely.
func MaskLegalName(name string) string {
	r := []rune(name)
	if len(r) <= 1 {
		return strings.Repeat("*", len(r))
	}
	var b strings.Builder
	b.WriteRune(r[0])
	for _, c := range r[1:] {
		if c == ' ' {
			b.WriteByte(' ')
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// SameName reports whether two names denote the same person as far as a
// bank card's holder name can tell: they are equal once spaces and the
// marks · ・ • - ' . ’ are removed and letters are upper-cased, so that
// "Zhang San", "ZHANG SAN" and "ZHANGSAN" match, as do "买买提·艾力" and
// "买买提艾力". Empty names match nothing.
func SameName(a, b string) bool {
	ka, kb := nameKey(a), nameKey(b)
	return ka != "" && ka == kb
}

func nameKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || strings.ContainsRune(nameMarks, r) {
			return -1
		}
		return unicode.ToUpper(r)
	}, s)
}
