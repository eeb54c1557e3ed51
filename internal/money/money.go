package money

import (
	"slices"
	"strconv"
	"strings"

	"danbao/internal/apperr"
)

// Currency is an ISO 4217 alphabetic currency code such as "CNY". Only the
// currencies in the registry (see Currencies) are supported.
type Currency string

// The supported currencies.
const (
	CNY Currency = "CNY"
	USD Currency = "USD"
	EUR Currency = "EUR"
	HKD Currency = "HKD"
	GBP Currency = "GBP"
	JPY Currency = "JPY"
)

// digits is the registry of supported currencies and their ISO 4217
// minor-unit digits. It is never modified after initialisation.
var digits = map[Currency]int{
	CNY: 2,
	USD: 2,
	EUR: 2,
	HKD: 2,
	GBP: 2,
	JPY: 0,
}

// MaxMinor is the largest amount, in minor units, that ParsePositive accepts
// for a single movement: 10^15 minor units (10 trillion major units for a
// currency with two digits). It leaves ample headroom below math.MaxInt64 so
// that sums of many such amounts cannot overflow in practice.
const MaxMinor int64 = 1_000_000_000_000_000

// Currencies returns the supported currencies in alphabetical order.
func Currencies() []Currency {
	cs := make([]Currency, 0, len(digits))
	for c := range digits {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// ParseCurrency returns the supported Currency named by s, which must be an
// upper-case three-letter ISO 4217 code ("CNY", not "cny" or " CNY"). Any
// other input is INVALID_INPUT on field "currency".
func ParseCurrency(s string) (Currency, error) {
	c := Currency(s)
	if c.Supported() {
		return c, nil
	}
	if isUpperCode(s) {
		return "", apperr.Invalid("currency", "unsupported currency %q", s)
	}
	return "", apperr.Invalid("currency", "unsupported currency: expected an upper-case ISO 4217 code such as CNY")
}

func isUpperCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// Supported reports whether c is in the registry of supported currencies.
func (c Currency) Supported() bool {
	_, ok := digits[c]
	return ok
}

// Digits returns the number of minor-unit digits of c (2 for CNY, 0 for
// JPY), or -1 if c is not supported.
func (c Currency) Digits() int {
	d, ok := digits[c]
	if !ok {
		return -1
	}
	return d
}

// Amount is a quantity of money: Minor minor units of Currency. The zero
// Amount has no currency and is not a valid amount.
type Amount struct {
	Minor    int64
	Currency Currency
}

// String returns a in major units with exactly its currency's digits, without
// the currency code: "100.00", "-0.05", "1200" for JPY.
func (a Amount) String() string { return FormatMinor(a.Minor, a.Currency) }

// FormatMinor returns minor units of c as a decimal string in major units
// with exactly c's digits ("12.34", "-0.05", "0.00", "1200" for JPY). The
// result parses back with ParseAmount to minor. It works for every int64,
// math.MinInt64 included. An unsupported currency (a programming error:
// currencies are checked with ParseCurrency on the way in) is written as a
// whole number of minor units.
func FormatMinor(minor int64, c Currency) string {
	d := max(c.Digits(), 0)
	// The magnitude as uint64: two's-complement negation is exact for
	// math.MinInt64, whose magnitude 2^63 does not fit an int64.
	mag := uint64(minor)
	if minor < 0 {
		mag = -mag
	}
	s := strconv.FormatUint(mag, 10)
	if len(s) <= d {
		s = strings.Repeat("0", d+1-len(s)) + s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	if minor < 0 {
		b.WriteByte('-')
	}
	b.WriteString(s[:len(s)-d])
	if d > 0 {
		b.WriteByte('.')
		b.WriteString(s[len(s)-d:])
	}
	return b.String()
}

// Messages of the amount refusals, so that tests and callers match on one
// spelling.
const (
	msgRequired = "amount is required"
	msgSyntax   = "amount must be a plain decimal number in major units, such as 12.34"
	msgDecimals = "amount has too many decimal places: %s allows %d"
	msgTooLarge = "amount too large"
	msgTooSmall = "amount too small"
	msgPositive = "amount must be greater than zero"
)

// ParseAmount parses decimal, an amount in major units of c ("12.34", "12",
// "12.3", "0.01", "-1"), into minor units. Zero and negative amounts are
// returned as they are; use ParsePositive for amounts a user moves.
//
// Refused, as INVALID_INPUT on field "amount": the empty string, a leading
// '+', exponents, spaces, commas or any other non-digit, more than one dot, a
// leading or trailing dot ("1." and ".5"), more decimals than c has ("1.234"
// for CNY, "1.5" for JPY), and values whose minor units do not fit an int64.
// An unsupported c is INVALID_INPUT on field "currency".
func ParseAmount(decimal string, c Currency) (int64, error) {
	v, _, err := parse(decimal, c)
	return v, err
}

// ParsePositive is ParseAmount for an amount that is moved: it also refuses
// zero and negative amounts ("amount must be greater than zero") and amounts
// above MaxMinor ("amount too large"), as INVALID_INPUT on field "amount".
func ParsePositive(decimal string, c Currency) (int64, error) {
	v, neg, err := parse(decimal, c)
	if err != nil {
		if neg && isOverflow(err) {
			// A hugely negative amount is first of all not positive.
			return 0, apperr.Invalid("amount", msgPositive)
		}
		return 0, err
	}
	if v <= 0 {
		return 0, apperr.Invalid("amount", msgPositive)
	}
	if v > MaxMinor {
		return 0, apperr.Invalid("amount", msgTooLarge)
	}
	return v, nil
}

func isOverflow(err error) bool {
	e, ok := apperr.As(err)
	return ok && (e.Message == msgTooLarge || e.Message == msgTooSmall)
}

// parse does the work of ParseAmount and also reports whether decimal is
// syntactically negative, so ParsePositive can word an overflow of a
// negative number as "not positive". The syntax is checked in full before
// any arithmetic, so a malformed string is always reported as malformed even
// when its digits would also overflow.
func parse(decimal string, c Currency) (int64, bool, error) {
	d := c.Digits()
	if d < 0 {
		return 0, false, apperr.Invalid("currency", "unsupported currency %q", string(c))
	}
	if decimal == "" {
		return 0, false, apperr.Invalid("amount", msgRequired)
	}
	s := decimal
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasDot && !allDigits(frac)) {
		// Covers the empty integer part (".5", "-"), the empty fraction
		// ("1."), a second dot (it is not a digit), '+', exponents,
		// spaces, commas and non-ASCII digits.
		return 0, neg, apperr.Invalid("amount", msgSyntax)
	}
	if len(frac) > d {
		return 0, neg, apperr.Invalid("amount", msgDecimals, string(c), d)
	}

	// Accumulate the magnitude in uint64 against the exact limit: 2^63-1
	// for a positive amount, 2^63 for a negative one (math.MinInt64).
	limit := uint64(1<<63 - 1)
	if neg {
		limit = 1 << 63
	}
	var mag uint64
	add := func(digit uint64) bool {
		if mag > (limit-digit)/10 {
			return false
		}
		mag = mag*10 + digit
		return true
	}
	ok := true
	for i := 0; ok && i < len(intPart); i++ {
		ok = add(uint64(intPart[i] - '0'))
	}
	for i := 0; ok && i < d; i++ {
		var digit uint64
		if i < len(frac) {
			digit = uint64(frac[i] - '0')
		}
		ok = add(digit)
	}
	if !ok {
		if neg {
			return 0, neg, apperr.Invalid("amount", msgTooSmall)
		}
		return 0, neg, apperr.Invalid("amount", msgTooLarge)
	}
	if neg {
		// -mag is exact for every mag <= 2^63, including 2^63 itself.
		return int64(-mag), neg, nil
	}
	return int64(mag), neg, nil
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Add returns a+b and true, or 0 and false if the sum overflows an int64.
func Add(a, b int64) (int64, bool) {
	s := a + b
	// Overflow iff a and b have the same sign and s has the other one.
	if (a^s)&(b^s) < 0 {
		return 0, false
	}
	return s, true
}

// Sub returns a-b and true, or 0 and false if the difference overflows an
// int64.
func Sub(a, b int64) (int64, bool) {
	s := a - b
	// Overflow iff a and b have different signs and s differs from a.
	if (a^b)&(a^s) < 0 {
		return 0, false
	}
	return s, true
}
