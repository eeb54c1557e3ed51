package app_test

import (
	"sync"
	"testing"

	"danbao/internal/testenv"
)

// TestProtectionFundRace: two fraud-claim compensations that each fit the
// fund but not together, decided concurrently: one is paid, the other is
// INSUFFICIENT_FUNDS (never INTERNAL), and the fund never goes negative.
func TestProtectionFundRace(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		op := e.Operator(t)
		var ids []string
		for i := 0; i < 2; i++ {
			b := e.buyer(t, "1000.00")
			seller := e.RegisterVerified(t)
			id := e.pay(t, b, seller, "100.00")
			e.ship(t, seller, id)
			if r := e.confirm(t, b.User, id); r.code() != "" {
				t.Fatalf("confirm %+v", r)
			}
			if r := e.dispute(t, b.User, id); r.code() != "" {
				t.Fatalf("dispute %+v", r)
			}
			ids = append(ids, id)
		}
		e.Do(t, op.AccessToken, `mutation { fundProtection(input:{amount:"50.00", idempotencyKey:"fund-1"}) { balance userErrors { code } } }`, nil)
		var wg sync.WaitGroup
		res := make([]result, 2)
		for i := range ids {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = e.resolve(t, op, ids[i], "40.00") }()
		}
		wg.Wait()
		ok, short := 0, 0
		for i, r := range res {
			switch c := r.code(); c {
			case "":
				ok++
			case "INSUFFICIENT_FUNDS":
				short++
			default:
				t.Errorf("resolve %d: %q, want INSUFFICIENT_FUNDS or success", i, c)
			}
		}
		if ok != 1 || short != 1 {
			t.Errorf("%d paid and %d refused, want 1 and 1", ok, short)
		}
		verifyOK(t, e.Env)
	})
}
