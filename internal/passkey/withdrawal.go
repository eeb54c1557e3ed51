package passkey

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"

	"danbao/ent"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
)

// withdrawalChallengeDomain separates withdrawal challenges from payment
// ones; bump its version if the encoding changes.
const withdrawalChallengeDomain = "danbao/withdrawal-authorization/v1"

// WithdrawalChallengeInput is what a withdrawal authorization is bound
// to: who withdraws, to which of their cards, how much of what.
type WithdrawalChallengeInput struct {
	User        pulid.ID
	BankCardID  pulid.ID
	AmountMinor int64
	Currency    string
}

// Validate reports the first malformed field as INVALID_INPUT.
func (in WithdrawalChallengeInput) Validate() error {
	switch {
	case !in.User.Valid():
		return apperr.Invalid("userId", "user is not a valid ID")
	case !in.BankCardID.Valid():
		return apperr.Invalid("bankCardId", "bank card is not a valid ID")
	}
	return validMoney(in.AmountMinor, in.Currency)
}

// WithdrawalChallenge derives the WebAuthn challenge that binds an
// authorization to one withdrawal, as PaymentChallenge does for a payment:
//
//	SHA-256(domain || lp(user) || lp(card) || be64(amount) || lp(currency) || lp(nonce))
//
// under its own domain, so no payment challenge equals a withdrawal one.
func WithdrawalChallenge(in WithdrawalChallengeInput, nonce []byte) []byte {
	return boundChallenge(withdrawalChallengeDomain, []string{string(in.User), string(in.BankCardID)},
		in.AmountMinor, in.Currency, nonce)
}

// BeginWithdrawal issues a challenge bound to one withdrawal (in and a
// fresh single-use nonce), answerable by the user's usable passkeys with
// user verification, and returns the PublicKeyCredentialRequestOptionsJSON.
// Several may be pending at once (one per withdrawal about to be made).
// Errors: INVALID_INPUT (in), PASSKEY_REQUIRED (no usable passkey).
func (s *Service) BeginWithdrawal(ctx context.Context, in WithdrawalChallengeInput) (json.RawMessage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var options json.RawMessage
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		var err error
		options, err = s.beginBound(ctx, tx, in.User, func(nonce []byte) []byte { return WithdrawalChallenge(in, nonce) },
			func(c *ent.PasskeySessionCreate) {
				c.SetPurpose(passkeysession.PurposeWITHDRAWAL).SetBankCardID(in.BankCardID).
					SetAmountMinor(in.AmountMinor).SetCurrency(in.Currency)
			}, nil)
		return err
	})
	return options, err
}

// FinishWithdrawal verifies, inside the caller's transaction, that
// credentialJSON answers a challenge BeginWithdrawal issued for exactly in
// (the challenge is recomputed from in and the stored nonce), signed by
// one of the user's own usable passkeys with user verification; the
// challenge is spent in tx. If tx is then rolled back for any reason, the
// caller calls Spend (and RecordFailure) so the assertion can never be
// replayed. Errors: as FinishPayment.
func (s *Service) FinishWithdrawal(ctx context.Context, tx *ent.Tx, in WithdrawalChallengeInput, credentialJSON []byte) (*Evidence, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return s.finishBound(ctx, tx, in.User, passkeysession.PurposeWITHDRAWAL, credentialJSON,
		func(ps *ent.PasskeySession) bool { return bindsWithdrawal(ps, in) },
		"this authorization was given for another withdrawal (card, amount or currency); authorize again")
}

// Spend deletes, in a transaction of its own, the pending challenge that
// credentialJSON answers, if any: after a failed outflow, the assertion
// it carried can never be used again. A malformed credential spends
// nothing.
func (s *Service) Spend(ctx context.Context, credentialJSON []byte) error {
	parsed, err := parseAssertion(credentialJSON)
	if err != nil || parsed.Response.CollectedClientData.Challenge == "" {
		return nil
	}
	_, err = s.client.PasskeySession.Delete().
		Where(passkeysession.Challenge(parsed.Response.CollectedClientData.Challenge)).Exec(ctx)
	return err
}

// bindsWithdrawal reports whether the session ps was issued for exactly
// the withdrawal in.
func bindsWithdrawal(ps *ent.PasskeySession, in WithdrawalChallengeInput) bool {
	if ps.UserID == nil || *ps.UserID != in.User ||
		ps.BankCardID == nil || *ps.BankCardID != in.BankCardID ||
		ps.AmountMinor == nil || *ps.AmountMinor != in.AmountMinor ||
		ps.Currency == nil || *ps.Currency != in.Currency ||
		len(ps.Nonce) != NonceLen {
		return false
	}
	want := base64.RawURLEncoding.EncodeToString(WithdrawalChallenge(in, ps.Nonce))
	return subtle.ConstantTimeCompare([]byte(want), []byte(ps.Challenge)) == 1
}
