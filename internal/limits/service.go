package limits

import (
	"context"
	"fmt"
	"sort"
	"time"

	"danbao/ent"
	"danbao/ent/dailylimit"
	"danbao/ent/limitusage"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/money"
)

// LevelSource tells a wallet's verification level; realname.Service is
// one. c is the client to read with: tx.Client() inside a transaction.
type LevelSource interface {
	Level(ctx context.Context, c *ent.Client, userID pulid.ID) (kyc.Level, error)
}

// Service checks and counts payments against the level limits and the
// daily limit.
type Service struct {
	client *ent.Client
	cfg    kyc.Config
	daily  DailyConfig
	levels LevelSource
	trust  TrustAdjuster // nil: daily windows are not adjusted (trust.go)
}

// New returns a Service applying the level limits of cfg and the daily
// limits of daily, reading levels from levels.
func New(client *ent.Client, cfg kyc.Config, daily DailyConfig, levels LevelSource) *Service {
	return &Service{client: client, cfg: cfg, daily: daily, levels: levels}
}

// Check answers, inside the caller's transaction, whether userID may pay
// amountMinor of currency from its balance at now. It only reads: call
// Record in the same transaction to count the payment (Record refuses on
// its own too, and is the one that is safe against concurrent payments).
//
// Both the level's limit and the daily limit apply (the daily one to every
// outflow: payments authorized with a passkey and withdrawals).
//
// Errors: VERIFICATION_REQUIRED, LIMIT_EXCEEDED (see Decide and
// DecideDaily for their extensions), INVALID_INPUT (amount not positive,
// unsupported currency).
func (s *Service) Check(ctx context.Context, tx *ent.Tx, userID pulid.ID, amountMinor int64, currency money.Currency, now time.Time) error {
	st, err := s.readState(ctx, tx.Client(), userID, currency, now)
	if err != nil {
		return err
	}
	level := st.level
	if err := Decide(s.cfg, level, currency, st.usage, amountMinor); err != nil {
		return err
	}
	w, ok := s.dailyOf(st, currency)
	return DecideDaily(w, ok, currency, amountMinor)
}

// Record counts a payment of amountMinor of currency made at at by userID,
// inside the caller's transaction, after checking it fits the level's
// limit and the daily limit. It reads the counters, the chosen daily limit,
// the trust score and the level in one statement (readState), decides on them, then raises the
// lifetime, year and day counters in one upsert (addUsage), in that order:
// one lock order for every payment and withdrawal. The counter the level's
// limit applies to and the day's counter are raised only while they stay
// within their limits (used_minor <= limit - amount, checked on the row
// the upsert locks), so of several concurrent payments only those that fit
// together succeed; the other level counter is raised unconditionally.
//
// Errors: as Check. On an error the caller's transaction must be rolled
// back (WithTx does): a refusal met by the upsert may leave the other
// counters raised in it.
func (s *Service) Record(ctx context.Context, tx *ent.Tx, userID pulid.ID, amountMinor int64, currency money.Currency, at time.Time) error {
	st, err := s.readState(ctx, tx.Client(), userID, currency, at)
	if err != nil {
		return err
	}
	return s.record(ctx, tx.Client(), userID, amountMinor, currency, at, st)
}

// Controls is what operators switched off on the two ends of an outflow,
// as their account_controls rows hold it (false and "" without a row).
type Controls struct {
	Frozen       bool   // the paying wallet is frozen
	FrozenReason string // the operator's reason for the freeze
	Restricted   bool   // the counterparty is restricted from collecting
}

// RecordChecked is Record for an outflow from userID to counterparty that
// also reads both ends' Controls, in Record's one statement
// (readStateControls), and hands them to check before deciding anything:
// check's error is returned as it is, ahead of any refusal of Record's,
// and nothing is counted.
//
// Errors: check's, then as Record.
func (s *Service) RecordChecked(ctx context.Context, tx *ent.Tx, userID, counterparty pulid.ID, amountMinor int64,
	currency money.Currency, at time.Time, check func(Controls) error) error {
	st, ctl, err := s.readStateControls(ctx, tx.Client(), userID, counterparty, currency, at)
	if err != nil {
		return err
	}
	if err := check(ctl); err != nil {
		return err
	}
	return s.record(ctx, tx.Client(), userID, amountMinor, currency, at, st)
}

