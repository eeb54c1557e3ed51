package passkey

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/page"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// DefaultNickname names a passkey registered without a nickname.
const DefaultNickname = "Passkey"

// BeginRegistration starts registering a passkey for a signed-in user and
// returns the PublicKeyCredentialCreationOptionsJSON for
// navigator.credentials.create(): a discoverable credential with user
// verification required, no attestation, and excludeCredentials listing the
// user's passkeys that can still be used (so one authenticator does not
// register twice; a revoked or clone-suspected one may be replaced).
// Errors: NOT_FOUND (no such user), LIMIT_EXCEEDED (MaxPasskeys active
// passkeys), CONFLICT.
func (s *Service) BeginRegistration(ctx context.Context, userID pulid.ID) (json.RawMessage, error) {
	var options json.RawMessage
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		u, live, err := s.loadUser(ctx, tx, userID, true, active)
		if err != nil {
			return err
		}
		if len(live) >= MaxPasskeys {
			return apperr.New(apperr.LimitExceeded, "at most %d passkeys per account: revoke one first", MaxPasskeys).
				With("limit", MaxPasskeys)
		}
		var exclude []*ent.Passkey
		for _, p := range live {
			if usable(p) {
				exclude = append(exclude, p)
			}
		}
		creation, sd, err := s.wa.BeginRegistration(u,
			webauthn.WithExclusions(descriptors(exclude)),
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey:        protocol.ResidentKeyRequirementRequired,
				RequireResidentKey: protocol.ResidentKeyRequired(),
				UserVerification:   protocol.VerificationRequired,
			}),
			webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
			webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
		)
		if err != nil {
			return err
		}
		c := tx.PasskeySession.Create().SetPurpose(passkeysession.PurposeREGISTRATION).SetUserID(userID)
		if err := s.saveSession(ctx, tx, c, sd); err != nil {
			return err
		}
		options, err = json.Marshal(creation.Response)
		return err
	})
	return options, err
}

// FinishRegistrationInput is the input of FinishRegistration.
type FinishRegistrationInput struct {
	UserID pulid.ID
	// Credential is the RegistrationResponseJSON, what
	// PublicKeyCredential.toJSON() returns after navigator.credentials.create().
	Credential []byte
	// Nickname names the passkey; DefaultNickname when blank.
	Nickname string
}

// FinishRegistration verifies the response to a challenge BeginRegistration
// gave the same user and stores the new passkey. The challenge is spent
// whatever the outcome. Errors: INVALID_INPUT (nickname, malformed
// credential JSON: nothing spent), PASSKEY_INVALID (verification failed, no
// such challenge pending for this user, user verification missing),
// CHALLENGE_EXPIRED, ALREADY_EXISTS (the credential ID is registered
// already, to anyone), LIMIT_EXCEEDED.
func (s *Service) FinishRegistration(ctx context.Context, in FinishRegistrationInput) (*ent.Passkey, error) {
	nickname, err := cleanNickname(in.Nickname)
	if err != nil {
		return nil, err
	}
	parsed, err := parseAttestation(in.Credential)
	if err != nil {
		return nil, err
	}
	var created *ent.Passkey
	err = s.run(ctx, func(tx *ent.Tx) error {
		ps, err := s.consume(ctx, tx, parsed.Response.CollectedClientData.Challenge)
		if err != nil {
			return err
		}
		if ps.UserID == nil || *ps.UserID != in.UserID {
			return refuse(ps, apperr.PasskeyInvalid, msgWrongCeremony)
		}
		sd, err := s.open(ps, passkeysession.PurposeREGISTRATION)
		if err != nil {
			return err
		}
		// Write the user row before counting the live passkeys: the write
		// locks it until commit (row lock on PostgreSQL, write lock on
		// SQLite), so concurrent registrations count one after another and
		// the cap holds.
		if err := tx.User.UpdateOneID(in.UserID).SetUpdatedAt(s.clock()).Exec(ctx); err != nil && !ent.IsNotFound(err) {
			return err
		}
		u, live, err := s.loadUser(ctx, tx, in.UserID, false, active)
		if err != nil {
			return err
		}
		c, err := s.wa.CreateCredential(u, sd, parsed)
		if err != nil {
			return s.invalid(ctx, ps, err)
		}
		if err := requireUV(ps, parsed.Response.AttestationObject.AuthData.Flags); err != nil {
			return err
		}
		if len(live) >= MaxPasskeys {
			f := refuse(ps, apperr.LimitExceeded, "too many passkeys: revoke one first")
			f.err = f.err.With("limit", MaxPasskeys)
			return f
		}
		taken, err := tx.Passkey.Query().Where(passkey.CredentialID(c.ID)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return refuse(ps, apperr.AlreadyExists, "this passkey is already registered").withField("credential")
		}
		created, err = s.create(ctx, tx, in.UserID, nickname, c)
		if dbtx.IsUniqueViolation(err) { // registered at the same moment by another request
			return refuse(ps, apperr.AlreadyExists, "this passkey is already registered").withField("credential")
		}
		return err
	})
	return created, err
}

