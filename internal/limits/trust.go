package limits

// TrustAdjuster scales a user's daily window by their trust score
// (trust.Service is one). It must never return a window whose Max is above
// the one it was given: the configured maximum is the regulatory ceiling.
// The level's limits are not part of the window and are never adjusted.
// The score is the user's stored one (trust_scores.score), which package
// limits reads in the same statement as the daily counter and the chosen
// limit; while none is stored the window is not adjusted.
type TrustAdjuster interface {
	AdjustDailyScore(w DailyWindow, score int) DailyWindow
}

// SetTrust makes every daily window of this service pass through t
// (nil: no adjustment). Call it once while wiring, before serving.
func (s *Service) SetTrust(t TrustAdjuster) { s.trust = t }

// adjust applies the trust adjustment, if any, to w (ok: w's currency has
// a daily limit configured; hasScore: the user has a stored score).
func (s *Service) adjust(w DailyWindow, ok bool, score int, hasScore bool) DailyWindow {
	if !ok || !hasScore || s.trust == nil {
		return w
	}
	adj := s.trust.AdjustDailyScore(w, score)
	// The ceiling holds whatever the adjuster does.
	adj.Max = min(adj.Max, w.Max)
	adj.Limit = min(adj.Limit, adj.Max)
	adj.Remaining = max(adj.Limit-adj.Used, 0)
	return adj
}
