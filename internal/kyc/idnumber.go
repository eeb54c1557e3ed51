package kyc

import (
	"strings"
	"time"

	"danbao/internal/apperr"
)

// IDType is the kind of identity document a user verifies with. Its values
// are stored and exposed through the API, so they are only ever added.
type IDType string

// The identity documents danbao accepts.
const (
	// ResidentID is the PRC resident identity card (居民身份证): 18
	// characters, 17 digits and an ISO 7064 MOD 11-2 check character.
	ResidentID IDType = "RESIDENT_ID"
	// Passport is a passport of any country: 6 to 9 upper-case letters or
	// digits with at least one digit. PRC passports (E or G and 8 digits, or
	// E, a letter and 7 digits) are a special case of this rule.
	Passport IDType = "PASSPORT"
	// HKMacauPermit is the Mainland Travel Permit for Hong Kong and Macao
	// Residents (港澳居民来往内地通行证): H (Hong Kong) or M (Macao) followed
	// by 8 digits, or by 10 digits on the newer cards.
	HKMacauPermit IDType = "HK_MACAU_PERMIT"
	// TaiwanPermit is the Mainland Travel Permit for Taiwan Residents
	// (台湾居民来往大陆通行证): 8 digits.
	TaiwanPermit IDType = "TAIWAN_PERMIT"
)

const (
	fieldIDNumber = "idNumber"
	fieldIDType   = "idType"

	residentIDLen = 18
)

// chinaStandardTime is the calendar in which a resident ID's birth date is
// written. China has kept UTC+8 without daylight saving since 1991, so a
// fixed zone is exact and needs no tz database.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// earliestBirth is the earliest birth date accepted on a resident ID.
var earliestBirth = time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)

// checkWeights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 for the
// first 17 digits of a resident ID number.
var checkWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// provinceCodes are the province-level codes of GB/T 2260 that begin a
// resident ID number, plus 71 (Taiwan's GB/T 2260 code), and 81 (Hong Kong),
// 82 (Macao) and 83 (Taiwan), which begin the numbers of residence permits
// issued to their residents.
var provinceCodes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// NormalizeIDNumber validates an identity document number of type t and
// returns its canonical form: raw with surrounding white space removed.
// Nothing else is rewritten; in particular a resident ID number ending in a
// lower-case x is refused, not upper-cased. now decides whether a birth date
// is in the future (compared as a calendar date in China Standard Time).
//
// For a resident ID number the checks run in this order: length and
// characters, check digit, province code, birth date (a real date from
// 1900-01-01 up to today).
//
// It returns INVALID_INPUT on field idType for an unknown t and on field
// idNumber for a malformed number. Messages never contain the number.
func NormalizeIDNumber(t IDType, raw string, now time.Time) (string, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case ResidentID, Passport, HKMacauPermit, TaiwanPermit:
	default:
		return "", apperr.Invalid(fieldIDType, "unknown ID type")
	}
	if s == "" {
		return "", apperr.Invalid(fieldIDNumber, "ID number is required")
	}
	var err error
	switch t {
	case ResidentID:
		err = validateResidentID(s, now)
	case Passport:
		err = validatePassport(s)
	case HKMacauPermit:
		err = validateHKMacauPermit(s)
	case TaiwanPermit:
		err = validateTaiwanPermit(s)
	}
	if err != nil {
		return "", err
	}
	return s, nil
}

// CheckDigit returns the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X')
// of the first 17 digits of a resident ID number. It returns INVALID_INPUT
// on field idNumber unless first17 is exactly 17 ASCII digits.
func CheckDigit(first17 string) (byte, error) {
	if len(first17) != 17 || !allDigits(first17) {
		return 0, apperr.Invalid(fieldIDNumber, "the check digit is computed from exactly 17 digits")
	}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * checkWeights[i]
	}
	return checkChars[sum%11], nil
}

// BirthDate returns the birth date written in digits 7 to 14 of an 18
// character resident ID number, at midnight UTC. ok is false when s is not
// 18 characters long or those digits are not a real calendar date. It does
// not check the rest of the number: use it on the output of
// NormalizeIDNumber.
func BirthDate(s string) (date time.Time, ok bool) {
	if len(s) != residentIDLen {
		return time.Time{}, false
	}
	return parseDate(s[6:14])
}

