package trust

import (
	"math"
	"testing"
	"time"

	"danbao/internal/kyc"
	"danbao/internal/limits"
)

func base() Inputs {
	return Inputs{Level: kyc.LevelII, AccountAgeDays: 100, CompletedTrades: 30, CompletedSales: 20, Refunds: 2, LostDisputes: 1}
}

func TestScoreMovesEachWayByInput(t *testing.T) {
	b := Score(base())
	cases := []struct {
		name string
		edit func(*Inputs)
		want int // +1: raises, -1: lowers
	}{
		{"higher level", func(in *Inputs) { in.Level = kyc.LevelIII }, +1},
		{"lower level", func(in *Inputs) { in.Level = kyc.LevelI }, -1},
		{"unverified", func(in *Inputs) { in.Level = kyc.Unverified }, -1},
		{"older account", func(in *Inputs) { in.AccountAgeDays = 400 }, +1},
		{"younger account", func(in *Inputs) { in.AccountAgeDays = 10 }, -1},
		{"more trades", func(in *Inputs) { in.CompletedTrades = 60 }, +1},
		{"fewer trades", func(in *Inputs) { in.CompletedTrades = 5 }, -1},
		{"more refunds", func(in *Inputs) { in.Refunds = 5 }, -1},
		{"fewer refunds", func(in *Inputs) { in.Refunds = 0 }, +1},
		{"more lost disputes", func(in *Inputs) { in.LostDisputes = 2 }, -1},
		{"no lost dispute", func(in *Inputs) { in.LostDisputes = 0 }, +1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.edit(&in)
			got := Score(in)
			if (c.want > 0 && got <= b) || (c.want < 0 && got >= b) {
				t.Fatalf("score %d, base %d: want it to move %+d", got, b, c.want)
			}
		})
	}
}

func TestScoreValuesAndBounds(t *testing.T) {
	cases := []struct {
		name string
		in   Inputs
		want int
	}{
		{"zero value", Inputs{}, 0},
		{"new level I", Inputs{Level: kyc.LevelI}, 400},
		{"level II, a year, 30 trades, 2 refunds, 1 loss", base(), 450 + 13 + 60 - 50 - 200},
		{"everything at its best is the maximum", Inputs{Level: kyc.LevelIII, AccountAgeDays: 730, CompletedTrades: 200}, MaxScore},
		{"beyond the caps stays the maximum", Inputs{Level: kyc.LevelIII, AccountAgeDays: 100000, CompletedTrades: math.MaxInt32}, MaxScore},
		{"many losses never go below zero", Inputs{Level: kyc.LevelIII, LostDisputes: 1000, Refunds: 1000}, 0},
		{"refund penalty is capped", Inputs{Level: kyc.LevelIII, Refunds: 1000}, 250},
		{"loss penalty is capped", Inputs{Level: kyc.LevelIII, AccountAgeDays: 730, CompletedTrades: 200, LostDisputes: 50}, 200},
		{"negative counts count zero", Inputs{Level: kyc.LevelI, AccountAgeDays: -5, CompletedTrades: -3, Refunds: -9, LostDisputes: -1}, 400},
		{"unknown level counts as unverified", Inputs{Level: "X", CompletedTrades: 10}, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Score(c.in)
			if got != c.want {
				t.Fatalf("Score = %d, want %d", got, c.want)
			}
			if got < MinScore || got > MaxScore {
				t.Fatalf("Score %d outside %d..%d", got, MinScore, MaxScore)
			}
		})
	}
}

func TestFactorNeverDecreases(t *testing.T) {
	prev := int64(0)
	for s := -10; s <= 1010; s++ {
		f := FactorBPS(s)
		if f < prev {
			t.Fatalf("FactorBPS(%d) = %d below FactorBPS(%d) = %d", s, f, s-1, prev)
		}
		prev = f
	}
	for s, want := range map[int]int64{0: 2500, 299: 9975, 300: 10000, 599: 10000, 600: 10000, 1000: 20000} {
		if got := FactorBPS(s); got != want {
			t.Errorf("FactorBPS(%d) = %d, want %d", s, got, want)
		}
	}
}

