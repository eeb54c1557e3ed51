package limits_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/limitusage"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// verify brings userID to level through the sandbox verifier.
func verify(t *testing.T, e *testenv.Env, userID string, number string, level kyc.Level) {
	t.Helper()
	ev := []string{"s1", "s2", "s3", "s4", "s5"}[:e.App.RealName.Config().Rule(level).Evidence]
	v, err := e.App.RealName.Submit(context.Background(), pulid.ID(userID),
		kyc.Request{LegalName: "Zhang San", IDType: kyc.ResidentID, IDNumber: number, TargetLevel: level, Evidence: ev})
	if err != nil || v.Status != kyc.Verified || v.Level != level {
		t.Fatalf("verify at %s: %+v, %v", level, v, err)
	}
}

func residentID(first17 string) string {
	c, err := kyc.CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// inTx runs f in one transaction, as a money movement would.
func inTx(e *testenv.Env, f func(tx *ent.Tx) error) error {
	return dbtx.WithTx(context.Background(), e.App.DB.Client, f)
}

func usage(t *testing.T, e *testenv.Env, userID, period string) int64 {
	t.Helper()
	u, err := e.App.DB.Client.LimitUsage.Query().Where(
		limitusage.UserID(pulid.ID(userID)), limitusage.Currency("CNY"), limitusage.Period(period)).Only(context.Background())
	if ent.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return u.UsedMinor
}

func wantErr(t *testing.T, err error, code apperr.Code, ext map[string]any) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	for k, v := range ext {
		if e.Extensions[k] != v {
			t.Errorf("extensions.%s = %v, want %v (all: %v)", k, e.Extensions[k], v, e.Extensions)
		}
	}
}

// TestLimitsService: an unverified user may not pay or top up; level I pays
// 1,000.00 CNY over its life and is refused beyond with LIMIT_EXCEEDED and
// what remains; level II lifts that; me.limits shows the same figures.
func TestLimitsService(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		L := e.App.Limits
		ctx := context.Background()
		now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
		year := "Y2025"

		// Unverified.
		u0 := e.Register(t)
		id0 := pulid.ID(u0.ID)
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id0, 100, money.CNY, now) }),
			apperr.VerificationRequired, map[string]any{"requiredLevel": "I", "level": "UNVERIFIED"})
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Record(ctx, tx, id0, 100, money.CNY, now) }),
			apperr.VerificationRequired, nil)
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.RequireVerified(ctx, tx, id0) }),
			apperr.VerificationRequired, map[string]any{"requiredLevel": "I"})
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Require(ctx, tx, id0, kyc.RightTopUp) }),
			apperr.VerificationRequired, map[string]any{"requiredLevel": "I"})
		if n := usage(t, e, u0.ID, "LIFETIME"); n != 0 {
			t.Fatalf("a refused payment was counted: %d", n)
		}

		// Level I.
		u := e.Register(t)
		id := pulid.ID(u.ID)
		verify(t, e, u.ID, residentID("11010519491231002"), kyc.LevelI)
		if err := inTx(e, func(tx *ent.Tx) error { return L.RequireVerified(ctx, tx, id) }); err != nil {
			t.Fatalf("RequireVerified at level I: %v", err)
		}
		record := func(amount int64) error {
			return inTx(e, func(tx *ent.Tx) error {
				if err := L.Check(ctx, tx, id, amount, money.CNY, now); err != nil {
					return err
				}
				return L.Record(ctx, tx, id, amount, money.CNY, now)
			})
		}
		if err := record(600_00); err != nil {
			t.Fatalf("600.00 at level I: %v", err)
		}
		over := map[string]any{"limit": "LIFETIME_BALANCE_PAYMENTS", "remaining": "400.00", "currency": "CNY", "requiredLevel": "II"}
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id, 500_00, money.CNY, now) }), apperr.LimitExceeded, over)
		// Record refuses on its own too, and counts nothing then.
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Record(ctx, tx, id, 500_00, money.CNY, now) }), apperr.LimitExceeded, over)
		if got := usage(t, e, u.ID, "LIFETIME"); got != 600_00 {
			t.Fatalf("lifetime usage %d after a refused payment, want 60000", got)
		}
		// Another currency is not configured.
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id, 1, money.USD, now) }),
			apperr.LimitExceeded, map[string]any{"currency": "USD", "remaining": "0.00"})
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Record(ctx, tx, id, 0, money.CNY, now) }), apperr.InvalidInput, nil)

		// The API shows what remains.
		assertAPILimits(t, e, u.AccessToken, "I", "LIFETIME", "1000.00", "600.00", "400.00")

		// Exactly what remains passes; then nothing does.
		if err := record(400_00); err != nil {
			t.Fatalf("the last 400.00: %v", err)
		}
		wantErr(t, record(1), apperr.LimitExceeded, map[string]any{"remaining": "0.00", "requiredLevel": "II"})
		if l, y := usage(t, e, u.ID, "LIFETIME"), usage(t, e, u.ID, year); l != 1_000_00 || y != 1_000_00 {
			t.Fatalf("usage lifetime %d, year %d; want 100000 each", l, y)
		}

		// Upgrade to level II: the annual limit counts this year's payments.
		verify(t, e, u.ID, residentID("11010519491231002"), kyc.LevelII)
		if err := record(500_00); err != nil {
			t.Fatalf("500.00 after the upgrade: %v", err)
		}
		s, err := L.Summary(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		if s.Level != kyc.LevelII || len(s.BalancePayments) != 1 {
			t.Fatalf("summary %+v", s)
		}
		if w := s.BalancePayments[0]; w.Period != kyc.Year || w.Used != 1_500_00 || w.Remaining != 98_500_00 {
			t.Fatalf("level II window %+v", w)
		}
		if want := time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC); !s.ResetsAt.Equal(want) {
			t.Errorf("resets at %v, want %v", s.ResetsAt, want)
		}
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id, 98_500_01, money.CNY, now) }),
			apperr.LimitExceeded, map[string]any{"limit": "ANNUAL_BALANCE_PAYMENTS", "remaining": "98500.00", "requiredLevel": "III"})

		// A new calendar year (in Beijing) starts the annual count again
		// (what may leave in one day is the daily limit's business).
		nextYear := time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)
		if s, err := L.Summary(ctx, id, nextYear); err != nil || s.BalancePayments[0].Used != 0 || s.BalancePayments[0].Remaining != 100_000_00 {
			t.Fatalf("a full year's allowance on 1 January: %+v, %v", s, err)
		}
		if err := inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id, 20_000_00, money.CNY, nextYear) }); err != nil {
			t.Fatalf("a full day's allowance on 1 January: %v", err)
		}
		if err := inTx(e, func(tx *ent.Tx) error { return L.Record(ctx, tx, id, 100_00, money.CNY, nextYear) }); err != nil {
			t.Fatal(err)
		}
		if got := usage(t, e, u.ID, "Y2026"); got != 100_00 {
			t.Fatalf("2026 usage %d", got)
		}
		if got := usage(t, e, u.ID, "LIFETIME"); got != 1_600_00 {
			t.Fatalf("lifetime usage %d, want 160000", got)
		}

		// A payment refused in its transaction leaves no count behind, even
		// when Record succeeded before something else failed.
		boom := fmt.Errorf("ledger says no")
		if err := inTx(e, func(tx *ent.Tx) error {
			if err := L.Record(ctx, tx, id, 100_00, money.CNY, nextYear); err != nil {
				return err
			}
			return boom
		}); err != boom {
			t.Fatalf("rolled back transaction: %v", err)
		}
		if got := usage(t, e, u.ID, "Y2026"); got != 100_00 {
			t.Fatalf("rolled back payment counted: %d", got)
		}
	})
}

