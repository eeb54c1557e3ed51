package limits

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/passwordfreeallowance"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/money"
)

// passwordFreeKey is the period of the day's password-free counter.
func passwordFreeKey(s *Service, t time.Time) string { return "F" + dayKey(s.cfg, t)[1:] }

// PasswordFree reads userID's allowance and what was used of it on the
// day of at, in one statement. c is the client to read with (tx.Client()
// in a transaction).
func (s *Service) PasswordFree(ctx context.Context, c *ent.Client, userID pulid.ID, at time.Time) (PasswordFree, error) {
	var p PasswordFree
	var enabled sql.NullBool
	var per, daily, used sql.NullInt64
	if err := dbtx.QueryRow(ctx, c, []any{&enabled, &per, &daily, &used}, readPasswordFree,
		string(userID), string(PasswordFreeCurrency), passwordFreeKey(s, at)); err != nil {
		return p, fmt.Errorf("limits: read password-free allowance: %w", err)
	}
	p.Enabled, p.PerPayment, p.Daily, p.Used = enabled.Bool, per.Int64, daily.Int64, used.Int64
	return p, nil
}

// RecordPasswordFree counts amountMinor of currency leaving userID's
// balance without a passkey at at, inside the caller's transaction, after
// checking the allowance covers it. stepUp, when not empty, are the
// reasons risk asks for a passkey: the outflow is then refused whatever
// the allowance. The day's password-free counter is
// raised (created when missing) by one conditional upsert (used_minor <=
// cap - amount), so of concurrent outflows only those that fit together
// pass: the daily cap holds on SQLite and PostgreSQL alike. Call it after Record (the lock
// order: lifetime, year, day, then this counter).
//
// Errors: PASSKEY_REQUIRED (see DecidePasswordFree; reason RISK with
// extensions reasons when stepped up).
func (s *Service) RecordPasswordFree(ctx context.Context, tx *ent.Tx, userID pulid.ID, amountMinor int64, currency money.Currency, at time.Time, stepUp []string) error {
	c := tx.Client()
	p, err := s.PasswordFree(ctx, c, userID, at)
	if err != nil {
		return err
	}
	if err := DecidePasswordFree(p, currency, amountMinor); err != nil {
		return err
	}
	if len(stepUp) > 0 {
		return PasskeyRequired(p, PasswordFreeRisk).With("reasons", stepUp)
	}
	// One upsert: the counter is created with the amount (which alone fits
	// the cap: DecidePasswordFree allowed it) or raised while it stays
	// within the cap; no row back means a concurrent outflow used it.
	var after int64
	err = dbtx.QueryRow(ctx, c, []any{&after}, addBounded, string(pulid.New(pulid.PrefixLimitUsage)), string(userID),
		string(currency), passwordFreeKey(s, at), amountMinor, p.Cap()-amountMinor, time.Now().UTC())
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// A concurrent outflow used the allowance meanwhile: answer with what
	// is left now.
	if p, err = s.PasswordFree(ctx, c, userID, at); err != nil {
		return err
	}
	if err := DecidePasswordFree(p, currency, amountMinor); err != nil {
		return err
	}
	return PasskeyRequired(p, PasswordFreeDaily)
}

// SetPasswordFreeInput is the input of SetPasswordFree: caps are decimal
// strings in CNY; empty keeps what was set before (or the default).
type SetPasswordFreeInput struct {
	Enabled    bool
	PerPayment string
	Daily      string
}

// SetPasswordFree turns userID's allowance on or off and sets its caps,
// returning it as it stands at now. Turning it on or raising a cap
// returns reauth when it is not nil (the caller's proof of a recent
// sign-in failed); turning it off or lowering never needs one.
//
// Errors: INVALID_INPUT (perPaymentLimit, dailyLimit), reauth's code
// (REAUTHENTICATION_REQUIRED).
func (s *Service) SetPasswordFree(ctx context.Context, userID pulid.ID, in SetPasswordFreeInput, reauth error, now time.Time) (*PasswordFree, error) {
	parse := func(field, v string) (int64, bool, error) {
		if v == "" {
			return 0, false, nil
		}
		m, err := money.ParseAmount(v, PasswordFreeCurrency)
		if ae, ok := apperr.As(err); ok {
			return 0, false, ae.WithField(field)
		}
		if err != nil {
			return 0, false, err
		}
		return m, true, nil
	}
	per, perSet, err := parse("perPaymentLimit", in.PerPayment)
	if err != nil {
		return nil, err
	}
	daily, dailySet, err := parse("dailyLimit", in.Daily)
	if err != nil {
		return nil, err
	}
	var out PasswordFree
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		cur, err := s.PasswordFree(ctx, tx.Client(), userID, now)
		if err != nil {
			return err
		}
		p, d := cur.PerPayment, cur.Daily
		if p == 0 || d == 0 {
			p, d = DefaultPasswordFreePerPayment, DefaultPasswordFreeDaily
		}
		if perSet {
			p = per
		}
		if dailySet {
			d = daily
		}
		if !perSet && p > d {
			p = d
		}
		if err := ValidatePasswordFree(p, d); err != nil {
			return err
		}
		raises := in.Enabled && (!cur.Enabled || p > cur.PerPayment || d > cur.Daily)
		if raises && reauth != nil {
			return reauth
		}
		if err := tx.PasswordFreeAllowance.Create().SetUserID(userID).SetEnabled(in.Enabled).
			SetPerPaymentMinor(p).SetDailyMinor(d).
			OnConflictColumns(passwordfreeallowance.FieldUserID).
			Update(func(u *ent.PasswordFreeAllowanceUpsert) {
				u.UpdateEnabled().UpdatePerPaymentMinor().UpdateDailyMinor().UpdateUpdatedAt()
			}).Exec(ctx); err != nil {
			return err
		}
		out, err = s.PasswordFree(ctx, tx.Client(), userID, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
