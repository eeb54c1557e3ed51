package passkey

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/passkeysession"
	"danbao/ent/passkeyuser"
	"danbao/ent/schema/pulid"
	entuser "danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// DefaultTimeout is how long a ceremony's challenge lives unless configured.
const DefaultTimeout = 5 * time.Minute

// MaxPasskeys bounds the active passkeys of one user.
const MaxPasskeys = 20

// handleLen is the length of a WebAuthn user handle (at most 64).
const handleLen = 32

// Config configures the relying party.
type Config struct {
	// RPID is the relying party ID: a registrable domain such as
	// wallet.example, or localhost in development.
	RPID string
	// RPName is the relying party's display name.
	RPName string
	// Origins lists the allowed origins: web origins (https://wallet.example,
	// http://localhost:8080) and opaque native-app origins
	// (android:apk-key-hash:...), which are compared as exact strings.
	Origins []string
	// Timeout is how long a challenge lives (DefaultTimeout when zero). It is
	// sent to clients and enforced by go-webauthn and by the stored expiry.
	Timeout time.Duration
	// Now is the clock (time.Now when nil); tests move it forward.
	Now func() time.Time
	// Logger receives why a WebAuthn response failed verification (the
	// client only gets a stable code). slog.Default() when nil.
	Logger *slog.Logger
}

// Service runs passkey ceremonies. It is safe for concurrent use and keeps
// no state of its own: every ceremony lives in the database.
type Service struct {
	client *ent.Client
	auth   *auth.Service
	wa     *webauthn.WebAuthn
	rpID   string
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger
	// handles caches users' WebAuthn user handles (userID -> []byte):
	// a passkey_users row never changes or goes once written. Only handles
	// read back by a transaction that committed are cached (see
	// boundUser); at most
	// maxHandles, then it starts again.
	handles  sync.Map
	nHandles atomic.Int64
}

// maxHandles bounds the handle cache (about 100 bytes an entry).
const maxHandles = 100_000

// New builds the relying party. It fails when the RP ID or an origin is
// malformed, or when no web origin is configured.
func New(client *ent.Client, authService *auth.Service, cfg Config) (*Service, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RPName == "" {
		cfg.RPName = cfg.RPID
	}
	var web, opaque []string
	for _, o := range cfg.Origins {
		if protocol.IsOpaqueOrigin(o) {
			opaque = append(opaque, o)
		} else {
			web = append(web, o)
		}
	}
	timeout := webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             web,
		RPOpaqueOrigins:       opaque,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey relying party (DANBAO_WEBAUTHN_RP_ID %q, DANBAO_WEBAUTHN_ORIGINS %v): %w", cfg.RPID, cfg.Origins, err)
	}
	return &Service{
		client: client, auth: authService, wa: wa, rpID: cfg.RPID,
		ttl: cfg.Timeout, now: cfg.Now, log: cfg.Logger,
	}, nil
}

// RPID returns the relying party ID.
func (s *Service) RPID() string { return s.rpID }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// failure is a refused finish step. Its transaction is rolled back, but
// what it records must stick: the ceremony's session is spent and a
// detected clone stays marked. RecordFailure writes that afterwards.
type failure struct {
	err       *apperr.Error
	sessionID pulid.ID // the consumed session, to delete for good
	cloneOf   pulid.ID // the passkey whose counter went backwards
	unknown   bool     // no session has the response's challenge
}

// unknownChallenge refuses a response whose challenge no pending session
// has: never issued, swept after expiring, or already spent.
func unknownChallenge() *failure {
	f := refuse(nil, apperr.PasskeyInvalid, msgUnknownChallenge)
	f.unknown = true
	return f
}

