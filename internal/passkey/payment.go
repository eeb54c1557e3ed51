package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"danbao/ent"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Factors is the number of authentication factors a passkey assertion with
// user verification counts as: possession of the device-bound key, and the
// biometric or PIN that unlocked it.
const Factors = 2

// Evidence is what a verified payment authorization proves, to be stored
// with the payment's ledger transaction. With the passkey's public key,
// ClientDataJSON, AuthenticatorData and Signature let anyone verify the
// signature again later; ClientDataJSON carries the challenge, which
// PaymentChallenge recomputes from the payment's fields and Nonce.
// Byte slices are standard base64 in JSON.
type Evidence struct {
	PaymentID         string    `json:"paymentId"`
	PasskeyID         pulid.ID  `json:"passkeyId"`
	CredentialID      []byte    `json:"credentialId"`      // the raw credential ID
	ClientDataHash    []byte    `json:"clientDataHash"`    // SHA-256 of ClientDataJSON
	ClientDataJSON    []byte    `json:"clientDataJson"`    // as the client sent it
	AuthenticatorData []byte    `json:"authenticatorData"` // as the authenticator signed it
	Signature         []byte    `json:"signature"`         // over AuthenticatorData || ClientDataHash
	Challenge         string    `json:"challenge"`         // base64url, as in ClientDataJSON
	Nonce             []byte    `json:"nonce"`             // the single-use nonce the challenge was derived with
	RPID              string    `json:"rpId"`
	Origin            string    `json:"origin"`
	Flags             byte      `json:"flags"` // authenticator data flags (UP 0x01, UV 0x04, BE 0x08, BS 0x10)
	SignCount         uint32    `json:"signCount"`
	Factors           int       `json:"factors"` // always Factors
	UserVerified      bool      `json:"userVerified"`
	BackupEligible    bool      `json:"backupEligible"`
	BackupState       bool      `json:"backupState"`
	VerifiedAt        time.Time `json:"verifiedAt"`
}

// Map returns the evidence as the JSON object stored with a journal
// transaction and a payment.
func (e *Evidence) Map() (map[string]any, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// PasswordFreeEvidence is what is stored, in place of an assertion, with
// an outflow made without a passkey within the password-free allowance:
// one factor (the signed-in session), no device-bound key.
func PasswordFreeEvidence(at time.Time) map[string]any {
	return map[string]any{"method": "PASSWORD_FREE", "factors": 1, "verifiedAt": at.UTC().Format(time.RFC3339Nano)}
}

// BeginPayment issues the challenge that authorizes one payment: derived
// by PaymentChallenge from in and a fresh nonce, answerable only by the
// payer's active passkeys that are not clone-suspected (allowCredentials),
// with user verification required. It returns the
// PublicKeyCredentialRequestOptionsJSON for navigator.credentials.get().
// A payment has at most one pending challenge: beginning again replaces
// the previous one. tx may be nil: BeginPayment then runs in a transaction
// of its own. Errors: INVALID_INPUT (in), NOT_FOUND (no such payer),
// PASSKEY_REQUIRED (the payer has no usable passkey).
func (s *Service) BeginPayment(ctx context.Context, tx *ent.Tx, in PaymentChallengeInput) (json.RawMessage, error) {
	return s.beginPaymentIn(ctx, tx, in, true)
}

// BeginNewPayment is BeginPayment, in tx, for a payment created in tx: no
// earlier challenge for it can exist, so none is looked for. Errors: as
// BeginPayment.
func (s *Service) BeginNewPayment(ctx context.Context, tx *ent.Tx, in PaymentChallengeInput) (json.RawMessage, error) {
	return s.beginPaymentIn(ctx, tx, in, false)
}

func (s *Service) beginPaymentIn(ctx context.Context, tx *ent.Tx, in PaymentChallengeInput, replace bool) (json.RawMessage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if tx == nil {
		var options json.RawMessage
		err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
			var err error
			options, err = s.beginPayment(ctx, tx, in, replace)
			return err
		})
		return options, err
	}
	return s.beginPayment(ctx, tx, in, replace)
}

func (s *Service) beginPayment(ctx context.Context, tx *ent.Tx, in PaymentChallengeInput, replace bool) (json.RawMessage, error) {
	var drop func() error
	if replace {
		// A payment has at most one pending challenge. (Dropped once the
		// payer is known to have a usable passkey: a refusal leaves the
		// caller's transaction untouched.)
		drop = func() error {
			_, err := tx.PasskeySession.Delete().
				Where(passkeysession.PurposeEQ(passkeysession.PurposePAYMENT), passkeysession.PaymentID(in.PaymentID)).
				Exec(ctx)
			return err
		}
	}
	return s.beginBound(ctx, tx, in.Payer, func(nonce []byte) []byte { return PaymentChallenge(in, nonce) },
		func(c *ent.PasskeySessionCreate) {
			c.SetPurpose(passkeysession.PurposePAYMENT).SetPaymentID(in.PaymentID).SetPayeeID(in.Payee).
				SetAmountMinor(in.AmountMinor).SetCurrency(in.Currency)
		}, drop)
}

