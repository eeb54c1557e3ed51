package auth

import (
	"context"
	"net/http"
	"strings"

	"danbao/ent/schema/pulid"
)

// Middleware reads `Authorization: Bearer <token>` and, when the token
// verifies, puts its identity into the request context. A missing or bad
// token leaves the request signed out; resolvers that need an identity then
// answer UNAUTHENTICATED.
func (t *Tokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctx, ok := t.Authenticate(r.Context(), r.Header.Get("Authorization")); ok {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// Authenticate verifies an Authorization header value ("Bearer <token>", or
// a bare token as websocket init payloads carry) and returns ctx with the
// identity.
func (t *Tokens) Authenticate(ctx context.Context, header string) (context.Context, bool) {
	tok := strings.TrimSpace(header)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if tok == "" {
		return ctx, false
	}
	claims, err := t.Verify(tok)
	if err != nil {
		return ctx, false
	}
	id := Identity{UserID: pulid.ID(claims.Subject), Role: claims.Role, SessionID: claims.SessionID}
	if claims.AuthTime != nil {
		id.AuthTime = claims.AuthTime.Time
	}
	return WithIdentity(ctx, id), true
}
