package risk

import (
	"slices"
	"sort"
	"time"
)

// Decision is what risk says about one outflow.
type Decision string

// The decisions, from the mildest.
const (
	// Allow: the outflow may go through, without a passkey when the
	// password-free allowance covers it.
	Allow Decision = "ALLOW"
	// StepUp: the outflow needs a passkey assertion; with one it goes
	// through.
	StepUp Decision = "STEP_UP"
	// Hold: the outflow needs a passkey assertion and, with one, its money
	// is set aside and it waits for an operator (approveHeld, rejectHeld).
	Hold Decision = "HOLD"
)

func (d Decision) rank() int { return map[Decision]int{Allow: 0, StepUp: 1, Hold: 2}[d] }

// Reason is a stable code naming why risk raised its decision.
type Reason string

// The reasons. Codes are stable: clients and operators' tools switch on them.
const (
	// NewPasskey: a passkey of the user was registered within
	// Config.NewCredential (a new device).
	NewPasskey Reason = "NEW_PASSKEY"
	// UnusualAmount: the amount is at least Config.UnusualFactor times the
	// median of the user's recent outflows in its currency.
	UnusualAmount Reason = "UNUSUAL_AMOUNT"
	// FarUnusualAmount: at least Config.UnusualHoldFactor times that median.
	FarUnusualAmount Reason = "FAR_UNUSUAL_AMOUNT"
	// BurstMinute: Config.BurstMinute or more outflows in the last minute.
	BurstMinute Reason = "BURST_MINUTE"
	// BurstHour: Config.BurstHour or more outflows in the last hour.
	BurstHour Reason = "BURST_HOUR"
	// CredentialsChanged: the password or the contact details changed
	// within Config.CredentialsChanged.
	CredentialsChanged Reason = "CREDENTIALS_CHANGED"
	// NewCounterparty: the user never paid this payee (or withdrew to this
	// card) before.
	NewCounterparty Reason = "NEW_COUNTERPARTY"
	// FlaggedCounterparty: the payee is frozen or restricted by an operator.
	FlaggedCounterparty Reason = "FLAGGED_COUNTERPARTY"
	// TakeoverPattern: a new passkey, or changed credentials, together with
	// a burst or a far unusual amount: the pattern of a taken-over account.
	TakeoverPattern Reason = "TAKEOVER_PATTERN"
)

// Config are the thresholds of the rules.
type Config struct {
	NewCredential      time.Duration // a passkey registered within it is new (24h)
	CredentialsChanged time.Duration // a password or contact change within it is recent (24h)
	History            int           // how many recent outflows make the user's usual (20)
	MinHistory         int           // fewer recent outflows than this: no usual yet (3)
	UnusualFactor      int64         // amount >= factor x median: step-up (5)
	UnusualHoldFactor  int64         // amount >= factor x median: hold (20)
	UnusualFloorMinor  int64         // amounts below it are never unusual (100.00)
	BurstMinute        int           // outflows in the last minute for a step-up (3; 0: off, so for the three below)
	BurstMinuteHold    int           // ... for a hold (10)
	BurstHour          int           // outflows in the last hour for a step-up (20)
	BurstHourHold      int           // ... for a hold (60)
}

// countCaps are how far the facts count each window's outflows: to the
// highest threshold of its rules (0 when both are off). A count that
// reaches it compares with every threshold as the full count would, so
// the rules decide the same while the counting stops there, however many
// outflows a heavy payer made (factsSQL counts newest first, so both
// engines walk the index and stop at the cap).
func (c Config) countCaps() (minute, hour int) {
	return max(c.BurstMinute, c.BurstMinuteHold, 0), max(c.BurstHour, c.BurstHourHold, 0)
}

// DefaultConfig returns the default thresholds.
func DefaultConfig() Config {
	return Config{
		NewCredential: 24 * time.Hour, CredentialsChanged: 24 * time.Hour,
		History: 20, MinHistory: 3, UnusualFactor: 5, UnusualHoldFactor: 20, UnusualFloorMinor: 100_00,
		BurstMinute: 3, BurstMinuteHold: 10, BurstHour: 20, BurstHourHold: 60,
	}
}

