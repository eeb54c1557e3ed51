package resolvers

import (
	"context"
	"sync"

	"danbao/auth"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
)

// authPayload returns the mapping of a sign-in result to AuthPayload.
// The user signed in may read their own fields in it (signedInNow): the
// request carried no token of theirs.
func authPayload(ctx context.Context) func(*auth.Session, error) (*model.AuthPayload, error) {
	return func(s *auth.Session, err error) (*model.AuthPayload, error) {
		ues, err := payloadErrors(err)
		if err != nil {
			return nil, err
		}
		p := &model.AuthPayload{UserErrors: ues}
		if s != nil {
			p.AccessToken, p.RefreshToken, p.ExpiresAt, p.User = &s.AccessToken, &s.RefreshToken, &s.ExpiresAt, s.User
			if h, ok := ctx.Value(signedInKey{}).(*signedIn); ok && s.User != nil {
				h.mu.Lock()
				h.ids = append(h.ids, s.User.ID)
				h.mu.Unlock()
			}
		}
		return p, nil
	}
}

// signedIn holds the users an operation's sign-in mutations (register,
// login, refreshToken, finishPasskeyLogin) have just signed in.
type signedIn struct {
	mu  sync.Mutex
	ids []pulid.ID
}

type signedInKey struct{}

// withSignedIn gives an operation its (empty) record of sign-ins.
func withSignedIn(ctx context.Context) context.Context {
	return context.WithValue(ctx, signedInKey{}, &signedIn{})
}

// signedInNow reports whether this operation has just signed userID in.
func signedInNow(ctx context.Context, userID pulid.ID) bool {
	h, ok := ctx.Value(signedInKey{}).(*signedIn)
	if !ok {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.ids {
		if id == userID {
			return true
		}
	}
	return false
}
