package limits

import (
	"context"
	"fmt"
	"sort"
	"time"

	"danbao/ent"
	"danbao/ent/limitusage"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/money"
)

// LevelSource tells a wallet's verification level; realname.Service is
// one. c is the client to read with: tx.Client() inside a transaction.
type LevelSource interface {
	Level(ctx context.Context, c *ent.Client, userID pulid.ID) (kyc.Level, error)
}

// Service checks and counts payments against the level limits.
type Service struct {
	client *ent.Client
	cfg    kyc.Config
	levels LevelSource
}

// New returns a Service applying cfg, reading levels from levels.
func New(client *ent.Client, cfg kyc.Config, levels LevelSource) *Service {
	return &Service{client: client, cfg: cfg, levels: levels}
}

// Check answers, inside the caller's transaction, whether userID may pay
// amountMinor of currency from its balance at now. It only reads: call
// Record in the same transaction to count the payment (Record refuses on
// its own too, and is the one that is safe against concurrent payments).
//
// Errors: VERIFICATION_REQUIRED, LIMIT_EXCEEDED (see Decide for their
// extensions), INVALID_INPUT (amount not positive, unsupported currency).
func (s *Service) Check(ctx context.Context, tx *ent.Tx, userID pulid.ID, amountMinor int64, currency money.Currency, now time.Time) error {
	c := tx.Client()
	level, err := s.levels.Level(ctx, c, userID)
	if err != nil {
		return err
	}
	u, err := s.usage(ctx, c, userID, currency, now)
	if err != nil {
		return err
	}
	return Decide(s.cfg, level, currency, u, amountMinor)
}

// Record counts a payment of amountMinor of currency made at at by userID,
// inside the caller's transaction, after checking it fits the level's
// limit. The counter the limit applies to is raised by one conditional
// UPDATE, so of several concurrent payments only those that fit together
// succeed; the other counter is raised unconditionally.
//
// Errors: as Check. On an error nothing is counted, but the caller's
// transaction must still be rolled back (WithTx does) if it wrote anything
// else.
func (s *Service) Record(ctx context.Context, tx *ent.Tx, userID pulid.ID, amountMinor int64, currency money.Currency, at time.Time) error {
	c := tx.Client()
	level, err := s.levels.Level(ctx, c, userID)
	if err != nil {
		return err
	}
	u, err := s.usage(ctx, c, userID, currency, at)
	if err != nil {
		return err
	}
	if err := Decide(s.cfg, level, currency, u, amountMinor); err != nil {
		return err
	}
	w, _ := WindowFor(s.cfg, level, currency, u) // Decide allowed it, so it exists
	// Lifetime first, then the year: one lock order for every payment.
	for _, key := range []string{lifetimeKey, yearKey(s.cfg, at)} {
		if err := c.LimitUsage.Create().SetUserID(userID).SetCurrency(string(currency)).SetPeriod(key).
			OnConflictColumns(limitusage.FieldUserID, limitusage.FieldCurrency, limitusage.FieldPeriod).
			Ignore().Exec(ctx); err != nil {
			return fmt.Errorf("limit usage row: %w", err)
		}
		bounded := (key == lifetimeKey) == (w.Period == kyc.Lifetime)
		upd := c.LimitUsage.Update().Where(
			limitusage.UserID(userID), limitusage.Currency(string(currency)), limitusage.Period(key))
		if bounded {
			// Atomic check-and-add: a concurrent payment that got here
			// first has already raised used_minor, and this one sees it.
			upd.Where(limitusage.UsedMinorLTE(w.Limit - amountMinor))
		}
		n, err := upd.AddUsedMinor(amountMinor).SetUpdatedAt(time.Now().UTC()).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			if !bounded {
				return fmt.Errorf("limit usage row %s vanished", key)
			}
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
	}
	return nil
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
	if !level.AtLeast(kyc.LevelI) {
		return apperr.New(apperr.VerificationRequired, "complete real-name verification first").
			With("level", string(level)).With("requiredLevel", string(kyc.LevelI))
	}
	return nil
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
