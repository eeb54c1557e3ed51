package escrow

import (
	"context"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/ent/schema/pulid"
	"danbao/internal/trust"
)

// SetTrust makes the service keep trust scores with t (nil: none). Call it
// once while wiring, before serving.
func (s *Service) SetTrust(t *trust.Service) { s.trust = t }

// loser returns, for a transition of p by event ev with outcome out, who
// lost the dispute it decides (empty when it decides none): the seller
// when money went back to the buyer (a refund, or compensation after a
// fraud claim), the buyer when nothing did.
func loser(p *ent.Payment, ev Event, out Outcome) Actor {
	switch {
	case ev != ResolveDispute:
		return ""
	case out.Refund+out.Compensation > 0:
		return Payee
	}
	return Payer
}

// rescore updates, inside the transition's transaction at now and right
// after its compare-and-set, the trust inputs and scores of both parties
// of p when the transition (outcome out of event ev) completes, refunds
// (in whole or part) or disputes it, or decides its dispute: the payment
// entering COMPLETED adds a trade to both and a sale to the seller (and
// leaving it, for a fraud claim, takes them back), its first refund adds
// one to the seller's refunds, and the dispute's loser (loser) gets a lost
// dispute. trust.Service.Apply adds these deltas to the two score rows in
// user-ID order, locking them, and no counter of the ledger or the events
// is held meanwhile. A release's volume (v, nil for none) is raised with
// them, after the score rows are locked (on PostgreSQL in the statement
// that stores the scores), or alone when no score changes.
func (s *Service) rescore(ctx context.Context, tx *ent.Tx, p *ent.Payment, ev Event, out Outcome, now time.Time, v *volume) error {
	var rider *trust.Rider
	if v != nil {
		rider = &v.rider
	}
	to := payment.Status(out.To)
	ended := to != p.Status && (to == payment.StatusCOMPLETED || to == payment.StatusREFUNDED || to == payment.StatusDISPUTED)
	if s.trust == nil || !ended && out.Refund == 0 && out.Compensation == 0 {
		if rider == nil {
			return nil
		}
		if err := rider.Run(ctx, tx); err != nil {
			return fmt.Errorf("seller volume: %w", err)
		}
		return nil
	}
	trades := 0
	if to != p.Status && to == payment.StatusCOMPLETED {
		trades = 1
	} else if to != p.Status && p.Status == payment.StatusCOMPLETED {
		trades = -1
	}
	payer, payee := trust.Delta{Trades: trades}, trust.Delta{Trades: trades, Sales: trades}
	if p.RefundedAmount == 0 && out.Refund > 0 {
		payee.Refunds = 1
	}
	switch loser(p, ev, out) {
	case Payer:
		payer.Lost = true
	case Payee:
		payee.Lost = true
	}
	deltas := map[pulid.ID]trust.Delta{p.PayerID: payer}
	if p.PayeeID == p.PayerID { // one row, the payment counted once (as Recount does)
		payee.Lost = payee.Lost || payer.Lost
	}
	deltas[p.PayeeID] = payee
	return s.trust.Apply(ctx, tx, now, deltas, rider)
}

// RestrictLowTrust restricts in.UserID from receiving payments (as
// RestrictCollection with On) because their trust score, recomputed in the
// same transaction, is below the floor; it returns the controls and that
// score. Errors: FORBIDDEN (not an operator, or their own wallet),
// INVALID_INPUT (reason), NOT_FOUND (userId), TRUST_SCORE_ABOVE_FLOOR
// (extensions score, floor; the score is returned with it).
func (s *Service) RestrictLowTrust(ctx context.Context, who Caller, in ControlInput) (*ent.AccountControl, *ent.TrustScore, error) {
	in.On = true
	var score *ent.TrustScore
	c, err := s.control(ctx, who, in, "account.collection_restricted", "account.collection_allowed", func(u *ent.AccountControlUpdate, reason string) {
		u.SetCollectionRestricted(true).SetRestrictionReason(reason)
	}, func(tx *ent.Tx) error {
		if s.trust == nil {
			return nil
		}
		var err error
		score, err = s.trust.CheckRestrict(ctx, tx, in.UserID)
		return err
	})
	return c, score, err
}
