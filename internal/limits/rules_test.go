package limits

import (
	"testing"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/money"
)

func TestDecide(t *testing.T) {
	cfg := kyc.DefaultConfig()
	tests := []struct {
		name     string
		level    kyc.Level
		currency money.Currency
		usage    Usage
		amount   int64
		// Expected outcome: "" when allowed, else the code and, for
		// refusals, the extensions that must be present ("-" = absent).
		code          apperr.Code
		limit         string
		remaining     string
		requiredLevel string
	}{
		{name: "level I first payment", level: kyc.LevelI, currency: money.CNY, amount: 100_00},
		{name: "level I whole allowance", level: kyc.LevelI, currency: money.CNY, amount: 1_000_00},
		{name: "level I last fen", level: kyc.LevelI, currency: money.CNY, usage: Usage{Lifetime: 999_99}, amount: 1},
		{name: "level I counts the lifetime, not the year", level: kyc.LevelI, currency: money.CNY, usage: Usage{Lifetime: 0, Year: 5_000_00}, amount: 1_000_00},
		{name: "level I one fen over", level: kyc.LevelI, currency: money.CNY, amount: 1_000_01,
			code: apperr.LimitExceeded, limit: "LIFETIME_BALANCE_PAYMENTS", remaining: "1000.00", requiredLevel: "II"},
		{name: "level I over what remains", level: kyc.LevelI, currency: money.CNY, usage: Usage{Lifetime: 600_00, Year: 600_00}, amount: 500_00,
			code: apperr.LimitExceeded, limit: "LIFETIME_BALANCE_PAYMENTS", remaining: "400.00", requiredLevel: "II"},
		{name: "level I spent", level: kyc.LevelI, currency: money.CNY, usage: Usage{Lifetime: 1_000_00}, amount: 1,
			code: apperr.LimitExceeded, limit: "LIFETIME_BALANCE_PAYMENTS", remaining: "0.00", requiredLevel: "II"},
		{name: "level I overspent shows zero, not negative", level: kyc.LevelI, currency: money.CNY, usage: Usage{Lifetime: 2_000_00}, amount: 1,
			code: apperr.LimitExceeded, remaining: "0.00"},
		{name: "level I far over needs level III", level: kyc.LevelI, currency: money.CNY, usage: Usage{Year: 50_000_00}, amount: 60_000_00,
			code: apperr.LimitExceeded, remaining: "1000.00", requiredLevel: "III"},
		{name: "level II counts the year, not the lifetime", level: kyc.LevelII, currency: money.CNY, usage: Usage{Lifetime: 900_000_00, Year: 0}, amount: 100_000_00},
		{name: "level II over the year", level: kyc.LevelII, currency: money.CNY, usage: Usage{Year: 99_999_99}, amount: 2,
			code: apperr.LimitExceeded, limit: "ANNUAL_BALANCE_PAYMENTS", remaining: "0.01", requiredLevel: "III"},
		{name: "level III over the year has no higher level", level: kyc.LevelIII, currency: money.CNY, usage: Usage{Year: 200_000_00}, amount: 1,
			code: apperr.LimitExceeded, limit: "ANNUAL_BALANCE_PAYMENTS", remaining: "0.00", requiredLevel: "-"},
		{name: "level III within", level: kyc.LevelIII, currency: money.CNY, usage: Usage{Year: 150_000_00}, amount: 50_000_00},
		{name: "unconfigured currency", level: kyc.LevelII, currency: money.USD, amount: 1,
			code: apperr.LimitExceeded, limit: "ANNUAL_BALANCE_PAYMENTS", remaining: "0.00", requiredLevel: "-"},
		{name: "unverified", level: kyc.Unverified, currency: money.CNY, amount: 1,
			code: apperr.VerificationRequired, requiredLevel: "I"},
		{name: "unverified large payment needs level II", level: kyc.Unverified, currency: money.CNY, amount: 5_000_00,
			code: apperr.VerificationRequired, requiredLevel: "II"},
		{name: "unknown level is unverified", level: "IV", currency: money.CNY, amount: 1,
			code: apperr.VerificationRequired, requiredLevel: "I"},
		{name: "zero amount", level: kyc.LevelI, currency: money.CNY, amount: 0, code: apperr.InvalidInput},
		{name: "negative amount", level: kyc.LevelI, currency: money.CNY, amount: -1, code: apperr.InvalidInput},
		{name: "unsupported currency", level: kyc.LevelI, currency: "XXX", amount: 1, code: apperr.InvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decide(cfg, tt.level, tt.currency, tt.usage, tt.amount)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Decide = %v, want allowed", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != tt.code {
				t.Fatalf("Decide = %v, want %s", err, tt.code)
			}
			checkExtensions(t, e, map[string]string{"limit": tt.limit, "remaining": tt.remaining, "requiredLevel": tt.requiredLevel})
			if tt.code == apperr.LimitExceeded {
				if e.Extensions["currency"] != string(tt.currency) {
					t.Errorf("extensions.currency = %v, want %s", e.Extensions["currency"], tt.currency)
				}
				if e.Extensions["level"] != string(tt.level) {
					t.Errorf("extensions.level = %v, want %s", e.Extensions["level"], tt.level)
				}
			}
		})
	}
}

