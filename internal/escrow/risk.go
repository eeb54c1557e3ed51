package escrow

import (
	"context"
	"encoding/json"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/money"
	"danbao/internal/passkey"
	"danbao/internal/risk"
)

// SetRisk makes every payment authorization be assessed by r inside its
// money transaction, and registers s as the handler of held payments.
// Call it while wiring, before serving.
func (s *Service) SetRisk(r *risk.Service) {
	s.risk = r
	r.Handle(risk.Payment, s)
}

// NoCredential reports whether a credential was left out (absent, empty
// or JSON null): the outflow asks for the password-free allowance.
func NoCredential(c json.RawMessage) bool {
	return len(c) == 0 || string(c) == "null"
}

// authorizeTx is the money transaction of AuthorizePayment for p (still
// CREATED), authorized by ev, or password-free when ev is nil: the freeze
// and collection checks, the limits, risk's assessment, the password-free
// allowance when it applies, and the transition CREATED -> PAID, or
// CREATED -> HELD with a hold in the operators' queue.
func (s *Service) authorizeTx(ctx context.Context, tx *ent.Tx, p *ent.Payment, actor pulid.ID, ev *passkey.Evidence) (*ent.Payment, error) {
	now := s.clock()
	c := money.Currency(p.Currency)
	// The parties' controls come with the limits' read, and are refused
	// before any limit is.
	if err := s.limits.RecordChecked(ctx, tx, p.PayerID, p.PayeeID, p.Amount, c, now, checkControls); err != nil {
		return nil, err
	}
	o := risk.Outflow{Kind: risk.Payment, UserID: p.PayerID, AmountMinor: p.Amount, Currency: p.Currency,
		Counterparty: p.PayeeID, SubjectID: p.ID}
	a := risk.Assessment{Decision: risk.Allow}
	if s.risk != nil {
		var err error
		if a, err = s.risk.Assess(ctx, tx, o, now); err != nil {
			return nil, err
		}
	}
	var evidence map[string]any
	if ev == nil {
		if err := s.limits.RecordPasswordFree(ctx, tx, p.PayerID, p.Amount, c, now, a.SteppedUp()); err != nil {
			return nil, err
		}
		evidence = passkey.PasswordFreeEvidence(now)
	} else {
		var err error
		if evidence, err = evidenceMap(ev); err != nil {
			return nil, err
		}
	}
	event := Authorize
	if a.Decision == risk.Hold {
		event = Hold
	}
	p, err := s.apply(ctx, tx, p, step{req: Request{Event: event, Actor: Payer}, actor: actor, evidence: evidence,
		detail: map[string]any{"risk": map[string]any{"decision": string(a.Decision), "reasons": a.ReasonStrings()}},
		set: func(u *ent.PaymentUpdate, _ time.Time) {
			u.SetRiskDecision(string(a.Decision)).SetRiskReasons(a.ReasonStrings())
		}})
	if err != nil {
		return nil, err
	}
	if a.Decision == risk.Hold {
		if _, err := s.risk.Hold(ctx, tx, o, p.ID, a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// DecideHeld applies an operator's verdict on a held payment inside tx
// (risk.Service.Decide has already moved the hold itself): approval is
// HELD -> PAID (the seller's shipping window starts), rejection HELD ->
// REFUNDED with everything in escrow back to the buyer (balanced
// postings, audit row and events). Errors: INVALID_STATE (the payment is
// no longer HELD); on approval, ACCOUNT_FROZEN (the buyer frozen, or the
// seller restricted from collecting, since).
func (s *Service) DecideHeld(ctx context.Context, tx *ent.Tx, h *ent.RiskHold, v risk.Verdict) (func(), error) {
	p, err := tx.Payment.Get(ctx, h.SubjectID)
	if err != nil {
		return nil, err
	}
	ev := RejectHold
	if v.Approve {
		ev = ApproveHold
		// An account frozen, or a seller restricted, while the payment was
		// held: the approval is refused (the hold stays HELD; rejecting it
		// returns the money).
		if err := CheckNotFrozen(ctx, tx, p.PayerID); err != nil {
			return nil, err
		}
		if err := checkCollect(ctx, tx, p.PayeeID); err != nil {
			return nil, err
		}
	}
	_, err = s.apply(ctx, tx, p, step{req: Request{Event: ev, Actor: Operator}, actor: v.Operator, note: v.Note,
		detail: map[string]any{"heldItemId": string(h.ID)}})
	return nil, err
}
