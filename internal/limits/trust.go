package limits

import (
	"context"

	"danbao/ent"
	"danbao/ent/schema/pulid"
)

// TrustAdjuster scales a user's daily window by their trust score
// (trust.Service is one). It must never return a window whose Max is above
// the one it was given: the configured maximum is the regulatory ceiling.
// The level's limits are not part of the window and are never adjusted.
type TrustAdjuster interface {
	AdjustDaily(ctx context.Context, c *ent.Client, userID pulid.ID, w DailyWindow) (DailyWindow, error)
}

// SetTrust makes every daily window of this service pass through t
// (nil: no adjustment). Call it once while wiring, before serving.
func (s *Service) SetTrust(t TrustAdjuster) { s.trust = t }

// adjust applies the trust adjustment, if any, to w (ok: c has a daily
// limit configured).
func (s *Service) adjust(ctx context.Context, c *ent.Client, userID pulid.ID, w DailyWindow, ok bool) (DailyWindow, error) {
	if !ok || s.trust == nil {
		return w, nil
	}
	adj, err := s.trust.AdjustDaily(ctx, c, userID, w)
	if err != nil {
		return w, err
	}
	// The ceiling holds whatever the adjuster does.
	adj.Max = min(adj.Max, w.Max)
	adj.Limit = min(adj.Limit, adj.Max)
	adj.Remaining = max(adj.Limit-adj.Used, 0)
	return adj, nil
}
