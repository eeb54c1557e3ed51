package limits

import (
	"fmt"
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

// DailyLimitName is the name LIMIT_EXCEEDED errors give the daily limit in
// extensions.limit.
const DailyLimitName = "DAILY_AUTHORIZED_PAYMENTS"

// DailyConfig configures the daily limit on money leaving a balance
// (payments authorized with a passkey, and withdrawals), per currency, in
// minor units. A currency without a Max has no daily limit configured and
// may not leave the balance at all.
type DailyConfig struct {
	// Default applies to a user who has not chosen a limit; at most Max.
	Default map[money.Currency]int64
	// Max is the highest daily limit a user may choose.
	Max map[money.Currency]int64
}

// Validate reports a negative amount, a default without a maximum or a
// default above the maximum.
func (d DailyConfig) Validate() error {
	for c, def := range d.Default {
		m, ok := d.Max[c]
		if !ok || def < 0 || def > m {
			return fmt.Errorf("limits: the daily limit default for %s must be between 0 and its maximum", c)
		}
	}
	for c, m := range d.Max {
		if m < 0 {
			return fmt.Errorf("limits: the daily limit maximum for %s must not be negative", c)
		}
	}
	return nil
}

// DailyWindow is the daily limit as it stands for a user in one currency.
type DailyWindow struct {
	Currency  money.Currency
	Limit     int64 // minor units: the user's chosen limit, or the default
	Max       int64 // minor units: the highest limit the user may choose
	Chosen    bool  // the user chose Limit (false: the default applies)
	Used      int64 // minor units counted today
	Remaining int64 // minor units that may still leave today, never negative
}

// DailyWindowFor returns the daily window of currency c for a user who
// chose chosen (ok false: nothing chosen) and used used today. ok is false
// when c has no daily limit configured.
func DailyWindowFor(cfg DailyConfig, c money.Currency, chosen int64, hasChosen bool, used int64) (w DailyWindow, ok bool) {
	m, ok := cfg.Max[c]
	if !ok {
		return DailyWindow{}, false
	}
	limit := cfg.Default[c]
	if hasChosen {
		limit = chosen
	}
	limit = min(limit, m) // a maximum lowered since the user chose stays binding
	return DailyWindow{Currency: c, Limit: limit, Max: m, Chosen: hasChosen, Used: used,
		Remaining: max(limit-used, 0)}, true
}

// DecideDaily answers whether amount (minor units, positive) of c may
// leave the balance today, given the window w (ok false: c has no daily
// limit configured). It returns nil when it may, and otherwise
// LIMIT_EXCEEDED with extensions limit DAILY_AUTHORIZED_PAYMENTS, period
// DAY, limitAmount, used, remaining and currency (decimal strings in major
// units; remaining "0.00" for an unconfigured currency) and maxDailyLimit
// when raising the daily limit up to the maximum would allow the amount.
func DecideDaily(w DailyWindow, ok bool, c money.Currency, amount int64) error {
	if ok && amount <= w.Remaining {
		return nil
	}
	var e *apperr.Error
	if !ok {
		w = DailyWindow{Currency: c}
		e = apperr.New(apperr.LimitExceeded, "no daily limit is configured for %s: it may not leave the balance", c)
	} else {
		e = apperr.New(apperr.LimitExceeded, "this exceeds your daily limit: %s %s remaining today",
			money.FormatMinor(w.Remaining, c), c)
	}
	e = e.With("limit", DailyLimitName).
		With("period", "DAY").
		With("limitAmount", money.FormatMinor(w.Limit, c)).
		With("used", money.FormatMinor(w.Used, c)).
		With("remaining", money.FormatMinor(w.Remaining, c)).
		With("currency", string(c))
	if ok && w.Used <= w.Max-amount && w.Limit < w.Max {
		e = e.With("maxDailyLimit", money.FormatMinor(w.Max, c))
	}
	return e
}

// ValidateDailyLimit checks a daily limit a user asks for in c: between 0
// and the configured maximum. Errors: INVALID_INPUT on currency (no daily
// limit configured) or on amount (negative, or above the maximum, with
// extensions maxDailyLimit and currency).
func ValidateDailyLimit(cfg DailyConfig, c money.Currency, amount int64) error {
	m, ok := cfg.Max[c]
	if !ok {
		return apperr.Invalid("currency", "no daily limit can be set in %s", c)
	}
	if amount < 0 || amount > m {
		return apperr.Invalid("amount", "the daily limit must be between 0 and %s %s", money.FormatMinor(m, c), c).
			With("maxDailyLimit", money.FormatMinor(m, c)).With("currency", string(c))
	}
	return nil
}

// dayKey is the period column of the daily counter for the calendar day of
// t in the configuration's zone: "D2026-12-02".
func dayKey(cfg kyc.Config, t time.Time) string {
	return "D" + t.In(cfg.Zone).Format(time.DateOnly)
}

// dayEnd returns the first instant after the calendar day of t in the
// configuration's zone.
func dayEnd(cfg kyc.Config, t time.Time) time.Time {
	y, m, d := t.In(cfg.Zone).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, cfg.Zone)
}