// ChallengeUnknown reports whether err refused a response because no
// pending session has its challenge (never issued, expired and swept, or
// spent already: by a replay, or by the same request sent twice).
func ChallengeUnknown(err error) bool {
	var f *failure
	return errors.As(err, &f) && f.unknown
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// RecordFailure makes what a failed finish step must leave behind stick
// after its transaction was rolled back: the ceremony's session is deleted
// (a challenge is used at most once, successfully or not) and a passkey
// whose signature counter went backwards is marked clone-suspected. err is
// the error a finish method returned; for any other error RecordFailure
// does nothing. Callers of FinishPayment, FinishWithdrawal and
// SpendPayment inside their own transaction call it after rolling back;
// the other methods (VerifyPayment among them) record their failures
// themselves.
func (s *Service) RecordFailure(ctx context.Context, err error) error {
	var f *failure
	if !errors.As(err, &f) || (f.sessionID == "" && f.cloneOf == "") {
		return nil
	}
	now := s.clock()
	return dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if f.sessionID != "" {
			if _, err := tx.PasskeySession.Delete().Where(passkeysession.ID(f.sessionID)).Exec(ctx); err != nil {
				return err
			}
		}
		if f.cloneOf != "" {
			return markClone(ctx, tx.Passkey, f.cloneOf, now)
		}
		return nil
	})
}

// markClone marks the passkey id clone-suspected at now (once: an earlier
// mark keeps its time).
func markClone(ctx context.Context, pk *ent.PasskeyClient, id pulid.ID, now time.Time) error {
	return pk.Update().Where(passkey.ID(id), passkey.CloneSuspected(false)).
		SetCloneSuspected(true).SetCloneSuspectedAt(now).Exec(ctx)
}

// run is the transaction of a finish step that is not part of a caller's
// transaction: fn runs in one transaction and a failure is recorded after
// the rollback.
func (s *Service) run(ctx context.Context, fn func(tx *ent.Tx) error) error {
	err := dbtx.WithTx(ctx, s.client, fn)
	if err != nil {
		if rerr := s.RecordFailure(ctx, err); rerr != nil {
			s.log.ErrorContext(ctx, "passkey: recording a failed ceremony", "error", rerr, "failure", err.Error())
		}
	}
	return err
}

// Messages of the refusals.
const (
	msgUnknownChallenge = "this passkey response answers no pending challenge (unknown, already used or replayed); begin again"
	msgWrongCeremony    = "this passkey response answers a different ceremony; begin again"
	msgExpired          = "the passkey challenge has expired; begin again"
	msgInvalid          = "the passkey response could not be verified"
	msgUnknownPasskey   = "this passkey is not registered here"
	msgRevoked          = "this passkey was revoked"
	msgClone            = "this passkey's signature counter went backwards, so a copy of it may exist: it can no longer authorize payments; register a new passkey"
	msgNoUV             = "the authenticator did not verify the user (biometric or PIN); user verification is required"
)

// refuse returns a failure that spends the session ps (when not nil).
func refuse(ps *ent.PasskeySession, code apperr.Code, msg string) *failure {
	f := &failure{err: apperr.New(code, "%s", msg)}
	if ps != nil {
		f.sessionID = ps.ID
	}
	return f
}

// invalid refuses a response go-webauthn did not verify, logging the
// library's reason for operators.
func (s *Service) invalid(ctx context.Context, ps *ent.PasskeySession, err error) *failure {
	attrs := []any{"purpose", string(ps.Purpose), "session", ps.ID, "error", err.Error()}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		attrs = append(attrs, "type", pe.Type, "details", pe.Details, "debug", pe.DevInfo)
	}
	s.log.InfoContext(ctx, "passkey: response failed verification", attrs...)
	return refuse(ps, apperr.PasskeyInvalid, msgInvalid)
}

