package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/authsession"
	"danbao/ent/loginthrottle"
	"danbao/ent/partnerapp"
	"danbao/ent/predicate"
	"danbao/ent/refreshtoken"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"

	"entgo.io/ent/dialect/sql"
)

// Password rules.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// Login throttling: after FreeFailures consecutive failures for one phone,
// each further failure locks that phone for LockBase doubled per failure,
// at most LockMax.
const (
	FreeFailures = 5
	LockBase     = time.Minute
	LockMax      = time.Hour
)

// Session is the result of a successful sign-in or refresh.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	User         *ent.User
}

// Service signs users up and in.
type Service struct {
	client     *ent.Client
	tokens     *Tokens
	refreshTTL time.Duration
	params     PasswordParams
	now        func() time.Time
	dummyHash  string

	passwordChecks atomic.Int64
	hashes         *HashGate
}

// NewService returns a Service. params sets the password hashing cost.
func NewService(client *ent.Client, tokens *Tokens, refreshTTL time.Duration, params PasswordParams) *Service {
	dummy, _ := HashPassword("not a real password", params)
	return &Service{client: client, tokens: tokens, refreshTTL: refreshTTL, params: params, now: time.Now, dummyHash: dummy,
		hashes: MachineHashGate()}
}

// Hashes returns the gate that bounds concurrent password hashing.
func (s *Service) Hashes() *HashGate { return s.hashes }

// Tokens returns the access token issuer.
func (s *Service) Tokens() *Tokens { return s.tokens }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizePhone returns phone in E.164 form, accepting spaces, hyphens,
// dots and parentheses as separators. Anything else is INVALID_INPUT.
func NormalizePhone(phone string) (string, error) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, phone)
	if !e164.MatchString(p) {
		return "", apperr.Invalid("phone", "phone must be an E.164 number such as +8613800138000")
	}
	return p, nil
}

// RegisterInput is the input of Register.
type RegisterInput struct {
	Phone       string
	Password    string
	DisplayName string
}

// Register creates a user account and signs it in. Errors: INVALID_INPUT
// (phone, password or display name), ALREADY_EXISTS (phone taken),
// RATE_LIMITED (too many passwords being hashed; retryAfterSeconds).
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Session, error) {
	phone, err := NormalizePhone(in.Phone)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.DisplayName)
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return nil, apperr.Invalid("displayName", "display name must have 1 to 64 characters")
	}
	var hash string
	if gerr := s.hashes.Do(ctx, func() { hash, err = HashPassword(in.Password, s.params) }); gerr != nil {
		return nil, gerr
	}
	if err != nil {
		return nil, err
	}
	var sess *Session
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		u, err := tx.User.Create().SetPhone(phone).SetPasswordHash(hash).SetDisplayName(name).Save(ctx)
		if dbtx.IsUniqueViolation(err) {
			return apperr.New(apperr.AlreadyExists, "this phone number is already registered").WithField("phone")
		}
		if err != nil {
			return err
		}
		sess, err = s.openSession(ctx, tx, u, nil)
		return err
	})
	return sess, err
}

// CreateOperator creates an operator account. It is reached only from the
// command line, never through the public API.
func (s *Service) CreateOperator(ctx context.Context, phone, password string) (*ent.User, error) {
	p, err := NormalizePhone(phone)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password, s.params)
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Create().SetPhone(p).SetPasswordHash(hash).
		SetDisplayName("operator").SetRole(user.RoleOPERATOR).Save(ctx)
	if dbtx.IsUniqueViolation(err) {
		return nil, apperr.New(apperr.AlreadyExists, "this phone number is already registered").WithField("phone")
	}
	return u, err
}

func checkPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return apperr.Invalid("password", "password must have at least %d characters", MinPasswordLen)
	}
	if n > MaxPasswordLen || !utf8.ValidString(pw) {
		return apperr.Invalid("password", "password must have at most %d characters", MaxPasswordLen)
	}
	return nil
}

// LoginInput is the input of Login.
type LoginInput struct {
	Phone    string
	Password string
}

