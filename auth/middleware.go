package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"danbao/ent/schema/pulid"
)

// Middleware reads `Authorization: Bearer <token>` and, when the token
// verifies, puts its identity into the request context. A missing or bad
// token leaves the request signed out, with the reason recorded; resolvers
// that need an identity then answer UNAUTHENTICATED with that reason.
func (t *Tokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := t.Authenticate(r.Context(), r.Header.Get("Authorization"))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Authenticate verifies an Authorization header value ("Bearer <token>", or
// a bare token as websocket init payloads carry) and returns ctx with the
// identity, or, when it reports false, with why there is none (see
// Require).
func (t *Tokens) Authenticate(ctx context.Context, header string) (context.Context, bool) {
	tok := strings.TrimSpace(header)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return context.WithValue(ctx, reasonKey{}, ReasonNoToken), false
	}
	claims, err := t.Verify(tok)
	if errors.Is(err, ErrTokenExpired) {
		return context.WithValue(ctx, reasonKey{}, ReasonTokenExpired), false
	}
	if err != nil {
		return context.WithValue(ctx, reasonKey{}, ReasonTokenInvalid), false
	}
	if claims.Partner {
		p := Partner{ID: pulid.ID(claims.Subject), Scopes: strings.Fields(claims.Scope), SecretVersion: claims.SecretVersion}
		if claims.ExpiresAt != nil {
			p.Expires = claims.ExpiresAt.Time
		}
		return WithPartner(ctx, p), true
	}
	id := Identity{UserID: pulid.ID(claims.Subject), Role: claims.Role, SessionID: claims.SessionID}
	if claims.ExpiresAt != nil {
		id.Expires = claims.ExpiresAt.Time
	}
	if claims.AuthTime != nil {
		id.AuthTime = claims.AuthTime.Time
	}
	return WithIdentity(ctx, id), true
}