// saveSession stores the ceremony's whole SessionData, bound to its purpose
// and user, expiring after the configured timeout. Expired sessions are
// refused when presented (open) and removed by Sweep, out of the request
// path.
func (s *Service) saveSession(ctx context.Context, tx *ent.Tx, c *ent.PasskeySessionCreate, sd *webauthn.SessionData) error {
	now := s.clock()
	expires := now.Add(s.ttl)
	sd.Expires = expires
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	// Nothing reads the insert's result: on PostgreSQL it goes with the
	// transaction's next round trip (dbtx.ExecLater).
	return c.SetChallenge(sd.Challenge).SetData(data).SetCreatedAt(now).SetExpiresAt(expires).Exec(dbtx.ExecLater(ctx))
}

// Sweep deletes the sessions that expired more than a timeout ago and
// returns how many (later ones are kept so that a late finish still learns
// CHALLENGE_EXPIRED rather than an unknown challenge). Housekeeping runs
// it periodically (app.Maintain); an expired session is refused whether
// or not it was swept yet. Safe on several instances.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	return s.client.PasskeySession.Delete().Where(passkeysession.ExpiresAtLT(s.clock().Add(-s.ttl))).Exec(ctx)
}

// consume takes the session whose challenge the response carries: one
// DELETE ... RETURNING (both engines have it), so that of two finishes
// presenting one challenge only one gets it. Errors: PASSKEY_INVALID (no
// such session).
func (s *Service) consume(ctx context.Context, tx *ent.Tx, challenge string) (*ent.PasskeySession, error) {
	if challenge == "" {
		return nil, unknownChallenge()
	}
	rows, err := tx.QueryContext(ctx, consumeSQL, challenge)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, unknownChallenge()
	}
	var r sessionRow
	if err := rows.Scan(r.dest()...); err != nil {
		return nil, fmt.Errorf("passkey session: %w", err)
	}
	return r.session(), rows.Close()
}

// consumeSQL deletes one session by challenge and returns it, its columns
// in passkeysession.Columns order (sessionRow).
var consumeSQL = "DELETE FROM " + passkeysession.Table + " WHERE " + passkeysession.FieldChallenge + " = $1 RETURNING " +
	strings.Join(passkeysession.Columns, ", ")

// sessionRow receives a row of passkeysession.Columns (in that order) as
// ent would read it.
type sessionRow struct {
	id, purpose, challenge                           string
	userID, paymentID, payeeID, currency, bankCardID sql.NullString
	data, nonce                                      []byte
	createdAt, expiresAt                             sql.NullTime
	amount                                           sql.NullInt64
}

// dest is what to scan the columns into, in passkeysession.Columns order.
func (r *sessionRow) dest() []any {
	return []any{&r.id, &r.purpose, &r.userID, &r.challenge, &r.data, &r.createdAt, &r.expiresAt,
		&r.paymentID, &r.payeeID, &r.amount, &r.currency, &r.bankCardID, &r.nonce}
}

// session is the scanned row as ent's entity.
func (r *sessionRow) session() *ent.PasskeySession {
	ps := &ent.PasskeySession{ID: pulid.ID(r.id), Purpose: passkeysession.Purpose(r.purpose), Challenge: r.challenge,
		Data: r.data, CreatedAt: r.createdAt.Time, ExpiresAt: r.expiresAt.Time, Nonce: r.nonce}
	if r.userID.Valid {
		v := pulid.ID(r.userID.String)
		ps.UserID = &v
	}
	if r.paymentID.Valid {
		ps.PaymentID = &r.paymentID.String
	}
	if r.payeeID.Valid {
		v := pulid.ID(r.payeeID.String)
		ps.PayeeID = &v
	}
	if r.amount.Valid {
		ps.AmountMinor = &r.amount.Int64
	}
	if r.currency.Valid {
		ps.Currency = &r.currency.String
	}
	if r.bankCardID.Valid {
		v := pulid.ID(r.bankCardID.String)
		ps.BankCardID = &v
	}
	return ps
}