// Login checks a phone and password and starts a session. Errors:
// INVALID_CREDENTIALS (unknown phone or wrong password, indistinguishably),
// RATE_LIMITED (too many recent failures for this phone; extensions
// retryAfterSeconds; also when too many passwords are being hashed at once,
// before the attempt counts), INVALID_INPUT (malformed phone).
//
// Every attempt is counted before its password is checked, in one atomic
// step (see countAttempt), so that parallel guesses cannot all slip in
// before the first failure is recorded.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Session, error) {
	phone, err := NormalizePhone(in.Phone)
	if err != nil {
		return nil, err
	}
	var sess *Session
	if gerr := s.hashes.Do(ctx, func() { sess, err = s.login(ctx, phone, in.Password) }); gerr != nil {
		return nil, gerr
	}
	return sess, err
}

// login is Login holding a hashing slot.
func (s *Service) login(ctx context.Context, phone, password string) (*Session, error) {
	now := s.now().UTC()
	attempt, until, err := s.countAttempt(ctx, phone, now)
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Query().Where(user.Phone(phone)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	hash := s.dummyHash // same work for unknown phones: no enumeration by timing
	if u != nil {
		hash = u.PasswordHash
	}
	s.passwordChecks.Add(1)
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return nil, err
	}
	if !ok || u == nil {
		if attempt >= FreeFailures {
			return nil, locked(until, now)
		}
		return nil, apperr.New(apperr.InvalidCredentials, "phone or password is wrong")
	}
	var sess *Session
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if _, err := tx.LoginThrottle.Delete().Where(loginthrottle.ID(phone)).Exec(ctx); err != nil {
			return err
		}
		sess, err = s.openSession(ctx, tx, u, nil)
		return err
	})
	return sess, err
}

// PasswordChecks counts the password hashes this instance has verified
// (a brute-force signal, and what the lockout tests count).
func (s *Service) PasswordChecks() int64 { return s.passwordChecks.Load() }

func locked(until, now time.Time) error {
	secs := int(math.Ceil(until.Sub(now).Seconds()))
	return apperr.New(apperr.RateLimited, "too many failed sign-ins for this phone; try again later").
		With("retryAfterSeconds", secs)
}

// countAttempt counts one sign-in attempt for key in its own committed
// transaction (the upsert locks the row, so parallel attempts get distinct
// numbers) and returns the attempt's number since the last success. While
// the key is locked it answers RATE_LIMITED. From the FreeFailures-th
// attempt on, it arms the lock before the password is checked (a success
// clears it), so at most one such attempt is ever checked at a time.
func (s *Service) countAttempt(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	var (
		n         int
		until     time.Time
		lockedNow bool
	)
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		lockedNow = false
		err := tx.LoginThrottle.Create().SetID(key).SetFailures(1).SetUpdatedAt(now).
			OnConflictColumns(loginthrottle.FieldID).
			AddFailures(1).UpdateUpdatedAt().
			Exec(ctx)
		if err != nil {
			return err
		}
		th, err := tx.LoginThrottle.Get(ctx, key)
		if err != nil {
			return err
		}
		n = th.Failures
		if th.LockedUntil != nil && th.LockedUntil.After(now) {
			until, lockedNow = *th.LockedUntil, true
			return nil
		}
		if n < FreeFailures {
			return nil
		}
		until = now.Add(min(LockBase<<min(n-FreeFailures, 10), LockMax))
		return tx.LoginThrottle.UpdateOneID(key).SetLockedUntil(until).Exec(ctx)
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	if lockedNow { // locked before this attempt, or armed by a parallel one
		return n, until, locked(until, now)
	}
	return n, until, nil
}

