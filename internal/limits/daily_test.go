package limits_test

import (
	"context"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestDailyLimit: the default daily limit (20,000.00 CNY) binds a level II
// wallet whose annual limit does not; the refusal says what remains today
// and that raising the limit up to 50,000.00 would allow it; raising needs
// a recent sign-in, lowering does not; a new day in Beijing starts the
// count again; a refused outflow counts nothing.
func TestDailyLimit(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		L := e.App.Limits
		ctx := context.Background()
		day := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC) // 23:00 in Beijing
		u := e.Register(t)
		id := pulid.ID(u.ID)
		verify(t, e, u.ID, residentID("11010519491231002"), kyc.LevelI)
		verify(t, e, u.ID, residentID("11010519491231002"), kyc.LevelII)
		record := func(amount int64, at time.Time) error {
			return inTx(e, func(tx *ent.Tx) error {
				if err := L.Check(ctx, tx, id, amount, money.CNY, at); err != nil {
					return err
				}
				return L.Record(ctx, tx, id, amount, money.CNY, at)
			})
		}
		if err := record(15_000_00, day); err != nil {
			t.Fatalf("15,000.00 within the default daily limit: %v", err)
		}
		over := map[string]any{"limit": "DAILY_AUTHORIZED_PAYMENTS", "limitAmount": "20000.00", "used": "15000.00",
			"remaining": "5000.00", "currency": "CNY", "maxDailyLimit": "50000.00"}
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Check(ctx, tx, id, 6_000_00, money.CNY, day) }), apperr.LimitExceeded, over)
		wantErr(t, inTx(e, func(tx *ent.Tx) error { return L.Record(ctx, tx, id, 6_000_00, money.CNY, day) }), apperr.LimitExceeded, over)
		if got := usage(t, e, u.ID, "D2026-12-02"); got != 15_000_00 {
			t.Fatalf("daily usage %d after a refusal, want 1500000", got)
		}
		if got := usage(t, e, u.ID, "Y2026"); got != 15_000_00 {
			t.Fatalf("annual usage %d after a refusal, want 1500000", got)
		}

		// Raising needs a recent sign-in; the refusal changes nothing.
		stale := apperr.New(apperr.ReauthenticationRequired, "sign in again")
		_, err := L.SetDailyLimit(ctx, id, "CNY", "30000.00", stale, day)
		wantErr(t, err, apperr.ReauthenticationRequired, nil)
		wantErr(t, record(6_000_00, day), apperr.LimitExceeded, map[string]any{"limitAmount": "20000.00"})
		// Above the maximum, a negative amount, an unconfigured currency.
		_, err = L.SetDailyLimit(ctx, id, "CNY", "50000.01", nil, day)
		wantErr(t, err, apperr.InvalidInput, map[string]any{"maxDailyLimit": "50000.00", "currency": "CNY"})
		_, err = L.SetDailyLimit(ctx, id, "CNY", "-1.00", nil, day)
		wantErr(t, err, apperr.InvalidInput, nil)
		_, err = L.SetDailyLimit(ctx, id, "USD", "1.00", nil, day)
		wantErr(t, err, apperr.InvalidInput, nil)
		_, err = L.SetDailyLimit(ctx, id, "CNY", "1e3", nil, day)
		wantErr(t, err, apperr.InvalidInput, nil)

		w, err := L.SetDailyLimit(ctx, id, "CNY", "30000.00", nil, day)
		if err != nil || w.Limit != 30_000_00 || !w.Chosen || w.Used != 15_000_00 || w.Remaining != 15_000_00 || w.Max != 50_000_00 {
			t.Fatalf("raised to 30,000.00: %+v, %v", w, err)
		}
		if err := record(6_000_00, day); err != nil {
			t.Fatalf("6,000.00 after raising: %v", err)
		}
		// Lowering needs no recent sign-in and binds at once.
		if w, err = L.SetDailyLimit(ctx, id, "CNY", "21000.00", stale, day); err != nil || w.Remaining != 0 {
			t.Fatalf("lowered to 21,000.00: %+v, %v", w, err)
		}
		wantErr(t, record(1, day), apperr.LimitExceeded, map[string]any{"remaining": "0.00", "maxDailyLimit": "50000.00"})

		// Midnight in Beijing: a new day, the chosen limit stays.
		next := day.Add(time.Hour)
		if err := record(21_000_00, next); err != nil {
			t.Fatalf("the whole limit on the next day: %v", err)
		}
		wantErr(t, record(1, next), apperr.LimitExceeded, map[string]any{"limitAmount": "21000.00", "remaining": "0.00"})
		if a, b := usage(t, e, u.ID, "D2026-12-02"), usage(t, e, u.ID, "D2026-12-03"); a != 21_000_00 || b != 21_000_00 {
			t.Fatalf("daily usage %d and %d, want 2100000 each", a, b)
		}

		s, err := L.Summary(ctx, id, next)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Daily) != 1 || s.Daily[0].Currency != money.CNY || s.Daily[0].Used != 21_000_00 || s.Daily[0].Remaining != 0 {
			t.Fatalf("summary daily %+v", s.Daily)
		}
		if want := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC); !s.DayEnds.Equal(want) {
			t.Errorf("day ends %v, want %v", s.DayEnds, want)
		}
	})
}