// open checks a consumed session's purpose and expiry and decodes its
// SessionData. Errors: PASSKEY_INVALID (other purpose), CHALLENGE_EXPIRED.
func (s *Service) open(ps *ent.PasskeySession, purpose passkeysession.Purpose) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if ps.Purpose != purpose {
		return sd, refuse(ps, apperr.PasskeyInvalid, msgWrongCeremony)
	}
	if !s.clock().Before(ps.ExpiresAt) {
		return sd, refuse(ps, apperr.ChallengeExpired, msgExpired)
	}
	if err := json.Unmarshal(ps.Data, &sd); err != nil {
		return sd, fmt.Errorf("passkey session %s: %w", ps.ID, err)
	}
	return sd, nil
}

// user is a danbao user as go-webauthn sees it.
type user struct {
	u      *ent.User
	handle []byte
	creds  []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.u.Phone }
func (u *user) WebAuthnDisplayName() string                { return u.u.DisplayName }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser loads a user with their handle (created when create is set and
// the user has none yet) and the credentials of the passkeys that keep
// satisfies (all of them when keep is nil). Errors: NOT_FOUND.
func (s *Service) loadUser(ctx context.Context, tx *ent.Tx, id pulid.ID, create bool, keep func(*ent.Passkey) bool) (*user, []*ent.Passkey, error) {
	u, err := tx.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return nil, nil, err
	}
	handle, err := s.handle(ctx, tx, id, create)
	if err != nil {
		return nil, nil, err
	}
	all, err := tx.Passkey.Query().Where(passkey.UserID(id)).Order(ent.Asc(passkey.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	wu := &user{u: u, handle: handle}
	var kept []*ent.Passkey
	for _, p := range all {
		if keep == nil || keep(p) {
			kept = append(kept, p)
			wu.creds = append(wu.creds, credential(p))
		}
	}
	return wu, kept, nil
}

// handle returns the user's WebAuthn user handle, making one if create is
// set. A user without one has never registered a passkey, so nil is fine
// for lookups.
func (s *Service) handle(ctx context.Context, tx *ent.Tx, id pulid.ID, create bool) ([]byte, error) {
	pu, err := tx.PasskeyUser.Query().Where(passkeyuser.UserID(id)).Only(ctx)
	switch {
	case err == nil:
		return pu.Handle, nil
	case !ent.IsNotFound(err):
		return nil, err
	case !create:
		return nil, nil
	}
	h := make([]byte, handleLen)
	if _, err := rand.Read(h); err != nil {
		return nil, err
	}
	// Two first registrations at once: the unique index on user_id makes
	// the loser fail, and its transaction is retried or refused.
	if err := tx.PasskeyUser.Create().SetUserID(id).SetHandle(h).SetCreatedAt(s.clock()).Exec(ctx); err != nil {
		if dbtx.IsUniqueViolation(err) {
			return nil, apperr.New(apperr.Conflict, "another passkey registration for this account is starting; try again")
		}
		return nil, err
	}
	return h, nil
}

// boundUser is the user of an operation-bound assertion (payment,
// withdrawal) as go-webauthn needs it for BeginLogin and ValidateLogin:
// the user handle and the credentials of all their passkeys (returned
// too). It does not read the users row (a sign-in ceremony uses neither
// name): a user without passkeys may not exist at all, which callers
// check (exists) only on that path. The handle, immutable once written,
// comes from the cache when it can.
func (s *Service) boundUser(ctx context.Context, tx *ent.Tx, id pulid.ID) (*user, []*ent.Passkey, error) {
	var handle []byte
	if h, ok := s.handles.Load(id); ok {
		handle = h.([]byte)
	} else {
		var err error
		if handle, err = s.handle(ctx, tx, id, false); err != nil {
			return nil, nil, err
		}
		if handle != nil {
			// Read, not created, in this transaction, but not necessarily
			// committed: on SQLite a transaction grouped before this one
			// (dbtx's group commit) may have written it, and their group
			// may yet be rolled back, the row with it. Cached once this
			// transaction, and so the row, has committed.
			s.cacheHandle(tx, id, handle)
		}
	}
	all, err := tx.Passkey.Query().Where(passkey.UserID(id)).Order(ent.Asc(passkey.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	wu := &user{u: &ent.User{ID: id}, handle: handle}
	for _, p := range all {
		wu.creds = append(wu.creds, credential(p))
	}
	return wu, all, nil
}

// cacheHandle caches userID's handle, read in tx, once tx has committed.
func (s *Service) cacheHandle(tx *ent.Tx, id pulid.ID, handle []byte) {
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				if s.nHandles.Add(1) > maxHandles {
					s.handles.Clear()
					s.nHandles.Store(1)
				}
				s.handles.Store(id, handle)
			}
			return err
		})
	})
}

