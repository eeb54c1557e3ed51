package limits

import (
	"context"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
)

// LevelsSource reads the levels of several wallets at once;
// realname.Service is one. A LevelSource that is also a LevelsSource
// lets RequireVerifiedAll read once.
type LevelsSource interface {
	Levels(ctx context.Context, c *ent.Client, ids ...pulid.ID) (map[pulid.ID]kyc.Level, error)
}

// RequireVerifiedAll is RequireVerified for each of ids in turn, with one
// read of their levels when the level source can: it returns the first
// of ids that is not verified, with RequireVerified's error, or "" and nil.
func (s *Service) RequireVerifiedAll(ctx context.Context, tx *ent.Tx, ids ...pulid.ID) (pulid.ID, error) {
	many, ok := s.levels.(LevelsSource)
	if !ok {
		for _, id := range ids {
			if err := s.RequireVerified(ctx, tx, id); err != nil {
				return id, err
			}
		}
		return "", nil
	}
	levels, err := many.Levels(ctx, tx.Client(), ids...)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if err := verified(levels[id]); err != nil {
			return id, err
		}
	}
	return "", nil
}

// verified refuses a level below I (RequireVerified, RequireVerifiedAll).
func verified(level kyc.Level) error {
	if !level.AtLeast(kyc.LevelI) {
		return apperr.New(apperr.VerificationRequired, "complete real-name verification first").
			With("level", string(level)).With("requiredLevel", string(kyc.LevelI))
	}
	return nil
}