// Refresh exchanges a refresh token for a new session. Errors:
// UNAUTHENTICATED for an unknown, expired, revoked or reused token; a reused
// token also revokes its whole family.
//
// The family's session row is written first (its refreshed_at), which locks
// it until commit on both engines (a row lock on PostgreSQL, the write lock
// on SQLite): a concurrent logout, reuse detection or signOutEverywhere
// either commits before, and this refresh finds the session revoked, or
// waits for this one and then revokes the token it minted.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	hash := hashToken(token)
	var (
		sess   *Session
		reused bool
	)
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		reused = false
		now := s.now().UTC()
		rt, err := tx.RefreshToken.Query().Where(refreshtoken.TokenHash(hash)).WithUser().Only(ctx)
		if ent.IsNotFound(err) {
			return errRefresh
		}
		if err != nil {
			return err
		}
		locked, err := tx.AuthSession.Update().
			Where(authsession.ID(rt.FamilyID), authsession.RevokedAtIsNil()).
			SetRefreshedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if locked == 0 { // the session is over (or the token predates sessions)
			return errRefresh
		}
		// Read again under the lock: a refresh that committed while this
		// one waited has used the token.
		if rt, err = tx.RefreshToken.Query().Where(refreshtoken.ID(rt.ID)).WithUser().Only(ctx); err != nil {
			return err
		}
		if rt.RevokedAt != nil || !rt.ExpiresAt.After(now) {
			return errRefresh
		}
		// Compare-and-set: of two requests presenting one token, one wins;
		// the loser is a reuse.
		n, err := tx.RefreshToken.Update().
			Where(refreshtoken.ID(rt.ID), refreshtoken.UsedAtIsNil(), refreshtoken.RevokedAtIsNil()).
			SetUsedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			reused = true
			_, err := revokeSessions(ctx, tx, now, authsession.ID(rt.FamilyID))
			return err
		}
		ses, err := tx.AuthSession.Get(ctx, rt.FamilyID)
		if err != nil {
			return err
		}
		// The session began when the user signed in.
		sess, err = s.startSession(ctx, tx, rt.Edges.User, rt.FamilyID, ses.CreatedAt)
		return err
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, apperr.New(apperr.Unauthenticated, "refresh token was already used; every session of this sign-in is revoked")
	}
	return sess, nil
}

var errRefresh = apperr.New(apperr.Unauthenticated, "refresh token is invalid, expired or revoked")

// Logout ends the session of a refresh token. It reports whether a live
// session was ended; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, token string) (bool, error) {
	var revoked bool
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		revoked = false
		rt, err := tx.RefreshToken.Query().Where(refreshtoken.TokenHash(hashToken(token))).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		n, err := revokeSessions(ctx, tx, s.now().UTC(), authsession.ID(rt.FamilyID))
		revoked = n > 0
		return err
	})
	return revoked, err
}

// SignOutEverywhere ends every session of the user and returns how many
// were live. Errors: none beyond storage failures.
func (s *Service) SignOutEverywhere(ctx context.Context, userID pulid.ID) (int, error) {
	var n int
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		var err error
		n, err = revokeSessions(ctx, tx, s.now().UTC(), authsession.UserID(userID))
		return err
	})
	return n, err
}

// EndPasskeySessions ends, inside tx, every session the passkey opened (a
// revoked passkey must not leave a signed-in device behind). It returns how
// many were live.
func (s *Service) EndPasskeySessions(ctx context.Context, tx *ent.Tx, passkeyID pulid.ID) (int, error) {
	return revokeSessions(ctx, tx, s.now().UTC(), authsession.PasskeyID(passkeyID))
}

// revokeSessions marks the live sessions matching where revoked, then
// revokes every live refresh token of a revoked session among them. The
// session UPDATE comes first: it waits for a refresh holding a session's
// lock to commit, so the second statement sees (and revokes) the token
// that refresh minted; a refresh that starts later finds the session
// revoked.
func revokeSessions(ctx context.Context, tx *ent.Tx, now time.Time, where ...predicate.AuthSession) (int, error) {
	n, err := tx.AuthSession.Update().
		Where(append(where, authsession.RevokedAtIsNil())...).
		SetRevokedAt(now).Save(ctx)
	if err != nil {
		return 0, err
	}
	ended := func(s *sql.Selector) {
		t := sql.Table(authsession.Table)
		sub := sql.Select(t.C(authsession.FieldID)).From(t)
		for _, p := range where {
			p(sub)
		}
		sub.Where(sql.NotNull(t.C(authsession.FieldRevokedAt)))
		s.Where(sql.In(s.C(refreshtoken.FieldFamilyID), sub))
	}
	err = tx.RefreshToken.Update().
		Where(refreshtoken.RevokedAtIsNil(), ended).
		SetRevokedAt(now).Exec(ctx)
	return n, err
}

