package risk_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/risk"
	"danbao/internal/testenv"
)

// TestFacts: the loader reads, in the outflow's transaction, what the rules
// need: recent outflows newest first, the minute's and hour's counts, the
// newest passkey, a recent password change, and whether the payee is new
// or flagged. On SQLite and PostgreSQL.
func TestFacts(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c := e.App.DB.Client
		u := e.RegisterVerified(t)
		payee := e.RegisterVerified(t)
		uid, pid := pulid.ID(u.ID), pulid.ID(payee.ID)
		now := time.Now().UTC()
		facts := func(o risk.Outflow) risk.Facts {
			t.Helper()
			var f risk.Facts
			if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				var err error
				f, err = e.App.Risk.Facts(ctx, tx, o, now)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return f
		}
		pay := risk.Outflow{Kind: risk.Payment, UserID: uid, AmountMinor: 100_00, Currency: "CNY", Counterparty: pid}

		f := facts(pay)
		if len(f.Recent) != 0 || f.LastMinute != 0 || f.LastHour != 0 || f.NewestPasskeyAt != nil ||
			f.PasswordChangedAt != nil || f.PriorWithCounterparty != 0 || f.CounterpartyFlagged {
			t.Fatalf("a new user's facts: %+v", f)
		}

		if err := c.User.UpdateOneID(uid).SetPasswordChangedAt(now.Add(-time.Hour)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.AccountControl.Create().SetUserID(pid).SetFrozen(true).SetFrozenReason("fake trades").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		e.AddPasskey(t, u, e.Authenticator())
		card := pulid.New(pulid.PrefixBankCard)
		for i, amount := range []int64{40_00, 60_00} {
			if err := c.Withdrawal.Create().SetUserID(uid).SetBankCardID(card).SetAmount(amount).SetCurrency("CNY").
				SetCreatedAt(now.Add(time.Duration(i-2) * time.Second)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Withdrawal.Create().SetUserID(uid).SetBankCardID(card).SetAmount(1).SetCurrency("CNY").
			SetCreatedAt(now.Add(-30 * time.Minute)).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		f = facts(pay)
		if !slices.Equal(f.Recent, []int64{60_00, 40_00, 1}) || f.LastMinute != 2 || f.LastHour != 3 ||
			f.NewestPasskeyAt == nil || f.PasswordChangedAt == nil || f.PriorWithCounterparty != 0 || !f.CounterpartyFlagged {
			t.Fatalf("facts: %+v", f)
		}
		// The times come back as they were stored (SQLite returns text the
		// facts statement parses).
		if f.PasswordChangedAt.Sub(now.Add(-time.Hour)).Abs() > time.Microsecond || f.ContactChangedAt != nil ||
			f.NewestPasskeyAt.Sub(now).Abs() > time.Minute {
			t.Fatalf("facts' times: %v %v %v (now %v)", f.PasswordChangedAt, f.ContactChangedAt, f.NewestPasskeyAt, now)
		}
		a := risk.Assess(risk.DefaultConfig(), f)
		if a.Decision != risk.Hold || !slices.Equal(a.ReasonStrings(),
			[]string{"CREDENTIALS_CHANGED", "FLAGGED_COUNTERPARTY", "NEW_COUNTERPARTY", "NEW_PASSKEY"}) {
			t.Fatalf("assessment: %+v", a)
		}
		// A withdrawal goes to the user's own card: no counterparty rule.
		if f := facts(risk.Outflow{Kind: risk.Withdrawal, UserID: uid, AmountMinor: 1, Currency: "CNY", Counterparty: card}); f.PriorWithCounterparty == 0 {
			t.Fatalf("withdrawal facts: %+v", f)
		}
	})
}

// TestFactsCountsStopAtTheCap: each window's outflows are counted up to its
// highest threshold (minute 3, hour 5 here), and not at all when both of
// its rules are off. On SQLite and PostgreSQL.
func TestFactsCountsStopAtTheCap(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_RISK_BURST_MINUTE", "2"), testenv.With("DANBAO_RISK_BURST_MINUTE_HOLD", "3"),
			testenv.With("DANBAO_RISK_BURST_HOUR", "5"), testenv.With("DANBAO_RISK_BURST_HOUR_HOLD", "4"))
		ctx := context.Background()
		c := e.App.DB.Client
		u := e.RegisterVerified(t)
		uid := pulid.ID(u.ID)
		now := time.Now().UTC()
		card := pulid.New(pulid.PrefixBankCard)
		// 4 in the last minute, 3 more earlier in the hour, 1 before it.
		for i, ago := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second,
			10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 2 * time.Hour} {
			if err := c.Withdrawal.Create().SetUserID(uid).SetBankCardID(card).SetAmount(int64(i + 1)).SetCurrency("CNY").
				SetCreatedAt(now.Add(-ago)).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		facts := func(r *risk.Service) risk.Facts {
			t.Helper()
			var f risk.Facts
			if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				var err error
				f, err = r.Facts(ctx, tx, risk.Outflow{Kind: risk.Withdrawal, UserID: uid, AmountMinor: 1, Currency: "CNY", Counterparty: card}, now)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return f
		}
		if f := facts(e.App.Risk); f.LastMinute != 3 || f.LastHour != 5 || len(f.Recent) != 8 {
			t.Fatalf("capped counts: minute %d hour %d, %d recent", f.LastMinute, f.LastHour, len(f.Recent))
		}
		uncapped := risk.DefaultConfig() // caps 10 and 60: the full counts
		if f := facts(risk.New(c, e.App.Keys, uncapped, time.Now)); f.LastMinute != 4 || f.LastHour != 7 {
			t.Fatalf("full counts: minute %d hour %d", f.LastMinute, f.LastHour)
		}
		off := risk.DefaultConfig()
		off.BurstMinute, off.BurstMinuteHold, off.BurstHour, off.BurstHourHold = 0, 0, 0, 0
		if f := facts(risk.New(c, e.App.Keys, off, time.Now)); f.LastMinute != 0 || f.LastHour != 0 || len(f.Recent) != 8 {
			t.Fatalf("rules off: minute %d hour %d, %d recent", f.LastMinute, f.LastHour, len(f.Recent))
		}
	})
}