func validateResidentID(s string, now time.Time) error {
	// Shape first: nothing below may index into a string of the wrong length.
	if len(s) != residentIDLen {
		return apperr.Invalid(fieldIDNumber, "a resident ID number has exactly 18 characters")
	}
	last := s[residentIDLen-1]
	if !allDigits(s[:17]) || !(isDigit(last) || last == 'X' || last == 'x') {
		return apperr.Invalid(fieldIDNumber, "a resident ID number is 17 digits followed by a digit or an upper-case X")
	}
	if last == 'x' {
		return apperr.Invalid(fieldIDNumber, "the last character of a resident ID number must be an upper-case X, not a lower-case x")
	}

	// The check digit is validated before anything else beyond shape
	// (see docs/design.md, Real-name verification): a typo is then reported as a typo, not as whatever
	// field the mistyped digit happened to land in.
	want, _ := CheckDigit(s[:17]) // cannot fail: 17 digits checked above
	if last != want {
		return apperr.Invalid(fieldIDNumber, "the resident ID number's check digit does not match; please check the number for a typo")
	}

	if !provinceCodes[s[:2]] {
		return apperr.Invalid(fieldIDNumber, "the resident ID number does not begin with a known province code")
	}

	birth, ok := parseDate(s[6:14])
	if !ok {
		return apperr.Invalid(fieldIDNumber, "the resident ID number does not contain a valid birth date")
	}
	if birth.Before(earliestBirth) {
		return apperr.Invalid(fieldIDNumber, "the birth date in the resident ID number is before 1900")
	}
	y, m, d := now.In(chinaStandardTime).Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return apperr.Invalid(fieldIDNumber, "the birth date in the resident ID number is in the future")
	}
	return nil
}

func validatePassport(s string) error {
	if len(s) < 6 || len(s) > 9 {
		return apperr.Invalid(fieldIDNumber, "a passport number has 6 to 9 characters")
	}
	hasDigit := false
	for i := range len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			hasDigit = true
		case c >= 'A' && c <= 'Z':
		case c >= 'a' && c <= 'z':
			return apperr.Invalid(fieldIDNumber, "a passport number must be written in upper-case letters")
		default:
			return apperr.Invalid(fieldIDNumber, "a passport number contains only upper-case letters and digits")
		}
	}
	if !hasDigit {
		return apperr.Invalid(fieldIDNumber, "a passport number contains at least one digit")
	}
	return nil
}

// IdentityKey is the part of a normalized document number that names the
// person, which the one-ID-one-wallet rule compares. For Hong Kong and
// Macao residents' permits it is the letter and the 8-digit lifetime
// number: the two digits a newer card adds count its re-issues, so
// H12345678, H1234567801 and H1234567802 are one person. Otherwise it is
// the whole number.
func IdentityKey(t IDType, normalized string) string {
	if t == HKMacauPermit && len(normalized) > 9 {
		return normalized[:9]
	}
	return normalized
}

func validateHKMacauPermit(s string) error {
	// ^[HM]\d{8}(\d{2})?$
	if (len(s) != 9 && len(s) != 11) || (s[0] != 'H' && s[0] != 'M') || !allDigits(s[1:]) {
		return apperr.Invalid(fieldIDNumber, "a Hong Kong and Macao residents' permit number is an upper-case H or M followed by 8 or 10 digits")
	}
	return nil
}

func validateTaiwanPermit(s string) error {
	// ^\d{8}$
	if len(s) != 8 || !allDigits(s) {
		return apperr.Invalid(fieldIDNumber, "a Taiwan residents' permit number is exactly 8 digits")
	}
	return nil
}

// parseDate parses YYYYMMDD as a calendar date at midnight UTC, refusing
// dates that time.Date would normalize (February 30, month 13).
func parseDate(s string) (time.Time, bool) {
	if len(s) != 8 || !allDigits(s) {
		return time.Time{}, false
	}
	y := atoi(s[0:4])
	m := atoi(s[4:6])
	d := atoi(s[6:8])
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// atoi converts a short string of ASCII digits; callers check allDigits.
func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