func TestWindowFor(t *testing.T) {
	cfg := kyc.DefaultConfig()
	u := Usage{Lifetime: 300_00, Year: 200_00}
	tests := []struct {
		level     kyc.Level
		period    kyc.Period
		limit     int64
		used      int64
		remaining int64
	}{
		{kyc.Unverified, kyc.Lifetime, 0, 300_00, 0},
		{kyc.LevelI, kyc.Lifetime, 1_000_00, 300_00, 700_00},
		{kyc.LevelII, kyc.Year, 100_000_00, 200_00, 99_800_00},
		{kyc.LevelIII, kyc.Year, 200_000_00, 200_00, 199_800_00},
	}
	for _, tt := range tests {
		w, ok := WindowFor(cfg, tt.level, money.CNY, u)
		if !ok || w.Period != tt.period || w.Limit != tt.limit || w.Used != tt.used || w.Remaining != tt.remaining {
			t.Errorf("WindowFor(%s) = %+v, %v", tt.level, w, ok)
		}
		if w.Name != tt.period.LimitName() {
			t.Errorf("WindowFor(%s).Name = %s", tt.level, w.Name)
		}
	}
	if _, ok := WindowFor(cfg, kyc.LevelII, money.EUR, u); ok {
		t.Errorf("EUR window exists without configuration")
	}
}

func TestConfiguredCurrency(t *testing.T) {
	cfg := kyc.DefaultConfig()
	cfg.Levels[kyc.LevelII].BalancePayments.Minor[money.USD] = 10_000_00
	if err := Decide(cfg, kyc.LevelII, money.USD, Usage{}, 10_000_00); err != nil {
		t.Fatalf("configured USD refused: %v", err)
	}
	err := Decide(cfg, kyc.LevelI, money.USD, Usage{}, 5_000_00)
	if e, ok := apperr.As(err); !ok || e.Code != apperr.LimitExceeded || e.Extensions["requiredLevel"] != "II" {
		t.Fatalf("USD at level I: %v, want LIMIT_EXCEEDED requiring II", err)
	}
}

func TestYearKey(t *testing.T) {
	cfg := kyc.DefaultConfig()
	if got := yearKey(cfg, time.Date(2025, 12, 31, 15, 59, 59, 0, time.UTC)); got != "Y2025" {
		t.Errorf("yearKey before Beijing midnight = %s", got)
	}
	if got := yearKey(cfg, time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)); got != "Y2026" {
		t.Errorf("yearKey at Beijing midnight = %s", got)
	}
}

func TestDecideDaily(t *testing.T) {
	cfg := DailyConfig{Default: map[money.Currency]int64{money.CNY: 20_000_00}, Max: map[money.Currency]int64{money.CNY: 50_000_00}}
	tests := []struct {
		name      string
		currency  money.Currency
		chosen    int64
		hasChosen bool
		used      int64
		amount    int64
		// "" when allowed; else the extensions that must be present
		// ("-" = absent).
		code          apperr.Code
		limitAmount   string
		remaining     string
		maxDailyLimit string
	}{
		{name: "default allows its whole amount", currency: money.CNY, amount: 20_000_00},
		{name: "default, last fen", currency: money.CNY, used: 19_999_99, amount: 1},
		{name: "default, one fen over", currency: money.CNY, amount: 20_000_01,
			code: apperr.LimitExceeded, limitAmount: "20000.00", remaining: "20000.00", maxDailyLimit: "50000.00"},
		{name: "over what remains today", currency: money.CNY, used: 15_000_00, amount: 6_000_00,
			code: apperr.LimitExceeded, remaining: "5000.00", maxDailyLimit: "50000.00"},
		{name: "raising would not help", currency: money.CNY, used: 45_000_00, amount: 6_000_00,
			code: apperr.LimitExceeded, remaining: "0.00", maxDailyLimit: "-"},
		{name: "exactly the maximum after raising", currency: money.CNY, used: 45_000_00, amount: 5_000_00,
			code: apperr.LimitExceeded, maxDailyLimit: "50000.00"},
		{name: "chosen maximum, nothing higher to offer", currency: money.CNY, chosen: 50_000_00, hasChosen: true, used: 49_000_00, amount: 2_000_00,
			code: apperr.LimitExceeded, limitAmount: "50000.00", remaining: "1000.00", maxDailyLimit: "-"},
		{name: "chosen higher than the default", currency: money.CNY, chosen: 30_000_00, hasChosen: true, used: 20_000_00, amount: 10_000_00},
		{name: "chosen lower than the default", currency: money.CNY, chosen: 500_00, hasChosen: true, used: 400_00, amount: 200_00,
			code: apperr.LimitExceeded, limitAmount: "500.00", remaining: "100.00", maxDailyLimit: "50000.00"},
		{name: "chosen zero allows nothing", currency: money.CNY, chosen: 0, hasChosen: true, amount: 1,
			code: apperr.LimitExceeded, limitAmount: "0.00", remaining: "0.00", maxDailyLimit: "50000.00"},
		{name: "a maximum lowered below the choice binds", currency: money.CNY, chosen: 90_000_00, hasChosen: true, amount: 50_000_01,
			code: apperr.LimitExceeded, limitAmount: "50000.00", remaining: "50000.00", maxDailyLimit: "-"},
		{name: "overspent shows zero, not negative", currency: money.CNY, used: 25_000_00, amount: 1,
			code: apperr.LimitExceeded, remaining: "0.00"},
		{name: "unconfigured currency", currency: money.USD, amount: 1,
			code: apperr.LimitExceeded, limitAmount: "0.00", remaining: "0.00", maxDailyLimit: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := DailyWindowFor(cfg, tt.currency, tt.chosen, tt.hasChosen, tt.used)
			err := DecideDaily(w, ok, tt.currency, tt.amount)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("DecideDaily = %v, want allowed", err)
				}
				return
			}
			e, isApp := apperr.As(err)
			if !isApp || e.Code != tt.code {
				t.Fatalf("DecideDaily = %v, want %s", err, tt.code)
			}
			checkExtensions(t, e, map[string]string{"limit": DailyLimitName, "currency": string(tt.currency), "period": "DAY",
				"limitAmount": tt.limitAmount, "remaining": tt.remaining, "maxDailyLimit": tt.maxDailyLimit})
		})
	}
}

