package limits

import (
	"danbao/internal/apperr"
	"danbao/internal/kyc"
)

// Verified refuses a level below I, as RequireVerified does: for a caller
// that read the level itself, with its other checks (escrow reads both
// parties' levels, the payee and their controls in one statement).
//
// Errors: VERIFICATION_REQUIRED (extensions level, requiredLevel "I").
func Verified(level kyc.Level) error {
	if !level.AtLeast(kyc.LevelI) {
		return apperr.New(apperr.VerificationRequired, "complete real-name verification first").
			With("level", string(level)).With("requiredLevel", string(kyc.LevelI))
	}
	return nil
}