// beginBound issues a challenge derived by challenge from a fresh nonce,
// answerable only by userID's usable passkeys with user verification, and
// saves its session (purpose and bound fields set by fields), after
// running before (when not nil) once the user is known to have a usable
// passkey.
func (s *Service) beginBound(ctx context.Context, tx *ent.Tx, userID pulid.ID, challenge func(nonce []byte) []byte,
	fields func(c *ent.PasskeySessionCreate), before func() error) (json.RawMessage, error) {
	// The library's user holds every passkey of the payer (it checks that
	// the allowed ones are among them); allowCredentials names the usable.
	u, all, err := s.boundUser(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	var allow []*ent.Passkey
	for _, p := range all {
		if usable(p) {
			allow = append(allow, p)
		}
	}
	if len(allow) == 0 {
		if len(all) == 0 {
			if err := exists(ctx, tx, userID); err != nil {
				return nil, err
			}
		}
		return nil, apperr.New(apperr.PasskeyRequired, "authorizing this needs a passkey: register one on this device")
	}
	if before != nil {
		if err := before(); err != nil {
			return nil, err
		}
	}
	nonce := make([]byte, NonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	// The challenge is derived rather than random so that it binds the
	// operation (dynamic linking); the random nonce inside keeps it as
	// unpredictable as one protocol.CreateChallenge would make.
	assertion, sd, err := s.wa.BeginLogin(u,
		webauthn.WithChallenge(challenge(nonce)),
		webauthn.WithAllowedCredentials(descriptors(allow)),
		webauthn.WithUserVerification(protocol.VerificationRequired),
	)
	if err != nil {
		return nil, err
	}
	c := tx.PasskeySession.Create().SetUserID(userID).SetNonce(nonce)
	fields(c)
	if err := s.saveSession(ctx, tx, c, sd); err != nil {
		return nil, err
	}
	return json.Marshal(assertion.Response)
}

// msgOtherPayment refuses an assertion of another payment's challenge.
const msgOtherPayment = "this authorization was given for another payment, or for different payment details; authorize again"

// FinishPayment verifies, inside the caller's transaction tx, that
// credentialJSON (what PublicKeyCredential.toJSON() returns after
// navigator.credentials.get()) answers exactly the challenge BeginPayment
// issued for in, where in holds the payment's CURRENT fields: the challenge
// is recomputed from them and the stored nonce, so an assertion for
// another payment, or for this one before its amount, currency or payee
// changed, is refused. The credential must be one of the payer's own
// active, unsuspected passkeys, with user verification. In tx, the
// challenge is spent and the passkey's counter, flags and last use are
// written back; the returned Evidence is to be stored with the payment.
//
// (escrow's authorizePayment verifies with VerifyPayment, outside any
// transaction, and spends with SpendPayment in its own.)
// When FinishPayment fails the caller rolls tx back and then calls
// RecordFailure(ctx, err), which spends the challenge for good and keeps a
// clone suspicion. Errors: INVALID_INPUT (in, malformed credential JSON:
// nothing spent), PASSKEY_INVALID (unknown or used challenge, another
// payment's or changed payment fields, a credential that is not the
// payer's, verification failed, user verification missing),
// CHALLENGE_EXPIRED, PASSKEY_REVOKED, PASSKEY_CLONE_SUSPECTED (the passkey
// is suspected, or its counter went backwards now), CONFLICT.
func (s *Service) FinishPayment(ctx context.Context, tx *ent.Tx, in PaymentChallengeInput, credentialJSON []byte) (*Evidence, error) {
	if tx == nil {
		return nil, errors.New("passkey: FinishPayment needs the caller's transaction (VerifyPayment runs without one)")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ev, err := s.finishBound(ctx, tx, in.Payer, passkeysession.PurposePAYMENT, credentialJSON,
		func(ps *ent.PasskeySession) bool { return binds(ps, in) }, msgOtherPayment)
	if err != nil {
		return nil, err
	}
	ev.PaymentID = in.PaymentID
	return ev, nil
}

// finishBound verifies, in tx, that credentialJSON answers a pending
// challenge of purpose issued to userID, that binds accepts its session
// (else PASSKEY_INVALID with mismatch as the message), and that one of the
// user's own active, unsuspected passkeys signed it with user
// verification (verifyBound); it spends the challenge and writes the
// passkey's counter back. Errors: as FinishPayment.
func (s *Service) finishBound(ctx context.Context, tx *ent.Tx, userID pulid.ID, purpose passkeysession.Purpose, credentialJSON []byte,
	binds func(ps *ent.PasskeySession) bool, mismatch string) (*Evidence, error) {
	v, err := s.verifyBound(ctx, tx, userID, purpose, credentialJSON, binds, mismatch)
	if err != nil {
		return nil, err
	}
	if err := s.writeBack(ctx, tx.Passkey, v.ps, v.p, v.c, true); err != nil {
		return nil, err
	}
	return v.Evidence, nil
}

// verifyBound is finishBound's reading and checking, without its writes.
// In tx the session is consumed (deleted) and the passkeys read in it;
// with tx nil (VerifyPayment) the session and the user's passkeys are read
// by one statement outside any transaction (readBound) and nothing is
// written: SpendPayment does that in the caller's transaction.
func (s *Service) verifyBound(ctx context.Context, tx *ent.Tx, userID pulid.ID, purpose passkeysession.Purpose, credentialJSON []byte,
	binds func(ps *ent.PasskeySession) bool, mismatch string) (*Verified, error) {
	parsed, err := parseAssertion(credentialJSON)
	if err != nil {
		return nil, err
	}
	challenge := parsed.Response.CollectedClientData.Challenge
	var (
		ps  *ent.PasskeySession
		u   *user
		all []*ent.Passkey
		pk  = s.client.Passkey
	)
	if tx != nil {
		pk = tx.Passkey
		ps, err = s.consume(ctx, tx, challenge)
	} else {
		ps, u, all, err = s.readBound(ctx, challenge, userID)
	}
	if err != nil {
		return nil, err
	}
	sd, err := s.open(ps, purpose)
	if err != nil {
		return nil, err
	}
	if !binds(ps) {
		return nil, refuse(ps, apperr.PasskeyInvalid, mismatch)
	}
	// One read of the user's passkeys finds the credential and gives
	// go-webauthn the user; passkeyFor explains a credential not among them.
	if tx != nil {
		if u, all, err = s.boundUser(ctx, tx, userID); err != nil {
			return nil, err
		}
	}
	var p *ent.Passkey
	for _, k := range all {
		if bytes.Equal(k.CredentialID, parsed.RawID) {
			p = k
			break
		}
	}
	switch {
	case p == nil:
		if _, err := passkeyFor(ctx, pk, ps, parsed.RawID, userID); err != nil {
			return nil, err
		}
		return nil, refuse(ps, apperr.PasskeyInvalid, msgUnknownPasskey) // not reached: the credential is someone else's
	case !active(p):
		return nil, refuse(ps, apperr.PasskeyRevoked, msgRevoked)
	case p.CloneSuspected:
		return nil, refuse(ps, apperr.PasskeyCloneSuspected, msgClone)
	}
	c, err := s.wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		return nil, s.invalid(ctx, ps, err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if err := requireUV(ps, flags); err != nil {
		return nil, err
	}
	if err := s.cloned(ctx, ps, p, c); err != nil {
		return nil, err
	}
	cdj := parsed.Raw.AssertionResponse.ClientDataJSON
	hash := sha256.Sum256(cdj)
	return &Verified{ps: ps, p: p, c: c, Evidence: &Evidence{
		PasskeyID:         p.ID,
		CredentialID:      p.CredentialID,
		ClientDataHash:    hash[:],
		ClientDataJSON:    cdj,
		AuthenticatorData: parsed.Raw.AssertionResponse.AuthenticatorData,
		Signature:         parsed.Response.Signature,
		Challenge:         ps.Challenge,
		Nonce:             ps.Nonce,
		RPID:              sd.GetRelyingPartyID(s.rpID),
		Origin:            parsed.Response.CollectedClientData.Origin,
		Flags:             byte(flags),
		SignCount:         parsed.Response.AuthenticatorData.Counter,
		Factors:           Factors,
		UserVerified:      flags.HasUserVerified(),
		BackupEligible:    flags.HasBackupEligible(),
		BackupState:       flags.HasBackupState(),
		VerifiedAt:        s.clock(),
	}}, nil
}

// Verified is a payment authorization verified outside any transaction
// (VerifyPayment) and not yet spent: its challenge's session and the
// passkey as they were read, and the Evidence to store once SpendPayment
// has spent it in the transaction that moves the money.
type Verified struct {
	Evidence *Evidence
	ps       *ent.PasskeySession
	p        *ent.Passkey
	c        *webauthn.Credential
}

// VerifyPayment checks, outside any transaction, what FinishPayment
// checks: the session of the challenge credentialJSON answers and the
// payer's passkeys are read by one statement on a reader's connection
// (readBound), and the assertion is verified with nothing held.
// Nothing is written when it succeeds: the caller spends the challenge
// with SpendPayment in the transaction that moves the money, so that the
// challenge's spending, the passkey's counter and the payment commit
// together or not at all, and after a failed transaction calls
// RecordFailure (a refusal of SpendPayment) or Discard (any other error),
// so that the assertion can never be used again. A refusal here is
// recorded before it returns (RecordFailure: the session deleted, a clone
// suspicion kept), even when the request is being cancelled, except
// CHALLENGE_EXPIRED: an expired session verifies for no one now, a twin
// that verified it in time may be spending it, and the sweep deletes it.
// Errors: those of FinishPayment; ChallengeUnknown tells a challenge no
// pending session has (never issued, expired and swept, or spent: by a
// replay, or by this very request sent before and committed).
func (s *Service) VerifyPayment(ctx context.Context, in PaymentChallengeInput, credentialJSON []byte) (*Verified, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	v, err := s.verifyBound(ctx, nil, in.Payer, passkeysession.PurposePAYMENT, credentialJSON,
		func(ps *ent.PasskeySession) bool { return binds(ps, in) }, msgOtherPayment)
	if err != nil {
		if apperr.Is(err, apperr.ChallengeExpired) {
			// Left to the sweep: an expired session verifies for no one
			// now, and a twin that verified it in time may be spending it.
			return nil, err
		}
		if rerr := s.RecordFailure(context.WithoutCancel(ctx), err); rerr != nil {
			s.log.ErrorContext(ctx, "passkey: recording a failed ceremony", "error", rerr, "failure", err.Error())
		}
		return nil, err
	}
	v.Evidence.PaymentID = in.PaymentID
	if beforeWrite != nil {
		beforeWrite()
	}
	return v, nil
}

// SpendPayment spends, in the caller's transaction tx, an authorization
// VerifyPayment verified: the session's DELETE by its ID (none deleted: a
// concurrent finish of the same challenge spent it first,
// PASSKEY_INVALID) and the counter's conditional write (writeBack: the
// passkey still live, so that a revocation or clone suspicion committed
// since the read wins, and the counter advancing past the stored one).
// On PostgreSQL the DELETE takes the session's row lock:
// a concurrent spender waits for this transaction and then finds the row
// gone, or, after a rollback, spends it itself. Errors: PASSKEY_INVALID,
// PASSKEY_REVOKED, PASSKEY_CLONE_SUSPECTED, CONFLICT; the caller rolls
// back and calls RecordFailure.
func (s *Service) SpendPayment(ctx context.Context, tx *ent.Tx, v *Verified) error {
	pending, err := s.Discard(ctx, tx, v)
	if err != nil {
		return err
	}
	if !pending {
		return unknownChallenge()
	}
	return s.writeBack(ctx, tx.Passkey, v.ps, v.p, v.c, true)
}

// Discard spends v's challenge in tx without using it: after the
// transaction that would have spent it failed for another reason than the
// assertion, so that it can never be presented again. It reports whether
// the challenge was still pending: false when another transaction spent
// it meanwhile (a twin that committed the authorization, say).
// SpendPayment deletes the session this way before writing the counter.
func (s *Service) Discard(ctx context.Context, tx *ent.Tx, v *Verified) (bool, error) {
	n, err := tx.PasskeySession.Delete().Where(passkeysession.ID(v.ps.ID)).Exec(ctx)
	return n > 0, err
}

// Refused reports whether err is a refusal of a finish step (of
// SpendPayment, say), which RecordFailure records, rather than an error of
// what the caller did around it.
func Refused(err error) bool {
	var f *failure
	return errors.As(err, &f)
}

// binds reports whether the payment session ps was issued for exactly the
// payment in: its recorded fields are in's, and the challenge recomputed
// from in and the stored nonce is the stored challenge.
func binds(ps *ent.PasskeySession, in PaymentChallengeInput) bool {
	if ps.UserID == nil || *ps.UserID != in.Payer ||
		ps.PaymentID == nil || *ps.PaymentID != in.PaymentID ||
		ps.PayeeID == nil || *ps.PayeeID != in.Payee ||
		ps.AmountMinor == nil || *ps.AmountMinor != in.AmountMinor ||
		ps.Currency == nil || *ps.Currency != in.Currency ||
		len(ps.Nonce) != NonceLen {
		return false
	}
	want := base64.RawURLEncoding.EncodeToString(PaymentChallenge(in, ps.Nonce))
	return subtle.ConstantTimeCompare([]byte(want), []byte(ps.Challenge)) == 1
}
