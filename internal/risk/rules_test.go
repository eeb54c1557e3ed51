package risk

import (
	"slices"
	"testing"
	"time"
)

func TestAssess(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	cfg := DefaultConfig()
	// base is an ordinary outflow: known payee, usual amount, quiet account.
	base := Facts{Now: now, AmountMinor: 50_00, Recent: []int64{40_00, 50_00, 60_00}, PriorWithCounterparty: 2,
		NewestPasskeyAt: ago(30 * 24 * time.Hour)}
	cases := []struct {
		name    string
		change  func(f *Facts)
		want    Decision
		reasons []Reason
	}{
		{"ordinary", func(*Facts) {}, Allow, nil},
		{"no passkey at all", func(f *Facts) { f.NewestPasskeyAt = nil }, Allow, nil},
		{"passkey registered an hour ago", func(f *Facts) { f.NewestPasskeyAt = ago(time.Hour) }, StepUp, []Reason{NewPasskey}},
		{"passkey registered just over a day ago", func(f *Facts) { f.NewestPasskeyAt = ago(24*time.Hour + time.Second) }, Allow, nil},
		{"password changed recently", func(f *Facts) { f.PasswordChangedAt = ago(2 * time.Hour) }, StepUp, []Reason{CredentialsChanged}},
		{"contact changed recently", func(f *Facts) { f.ContactChangedAt = ago(23 * time.Hour) }, StepUp, []Reason{CredentialsChanged}},
		{"password changed long ago", func(f *Facts) { f.PasswordChangedAt = ago(48 * time.Hour) }, Allow, nil},
		{"amount 5x the median", func(f *Facts) { f.AmountMinor = 250_00 }, StepUp, []Reason{UnusualAmount}},
		{"amount just under 5x", func(f *Facts) { f.AmountMinor = 249_99 }, Allow, nil},
		{"amount 20x the median", func(f *Facts) { f.AmountMinor = 1000_00 }, Hold, []Reason{FarUnusualAmount}},
		{"unusual but under the floor", func(f *Facts) { f.Recent = []int64{1_00, 1_00, 1_00}; f.AmountMinor = 99_99 }, Allow, nil},
		{"too little history for a usual", func(f *Facts) { f.Recent = []int64{1_00, 1_00}; f.AmountMinor = 5000_00 }, Allow, nil},
		{"3 outflows in the last minute", func(f *Facts) { f.LastMinute, f.LastHour = 3, 3 }, StepUp, []Reason{BurstMinute}},
		{"2 outflows in the last minute", func(f *Facts) { f.LastMinute, f.LastHour = 2, 2 }, Allow, nil},
		{"10 outflows in the last minute", func(f *Facts) { f.LastMinute, f.LastHour = 10, 10 }, Hold, []Reason{BurstMinute}},
		{"20 outflows in the last hour", func(f *Facts) { f.LastHour = 20 }, StepUp, []Reason{BurstHour}},
		{"60 outflows in the last hour", func(f *Facts) { f.LastHour = 60 }, Hold, []Reason{BurstHour}},
		{"new counterparty", func(f *Facts) { f.PriorWithCounterparty = 0 }, StepUp, []Reason{NewCounterparty}},
		{"flagged counterparty", func(f *Facts) { f.CounterpartyFlagged = true }, Hold, []Reason{FlaggedCounterparty}},
		{"new passkey in a burst", func(f *Facts) { f.NewestPasskeyAt = ago(time.Minute); f.LastMinute = 3 }, Hold,
			[]Reason{BurstMinute, NewPasskey, TakeoverPattern}},
		{"changed password and a far unusual amount", func(f *Facts) { f.PasswordChangedAt = ago(time.Hour); f.AmountMinor = 2000_00 }, Hold,
			[]Reason{CredentialsChanged, FarUnusualAmount, TakeoverPattern}},
		{"new passkey and an unusual amount", func(f *Facts) { f.NewestPasskeyAt = ago(time.Minute); f.AmountMinor = 300_00 }, StepUp,
			[]Reason{NewPasskey, UnusualAmount}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := base
			c.change(&f)
			got := Assess(cfg, f)
			if got.Decision != c.want || !slices.Equal(got.Reasons, c.reasons) {
				t.Fatalf("Assess = %s %v, want %s %v", got.Decision, got.Reasons, c.want, c.reasons)
			}
			for _, r := range c.reasons {
				if !got.Has(r) {
					t.Fatalf("Has(%s) false", r)
				}
			}
		})
	}
}

func TestUsual(t *testing.T) {
	cases := []struct {
		recent []int64
		min    int
		want   int64
		ok     bool
	}{
		{nil, 0, 0, false},
		{[]int64{5, 1}, 3, 0, false},
		{[]int64{9, 1, 5}, 3, 5, true},
		{[]int64{1, 2, 3, 100}, 3, 2, true},
		{[]int64{3, 4}, 1, 3, true},
		{[]int64{1<<62 - 1, 1<<62 - 1}, 1, 1<<62 - 1, true}, // no overflow
	}
	for _, c := range cases {
		got, ok := Usual(c.recent, c.min)
		if got != c.want || ok != c.ok {
			t.Errorf("Usual(%v, %d) = %d %v, want %d %v", c.recent, c.min, got, ok, c.want, c.ok)
		}
	}
}

// TestBurstRulesOff: a threshold of 0 turns its rule off (the other
// threshold of the window still applies), and the counts are not gathered
// for a window whose two rules are off.
func TestBurstRulesOff(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	f := Facts{Now: now, AmountMinor: 50_00, PriorWithCounterparty: 1, LastMinute: 1_000_000, LastHour: 1_000_000}
	off := DefaultConfig()
	off.BurstMinute, off.BurstMinuteHold, off.BurstHour, off.BurstHourHold = 0, 0, 0, 0
	if a := Assess(off, f); a.Decision != Allow || len(a.Reasons) != 0 {
		t.Fatalf("every burst rule off: %s %v", a.Decision, a.Reasons)
	}
	if m, h := off.countCaps(); m != 0 || h != 0 {
		t.Fatalf("caps with the rules off: %d, %d", m, h)
	}
	holdOnly := DefaultConfig()
	holdOnly.BurstMinute, holdOnly.BurstHour, holdOnly.BurstHourHold = 0, 0, 0
	f.LastMinute, f.LastHour = 9, 9
	if a := Assess(holdOnly, f); a.Decision != Allow {
		t.Fatalf("under the minute's hold, its step-up off: %s %v", a.Decision, a.Reasons)
	}
	f.LastMinute = 10
	if a := Assess(holdOnly, f); a.Decision != Hold || !slices.Equal(a.Reasons, []Reason{BurstMinute}) {
		t.Fatalf("at the minute's hold: %s %v", a.Decision, a.Reasons)
	}
	if m, h := DefaultConfig().countCaps(); m != 10 || h != 60 {
		t.Fatalf("default caps: %d, %d", m, h)
	}
}