// record is Record once st, userID's state, is read.
func (s *Service) record(ctx context.Context, c *ent.Client, userID pulid.ID, amountMinor int64, currency money.Currency, at time.Time, st state) error {
	level := st.level
	if err := Decide(s.cfg, level, currency, st.usage, amountMinor); err != nil {
		return err
	}
	dw, ok := s.dailyOf(st, currency)
	if err := DecideDaily(dw, ok, currency, amountMinor); err != nil {
		return err
	}
	w, _ := WindowFor(s.cfg, level, currency, st.usage) // Decide allowed it, so it exists
	life, year, day := lifetimeKey, yearKey(s.cfg, at), dayKey(s.cfg, at)
	bounded := year
	if w.Period == kyc.Lifetime {
		bounded = life
	}
	now := time.Now().UTC()
	got, err := queryStrings(ctx, c, addUsage,
		string(pulid.New(pulid.PrefixLimitUsage)), string(userID), string(currency), life, amountMinor, now,
		string(pulid.New(pulid.PrefixLimitUsage)), year, string(pulid.New(pulid.PrefixLimitUsage)), day,
		bounded, day, w.Limit-amountMinor, dw.Limit-amountMinor)
	if err != nil {
		return fmt.Errorf("limit usage: %w", err)
	}
	raised := map[string]bool{}
	for _, p := range got {
		raised[p] = true
	}
	if !raised[bounded] {
		// Someone else used the allowance meanwhile: answer with what
		// remains now.
		u, err := s.usage(ctx, c, userID, currency, at)
		if err != nil {
			return err
		}
		if err := Decide(s.cfg, level, currency, u, amountMinor); err != nil {
			return err
		}
		return apperr.New(apperr.LimitExceeded, "this payment exceeds the level %s limit on balance payments", level).
			With("limit", w.Name).With("currency", string(currency))
	}
	if !raised[day] {
		// A concurrent outflow used the day's allowance meanwhile: answer
		// with what remains now.
		w, ok, err := s.dailyWindow(ctx, c, userID, currency, at)
		if err != nil {
			return err
		}
		if err := DecideDaily(w, ok, currency, amountMinor); err != nil {
			return err
		}
		return apperr.New(apperr.LimitExceeded, "this exceeds your daily limit").
			With("limit", DailyLimitName).With("currency", string(currency))
	}
	if !raised[life] || !raised[year] {
		return fmt.Errorf("limit usage rows of %s vanished", userID)
	}
	return nil
}

// DayEnd returns when the day of now ends and the daily windows start
// again: the next midnight in the configured zone (China Standard Time).
func (s *Service) DayEnd(now time.Time) time.Time { return dayEnd(s.cfg, now) }

// dailyWindow reads userID's daily window in currency for the day of at
// (ok false: no daily limit configured for currency), in one statement.
func (s *Service) dailyWindow(ctx context.Context, c *ent.Client, userID pulid.ID, currency money.Currency, at time.Time) (DailyWindow, bool, error) {
	if _, ok := s.daily.Max[currency]; !ok {
		return DailyWindow{}, false, nil
	}
	st, err := s.readState(ctx, c, userID, currency, at)
	if err != nil {
		return DailyWindow{}, false, err
	}
	w, ok := s.dailyOf(st, currency)
	return w, ok, nil
}