// exists reports NOT_FOUND when there is no user id.
func exists(ctx context.Context, tx *ent.Tx, id pulid.ID) error {
	ok, err := tx.User.Query().Where(entuser.ID(id)).Exist(ctx)
	if err == nil && !ok {
		err = apperr.New(apperr.NotFound, "user not found")
	}
	return err
}

// credential converts a stored passkey to go-webauthn's credential record.
func credential(p *ent.Passkey) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID:     p.Aaguid,
			SignCount:  uint32(p.SignCount),
			Attachment: protocol.AuthenticatorAttachment(p.AuthenticatorAttachment),
		},
	}
}

// active reports whether p may sign in.
func active(p *ent.Passkey) bool { return p.RevokedAt == nil }

// usable reports whether p may authorize a payment.
func usable(p *ent.Passkey) bool { return p.RevokedAt == nil && !p.CloneSuspected }

// descriptors lists the credentials of ps for allowCredentials or
// excludeCredentials.
func descriptors(ps []*ent.Passkey) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, len(ps))
	for i, p := range ps {
		c := credential(p)
		out[i] = c.Descriptor()
	}
	return out
}

// passkeyFor finds the passkey of a response's credential ID and checks
// that it may be used: registered (to owner, when owner is set), not
// revoked, reading through pk (a transaction's passkeys or the client's).
// Errors: PASSKEY_INVALID, PASSKEY_REVOKED.
func passkeyFor(ctx context.Context, pk *ent.PasskeyClient, ps *ent.PasskeySession, rawID []byte, owner pulid.ID) (*ent.Passkey, error) {
	p, err := pk.Query().Where(passkey.CredentialID(rawID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, refuse(ps, apperr.PasskeyInvalid, msgUnknownPasskey)
	}
	if err != nil {
		return nil, err
	}
	if owner != "" && p.UserID != owner {
		return nil, refuse(ps, apperr.PasskeyInvalid, "this passkey is not one of the payer's")
	}
	if !active(p) {
		return nil, refuse(ps, apperr.PasskeyRevoked, msgRevoked)
	}
	return p, nil
}

// cloned refuses an assertion whose signature counter did not advance past
// the one stored in p (go-webauthn's CloneWarning), marking the passkey
// through RecordFailure: PASSKEY_CLONE_SUSPECTED.
func (s *Service) cloned(ctx context.Context, ps *ent.PasskeySession, p *ent.Passkey, c *webauthn.Credential) error {
	if !c.Authenticator.CloneWarning {
		return nil
	}
	return s.suspect(ctx, ps, p, p.SignCount, "signature counter went backwards")
}

// suspect refuses ps's assertion of passkey p as a copy's
// (PASSKEY_CLONE_SUSPECTED) and has RecordFailure mark p; stored is the
// counter found, why what gave the copy away (both logged).
func (s *Service) suspect(ctx context.Context, ps *ent.PasskeySession, p *ent.Passkey, stored int64, why string) *failure {
	s.log.WarnContext(ctx, "passkey: "+why+"; marking clone-suspected", "passkey", p.ID, "user", p.UserID, "stored", stored)
	f := refuse(ps, apperr.PasskeyCloneSuspected, msgClone)
	f.cloneOf = p.ID
	return f
}

// writeBack stores what an assertion verified by go-webauthn changed: the
// signature counter, the flags (backup state) and the last use. A counter
// that did not advance past the one read is refused and marks the passkey
// (through RecordFailure). The update is conditional on the stored counter
// still being below the new one (or both 0, for authenticators without a
// counter), so that it never goes backwards: two assertions of one
// authenticator verified at once are both written when the lower commits
// first; otherwise the second is refused CONFLICT, or, when the stored
// counter now equals its own (one credential never signs twice with one
// value), PASSKEY_CLONE_SUSPECTED with the passkey marked. It also requires
// the passkey still to be live (not revoked, and for payments not
// clone-suspected): a revocation committed after the passkey was read
// wins over an assertion in flight. pk is the finish's transaction's
// passkeys. Errors: PASSKEY_CLONE_SUSPECTED, PASSKEY_REVOKED, CONFLICT.
func (s *Service) writeBack(ctx context.Context, pk *ent.PasskeyClient, ps *ent.PasskeySession, p *ent.Passkey, c *webauthn.Credential, forPayment bool) error {
	if err := s.cloned(ctx, ps, p, c); err != nil {
		return err
	}
	// The counter must advance past the stored one at the write (WebAuthn
	// §7.2 step 21), not merely equal the value read.
	count := int64(c.Authenticator.SignCount)
	advances := passkey.SignCountLT(count)
	if count == 0 {
		advances = passkey.SignCount(0)
	}
	upd := pk.Update().Where(passkey.ID(p.ID), advances, passkey.RevokedAtIsNil())
	if forPayment {
		upd.Where(passkey.CloneSuspected(false))
	}
	n, err := upd.
		SetSignCount(int64(c.Authenticator.SignCount)).
		SetFlags(int(c.Flags.ProtocolValue())).
		SetUserVerified(c.Flags.UserVerified).
		SetBackedUp(c.Flags.BackupState).
		SetLastUsedAt(s.clock()).
		Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		now, err := pk.Get(ctx, p.ID)
		switch {
		case err != nil:
			return err
		case now.RevokedAt != nil:
			return refuse(ps, apperr.PasskeyRevoked, msgRevoked)
		case forPayment && now.CloneSuspected:
			return refuse(ps, apperr.PasskeyCloneSuspected, msgClone)
		case count != 0 && now.SignCount == count:
			// Another assertion with this very counter was written since
			// the read: one credential never signs twice with one value,
			// so a copy of it exists (in turn, go-webauthn's CloneWarning).
			return s.suspect(ctx, ps, p, now.SignCount, "signature counter written twice")
		}
		return refuse(ps, apperr.Conflict, "this passkey was used by another request at the same moment; begin again")
	}
	return nil
}

