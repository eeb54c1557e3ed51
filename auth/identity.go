package auth

import (
	"context"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/internal/apperr"
)

// Identity is who a request acts for.
type Identity struct {
	UserID   pulid.ID
	Role     user.Role
	AuthTime time.Time // when the user last signed in with a password or passkey; zero if unknown
	Expires  time.Time // when the access token that carried this identity expires
	// SessionID is the sid claim: the session the access token belongs to.
	SessionID string
}

// Operator reports whether the identity has the operator role.
func (id Identity) Operator() bool { return id.Role == user.RoleOPERATOR }

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the request's identity, if it is signed in.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// The reasons of an UNAUTHENTICATED error, in its extensions.reason: a
// client refreshes on TOKEN_EXPIRED and signs in again on the others.
const (
	// ReasonNoToken: the request carried no access token.
	ReasonNoToken = "NO_TOKEN"
	// ReasonTokenInvalid: the token failed a check other than its expiry
	// (signature, key, issuer, audience, claims); which one is not said.
	ReasonTokenInvalid = "TOKEN_INVALID"
	// ReasonTokenExpired: the token was sound but has expired.
	ReasonTokenExpired = "TOKEN_EXPIRED"
)

// reasonKey holds why a request has no identity (set by Authenticate).
type reasonKey struct{}

// Require returns the signed-in identity, or UNAUTHENTICATED with
// extensions.reason NO_TOKEN, TOKEN_INVALID or TOKEN_EXPIRED.
func Require(ctx context.Context) (Identity, error) {
	id, ok := FromContext(ctx)
	if ok {
		return id, nil
	}
	reason, _ := ctx.Value(reasonKey{}).(string)
	switch reason {
	case ReasonTokenExpired:
		return Identity{}, apperr.New(apperr.Unauthenticated, "the access token has expired: refresh it").With("reason", reason)
	case ReasonTokenInvalid:
		return Identity{}, apperr.New(apperr.Unauthenticated, "the access token is not valid: sign in again").With("reason", reason)
	}
	return Identity{}, apperr.New(apperr.Unauthenticated, "sign in first: a valid access token is required").With("reason", ReasonNoToken)
}

// RecentSignIn is how recent a sign-in must be for RequireRecent.
const RecentSignIn = 10 * time.Minute

// RequireRecent returns the identity if the user signed in with a password
// or passkey within RecentSignIn (a refreshed token keeps its sign-in
// time): adding a passkey must not be possible with a stolen or long-lived
// session alone. Errors: UNAUTHENTICATED, REAUTHENTICATION_REQUIRED.
func RequireRecent(ctx context.Context) (Identity, error) {
	id, err := Require(ctx)
	if err != nil {
		return id, err
	}
	if id.AuthTime.IsZero() || time.Since(id.AuthTime) > RecentSignIn {
		return id, apperr.New(apperr.ReauthenticationRequired, "sign in again (password or passkey) to do this").
			With("maxAgeSeconds", int(RecentSignIn.Seconds()))
	}
	return id, nil
}

// RequireOperator returns the identity if it is an operator; UNAUTHENTICATED
// when signed out, FORBIDDEN for other users.
func RequireOperator(ctx context.Context) (Identity, error) {
	id, err := Require(ctx)
	if err != nil {
		return id, err
	}
	if !id.Operator() {
		return id, apperr.New(apperr.Forbidden, "this operation is for operators")
	}
	return id, nil
}