// withField names the input field a failure is about.
func (f *failure) withField(field string) *failure {
	f.err = f.err.WithField(field)
	return f
}

// create stores a verified credential as a passkey of user.
func (s *Service) create(ctx context.Context, tx *ent.Tx, userID pulid.ID, nickname string, c *webauthn.Credential) (*ent.Passkey, error) {
	transports := make([]string, len(c.Transport))
	for i, t := range c.Transport {
		transports[i] = string(t)
	}
	attestation, err := json.Marshal(c.Attestation)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	return tx.Passkey.Create().
		SetUserID(userID).
		SetCredentialID(c.ID).
		SetPublicKey(c.PublicKey).
		SetRpID(s.rpID).
		SetNickname(nickname).
		SetAttestationFormat(orDefault(c.AttestationFormat, "none")).
		SetAttestationType(orDefault(c.AttestationType, "none")).
		SetAaguid(c.Authenticator.AAGUID).
		SetTransports(transports).
		SetAuthenticatorAttachment(string(c.Authenticator.Attachment)).
		SetFlags(int(c.Flags.ProtocolValue())).
		SetUserVerified(c.Flags.UserVerified).
		SetBackupEligible(c.Flags.BackupEligible).
		SetBackedUp(c.Flags.BackupState).
		SetSignCount(int64(c.Authenticator.SignCount)).
		SetAttestation(attestation).
		SetCreatedAt(now).
		SetUpdatedAt(now).
		Save(ctx)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cleanNickname trims a nickname and checks it: at most 64 characters, no
// control characters. Blank gives DefaultNickname. Errors: INVALID_INPUT.
func cleanNickname(n string) (string, error) {
	n = strings.TrimSpace(n)
	if n == "" {
		return DefaultNickname, nil
	}
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > 64 || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", apperr.Invalid("nickname", "nickname must have at most 64 characters and no control characters")
	}
	return n, nil
}

// Revoke revokes one of the user's passkeys: it no longer signs in nor
// authorizes, its credential ID can never be registered again, and the
// sessions it opened end with it (see auth.Service.EndPasskeySessions).
// Revoking a revoked passkey returns it unchanged. Errors: NOT_FOUND (no
// such passkey of this user).
func (s *Service) Revoke(ctx context.Context, userID, id pulid.ID) (*ent.Passkey, error) {
	var p *ent.Passkey
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		var err error
		p, err = tx.Passkey.Query().Where(passkey.ID(id), passkey.UserID(userID)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no passkey with this ID").WithField("id")
		}
		if err != nil || p.RevokedAt != nil {
			return err
		}
		if p, err = p.Update().SetRevokedAt(s.clock()).Save(ctx); err != nil {
			return err
		}
		_, err = s.auth.EndPasskeySessions(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// List returns a page of the user's passkeys, oldest first by ID, the
// revoked ones too when includeRevoked is set. Page sizes follow package
// page. Errors: INVALID_INPUT (first or last outside 0..page.Max, both).
func (s *Service) List(ctx context.Context, userID pulid.ID, includeRevoked bool, after *ent.Cursor, first *int, before *ent.Cursor, last *int) (*ent.PasskeyConnection, error) {
	first, last, err := page.Bound(first, last)
	if err != nil {
		return nil, err
	}
	q := s.client.Passkey.Query().Where(passkey.UserID(userID))
	if !includeRevoked {
		q = q.Where(passkey.RevokedAtIsNil())
	}
	return q.Paginate(ctx, after, first, before, last)
}