func TestDailyWindowFor(t *testing.T) {
	cfg := DailyConfig{Default: map[money.Currency]int64{money.CNY: 200_00}, Max: map[money.Currency]int64{money.CNY: 1_000_00}}
	w, ok := DailyWindowFor(cfg, money.CNY, 0, false, 50_00)
	if !ok || w.Limit != 200_00 || w.Max != 1_000_00 || w.Chosen || w.Used != 50_00 || w.Remaining != 150_00 {
		t.Errorf("default window = %+v, %v", w, ok)
	}
	w, ok = DailyWindowFor(cfg, money.CNY, 700_00, true, 800_00)
	if !ok || w.Limit != 700_00 || !w.Chosen || w.Remaining != 0 {
		t.Errorf("chosen window = %+v, %v", w, ok)
	}
	if _, ok := DailyWindowFor(cfg, money.USD, 0, false, 0); ok {
		t.Errorf("USD window exists without configuration")
	}
}

func TestValidateDailyLimit(t *testing.T) {
	cfg := DailyConfig{Default: map[money.Currency]int64{money.CNY: 200_00}, Max: map[money.Currency]int64{money.CNY: 1_000_00}}
	for _, tt := range []struct {
		currency money.Currency
		amount   int64
		field    string // "" when valid
	}{
		{money.CNY, 0, ""},
		{money.CNY, 1_000_00, ""},
		{money.CNY, 1_000_01, "amount"},
		{money.CNY, -1, "amount"},
		{money.USD, 1, "currency"},
	} {
		err := ValidateDailyLimit(cfg, tt.currency, tt.amount)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s %d: %v", tt.currency, tt.amount, err)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.InvalidInput || len(e.Field) != 2 || e.Field[1] != tt.field {
			t.Errorf("%s %d: %v, want INVALID_INPUT on %s", tt.currency, tt.amount, err, tt.field)
		}
	}
	if err := (DailyConfig{Default: map[money.Currency]int64{money.CNY: 2}, Max: map[money.Currency]int64{money.CNY: 1}}).Validate(); err == nil {
		t.Errorf("a default above the maximum validated")
	}
	if err := (DailyConfig{Default: map[money.Currency]int64{money.USD: 1}}).Validate(); err == nil {
		t.Errorf("a default without a maximum validated")
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestDayKey(t *testing.T) {
	cfg := kyc.DefaultConfig()
	before := time.Date(2026, 12, 2, 15, 59, 59, 0, time.UTC)
	at := time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)
	if got := dayKey(cfg, before); got != "D2026-12-02" {
		t.Errorf("dayKey before Beijing midnight = %s", got)
	}
	if got := dayKey(cfg, at); got != "D2026-12-03" {
		t.Errorf("dayKey at Beijing midnight = %s", got)
	}
	if got := dayEnd(cfg, before); !got.Equal(at) {
		t.Errorf("dayEnd = %v, want %v", got, at)
	}
}

// checkExtensions asserts e's extensions: each key's value as wanted, "-"
// for absent, "" for anything.
func checkExtensions(t *testing.T, e *apperr.Error, want map[string]string) {
	t.Helper()
	for key, w := range want {
		got, present := e.Extensions[key]
		switch {
		case w == "":
		case w == "-" && present:
			t.Errorf("extensions.%s = %v, want absent", key, got)
		case w != "-" && got != w:
			t.Errorf("extensions.%s = %v, want %s", key, got, w)
		}
	}
}