// SetDailyLimit sets userID's daily limit in currency to amount (a decimal
// string in major units, 0 up to the configured maximum) and returns the
// window as it stands at now. Raising the limit returns reauth when it is
// not nil (the caller's proof of a recent sign-in failed); lowering it
// never needs one. The limit applies at once, to what is left of today.
//
// Errors: INVALID_INPUT (currency unknown or without a daily limit; amount
// malformed, negative or above the maximum, extensions maxDailyLimit and
// currency), reauth's code (REAUTHENTICATION_REQUIRED) when raising.
func (s *Service) SetDailyLimit(ctx context.Context, userID pulid.ID, currency, amount string, reauth error, now time.Time) (*DailyWindow, error) {
	c, err := money.ParseCurrency(currency)
	if err != nil {
		return nil, err
	}
	minor, err := money.ParseAmount(amount, c)
	if err != nil {
		return nil, err
	}
	if err := ValidateDailyLimit(s.daily, c, minor); err != nil {
		return nil, err
	}
	var out DailyWindow
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		cur, _, err := s.dailyWindow(ctx, tx.Client(), userID, c, now)
		if err != nil {
			return err
		}
		if minor > cur.Limit && reauth != nil {
			return reauth
		}
		if err := tx.DailyLimit.Create().SetUserID(userID).SetCurrency(string(c)).SetLimitMinor(minor).
			OnConflictColumns(dailylimit.FieldUserID, dailylimit.FieldCurrency).
			Update(func(u *ent.DailyLimitUpsert) { u.UpdateLimitMinor().UpdateUpdatedAt() }).
			Exec(ctx); err != nil {
			return err
		}
		out, _, err = s.dailyWindow(ctx, tx.Client(), userID, c, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// RequireVerified answers, inside the caller's transaction, whether userID
// is verified at level I or above, as a top-up needs.
//
// Errors: VERIFICATION_REQUIRED (extensions level, requiredLevel "I").
func (s *Service) RequireVerified(ctx context.Context, tx *ent.Tx, userID pulid.ID) error {
	level, err := s.levels.Level(ctx, tx.Client(), userID)
	if err != nil {
		return err
	}
	return Verified(level)
}

// Require answers, inside the caller's transaction, whether userID's level
// grants right.
//
// Errors: VERIFICATION_REQUIRED (extensions level, requiredLevel: the
// lowest level that grants right, if any).
func (s *Service) Require(ctx context.Context, tx *ent.Tx, userID pulid.ID, right kyc.Right) error {
	level, err := s.levels.Level(ctx, tx.Client(), userID)
	if err != nil {
		return err
	}
	if s.cfg.Rule(level).Has(right) {
		return nil
	}
	e := apperr.New(apperr.VerificationRequired, "this account's verification level does not allow this").
		With("level", string(level)).With("right", string(right))
	for _, l := range kyc.Levels() {
		if l.Rank() > level.Rank() && s.cfg.Rule(l).Has(right) {
			return e.With("requiredLevel", string(l))
		}
	}
	return e
}

// Summary is a wallet's level with what it allows and what remains.
type Summary struct {
	Level           kyc.Level
	Rights          []kyc.Right
	BalancePayments []Window
	// ResetsAt is when the annual windows start again (zero when the
	// level's limit is over the account's life).
	ResetsAt time.Time
	// Daily is the daily limit, one window per currency that has one
	// configured, by currency code.
	Daily []DailyWindow
	// DayEnds is when the daily windows start again.
	DayEnds time.Time
	// PasswordFree is the password-free small allowance and today's use.
	PasswordFree PasswordFree
}

// Summary returns userID's level, rights and balance payment windows (one
// per currency the level configures, by currency code) at now.
func (s *Service) Summary(ctx context.Context, userID pulid.ID, now time.Time) (*Summary, error) {
	level, err := s.levels.Level(ctx, s.client, userID)
	if err != nil {
		return nil, err
	}
	rule := s.cfg.Rule(level)
	out := &Summary{Level: level, Rights: rule.Rights}
	if rule.BalancePayments.Period == kyc.Year {
		out.ResetsAt = s.cfg.YearEnd(now)
	}
	currencies := make([]money.Currency, 0, len(rule.BalancePayments.Minor))
	for c := range rule.BalancePayments.Minor {
		currencies = append(currencies, c)
	}
	sort.Slice(currencies, func(i, j int) bool { return currencies[i] < currencies[j] })
	for _, c := range currencies {
		u, err := s.usage(ctx, s.client, userID, c, now)
		if err != nil {
			return nil, err
		}
		w, _ := WindowFor(s.cfg, level, c, u)
		out.BalancePayments = append(out.BalancePayments, w)
	}
	out.DayEnds = s.DayEnd(now)
	daily := make([]money.Currency, 0, len(s.daily.Max))
	for c := range s.daily.Max {
		daily = append(daily, c)
	}
	sort.Slice(daily, func(i, j int) bool { return daily[i] < daily[j] })
	for _, c := range daily {
		w, _, err := s.dailyWindow(ctx, s.client, userID, c, now)
		if err != nil {
			return nil, err
		}
		out.Daily = append(out.Daily, w)
	}
	if out.PasswordFree, err = s.PasswordFree(ctx, s.client, userID, now); err != nil {
		return nil, err
	}
	return out, nil
}

// usage reads userID's counters in currency for the lifetime and the year
// of at; missing rows count zero.
func (s *Service) usage(ctx context.Context, c *ent.Client, userID pulid.ID, currency money.Currency, at time.Time) (Usage, error) {
	year := yearKey(s.cfg, at)
	rows, err := c.LimitUsage.Query().Where(
		limitusage.UserID(userID), limitusage.Currency(string(currency)),
		limitusage.PeriodIn(lifetimeKey, year)).All(ctx)
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, r := range rows {
		if r.Period == lifetimeKey {
			u.Lifetime = r.UsedMinor
		} else {
			u.Year = r.UsedMinor
		}
	}
	return u, nil
}
