package escrow

import (
	"time"

	"danbao/internal/money"
)

// FeeRules are the seller fee's configuration.
type FeeRules struct {
	// RateBPS is the rate in basis points (1/100 of a percent) on what a
	// seller receives above the free volume: 60 is 0.6%.
	RateBPS int64
	// FreeMonthly is the volume a seller receives free of fee per calendar
	// month (China Standard Time), per currency, minor units. A currency
	// not listed has no free volume.
	FreeMonthly map[money.Currency]int64
}

// Fee returns the fee on a release of amount to a seller who had already
// received before (minor units, this month and currency) with free volume
// free: the rate applies only to the part of amount above what is left of
// the free volume. Rounding: half up to the minor unit (0.5 fen becomes 1
// fen), computed without overflow for any int64 amount. The fee never
// exceeds amount.
func Fee(amount, before, free, rateBPS int64) int64 {
	if amount <= 0 || rateBPS <= 0 {
		return 0
	}
	freeLeft := max(free-before, 0)
	chargeable := max(amount-freeLeft, 0)
	rate := min(rateBPS, 10000)
	// chargeable*rate/10000 split so that no product overflows.
	q, r := chargeable/10000, chargeable%10000
	fee := q*rate + (r*rate+5000)/10000
	return min(fee, amount)
}

// cst is China Standard Time, whose calendar months the free volume
// follows.
var cst = time.FixedZone("CST", 8*60*60)

// Month returns the calendar month of t in China Standard Time, as the
// free volume counts it ("2026-12").
func Month(t time.Time) string { return t.In(cst).Format("2006-01") }

// WithFee turns a transition's moves into the moves to post, taking fee
// out of the release to the payee into the fees account.
func WithFee(moves []Move, fee int64) []Move {
	out := make([]Move, 0, len(moves)+1)
	for _, m := range moves {
		if m.To == PayeeAvailable && fee > 0 {
			if m.Amount-fee > 0 {
				out = append(out, Move{From: m.From, To: PayeeAvailable, Amount: m.Amount - fee})
			}
			out = append(out, Move{From: m.From, To: FeesAccount, Amount: fee})
			continue
		}
		out = append(out, m)
	}
	return out
}

// Net returns each party's net change under moves.
func Net(moves []Move) map[Party]int64 {
	out := map[Party]int64{}
	for _, m := range moves {
		out[m.From] -= m.Amount
		out[m.To] += m.Amount
	}
	return out
}
