package app_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestConcurrentReleasesShareFreeVolumeOnce: eight releases to one seller
// confirmed at once share the seller's free monthly volume (100.00) exactly
// once, whatever their order: the fees add up to 1% of what is above it,
// the payments returned carry the fee a fresh read finds, the seller holds
// the rest, and the ledger verifies (both engines).
func TestConcurrentReleasesShareFreeVolumeOnce(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		seller := e.RegisterVerified(t)
		const n = 8
		buyers := make([]buyer, n)
		ids := make([]string, n)
		for i := range buyers {
			buyers[i] = e.buyer(t, "100.00")
			ids[i] = e.pay(t, buyers[i], seller, "60.00")
			if r := e.ship(t, seller, ids[i]); r.code() != "" {
				t.Fatal(r)
			}
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range buyers {
			wg.Go(func() { results[i] = e.confirm(t, buyers[i].User, ids[i]) })
		}
		wg.Wait()
		var fees []string
		var total int64
		for i, r := range results {
			if r.code() != "" || r.Payment == nil {
				t.Fatalf("confirm %d: %+v", i, r)
			}
			stored := e.payment(t, buyers[i].User, ids[i])
			want(t, "fee returned vs stored", r.Payment.Fee, stored.Fee)
			want(t, "status returned vs stored", r.Payment.Status, stored.Status)
			f, err := money.ParseAmount(r.Payment.Fee, money.CNY)
			if err != nil {
				t.Fatal(err)
			}
			total += f
			fees = append(fees, r.Payment.Fee)
		}
		sort.Strings(fees)
		want(t, "fees", fmt.Sprint(fees), "[0.00 0.20 0.60 0.60 0.60 0.60 0.60 0.60]")
		want(t, "total fee", money.FormatMinor(total, money.CNY), "3.80")
		want(t, "seller", e.available(t, seller), "476.20")
		verifyOK(t, e.Env)
	})
}
