package trust

import (
	"math"
	"time"

	"danbao/internal/kyc"
	"danbao/internal/limits"
)

// Inputs are what a trust score is computed from, as stored with it.
type Inputs struct {
	Level           kyc.Level // the wallet's real-name verification level
	AccountAgeDays  int       // whole days since the user registered
	CompletedTrades int       // payments COMPLETED with the user as buyer or seller
	CompletedSales  int       // of those, as seller
	Refunds         int       // payments received as seller that returned money to the buyer (in whole or part)
	LostDisputes    int       // disputes an operator decided against the user
	// LastLostDisputeAt is when the latest of them was decided (nil: never).
	LastLostDisputeAt *time.Time
}

// The score's range.
const (
	MinScore = 0
	MaxScore = 1000
)

// The weights of Score (see docs/design.md, Trust score).
const (
	ageCapDays       = 730 // account age counts up to two years
	agePoints        = 100 // at ageCapDays
	tradeCap         = 200 // completed trades count up to 200
	pointsPerTrade   = 2
	pointsPerRefund  = 25
	refundPenaltyCap = 250
	pointsPerLoss    = 200
	lossPenaltyCap   = 800
)

// levelPoints is the base a verification level brings.
func levelPoints(l kyc.Level) int {
	switch l {
	case kyc.LevelI:
		return 400
	case kyc.LevelII:
		return 450
	case kyc.LevelIII:
		return 500
	}
	return 0
}

// Score is the trust score of in, MinScore to MaxScore:
//
//	level (UNVERIFIED 0, I 400, II 450, III 500)
//	+ 100 × min(age days, 730) / 730
//	+ 2 × min(completed trades, 200)
//	− min(25 × refunds, 250)
//	− min(200 × lost disputes, 800)
//
// clamped to 0..1000. Each input moves the score one way only: a higher
// level, an older account and more completed trades never lower it; more
// refunds and lost disputes never raise it.
func Score(in Inputs) int {
	age := min(max(in.AccountAgeDays, 0), ageCapDays)
	trades := min(max(in.CompletedTrades, 0), tradeCap)
	s := levelPoints(in.Level) +
		agePoints*age/ageCapDays +
		pointsPerTrade*trades -
		min(pointsPerRefund*max(in.Refunds, 0), refundPenaltyCap) -
		min(pointsPerLoss*max(in.LostDisputes, 0), lossPenaltyCap)
	return min(max(s, MinScore), MaxScore)
}

// Config holds the thresholds that act on a score.
type Config struct {
	// BadgeScore is the lowest score of a trusted merchant.
	BadgeScore int
	// BadgeMinSales is how many completed sales a trusted merchant has at least.
	BadgeMinSales int
	// BadgeQuiet is how long since the last lost dispute a trusted merchant has gone.
	BadgeQuiet time.Duration
	// RestrictFloor: an operator may restrict a user whose score is below it.
	RestrictFloor int
}

// DefaultConfig is the configuration the server runs with.
func DefaultConfig() Config {
	return Config{BadgeScore: 700, BadgeMinSales: 10, BadgeQuiet: 90 * 24 * time.Hour, RestrictFloor: 300}
}

// TrustedMerchant reports whether a seller with score and inputs in
// carries the trusted-merchant badge at now: score at least BadgeScore, at
// least BadgeMinSales completed sales, and no dispute lost within
// BadgeQuiet before now.
func (c Config) TrustedMerchant(score int, in Inputs, now time.Time) bool {
	if score < c.BadgeScore || in.CompletedSales < c.BadgeMinSales {
		return false
	}
	return in.LastLostDisputeAt == nil || !now.Before(in.LastLostDisputeAt.Add(c.BadgeQuiet))
}

// MayRestrict reports whether an operator may restrict a user for a low
// score: the score is below RestrictFloor.
func (c Config) MayRestrict(score int) bool { return score < c.RestrictFloor }

// The daily cap factor, in basis points of the cap (10000 = unchanged).
const (
	neutralBPS = 10000
	lowBelow   = 300 // scores below it lower the caps
	highFrom   = 600 // scores from it raise them
)

// FactorBPS is how a score scales a user's daily caps, in basis points:
// below 300 it lowers them linearly from 25% (score 0) towards 100%;
// from 300 to 599 they are unchanged; from 600 it raises them linearly up
// to 200% (score 1000). It never decreases as the score rises.
func FactorBPS(score int) int64 {
	score = min(max(score, MinScore), MaxScore)
	switch {
	case score < lowBelow:
		return 2500 + int64(score)*25
	case score < highFrom:
		return neutralBPS
	}
	return neutralBPS + int64(score-highFrom)*25
}

// scale returns amount × bps / 10000 for amount and bps not negative,
// rounded down, saturating at math.MaxInt64 instead of overflowing.
func scale(amount, bps int64) int64 {
	whole, part := amount/neutralBPS, amount%neutralBPS*bps/neutralBPS
	if bps > 0 && whole > (math.MaxInt64-part)/bps {
		return math.MaxInt64
	}
	return whole*bps + part
}

// Cap returns a daily cap base scaled by score and never above the
// regulatory cap: min(base × FactorBPS(score) / 10000, regulatory).
// A negative base or regulatory cap counts as zero.
func Cap(base, regulatory int64, score int) int64 {
	base, regulatory = max(base, 0), max(regulatory, 0)
	return min(scale(base, FactorBPS(score)), regulatory)
}

// AdjustDaily applies score to a user's daily window w: the highest limit
// the user may have becomes Cap(w.Max, w.Max, score) (lowered for a low
// score, never raised above the configured maximum, which is the
// regulatory ceiling); the default limit of a user who has not chosen one
// becomes Cap(default, that highest limit, score) (raised or lowered);
// a limit the user chose is kept, but never above that highest limit.
// Remaining follows. The level's limits (package limits' Decide) are
// applied separately and are never changed by trust.
func AdjustDaily(w limits.DailyWindow, score int) limits.DailyWindow {
	w.Max = Cap(w.Max, w.Max, score)
	if w.Chosen {
		w.Limit = min(w.Limit, w.Max)
	} else {
		w.Limit = Cap(w.Limit, w.Max, score)
	}
	w.Remaining = max(w.Limit-w.Used, 0)
	return w
}