func assertAPILimits(t *testing.T, e *testenv.Env, token, level, period, limit, used, remaining string) {
	t.Helper()
	var out struct {
		Me struct {
			Limits struct {
				Level           string
				BalancePayments []struct{ Period, Limit, Used, Remaining, Currency string }
			}
		}
	}
	e.Do(t, token, `{ me { limits { level balancePayments { period limit used remaining currency } } } }`, nil).Decode(t, &out)
	l := out.Me.Limits
	if l.Level != level || len(l.BalancePayments) != 1 {
		t.Fatalf("me.limits = %+v", l)
	}
	if bp := l.BalancePayments[0]; bp.Period != period || bp.Limit != limit || bp.Used != used || bp.Remaining != remaining || bp.Currency != "CNY" {
		t.Fatalf("me.limits.balancePayments = %+v, want %s %s/%s/%s CNY", bp, period, limit, used, remaining)
	}
}

// TestConcurrentPaymentsCannotExceedTheLimit: many payments of one level I
// wallet at once, each checking and recording in its own transaction; only
// as many as fit in 1,000.00 CNY succeed, on SQLite and on PostgreSQL.
func TestConcurrentPaymentsCannotExceedTheLimit(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		L := e.App.Limits
		ctx := context.Background()
		u := e.Register(t)
		id := pulid.ID(u.ID)
		verify(t, e, u.ID, residentID("44052419800101006"), kyc.LevelI)
		now := time.Now()

		const workers, amount = 24, 150_00 // 6 fit in 1,000.00, with 100.00 left
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, over int
			other    []error
		)
		start := make(chan struct{})
		for range workers {
			wg.Go(func() {
				<-start
				err := inTx(e, func(tx *ent.Tx) error {
					if err := L.Check(ctx, tx, id, amount, money.CNY, now); err != nil {
						return err
					}
					return L.Record(ctx, tx, id, amount, money.CNY, now)
				})
				mu.Lock()
				defer mu.Unlock()
				switch apperr.CodeOf(err) {
				case "":
					ok++
				case apperr.LimitExceeded:
					over++
				default:
					other = append(other, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("unexpected errors: %v", other)
		}
		if ok != 6 || over != workers-6 {
			t.Fatalf("%d payments passed and %d were refused; want 6 and %d", ok, over, workers-6)
		}
		if got := usage(t, e, u.ID, "LIFETIME"); got != 6*amount {
			t.Fatalf("lifetime usage %d, want %d", got, 6*amount)
		}
		assertAPILimits(t, e, u.AccessToken, "I", "LIFETIME", "1000.00", "900.00", "100.00")
	})
}
