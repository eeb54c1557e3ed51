// Package apperr is danbao's one error vocabulary. Domain code returns
// *Error values carrying a stable Code; the GraphQL edge (resolvers/errors.go)
// is the only place that turns them into payload userErrors or top-level
// errors with extensions.code. Any error that is not an *Error is internal:
// it is logged once at the edge and shown only as "internal error".
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Clients switch on it, so
// codes are only ever added, never renamed.
type Code string

// The general codes (see docs/design.md, Errors).
const (
	InvalidInput         Code = "INVALID_INPUT"
	NotFound             Code = "NOT_FOUND"
	Unauthenticated      Code = "UNAUTHENTICATED"
	Forbidden            Code = "FORBIDDEN"
	AlreadyExists        Code = "ALREADY_EXISTS"
	InsufficientFunds    Code = "INSUFFICIENT_FUNDS"
	LimitExceeded        Code = "LIMIT_EXCEEDED"
	VerificationRequired Code = "VERIFICATION_REQUIRED"
	PasskeyRequired      Code = "PASSKEY_REQUIRED"
	InvalidState         Code = "INVALID_STATE"
	IdempotencyConflict  Code = "IDEMPOTENCY_CONFLICT"
	Conflict             Code = "CONFLICT"
	RateLimited          Code = "RATE_LIMITED"
	AccountFrozen        Code = "ACCOUNT_FROZEN"
	Internal             Code = "INTERNAL"
)

// The codes of passkey ceremonies (see docs/design.md, Passkeys and payment
// authorization). Each is also a value
// of the ErrorCode enum in graph/common.graphqls.
const (
	// PasskeyInvalid: a WebAuthn response failed verification (signature,
	// origin, RP ID hash, user verification, an unknown or already used
	// challenge, a credential that is not the caller's, an assertion that
	// answers another payment or changed payment fields).
	PasskeyInvalid Code = "PASSKEY_INVALID"
	// ChallengeExpired: the ceremony's challenge outlived its lifetime;
	// begin again.
	ChallengeExpired Code = "CHALLENGE_EXPIRED"
	// PasskeyRevoked: the credential belongs to a revoked passkey.
	PasskeyRevoked Code = "PASSKEY_REVOKED"
	// PasskeyCloneSuspected: the passkey's signature counter went backwards,
	// so a copy of its key may exist; it no longer authorizes money
	// movement. Register a new passkey.
	PasskeyCloneSuspected Code = "PASSKEY_CLONE_SUSPECTED"
	// ReauthenticationRequired: the action needs a recent sign-in (password or passkey).
	ReauthenticationRequired Code = "REAUTHENTICATION_REQUIRED"
)

// AmountMismatch: a bank callback's amount or currency differs from the
// top-up or withdrawal it names (a partial capture, a wrong currency). The
// callback is refused and changes nothing; the bank callback endpoint
// answers it, GraphQL clients never see it.
const AmountMismatch Code = "AMOUNT_MISMATCH"

// InvalidCredentials: a sign-in was refused because the phone and password
// do not match (an unknown phone reads the same). A userError of the
// sign-in payload, not a top-level UNAUTHENTICATED: the request was fine,
// what it asserted was not.
const InvalidCredentials Code = "INVALID_CREDENTIALS"

// TrustScoreAboveFloor: an operator asked to restrict a user for a low
// trust score, but the score (recomputed then) is not below the floor.
const TrustScoreAboveFloor Code = "TRUST_SCORE_ABOVE_FLOOR"

// StatementTooLarge: a statement has more entries than its JSON form
// returns; a shorter period or the CSV download gets them all.
const StatementTooLarge Code = "STATEMENT_TOO_LARGE"

// Codes lists every code, in the order of the ErrorCode enum of
// graph/common.graphqls; a test keeps the two equal.
var Codes = []Code{
	InvalidInput, NotFound, Unauthenticated, Forbidden, AlreadyExists,
	InsufficientFunds, LimitExceeded, VerificationRequired, PasskeyRequired,
	InvalidState, IdempotencyConflict, Conflict, RateLimited, AccountFrozen,
	Internal,
	PasskeyInvalid, ChallengeExpired, PasskeyRevoked, PasskeyCloneSuspected,
	ReauthenticationRequired,
	AmountMismatch, InvalidCredentials,
	TrustScoreAboveFloor, StatementTooLarge,
}

// Error is a domain failure with a stable code, a human message that never
// contains secrets, the input field it concerns (a path such as
// ["input", "amount"], may be empty) and optional extensions (for example
// which limit was exceeded and what remains).
type Error struct {
	Code       Code
	Message    string
	Field      []string
	Extensions map[string]any
}

func (e *Error) Error() string {
	if len(e.Field) > 0 {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// New returns an *Error with the given code and message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_INPUT error about one input field. field is the
// field's name inside the mutation's input object.
func Invalid(field, format string, args ...any) *Error {
	e := New(InvalidInput, format, args...)
	if field != "" {
		e.Field = []string{"input", field}
	}
	return e
}

// InvalidArgument returns an INVALID_INPUT error about a field argument
// (such as a connection's first or last), named as the client wrote it:
// its Field is [arg], not a path inside an input object.
func InvalidArgument(arg, format string, args ...any) *Error {
	return New(InvalidInput, format, args...).WithArgument(arg)
}

// WithField returns a copy of e naming the given input field.
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = []string{"input", field}
	return &c
}

// WithArgument returns a copy of e about a field argument (not a field of
// an input object), named as the client wrote it: Field is [arg].
func (e *Error) WithArgument(arg string) *Error {
	c := *e
	c.Field = []string{arg}
	return &c
}

// With returns a copy of e with one more extension.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[key] = value
	return &c
}

// As reports whether err is or wraps an *Error and returns it.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns the code of err, or Internal when err is not a domain error,
// or "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return CodeOf(err) == code }
