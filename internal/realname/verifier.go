package realname

import (
	"context"

	"danbao/ent/schema/pulid"
	"danbao/internal/kyc"
)

// VerifyRequest is what a Verifier is asked to check: a stored, validated
// request with its identity in the clear. It lives in memory only; a
// Verifier must not log it.
type VerifyRequest struct {
	VerificationID pulid.ID
	UserID         pulid.ID
	kyc.Request
}

// Verifier decides real-name verification requests against outside sources.
// It may be synchronous (answer Approve or Reject at once) or asynchronous:
// answer Undecided, and report the decision later through Service.Resolve
// (from a callback handler or a poller). Requests left undecided can always
// be decided by an operator (Service.Review).
type Verifier interface {
	// Name identifies the verifier in the audit trail, e.g. "sandbox".
	Name() string
	// Verify is called once per request, after it is committed and outside
	// any transaction. An error leaves the request pending; its text is
	// logged, so it must not contain the request's personal data.
	Verify(ctx context.Context, req VerifyRequest) (kyc.Decision, error)
}

// Sandbox is the sandbox verifier of docs/design.md, Sandbox: it decides at once
// by the legal name (see kyc.SandboxDecision): REJECT in the name rejects,
// PENDING leaves the request for an operator, anything else is approved at
// the requested level.
type Sandbox struct{}

// Name implements Verifier.
func (Sandbox) Name() string { return "sandbox" }

// Verify implements Verifier.
func (Sandbox) Verify(_ context.Context, req VerifyRequest) (kyc.Decision, error) {
	return kyc.SandboxDecision(req.LegalName, req.TargetLevel), nil
}

// Manual leaves every request pending for an operator's review. It is the
// verifier when the sandbox is off and no outside verifier is configured.
type Manual struct{}

// Name implements Verifier.
func (Manual) Name() string { return "manual" }

// Verify implements Verifier.
func (Manual) Verify(context.Context, VerifyRequest) (kyc.Decision, error) {
	return kyc.Decision{Outcome: kyc.Undecided}, nil
}
