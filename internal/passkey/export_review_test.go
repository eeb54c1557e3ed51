package passkey

import (
	"context"

	"danbao/ent"
	"danbao/ent/schema/pulid"
)

// CreateHandle exposes handle (creating it when missing) to the review
// tests: what a first BeginRegistration writes.
func (s *Service) CreateHandle(ctx context.Context, tx *ent.Tx, userID pulid.ID) ([]byte, error) {
	return s.handle(ctx, tx, userID, true)
}

// BoundHandle exposes the handle boundUser gives go-webauthn (from the
// cache when it holds one).
func (s *Service) BoundHandle(ctx context.Context, tx *ent.Tx, userID pulid.ID) ([]byte, error) {
	u, _, err := s.boundUser(ctx, tx, userID)
	if u == nil {
		return nil, err
	}
	return u.handle, err
}
