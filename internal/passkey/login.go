package passkey

import (
	"context"
	"encoding/json"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/passkeysession"
	"danbao/internal/dbtx"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// BeginLogin starts a passkey sign-in before anyone is known (a
// discoverable credential: the authenticator offers the user's passkeys
// for the RP ID) and returns the PublicKeyCredentialRequestOptionsJSON for
// navigator.credentials.get(), with user verification required and no
// allowCredentials.
func (s *Service) BeginLogin(ctx context.Context) (json.RawMessage, error) {
	var options json.RawMessage
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		assertion, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return err
		}
		c := tx.PasskeySession.Create().SetPurpose(passkeysession.PurposeLOGIN)
		if err := s.saveSession(ctx, tx, c, sd); err != nil {
			return err
		}
		options, err = json.Marshal(assertion.Response)
		return err
	})
	return options, err
}

// FinishLogin verifies the assertion answering a BeginLogin challenge and
// signs its passkey's owner in, with the same tokens as a password sign-in.
// The challenge is spent whatever the outcome; on success the passkey's
// counter, flags and last use are written back. Errors: INVALID_INPUT
// (malformed credential JSON: nothing spent), PASSKEY_INVALID (unknown or
// used challenge, unknown credential, verification failed, user handle
// missing or not the owner's, user verification missing), CHALLENGE_EXPIRED,
// PASSKEY_REVOKED, PASSKEY_CLONE_SUSPECTED (the counter went backwards: the
// passkey is marked), CONFLICT.
func (s *Service) FinishLogin(ctx context.Context, credentialJSON []byte) (*auth.Session, error) {
	parsed, err := parseAssertion(credentialJSON)
	if err != nil {
		return nil, err
	}
	var sess *auth.Session
	err = s.run(ctx, func(tx *ent.Tx) error {
		ps, err := s.consume(ctx, tx, parsed.Response.CollectedClientData.Challenge)
		if err != nil {
			return err
		}
		sd, err := s.open(ps, passkeysession.PurposeLOGIN)
		if err != nil {
			return err
		}
		p, err := passkeyFor(ctx, tx.Passkey, ps, parsed.RawID, "")
		if err != nil {
			return err
		}
		u, _, err := s.loadUser(ctx, tx, p.UserID, false, nil)
		if err != nil {
			return err
		}
		// The credential ID found the user; go-webauthn then checks that the
		// user handle the authenticator returned is that user's.
		_, c, err := s.wa.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			return u, nil
		}, sd, parsed)
		if err != nil {
			return s.invalid(ctx, ps, err)
		}
		if err := requireUV(ps, parsed.Response.AuthenticatorData.Flags); err != nil {
			return err
		}
		if err := s.writeBack(ctx, tx.Passkey, ps, p, c, false); err != nil {
			return err
		}
		sess, err = s.auth.SignInVerified(ctx, tx, u.u, p.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}
