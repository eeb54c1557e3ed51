package ledger

import "time"

// SetClock replaces the clock of s (tests of the flush's stamps).
func SetClock(s *Service, now func() time.Time) { s.now = now }
