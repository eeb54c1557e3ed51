package passkey

import (
	"context"

	"danbao/ent"
	"danbao/ent/schema/pulid"
)

// ReadBound exposes readBound to the external tests:
// the session, the user's handle and passkeys.
func (s *Service) ReadBound(ctx context.Context, challenge string, userID pulid.ID) (*ent.PasskeySession, []byte, []*ent.Passkey, error) {
	ps, u, all, err := s.readBound(ctx, challenge, userID)
	if u == nil {
		return ps, nil, all, err
	}
	return ps, u.handle, all, err
}

// SetBeforeWrite sets beforeWrite until the returned function restores it.
func SetBeforeWrite(f func()) (restore func()) {
	beforeWrite = f
	return func() { beforeWrite = nil }
}
