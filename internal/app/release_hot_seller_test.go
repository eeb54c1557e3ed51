package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"danbao/ent/sellervolume"
	"danbao/internal/app"
	"danbao/internal/escrow"
	"danbao/internal/money"
	"danbao/internal/testenv"

	"github.com/99designs/gqlgen/graphql"
)

// TestHotSellerReleasesInOneStatementEach: buyers whose user IDs sort
// before and after one seller's confirm receipt all at once, twice (first
// with no score rows yet, then with them), with no writer gate. No
// transaction is retried (on PostgreSQL a deadlock would be: the score
// rows are locked in user-ID order, the seller's volume row after them);
// the seller's completed sales and monthly volume are the number and sum
// of the releases; the fees are exactly Fee's for the volumes before each
// release, the free volume used once; every party's counters and score
// equal a fresh recount; the ledger verifies (both engines).
func TestHotSellerReleasesInOneStatementEach(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		var begins atomic.Int64
		trace := func(ctx context.Context, s string) {
			if graphql.HasOperationContext(ctx) && strings.HasSuffix(s, ": started") {
				begins.Add(1)
			}
		}
		e := newEscrowEnv(t, d, testenv.With("DANBAO_DB_WRITERS", "0"),
			testenv.WithOptions(func(o *app.Options) { o.Trace = trace }))
		const n, amount = 10, int64(3000) // 30.00 each; the free volume is 100.00
		var buyers []buyer
		for range n / 2 {
			buyers = append(buyers, e.buyer(t, "100.00"))
		}
		seller := e.RegisterVerified(t)
		for range n - n/2 {
			buyers = append(buyers, e.buyer(t, "100.00"))
		}
		if !slices.ContainsFunc(buyers, func(b buyer) bool { return b.ID < seller.ID }) ||
			!slices.ContainsFunc(buyers, func(b buyer) bool { return b.ID > seller.ID }) {
			t.Fatal("the buyers' IDs should sort on both sides of the seller's")
		}
		var fees []int64
		round := func() {
			t.Helper()
			ids := make([]string, n)
			for i, b := range buyers {
				ids[i] = e.pay(t, b, seller, money.FormatMinor(amount, money.CNY))
				if r := e.ship(t, seller, ids[i]); r.code() != "" {
					t.Fatal(r)
				}
			}
			begins.Store(0)
			results := make([]result, n)
			var wg sync.WaitGroup
			for i, b := range buyers {
				wg.Go(func() { results[i] = e.confirm(t, b.User, ids[i]) })
			}
			wg.Wait()
			for i, r := range results {
				if r.code() != "" || r.Payment == nil {
					t.Fatalf("confirm %d: %+v", i, r)
				}
				want(t, "fee returned vs stored", r.Payment.Fee, e.payment(t, buyers[i].User, ids[i]).Fee)
				f, err := money.ParseAmount(r.Payment.Fee, money.CNY)
				if err != nil {
					t.Fatal(err)
				}
				fees = append(fees, f)
			}
			if got := begins.Load(); got != n {
				msg := fmt.Sprintf("%d confirmations began %d transactions: some were retried", n, got)
				if d == testenv.Postgres {
					t.Fatal(msg)
				}
				t.Log(msg) // SQLite: a busy database is retried too
			}
		}
		round() // no score rows yet: each user's row starts from a recount
		round() // every row there: both parties in one statement

		// The fees: Fee on each release with the volumes before it, in
		// whatever order they came.
		var wantFees []int64
		var total int64
		for i := range 2 * n {
			wantFees = append(wantFees, escrow.Fee(amount, int64(i)*amount, 10000, 100))
		}
		slices.Sort(fees)
		slices.Sort(wantFees)
		want(t, "fees", fmt.Sprint(fees), fmt.Sprint(wantFees))
		for _, f := range fees {
			total += f
		}
		want(t, "seller", e.available(t, seller), money.FormatMinor(2*n*amount-total, money.CNY))

		ctx := context.Background()
		c := e.App.DB.Client
		vol, err := c.SellerVolume.Query().Where(sellervolume.SellerID(pulidOf(seller.ID))).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vol) != 1 {
			t.Fatalf("%d volume rows", len(vol))
		}
		want(t, "volume", fmt.Sprint(vol[0].Currency, " ", vol[0].Month, " ", vol[0].ReceivedMinor),
			fmt.Sprint("CNY ", escrow.Month(e.clock.Now()), " ", 2*n*amount))

		now := e.clock.Now()
		users := []string{seller.ID}
		for _, b := range buyers {
			users = append(users, b.ID)
		}
		for i, u := range users {
			stored, err := e.App.Trust.Stored(ctx, c, pulidOf(u))
			if err != nil || stored == nil {
				t.Fatalf("user %d: %v %v", i, stored, err)
			}
			full, err := e.App.Trust.Recount(ctx, c, pulidOf(u), now)
			if err != nil {
				t.Fatal(err)
			}
			want(t, fmt.Sprintf("user %d: counters by delta vs recount", i), counters(stored), counters(full))
			want(t, fmt.Sprintf("user %d: score, level, age stored vs recount", i),
				fmt.Sprint(stored.Score, stored.Level, stored.AccountAgeDays), fmt.Sprint(full.Score, full.Level, full.AccountAgeDays))
		}
		s, _ := e.App.Trust.Stored(ctx, c, pulidOf(seller.ID))
		want(t, "seller's sales and trades", fmt.Sprint(s.CompletedSales, s.CompletedTrades, s.Score), fmt.Sprint(2*n, 2*n, 400+2*2*n))
		verifyOK(t, e.Env)
	})
}