// requireUV refuses an assertion whose authenticator data lacks the UV flag.
// go-webauthn checks it already because every session requires user
// verification; this keeps the rule independent of the session's contents.
func requireUV(ps *ent.PasskeySession, flags protocol.AuthenticatorFlags) error {
	if !flags.HasUserVerified() {
		return refuse(ps, apperr.PasskeyInvalid, msgNoUV)
	}
	return nil
}

// parseAssertion parses an AuthenticationResponseJSON. Errors:
// INVALID_INPUT.
func parseAssertion(raw []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(raw) == 0 {
		return nil, apperr.Invalid("credential", "credential is required")
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(raw)
	if err != nil {
		return nil, apperr.Invalid("credential", "credential is not a WebAuthn assertion as PublicKeyCredential.toJSON() gives it after navigator.credentials.get()")
	}
	return p, nil
}

// parseAttestation parses a RegistrationResponseJSON. Errors:
// INVALID_INPUT.
func parseAttestation(raw []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(raw) == 0 {
		return nil, apperr.Invalid("credential", "credential is required")
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(raw)
	if err != nil {
		return nil, apperr.Invalid("credential", "credential is not a WebAuthn registration as PublicKeyCredential.toJSON() gives it after navigator.credentials.create()")
	}
	return p, nil
}
