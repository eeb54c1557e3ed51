package trust

import (
	"context"
	"time"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/ent/schema/pulid"
	"danbao/ent/trustscore"
	"danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/limits"
)

// Service computes, stores and reads trust scores.
type Service struct {
	client *ent.Client
	levels limits.LevelSource
	cfg    Config
	now    func() time.Time
}

// New returns a Service reading verification levels from levels. now is
// the clock (time.Now when nil).
func New(client *ent.Client, levels limits.LevelSource, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, levels: levels, cfg: cfg, now: now}
}

// Config returns the thresholds the service applies.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// InputsOf returns the inputs stored with row.
func InputsOf(row *ent.TrustScore) Inputs {
	return Inputs{Level: row.Level, AccountAgeDays: row.AccountAgeDays, CompletedTrades: row.CompletedTrades,
		CompletedSales: row.CompletedSales, Refunds: row.Refunds, LostDisputes: row.LostDisputes,
		LastLostDisputeAt: row.LastLostDisputeAt}
}

// compute reads userID's inputs through c at now and returns them with
// the score as an unsaved row. The lost disputes come from the stored row
// (package escrow counts them as they are decided), plus one at now when
// lost is set. Errors: NOT_FOUND (userId).
func (s *Service) compute(ctx context.Context, c *ent.Client, userID pulid.ID, now time.Time, lost bool) (*ent.TrustScore, error) {
	u, err := c.User.Query().Where(user.ID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no such user").WithField("userId")
	}
	if err != nil {
		return nil, err
	}
	level, err := s.levels.Level(ctx, c, userID)
	if err != nil {
		return nil, err
	}
	completed := payment.StatusEQ(payment.StatusCOMPLETED)
	trades, err := c.Payment.Query().Where(completed, payment.Or(payment.PayerID(userID), payment.PayeeID(userID))).Count(ctx)
	if err != nil {
		return nil, err
	}
	sales, err := c.Payment.Query().Where(completed, payment.PayeeID(userID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	refunds, err := c.Payment.Query().Where(payment.PayeeID(userID), payment.RefundedAmountGT(0)).Count(ctx)
	if err != nil {
		return nil, err
	}
	row := &ent.TrustScore{UserID: userID, Level: level, CompletedTrades: trades, CompletedSales: sales,
		Refunds: refunds, ComputedAt: now, AccountAgeDays: max(int(now.Sub(u.CreatedAt)/(24*time.Hour)), 0)}
	prev, err := c.TrustScore.Query().Where(trustscore.UserID(userID)).Only(ctx)
	switch {
	case err == nil:
		row.ID, row.LostDisputes, row.LastLostDisputeAt = prev.ID, prev.LostDisputes, prev.LastLostDisputeAt
	case !ent.IsNotFound(err):
		return nil, err
	}
	if lost {
		row.LostDisputes++
		row.LastLostDisputeAt = &now
	}
	row.Score = Score(InputsOf(row))
	return row, nil
}

// Lock takes, for the rest of tx, the score rows of users in the order
// given (callers sort them by ID), creating missing ones: a placeholder
// that the caller's Recompute overwrites before commit. A concurrent
// transaction locking one of them waits until tx ends, then reads what it
// committed. It takes no other lock.
func (s *Service) Lock(ctx context.Context, tx *ent.Tx, users ...pulid.ID) error {
	now := s.clock()
	for _, u := range users {
		if err := tx.TrustScore.Create().SetUserID(u).SetScore(0).SetLevel(kyc.Unverified).SetAccountAgeDays(0).
			SetCompletedTrades(0).SetCompletedSales(0).SetRefunds(0).SetComputedAt(now).
			OnConflictColumns(trustscore.FieldUserID).Ignore().Exec(ctx); err != nil {
			return err
		}
		// An UPDATE takes the row's lock on PostgreSQL (SQLite's writer
		// holds the database already) and, on READ COMMITTED, waits for a
		// concurrent holder to commit.
		if _, err := tx.TrustScore.Update().Where(trustscore.UserID(u)).AddLostDisputes(0).Save(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Recompute computes userID's score inside tx and stores it with its
// inputs; lost adds a dispute decided against the user now. Package
// escrow calls it in the transaction of each payment that completes, is
// refunded (in whole or part) or is disputed, after the payment's
// compare-and-set and Lock of both parties' rows: the lock serialises the
// recomputations of one user, so the read-then-write of the lost-dispute
// count loses no update and each counts the others' committed payments.
// It returns the row as written.
func (s *Service) Recompute(ctx context.Context, tx *ent.Tx, userID pulid.ID, lost bool) (*ent.TrustScore, error) {
	row, err := s.compute(ctx, tx.Client(), userID, s.clock(), lost)
	if err != nil {
		return nil, err
	}
	err = tx.TrustScore.Create().SetUserID(userID).SetScore(row.Score).SetLevel(row.Level).
		SetAccountAgeDays(row.AccountAgeDays).SetCompletedTrades(row.CompletedTrades).
		SetCompletedSales(row.CompletedSales).SetRefunds(row.Refunds).SetLostDisputes(row.LostDisputes).
		SetNillableLastLostDisputeAt(row.LastLostDisputeAt).SetComputedAt(row.ComputedAt).
		OnConflictColumns(trustscore.FieldUserID).UpdateNewValues().Exec(ctx)
	if err != nil {
		return nil, err
	}
	return row, nil
}

// Stored returns userID's stored score (nil when none was computed yet).
func (s *Service) Stored(ctx context.Context, c *ent.Client, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := c.TrustScore.Query().Where(trustscore.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return row, err
}

// Score returns userID's stored score, or, when none is stored yet, one
// computed now and not stored. Errors: NOT_FOUND (userId).
func (s *Service) Score(ctx context.Context, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := s.Stored(ctx, s.client, userID)
	if err != nil || row != nil {
		return row, err
	}
	return s.compute(ctx, s.client, userID, s.clock(), false)
}

// TrustedMerchant reports whether row's user carries the trusted-merchant
// badge now (false for nil: no score yet).
func (s *Service) TrustedMerchant(row *ent.TrustScore) bool {
	return row != nil && s.cfg.TrustedMerchant(row.Score, InputsOf(row), s.clock())
}

// CheckRestrict recomputes userID's score inside tx (without storing it)
// and answers whether an operator may restrict the user for it: nil when
// the score is below the floor. Errors: NOT_FOUND (userId),
// TRUST_SCORE_ABOVE_FLOOR (extensions score, floor).
func (s *Service) CheckRestrict(ctx context.Context, tx *ent.Tx, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := s.compute(ctx, tx.Client(), userID, s.clock(), false)
	if err != nil {
		return nil, err
	}
	if !s.cfg.MayRestrict(row.Score) {
		return row, apperr.New(apperr.TrustScoreAboveFloor, "the trust score %d is not below the floor %d", row.Score, s.cfg.RestrictFloor).
			WithField("userId").With("score", row.Score).With("floor", s.cfg.RestrictFloor)
	}
	return row, nil
}

// AdjustDaily scales userID's daily window w by their stored score
// (AdjustDaily of rules.go); w is unchanged while no score is stored. It
// implements limits.TrustAdjuster.
func (s *Service) AdjustDaily(ctx context.Context, c *ent.Client, userID pulid.ID, w limits.DailyWindow) (limits.DailyWindow, error) {
	row, err := s.Stored(ctx, c, userID)
	if err != nil || row == nil {
		return w, err
	}
	return AdjustDaily(w, row.Score), nil
}