// CheckSession answers whether the caller's access token belongs to a
// session that is still live; money-moving and credential-changing
// operations call it, reads rely on the token's short expiry. A partner
// app's token is live while the app's secret is the one it was issued
// against. Signed-out callers pass (the operation's own check refuses
// them). Errors: UNAUTHENTICATED with extensions.reason SESSION_REVOKED
// (the session was ended, the token carries no session, or the partner
// app's secret was rotated since).
func (s *Service) CheckSession(ctx context.Context) error {
	id, ok := FromContext(ctx)
	if !ok {
		if p, ok := PartnerFromContext(ctx); ok {
			return s.checkPartner(ctx, p)
		}
		return nil
	}
	if id.SessionID != "" {
		live, err := s.client.AuthSession.Query().
			Where(authsession.ID(id.SessionID), authsession.UserID(id.UserID), authsession.RevokedAtIsNil()).
			Exist(ctx)
		if err != nil || live {
			return err
		}
	}
	return apperr.New(apperr.Unauthenticated, "this session was ended (signed out, or its passkey revoked); sign in again").
		With("reason", ReasonSessionRevoked)
}

// checkPartner refuses a partner token issued against a secret the app no
// longer has (rotated, because it leaked: the tokens taken with it must
// stop acting too), or for an app that is gone.
func (s *Service) checkPartner(ctx context.Context, p Partner) error {
	app, err := s.client.PartnerApp.Query().Where(partnerapp.ID(p.ID)).Select(partnerapp.FieldSecretHash).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return err
	}
	if err == nil && p.SecretVersion != "" && SecretVersion(app.SecretHash) == p.SecretVersion {
		return nil
	}
	return apperr.New(apperr.Unauthenticated, "this partner token was issued against a secret the app no longer has (rotated); take a new token").
		With("reason", ReasonSessionRevoked)
}

// ReasonSessionRevoked is the extensions.reason of an UNAUTHENTICATED error
// for an access token whose session has ended.
const ReasonSessionRevoked = "SESSION_REVOKED"

// SignInVerified starts a session for u inside tx, for a caller that has
// already proven who u is by other means (a passkey assertion, see
// internal/passkey); passkeyID names that passkey, so that revoking it ends
// the session. It issues the same tokens as Login: an access token and the
// first refresh token of a new session.
func (s *Service) SignInVerified(ctx context.Context, tx *ent.Tx, u *ent.User, passkeyID pulid.ID) (*Session, error) {
	return s.openSession(ctx, tx, u, &passkeyID)
}

// openSession records a new session of u (opened by the passkey, when not
// nil) and issues its first tokens.
func (s *Service) openSession(ctx context.Context, tx *ent.Tx, u *ent.User, passkeyID *pulid.ID) (*Session, error) {
	if u == nil {
		return nil, errors.New("auth: session without user")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	id := newFamily()
	err := tx.AuthSession.Create().SetID(id).SetUserID(u.ID).SetNillablePasskeyID(passkeyID).
		SetCreatedAt(now).Exec(ctx)
	if err != nil {
		return nil, err
	}
	return s.startSession(ctx, tx, u, id, now)
}

// startSession issues an access token and a new refresh token of the
// session family; authTime is when the user signed in (the session's
// start).
func (s *Service) startSession(ctx context.Context, tx *ent.Tx, u *ent.User, family string, authTime time.Time) (*Session, error) {
	if u == nil {
		return nil, errors.New("auth: session without user")
	}
	access, exp, err := s.tokens.Issue(u.ID, u.Role, family, authTime)
	if err != nil {
		return nil, err
	}
	refresh := "rt_" + randomToken()
	now := s.now().UTC()
	err = tx.RefreshToken.Create().
		SetUserID(u.ID).SetFamilyID(family).SetTokenHash(hashToken(refresh)).
		SetCreatedAt(now).SetExpiresAt(now.Add(s.refreshTTL)).Exec(ctx)
	if err != nil {
		return nil, err
	}
	return &Session{AccessToken: access, RefreshToken: refresh, ExpiresAt: exp, User: u}, nil
}

// UserByID loads a user.
func (s *Service) UserByID(ctx context.Context, id pulid.ID) (*ent.User, error) {
	u, err := s.client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	return u, err
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newFamily() string { return randomToken()[:22] }

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
