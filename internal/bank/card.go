package bank

import "danbao/internal/apperr"

// Card brands returned by Brand.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandUnionPay   = "unionpay"
	BrandAmex       = "amex"
	BrandUnknown    = "unknown"
)

// Card number length bounds (ISO/IEC 7812 primary account numbers).
const (
	MinCardDigits = 12
	MaxCardDigits = 19
)

// ValidateCardNumber returns raw with its spaces and dashes removed if what
// remains is 12 to 19 ASCII digits passing the Luhn check. Otherwise it
// returns INVALID_INPUT on field "cardNumber"; the message never contains
// the number.
func ValidateCardNumber(raw string) (string, error) {
	b := make([]byte, 0, MaxCardDigits)
	for i := 0; i < len(raw); i++ {
		switch ch := raw[i]; {
		case ch == ' ' || ch == '-':
		case ch >= '0' && ch <= '9':
			if len(b) > MaxCardDigits {
				// Already too long: stop copying, but keep scanning so
				// that a letter still reports as a letter.
				continue
			}
			b = append(b, ch)
		default:
			return "", apperr.Invalid("cardNumber", "card number must contain only digits, spaces and dashes")
		}
	}
	switch {
	case len(b) == 0:
		return "", apperr.Invalid("cardNumber", "card number is required")
	case len(b) < MinCardDigits || len(b) > MaxCardDigits:
		return "", apperr.Invalid("cardNumber", "card number must have %d to %d digits", MinCardDigits, MaxCardDigits)
	case !luhn(b):
		return "", apperr.Invalid("cardNumber", "card number is not valid: check digit mismatch")
	}
	return string(b), nil
}

// luhn reports whether the ASCII digits in b pass the Luhn (mod 10) check.
func luhn(b []byte) bool {
	sum := 0
	double := false
	for i := len(b) - 1; i >= 0; i-- {
		d := int(b[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Last4 returns the last four digits of number, ignoring any spaces or
// dashes, or "" if it has fewer than four digits. It is the only part of a
// card number that may be stored or shown.
func Last4(number string) string {
	var last [4]byte
	n := 0
	for i := len(number) - 1; i >= 0 && n < 4; i-- {
		if ch := number[i]; ch >= '0' && ch <= '9' {
			n++
			last[4-n] = ch
		}
	}
	if n < 4 {
		return ""
	}
	return string(last[:])
}

// Brand returns the card brand of a normalized number (as returned by
// ValidateCardNumber) from its leading digits: "visa" (4), "mastercard"
// (51-55, 2221-2720), "unionpay" (62), "amex" (34, 37), else "unknown".
func Brand(number string) string {
	prefix := func(n int) int {
		if len(number) < n {
			return -1
		}
		v := 0
		for i := 0; i < n; i++ {
			ch := number[i]
			if ch < '0' || ch > '9' {
				return -1
			}
			v = v*10 + int(ch-'0')
		}
		return v
	}
	p1, p2, p4 := prefix(1), prefix(2), prefix(4)
	switch {
	case p1 == 4:
		return BrandVisa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return BrandMastercard
	case p2 == 62:
		return BrandUnionPay
	case p2 == 34, p2 == 37:
		return BrandAmex
	}
	return BrandUnknown
}

// Outcome is how the gateway answers a top-up or withdrawal request.
type Outcome string

// The outcomes of a gateway request.
const (
	// OutcomeSucceeded: the money moved.
	OutcomeSucceeded Outcome = "SUCCEEDED"
	// OutcomeDeclined: the bank refused; no money moved.
	OutcomeDeclined Outcome = "DECLINED"
	// OutcomePending: the bank has not decided yet; the final outcome
	// arrives later by callback (in the sandbox, when an operator settles
	// it).
	OutcomePending Outcome = "PENDING"
)

// Sandbox test cards (docs/design.md, "Sandbox").
const (
	SandboxCardSucceeds = "4242424242424242"
	SandboxCardDeclined = "4000000000000002"
	SandboxCardPending  = "4000000000000259"
)

// SandboxOutcome returns the outcome the sandbox gateway gives a card:
// 4242424242424242 succeeds, 4000000000000002 is declined,
// 4000000000000259 stays pending, and any other valid card number succeeds.
// A number that ValidateCardNumber refuses is declined, as a real bank
// would; spaces and dashes are ignored.
func SandboxOutcome(number string) Outcome {
	n, err := ValidateCardNumber(number)
	if err != nil {
		return OutcomeDeclined
	}
	switch n {
	case SandboxCardDeclined:
		return OutcomeDeclined
	case SandboxCardPending:
		return OutcomePending
	}
	return OutcomeSucceeded
}
