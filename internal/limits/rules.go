package limits

import (
	"strconv"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/money"
)

// Usage is what a wallet has paid from its balance in one currency.
type Usage struct {
	Lifetime int64 // minor units over the account's life
	Year     int64 // minor units in the calendar year in question
}

// Window is one limit as it stands for a wallet.
type Window struct {
	Name      string // LIFETIME_BALANCE_PAYMENTS or ANNUAL_BALANCE_PAYMENTS
	Period    kyc.Period
	Currency  money.Currency
	Limit     int64 // minor units
	Used      int64 // minor units counted within the period
	Remaining int64 // minor units that may still be paid, never negative
}

// WindowFor returns the balance payment limit that applies at level in
// currency c, with usage u counted against it. ok is false when the level
// does not configure c (no payments in c at this level).
func WindowFor(cfg kyc.Config, level kyc.Level, c money.Currency, u Usage) (w Window, ok bool) {
	lim := cfg.Rule(level).BalancePayments
	limit, ok := lim.For(c)
	if !ok {
		return Window{}, false
	}
	used := u.Lifetime
	if lim.Period == kyc.Year {
		used = u.Year
	}
	return Window{
		Name: lim.Period.LimitName(), Period: lim.Period, Currency: c,
		Limit: limit, Used: used, Remaining: max(limit-used, 0),
	}, true
}

// Decide answers whether a wallet at level, having used u in currency c,
// may pay amount (minor units) from its balance now. It returns nil when it
// may, and otherwise:
//
//   - INVALID_INPUT on amount or currency for a non-positive amount or an
//     unsupported currency;
//   - VERIFICATION_REQUIRED when the level may not pay at all (extensions:
//     level, requiredLevel when some level would allow the payment);
//   - LIMIT_EXCEEDED when the payment does not fit the level's limit, or
//     the level does not configure c (extensions: limit, period,
//     limitAmount, used, remaining and currency, decimal strings in major
//     units; level; requiredLevel when some higher level would allow it).
func Decide(cfg kyc.Config, level kyc.Level, c money.Currency, u Usage, amount int64) error {
	if !c.Supported() {
		return apperr.Invalid("currency", "unsupported currency")
	}
	if amount <= 0 {
		return apperr.Invalid("amount", "amount must be greater than zero")
	}
	if !level.Valid() {
		level = kyc.Unverified
	}
	rule := cfg.Rule(level)
	required, found := RequiredLevel(cfg, level, c, u, amount)
	if !rule.Has(kyc.RightPay) {
		e := apperr.New(apperr.VerificationRequired, "complete real-name verification before paying").
			With("level", string(level))
		if found {
			e = e.With("requiredLevel", string(required))
		}
		return e
	}
	w, ok := WindowFor(cfg, level, c, u)
	if ok && amount <= w.Remaining {
		return nil
	}
	var e *apperr.Error
	if !ok {
		lim := rule.BalancePayments
		w = Window{Name: lim.Period.LimitName(), Period: lim.Period, Currency: c}
		e = apperr.New(apperr.LimitExceeded, "level %s accounts may not pay in %s", level, c)
	} else {
		e = apperr.New(apperr.LimitExceeded, "this payment exceeds the level %s limit on balance payments: %s %s remaining",
			level, money.FormatMinor(w.Remaining, c), c)
	}
	e = e.With("limit", w.Name).
		With("period", string(w.Period)).
		With("limitAmount", money.FormatMinor(w.Limit, c)).
		With("used", money.FormatMinor(w.Used, c)).
		With("remaining", money.FormatMinor(w.Remaining, c)).
		With("currency", string(c)).
		With("level", string(level))
	if found {
		e = e.With("requiredLevel", string(required))
	}
	return e
}

// RequiredLevel returns the lowest level above level that may pay amount
// in c given usage u, if there is one.
func RequiredLevel(cfg kyc.Config, level kyc.Level, c money.Currency, u Usage, amount int64) (kyc.Level, bool) {
	for _, l := range kyc.Levels() {
		if l.Rank() <= level.Rank() || !cfg.Rule(l).Has(kyc.RightPay) {
			continue
		}
		if w, ok := WindowFor(cfg, l, c, u); ok && amount <= w.Remaining {
			return l, true
		}
	}
	return "", false
}

// lifetimeKey is the period column of the lifetime counter.
const lifetimeKey = "LIFETIME"

// yearKey is the period column of the counter for the calendar year of t.
func yearKey(cfg kyc.Config, t time.Time) string {
	return "Y" + strconv.Itoa(cfg.YearOf(t))
}
