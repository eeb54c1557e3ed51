package limits

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/money"
)

// The statements below are plain SQL that PostgreSQL and SQLite (3.35 or
// later: upsert with WHERE, RETURNING) both accept, each replacing several
// round trips of the ent queries they stand for.

// readState reads, in one statement, a wallet's counters in one currency
// (lifetime, year, day: NULL when the row does not exist), its chosen daily
// limit, its stored trust score (NULL when none) and its verification
// level: that of its identity binding, NULL for none (unverified), as
// realname.Service.Level reads it.
const readState = `SELECT
	(SELECT used_minor FROM limit_usages WHERE user_id = $1 AND currency = $2 AND period = $3),
	(SELECT used_minor FROM limit_usages WHERE user_id = $1 AND currency = $2 AND period = $4),
	(SELECT used_minor FROM limit_usages WHERE user_id = $1 AND currency = $2 AND period = $5),
	(SELECT limit_minor FROM daily_limits WHERE user_id = $1 AND currency = $2),
	(SELECT score FROM trust_scores WHERE user_id = $1),
	(SELECT level FROM identity_bindings WHERE user_id = $1)`

// readStateControls is readState followed by the wallet's freeze and its
// reason, and whether the counterparty ($6) is restricted from collecting
// (NULL: no account_controls row), for RecordChecked.
const readStateControls = readState + `,
	(SELECT frozen FROM account_controls WHERE user_id = $1),
	(SELECT frozen_reason FROM account_controls WHERE user_id = $1),
	(SELECT collection_restricted FROM account_controls WHERE user_id = $6)`

// addUsage adds an amount to a wallet's lifetime, year and day counters in
// one statement, creating the rows that are missing, in that order (the
// lock order of every outflow). The bounded level counter ($11) is only
// raised while used_minor <= $13 and the day's ($12) while used_minor <=
// $14 (limit - amount): a counter left as it was is not returned. The
// caller has checked that the amount alone fits both limits, so a row
// created by this statement never exceeds them.
const addUsage = `INSERT INTO limit_usages (id, user_id, currency, period, used_minor, updated_at)
VALUES ($1, $2, $3, $4, $5, $6), ($7, $2, $3, $8, $5, $6), ($9, $2, $3, $10, $5, $6)
ON CONFLICT (user_id, currency, period) DO UPDATE
SET used_minor = limit_usages.used_minor + excluded.used_minor, updated_at = excluded.updated_at
WHERE (limit_usages.period <> $11 OR limit_usages.used_minor <= $13)
	AND (limit_usages.period <> $12 OR limit_usages.used_minor <= $14)
RETURNING period`

// addBounded adds an amount to one counter, creating it when missing, while
// used_minor <= $6 (cap - amount); it returns the counter when raised.
const addBounded = `INSERT INTO limit_usages (id, user_id, currency, period, used_minor, updated_at)
VALUES ($1, $2, $3, $4, $5, $7)
ON CONFLICT (user_id, currency, period) DO UPDATE
SET used_minor = limit_usages.used_minor + excluded.used_minor, updated_at = excluded.updated_at
WHERE limit_usages.used_minor <= $6
RETURNING used_minor`

// readPasswordFree reads a wallet's password-free allowance (NULLs when it
// never set one) and the day's password-free counter in one statement.
const readPasswordFree = `SELECT
	(SELECT enabled FROM password_free_allowances WHERE user_id = $1),
	(SELECT per_payment_minor FROM password_free_allowances WHERE user_id = $1),
	(SELECT daily_minor FROM password_free_allowances WHERE user_id = $1),
	(SELECT used_minor FROM limit_usages WHERE user_id = $1 AND currency = $2 AND period = $3)`

// state is what readState returns.
type state struct {
	usage  Usage
	day    int64
	chosen sql.NullInt64
	score  sql.NullInt64
	level  kyc.Level
}

// readState reads userID's state in currency for the periods of at.
func (s *Service) readState(ctx context.Context, c *ent.Client, userID pulid.ID, currency money.Currency, at time.Time) (state, error) {
	return s.scanState(ctx, c, readState, nil, userID, currency, at)
}

// readStateControls reads userID's state as readState does, and the
// controls on userID and counterparty, in one statement.
func (s *Service) readStateControls(ctx context.Context, c *ent.Client, userID, counterparty pulid.ID, currency money.Currency, at time.Time) (state, Controls, error) {
	var frozen, restricted sql.NullBool
	var reason sql.NullString
	st, err := s.scanState(ctx, c, readStateControls, []any{&frozen, &reason, &restricted}, userID, currency, at, string(counterparty))
	return st, Controls{Frozen: frozen.Bool, FrozenReason: reason.String, Restricted: restricted.Bool}, err
}

// scanState runs query, readState's columns followed by those scanned into
// more, with readState's arguments followed by extra.
func (s *Service) scanState(ctx context.Context, c *ent.Client, query string, more []any, userID pulid.ID, currency money.Currency, at time.Time, extra ...any) (state, error) {
	var life, year, day sql.NullInt64
	var level sql.NullString
	var st state
	dest := append([]any{&life, &year, &day, &st.chosen, &st.score, &level}, more...)
	args := append([]any{string(userID), string(currency), lifetimeKey, yearKey(s.cfg, at), dayKey(s.cfg, at)}, extra...)
	if err := dbtx.QueryRow(ctx, c, dest, query, args...); err != nil {
		return st, fmt.Errorf("limits: read usage: %w", err)
	}
	st.level = kyc.Unverified
	if level.Valid {
		st.level = kyc.Level(level.String)
	}
	st.usage = Usage{Lifetime: life.Int64, Year: year.Int64}
	st.day = day.Int64
	return st, nil
}

// dailyOf returns the daily window of st in currency (ok false: no daily
// limit configured for currency), adjusted by the trust score.
func (s *Service) dailyOf(st state, currency money.Currency) (DailyWindow, bool) {
	w, ok := DailyWindowFor(s.daily, currency, st.chosen.Int64, st.chosen.Valid, st.day)
	return s.adjust(w, ok, int(st.score.Int64), st.score.Valid), ok
}

// queryStrings runs query through c and returns its rows' one string
// column.
func queryStrings(ctx context.Context, c *ent.Client, query string, args ...any) ([]string, error) {
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
