package limits

import (
	"danbao/internal/apperr"
	"danbao/internal/money"
)

// The password-free small allowance (docs/design.md, Risk, trust and
// limits): payments and withdrawals without a passkey, in CNY only.
const (
	// PasswordFreeName names the allowance in PASSKEY_REQUIRED extensions.
	PasswordFreeName = "PASSWORD_FREE_ALLOWANCE"
	// PasswordFreeCurrency is the one currency the allowance covers: its
	// regulatory ceiling is set in CNY across the user's accounts.
	PasswordFreeCurrency = money.CNY
	// PasswordFreeMaxDaily is the regulatory ceiling of the daily cap,
	// 1,000.00 CNY: no configuration or choice goes above it.
	PasswordFreeMaxDaily int64 = 1000_00
	// DefaultPasswordFreePerPayment and DefaultPasswordFreeDaily are the
	// caps when the user turns the allowance on without choosing.
	DefaultPasswordFreePerPayment int64 = 200_00
	DefaultPasswordFreeDaily      int64 = 1000_00
)

// Reasons a payment or withdrawal without a passkey is refused
// (PASSKEY_REQUIRED, extensions.reason).
const (
	PasswordFreeOff        = "ALLOWANCE_OFF"         // the user has not turned it on
	PasswordFreeCurrencyNo = "ALLOWANCE_CURRENCY"    // not CNY
	PasswordFreePerPayment = "ALLOWANCE_PER_PAYMENT" // above the per-payment cap
	PasswordFreeDaily      = "ALLOWANCE_DAILY"       // above what is left today
	PasswordFreeRisk       = "RISK"                  // risk asks for a passkey (extensions.reasons)
)

// PasswordFree is a user's allowance as it stands on one day.
type PasswordFree struct {
	Enabled    bool
	PerPayment int64 // minor units of CNY
	Daily      int64 // the user's daily cap, at most PasswordFreeMaxDaily
	Used       int64 // used without a passkey today
}

// Cap is the daily cap that binds: the user's, never above the ceiling.
func (p PasswordFree) Cap() int64 { return min(p.Daily, PasswordFreeMaxDaily) }

// Remaining is what may still leave without a passkey today (0 when off).
func (p PasswordFree) Remaining() int64 {
	if !p.Enabled {
		return 0
	}
	return max(0, p.Cap()-p.Used)
}

// ValidatePasswordFree checks caps a user chooses: both positive, the
// per-payment cap at most the daily one, the daily one at most the
// ceiling. Errors: INVALID_INPUT (perPaymentLimit, dailyLimit; extensions
// maximum).
func ValidatePasswordFree(perPayment, daily int64) error {
	max := money.FormatMinor(PasswordFreeMaxDaily, PasswordFreeCurrency)
	switch {
	case daily <= 0 || daily > PasswordFreeMaxDaily:
		return apperr.Invalid("dailyLimit", "the daily cap must be above 0 and at most %s CNY", max).With("maximum", max)
	case perPayment <= 0 || perPayment > daily:
		return apperr.Invalid("perPaymentLimit", "the per-payment cap must be above 0 and at most the daily cap").
			With("maximum", money.FormatMinor(daily, PasswordFreeCurrency))
	}
	return nil
}

// DecidePasswordFree says whether amountMinor of currency may leave
// without a passkey under p. Errors: PASSKEY_REQUIRED with extensions
// limit PASSWORD_FREE_ALLOWANCE, reason (ALLOWANCE_OFF,
// ALLOWANCE_CURRENCY, ALLOWANCE_PER_PAYMENT, ALLOWANCE_DAILY), remaining
// and perPaymentLimit (Decimal strings in CNY) and currency.
func DecidePasswordFree(p PasswordFree, currency money.Currency, amountMinor int64) error {
	reason := ""
	switch {
	case !p.Enabled:
		reason = PasswordFreeOff
	case currency != PasswordFreeCurrency:
		reason = PasswordFreeCurrencyNo
	case amountMinor > p.PerPayment:
		reason = PasswordFreePerPayment
	case amountMinor > p.Remaining():
		reason = PasswordFreeDaily
	default:
		return nil
	}
	return PasskeyRequired(p, reason)
}

// PasskeyRequired is the refusal of an outflow without a passkey, for
// reason, with what is left of p.
func PasskeyRequired(p PasswordFree, reason string) *apperr.Error {
	c := PasswordFreeCurrency
	return apperr.New(apperr.PasskeyRequired, "this needs a passkey: it is outside your password-free allowance").
		With("limit", PasswordFreeName).With("reason", reason).
		With("remaining", money.FormatMinor(p.Remaining(), c)).
		With("perPaymentLimit", money.FormatMinor(p.PerPayment, c)).With("currency", string(c))
}
