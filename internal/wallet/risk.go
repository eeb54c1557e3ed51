package wallet

import (
	"context"
	"encoding/json"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/passkey"
	"danbao/internal/risk"
)

// SetAuthorization gives the wallet the passkeys that authorize
// withdrawals and the risk service that assesses them (and registers the
// wallet as the handler of held withdrawals). Call it while wiring, before
// serving.
func (s *Service) SetAuthorization(pk *passkey.Service, r *risk.Service) {
	s.passkeys, s.risk = pk, r
	if r != nil {
		r.Handle(risk.Withdrawal, s)
	}
}

// BeginWithdrawalAuthorization issues a passkey challenge bound to the
// withdrawal in describes (its idempotency key and credential are
// ignored): the caller, the card, the amount, the currency and a
// single-use nonce. Errors: INVALID_INPUT (amount, currency), NOT_FOUND
// (card), PASSKEY_REQUIRED (no usable passkey), INVALID_STATE (passkeys
// not configured).
func (s *Service) BeginWithdrawalAuthorization(ctx context.Context, userID pulid.ID, in MoveInput) (json.RawMessage, error) {
	m, err := s.parseMove(ctx, userID, in)
	if err != nil {
		return nil, err
	}
	if s.passkeys == nil {
		return nil, apperr.New(apperr.InvalidState, "passkeys are not configured on this server")
	}
	return s.passkeys.BeginWithdrawal(ctx, passkey.WithdrawalChallengeInput{User: userID, BankCardID: m.card.ID,
		AmountMinor: m.amount, Currency: string(m.currency)})
}

// RejectedReason is the failure reason of a held withdrawal an operator
// rejected.
const RejectedReason = "REJECTED_BY_OPERATOR"

// DecideHeld applies an operator's verdict on a held withdrawal inside tx
// (risk.Service.Decide has already moved the hold itself). Approval is
// HELD -> PENDING and, once tx commits, the payout request to the bank;
// rejection is HELD -> FAILED with the amount back in the available
// balance (WITHDRAWAL_RETURN, balanced postings) and its events. Errors:
// INVALID_STATE (the withdrawal is no longer HELD); on approval,
// ACCOUNT_FROZEN (frozen since).
func (s *Service) DecideHeld(ctx context.Context, tx *ent.Tx, h *ent.RiskHold, v risk.Verdict) (func(), error) {
	to := withdrawal.StatusFAILED
	if v.Approve {
		to = withdrawal.StatusPENDING
		// Frozen while the withdrawal was held: the approval is refused
		// (the hold stays HELD; rejecting it returns the money).
		if err := s.identity.CheckNotFrozen(ctx, tx, h.UserID); err != nil {
			return nil, err
		}
	}
	upd := tx.Withdrawal.Update().Where(withdrawal.ID(h.SubjectID), withdrawal.StatusEQ(withdrawal.StatusHELD)).SetStatus(to)
	if !v.Approve {
		upd.SetFailureReason(RejectedReason).SetCompletedAt(s.now().UTC())
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return nil, err
	}
	w, err := tx.Withdrawal.Get(ctx, h.SubjectID)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.New(apperr.InvalidState, "the withdrawal is %s, no longer HELD", w.Status).With("status", string(w.Status))
	}
	c := money.Currency(w.Currency)
	if v.Approve {
		card, err := tx.BankCard.Get(ctx, w.BankCardID)
		if err != nil {
			return nil, err
		}
		if _, err := events.Append(ctx, tx, opEvent("withdrawal.approved", w.ID, w.UserID, w.Amount, c, string(w.Status))); err != nil {
			return nil, err
		}
		if s.gateway == nil {
			return nil, noGateway()
		}
		return func() { s.payout(ctx, w, card) }, nil
	}
	clearing, err := s.ledger.PlatformAccount(ctx, tx, ledger.KindWithdrawalClearing, c)
	if err != nil {
		return nil, err
	}
	avail, err := s.ledger.UserAccount(ctx, tx, w.UserID, c)
	if err != nil {
		return nil, err
	}
	if _, err := s.ledger.Post(ctx, tx, ledger.Entry{Kind: EntryWithdrawalReturn, Currency: c, RefID: w.ID,
		Legs: []ledger.Leg{ledger.On(clearing, -w.Amount), ledger.On(avail, w.Amount)}}); err != nil {
		return nil, err
	}
	if _, err := events.Append(ctx, tx, opEvent("withdrawal.failed", w.ID, w.UserID, w.Amount, c, string(w.Status))); err != nil {
		return nil, err
	}
	_, err = events.Append(ctx, tx, balanceEvent(w.UserID, c, w.Amount, w.ID))
	return nil, err
}