// Facts are what the rules know of one outflow, gathered by the loader in
// the outflow's transaction. Times are UTC.
type Facts struct {
	Now         time.Time
	AmountMinor int64
	// Recent are the amounts of the user's latest outflows in the same
	// currency (newest first, at most Config.History), this one excluded.
	Recent []int64
	// LastMinute and LastHour count the user's outflows (payments moved
	// into escrow and withdrawals, any currency) in the minute and the hour
	// before Now, this one excluded: each kind counted up to the window's
	// highest threshold (Config.countCaps), which is all the rules need.
	LastMinute, LastHour int
	// NewestPasskeyAt is when the user's newest active passkey was
	// registered (nil: none).
	NewestPasskeyAt *time.Time
	// PasswordChangedAt and ContactChangedAt: nil when never changed.
	PasswordChangedAt, ContactChangedAt *time.Time
	// PriorWithCounterparty is not zero when the user paid the same payee
	// before (the loader stops at the first such payment; a withdrawal's
	// card is the user's own: 1).
	PriorWithCounterparty int
	// CounterpartyFlagged: the payee is frozen or restricted.
	CounterpartyFlagged bool
}

// Assessment is a decision with its reasons, sorted by code.
type Assessment struct {
	Decision Decision
	Reasons  []Reason
}

// Has reports whether r is among a's reasons.
func (a Assessment) Has(r Reason) bool { return slices.Contains(a.Reasons, r) }

// SteppedUp returns the reasons when the decision asks for a passkey
// (STEP_UP or HOLD), nil when it allows.
func (a Assessment) SteppedUp() []string {
	if a.Decision == Allow {
		return nil
	}
	return a.ReasonStrings()
}

// ReasonStrings returns the reasons as strings.
func (a Assessment) ReasonStrings() []string {
	out := make([]string, len(a.Reasons))
	for i, r := range a.Reasons {
		out[i] = string(r)
	}
	return out
}

// Assess applies every rule to f. It is pure.
func Assess(cfg Config, f Facts) Assessment {
	a := Assessment{Decision: Allow}
	raise := func(r Reason, d Decision) {
		a.Reasons = append(a.Reasons, r)
		if d.rank() > a.Decision.rank() {
			a.Decision = d
		}
	}
	within := func(t *time.Time, d time.Duration) bool { return t != nil && f.Now.Sub(*t) < d }

	newPasskey := within(f.NewestPasskeyAt, cfg.NewCredential)
	if newPasskey {
		raise(NewPasskey, StepUp)
	}
	changed := within(f.PasswordChangedAt, cfg.CredentialsChanged) || within(f.ContactChangedAt, cfg.CredentialsChanged)
	if changed {
		raise(CredentialsChanged, StepUp)
	}
	far := false
	if usual, ok := Usual(f.Recent, cfg.MinHistory); ok && f.AmountMinor >= cfg.UnusualFloorMinor {
		switch {
		case f.AmountMinor >= cfg.UnusualHoldFactor*usual:
			raise(FarUnusualAmount, Hold)
			far = true
		case f.AmountMinor >= cfg.UnusualFactor*usual:
			raise(UnusualAmount, StepUp)
		}
	}
	burst := false
	reached := func(n, threshold int) bool { return threshold > 0 && n >= threshold }
	switch {
	case reached(f.LastMinute, cfg.BurstMinuteHold):
		raise(BurstMinute, Hold)
		burst = true
	case reached(f.LastMinute, cfg.BurstMinute):
		raise(BurstMinute, StepUp)
		burst = true
	}
	switch {
	case reached(f.LastHour, cfg.BurstHourHold):
		raise(BurstHour, Hold)
		burst = true
	case reached(f.LastHour, cfg.BurstHour):
		raise(BurstHour, StepUp)
		burst = true
	}
	if f.PriorWithCounterparty == 0 {
		raise(NewCounterparty, StepUp)
	}
	if f.CounterpartyFlagged {
		raise(FlaggedCounterparty, Hold)
	}
	if (newPasskey || changed) && (burst || far) {
		raise(TakeoverPattern, Hold)
	}
	sort.Slice(a.Reasons, func(i, j int) bool { return a.Reasons[i] < a.Reasons[j] })
	return a
}

// Usual is the median of recent (the user's usual amount); ok is false
// with fewer than minHistory amounts.
func Usual(recent []int64, minHistory int) (int64, bool) {
	if len(recent) == 0 || len(recent) < minHistory {
		return 0, false
	}
	s := slices.Clone(recent)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return s[n/2-1]/2 + s[n/2]/2 + (s[n/2-1]%2+s[n/2]%2)/2, true
}
