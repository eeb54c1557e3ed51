package limits_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestConcurrentDailyAndPasswordFreeCaps: concurrent outflows of a wallet
// whose day's counters do not exist yet never push the daily counter over
// the chosen daily limit, nor the password-free counter over its cap, on
// both engines; the refusals keep their codes.
func TestConcurrentDailyAndPasswordFreeCaps(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		L := e.App.Limits
		ctx := context.Background()
		u := e.Register(t)
		id := pulid.ID(u.ID)
		verify(t, e, u.ID, residentID("44052419800101006"), kyc.LevelII)
		now := time.Now()
		if _, err := L.SetDailyLimit(ctx, id, "CNY", "450.00", nil, now); err != nil {
			t.Fatal(err)
		}
		if _, err := L.SetPasswordFree(ctx, id, limits.SetPasswordFreeInput{Enabled: true, PerPayment: "150.00", Daily: "300.00"}, nil, now); err != nil {
			t.Fatal(err)
		}
		const workers, amount = 16, 150_00
		run := func(at time.Time, pf bool) (ok int, codes map[apperr.Code]int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes = map[apperr.Code]int{}
			start := make(chan struct{})
			for range workers {
				wg.Go(func() {
					<-start
					err := inTx(e, func(tx *ent.Tx) error {
						if err := L.Record(ctx, tx, id, amount, money.CNY, at); err != nil {
							return err
						}
						if pf {
							return L.RecordPasswordFree(ctx, tx, id, amount, money.CNY, at, nil)
						}
						return nil
					})
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						ok++
					} else {
						codes[apperr.CodeOf(err)]++
					}
				})
			}
			close(start)
			wg.Wait()
			return ok, codes
		}
		ok, codes := run(now, false)
		if ok != 3 || codes[apperr.LimitExceeded] != workers-3 {
			t.Fatalf("daily: %d passed, refusals %v; want 3 and %d LIMIT_EXCEEDED", ok, codes, workers-3)
		}
		w, err := L.Summary(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.Daily) != 1 || w.Daily[0].Used != 3*amount {
			t.Fatalf("daily window %+v", w.Daily)
		}
		next := now.Add(24 * time.Hour)
		ok, codes = run(next, true)
		if ok != 2 || codes[apperr.PasskeyRequired]+codes[apperr.LimitExceeded] != workers-2 {
			t.Fatalf("password-free: %d passed, refusals %v; want 2", ok, codes)
		}
		p, err := L.PasswordFree(ctx, e.App.DB.Client, id, next)
		if err != nil {
			t.Fatal(err)
		}
		if p.Used != 2*amount {
			t.Fatalf("password-free used %d, want %d", p.Used, 2*amount)
		}
		w, err = L.Summary(ctx, id, next)
		if err != nil {
			t.Fatal(err)
		}
		if w.Daily[0].Used != 2*amount {
			t.Fatalf("next day's daily window %+v", w.Daily)
		}
	})
}