func TestCapNeverAboveRegulatory(t *testing.T) {
	cases := []struct {
		name             string
		base, regulatory int64
		score            int
		want             int64
	}{
		{"neutral keeps the base", 500000, 5000000, 450, 500000},
		{"high trust raises", 500000, 5000000, 1000, 1000000},
		{"high trust stops at the regulatory cap", 4000000, 5000000, 1000, 5000000},
		{"base at the cap stays there", 5000000, 5000000, 1000, 5000000},
		{"low trust lowers", 500000, 5000000, 0, 125000},
		{"rounding goes down", 3, 100, 100, 1},
		{"zero regulatory cap", 500000, 0, 1000, 0},
		{"negative base counts zero", -1, 100, 1000, 0},
		{"huge amounts do not overflow", math.MaxInt64, math.MaxInt64, 1000, math.MaxInt64},
		{"huge base lowered", math.MaxInt64, math.MaxInt64, 0, math.MaxInt64 / 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Cap(c.base, c.regulatory, c.score)
			if got != c.want {
				t.Fatalf("Cap = %d, want %d", got, c.want)
			}
		})
	}
	// Exhaustively over scores and a spread of amounts: never above the
	// regulatory cap, never negative.
	for s := 0; s <= 1000; s += 7 {
		for _, b := range []int64{0, 1, 99, 100000, 123456789, math.MaxInt64 / 3} {
			for _, r := range []int64{0, 1, 5000000, math.MaxInt64} {
				if got := Cap(b, r, s); got > r || got < 0 {
					t.Fatalf("Cap(%d, %d, %d) = %d", b, r, s, got)
				}
			}
		}
	}
}

func TestAdjustDaily(t *testing.T) {
	def := limits.DailyWindow{Currency: "CNY", Limit: 500000, Max: 5000000, Used: 100000}
	chosen := def
	chosen.Chosen, chosen.Limit = true, 4000000
	cases := []struct {
		name       string
		w          limits.DailyWindow
		score      int
		limit, max int64
	}{
		{"neutral default unchanged", def, 450, 500000, 5000000},
		{"trusted default raised", def, 1000, 1000000, 5000000},
		{"distrusted default lowered, max lowered", def, 0, 125000, 1250000},
		{"chosen limit kept when trusted (never above the max)", chosen, 1000, 4000000, 5000000},
		{"chosen limit cut to the lowered max", chosen, 100, 2500000, 2500000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AdjustDaily(c.w, c.score)
			if got.Limit != c.limit || got.Max != c.max {
				t.Fatalf("limit %d max %d, want %d %d", got.Limit, got.Max, c.limit, c.max)
			}
			if got.Max > c.w.Max || got.Limit > got.Max {
				t.Fatalf("above the regulatory maximum: %+v", got)
			}
			if got.Remaining != max(got.Limit-got.Used, 0) {
				t.Fatalf("remaining %d", got.Remaining)
			}
		})
	}
}

func TestTrustedMerchant(t *testing.T) {
	c := DefaultConfig()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	cases := []struct {
		name  string
		score int
		in    Inputs
		want  bool
	}{
		{"high score, enough sales, no loss", 800, Inputs{CompletedSales: 10}, true},
		{"at the threshold", 700, Inputs{CompletedSales: 10}, true},
		{"below the threshold", 699, Inputs{CompletedSales: 50}, false},
		{"too few sales", 900, Inputs{CompletedSales: 9}, false},
		{"lost a dispute 89 days ago", 900, Inputs{CompletedSales: 50, LastLostDisputeAt: ago(89 * 24 * time.Hour)}, false},
		{"lost a dispute 90 days ago", 900, Inputs{CompletedSales: 50, LastLostDisputeAt: ago(90 * 24 * time.Hour)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.TrustedMerchant(tc.score, tc.in, now); got != tc.want {
				t.Fatalf("TrustedMerchant = %v, want %v", got, tc.want)
			}
		})
	}
	if !c.MayRestrict(299) || c.MayRestrict(300) {
		t.Fatal("MayRestrict: the floor is 300")
	}
}
