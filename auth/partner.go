package auth

import (
	"context"
	"slices"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// PartnerIDPrefix is the id prefix of partner apps (the subject of their
// tokens).
const PartnerIDPrefix = "pra"

// Partner scopes: what a partner app's token allows.
const (
	ScopePayments = "payments" // create payments for connected sellers and follow them
	ScopeWebhooks = "webhooks" // register webhooks and read their deliveries
)

// PartnerScopes are the scopes every partner app is granted.
var PartnerScopes = []string{ScopePayments, ScopeWebhooks}

// Partner is a partner app calling with a client-credentials token. A
// request carries either an Identity (a user) or a Partner, never both:
// operations for users answer UNAUTHENTICATED to a partner.
type Partner struct {
	ID      pulid.ID // the partner app
	Scopes  []string
	Expires time.Time // when its token expires
	// SecretVersion names the app's secret the token was issued against
	// (SecretVersion): CheckSession refuses it once the secret was rotated.
	SecretVersion string
}

type partnerKey struct{}

// WithPartner returns ctx carrying the partner caller p.
func WithPartner(ctx context.Context, p Partner) context.Context {
	return context.WithValue(ctx, partnerKey{}, p)
}

// PartnerFromContext returns the partner caller, if the request is one.
func PartnerFromContext(ctx context.Context) (Partner, bool) {
	p, ok := ctx.Value(partnerKey{}).(Partner)
	return p, ok
}

// RequirePartner returns the partner caller if its token has scope.
// Errors: UNAUTHENTICATED (not a partner token), FORBIDDEN (scope missing).
func RequirePartner(ctx context.Context, scope string) (Partner, error) {
	p, ok := PartnerFromContext(ctx)
	if !ok {
		return p, apperr.New(apperr.Unauthenticated, "a partner app's access token (client credentials) is required")
	}
	if !slices.Contains(p.Scopes, scope) {
		return p, apperr.New(apperr.Forbidden, "the token lacks the %s scope", scope).With("scope", scope)
	}
	return p, nil
}
