package escrow

import (
	"context"
	"sort"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/ent/schema/pulid"
	"danbao/internal/trust"
)

// SetTrust makes the service keep trust scores with t (nil: none). Call it
// once while wiring, before serving.
func (s *Service) SetTrust(t *trust.Service) { s.trust = t }

// rescore recomputes, inside the transition's transaction and right after
// its compare-and-set, the trust scores of both parties of p when the
// transition (outcome out of event ev) completes, refunds (in whole or
// part) or disputes it; a decided dispute counts as lost for the seller
// when money went back to the buyer (a refund, or compensation after a
// fraud claim) and for the buyer when nothing did. The two users' score
// rows are locked first, in ID order (trust.Service.Lock), so concurrent
// transitions of one user recompute one after the other, each counting
// the others' committed payments; no counter of the ledger or the events
// is held meanwhile.
func (s *Service) rescore(ctx context.Context, tx *ent.Tx, p *ent.Payment, ev Event, out Outcome) error {
	if s.trust == nil {
		return nil
	}
	to := payment.Status(out.To)
	ended := to != p.Status && (to == payment.StatusCOMPLETED || to == payment.StatusREFUNDED || to == payment.StatusDISPUTED)
	if !ended && out.Refund == 0 && out.Compensation == 0 {
		return nil
	}
	var loser pulid.ID
	if ev == ResolveDispute {
		loser = p.PayerID
		if out.Refund+out.Compensation > 0 {
			loser = p.PayeeID
		}
	}
	users := []pulid.ID{p.PayerID, p.PayeeID}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	if err := s.trust.Lock(ctx, tx, users...); err != nil {
		return err
	}
	for _, u := range users {
		if _, err := s.trust.Recompute(ctx, tx, u, u == loser); err != nil {
			return err
		}
	}
	return nil
}

// RestrictLowTrust restricts in.UserID from receiving payments (as
// RestrictCollection with On) because their trust score, recomputed in the
// same transaction, is below the floor; it returns the controls and that
// score. Errors: FORBIDDEN (not an operator), INVALID_INPUT (reason),
// NOT_FOUND (userId), TRUST_SCORE_ABOVE_FLOOR (extensions score, floor;
// the score is returned with it).
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
