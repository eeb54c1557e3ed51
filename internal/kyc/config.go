package kyc

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"danbao/internal/money"
)

// Right is something a level lets a wallet do. Values are exposed through
// the API (enum AccountRight), so they are only ever added.
type Right string

// The rights.
const (
	RightTopUp    Right = "TOP_UP"
	RightPay      Right = "PAY"
	RightReceive  Right = "RECEIVE"
	RightTransfer Right = "TRANSFER"
	RightWithdraw Right = "WITHDRAW"
)

// MarshalGQL implements graphql.Marshaler (enum AccountRight).
func (r Right) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL implements graphql.Unmarshaler (enum AccountRight).
func (r *Right) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("not an AccountRight")
	}
	*r = Right(s)
	return nil
}

// Period is the window a limit counts over.
type Period string

// The periods.
const (
	// Lifetime counts over the whole life of the account.
	Lifetime Period = "LIFETIME"
	// Year counts over one calendar year in the configuration's Zone.
	Year Period = "YEAR"
)

// MarshalGQL implements graphql.Marshaler (enum LimitPeriod).
func (p Period) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(p))) }

// UnmarshalGQL implements graphql.Unmarshaler (enum LimitPeriod).
func (p *Period) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || (Period(s) != Lifetime && Period(s) != Year) {
		return fmt.Errorf("not a LimitPeriod")
	}
	*p = Period(s)
	return nil
}

// LimitName is the name a balance payment limit over p goes by in the
// extensions of a LIMIT_EXCEEDED error ("LIFETIME_BALANCE_PAYMENTS",
// "ANNUAL_BALANCE_PAYMENTS").
func (p Period) LimitName() string {
	if p == Year {
		return "ANNUAL_BALANCE_PAYMENTS"
	}
	return "LIFETIME_BALANCE_PAYMENTS"
}

// Limit caps an amount over a period, per currency.
type Limit struct {
	Period Period
	// Minor is the cap in minor units per currency. A currency that is not
	// listed may not be used at all under this limit.
	Minor map[money.Currency]int64
}

// For returns the cap in minor units for currency c, and whether c is
// configured.
func (l Limit) For(c money.Currency) (int64, bool) {
	v, ok := l.Minor[c]
	return v, ok
}

// LevelRule is what one level allows and what reaching it takes.
type LevelRule struct {
	// Rights are what a wallet at this level may do.
	Rights []Right
	// Evidence is how many distinct evidence entries a request for this
	// level must carry (the external sources of docs/design.md, Real-name
	// verification, levels and limits).
	Evidence int
	// BalancePayments limits payments made from the wallet's balance.
	BalancePayments Limit
}

// Has reports whether the rule grants right r.
func (r LevelRule) Has(right Right) bool {
	for _, x := range r.Rights {
		if x == right {
			return true
		}
	}
	return false
}

// Config is the one place where levels, their rights and their limits are
// set. It is built once (DefaultConfig, possibly adjusted) and passed to the
// services that need it; it is never a package global.
type Config struct {
	// Levels holds the rule of every level, Unverified included.
	Levels map[Level]LevelRule
	// Zone is the time zone whose calendar years the annual limits follow.
	Zone *time.Location
}

// The PBoC limits on balance payments, in fen.
const (
	// LevelILifetimeCNY is 1,000 CNY over the account's life.
	LevelILifetimeCNY int64 = 1_000_00
	// LevelIIAnnualCNY is 100,000 CNY a year.
	LevelIIAnnualCNY int64 = 100_000_00
	// LevelIIIAnnualCNY is 200,000 CNY a year.
	LevelIIIAnnualCNY int64 = 200_000_00
)

// DefaultConfig returns the levels of docs/design.md, Real-name
// verification, levels and limits: unverified wallets
// may do nothing; level I (one source) pays up to 1,000 CNY over the
// account's life; level II (three sources) 100,000 CNY a year; level III
// (five sources) 200,000 CNY a year. Only CNY is configured. Years follow
// China Standard Time.
func DefaultConfig() Config {
	all := []Right{RightTopUp, RightPay, RightReceive, RightTransfer, RightWithdraw}
	return Config{
		Levels: map[Level]LevelRule{
			Unverified: {BalancePayments: Limit{Period: Lifetime, Minor: map[money.Currency]int64{money.CNY: 0}}},
			LevelI: {Rights: all, Evidence: 0,
				BalancePayments: Limit{Period: Lifetime, Minor: map[money.Currency]int64{money.CNY: LevelILifetimeCNY}}},
			LevelII: {Rights: all, Evidence: 3,
				BalancePayments: Limit{Period: Year, Minor: map[money.Currency]int64{money.CNY: LevelIIAnnualCNY}}},
			LevelIII: {Rights: all, Evidence: 5,
				BalancePayments: Limit{Period: Year, Minor: map[money.Currency]int64{money.CNY: LevelIIIAnnualCNY}}},
		},
		Zone: chinaStandardTime,
	}
}

// Rule returns the rule of level l (the zero rule, which allows nothing,
// for an unknown level).
func (c Config) Rule(l Level) LevelRule { return c.Levels[l] }

// Validate checks that every level has a rule, limits are not negative,
// currencies are supported and evidence requirements do not decrease with
// the level.
func (c Config) Validate() error {
	if c.Zone == nil {
		return errors.New("kyc config: no time zone for annual limits")
	}
	prevEvidence := 0
	for _, l := range Levels() {
		r, ok := c.Levels[l]
		if !ok {
			return fmt.Errorf("kyc config: no rule for level %s", l)
		}
		if r.Evidence < prevEvidence {
			return fmt.Errorf("kyc config: level %s needs less evidence than the level below it", l)
		}
		prevEvidence = r.Evidence
		if r.BalancePayments.Period != Lifetime && r.BalancePayments.Period != Year {
			return fmt.Errorf("kyc config: level %s: unknown limit period %q", l, r.BalancePayments.Period)
		}
		for cur, v := range r.BalancePayments.Minor {
			if !cur.Supported() {
				return fmt.Errorf("kyc config: level %s: unsupported currency %q", l, cur)
			}
			if v < 0 || v > money.MaxMinor {
				return fmt.Errorf("kyc config: level %s: %s limit out of range", l, cur)
			}
		}
	}
	if c.Levels[LevelIII].Evidence > MaxEvidence {
		return fmt.Errorf("kyc config: a level needs more than %d evidence entries", MaxEvidence)
	}
	return nil
}

// YearOf returns the calendar year of t in the configuration's zone, the
// year an annual limit counts t in.
func (c Config) YearOf(t time.Time) int { return t.In(c.Zone).Year() }

// YearEnd returns the first instant after the calendar year of t, when an
// annual limit starts again.
func (c Config) YearEnd(t time.Time) time.Time {
	return time.Date(c.YearOf(t)+1, time.January, 1, 0, 0, 0, 0, c.Zone)
}
