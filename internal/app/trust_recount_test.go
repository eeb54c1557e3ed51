package app_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"danbao/ent"
	"danbao/ent/trustscore"
	"danbao/internal/testenv"

	entgo "entgo.io/ent"
	"github.com/99designs/gqlgen/graphql"
)

// counters is what the deltas keep of a score row.
func counters(r *ent.TrustScore) string {
	last := "never"
	if r.LastLostDisputeAt != nil {
		last = r.LastLostDisputeAt.UTC().String()
	}
	return fmt.Sprint(r.CompletedTrades, r.CompletedSales, r.Refunds, r.LostDisputes, " ", last)
}

// TestTrustCountersEqualRecount: after completions, partial and whole
// refunds, disputes lost by the seller and by the buyer, a fraud claim
// with compensation, concurrent confirmations and a user whose row was
// missing (as before the table existed), every party's counters kept by
// delta equal a full recount of their payments, and Repair changes
// nothing.
func TestTrustCountersEqualRecount(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		ctx := context.Background()
		seller, other := e.RegisterVerified(t), e.RegisterVerified(t)
		op := e.Operator(t)
		b1, b2 := e.buyer(t, "2000.00"), e.buyer(t, "2000.00")
		ok := func(what string, r result) {
			t.Helper()
			if r.code() != "" {
				t.Fatalf("%s: %+v", what, r)
			}
		}
		shipped := func(b buyer, s *testenv.User, amount string) string {
			t.Helper()
			id := e.pay(t, b, s, amount)
			ok("ship", e.ship(t, s, id))
			return id
		}
		complete := func(b buyer, s *testenv.User, amount string) string {
			t.Helper()
			id := shipped(b, s, amount)
			ok("confirm", e.confirm(t, b.User, id))
			return id
		}
		complete(b1, seller, "10.00")
		complete(b2, other, "10.00")
		// A partial refund, then completion; a whole refund.
		id := shipped(b1, seller, "50.00")
		ok("refund", e.refund(t, b1.User, id, "10.00"))
		ok("accept", e.respond(t, seller, id, true))
		ok("confirm", e.confirm(t, b1.User, id))
		id = shipped(b2, seller, "40.00")
		ok("refund", e.refund(t, b2.User, id, "40.00"))
		ok("accept", e.respond(t, seller, id, true))
		// The seller loses a dispute (part refunded), then the buyer does.
		id = shipped(b1, seller, "80.00")
		ok("dispute", e.dispute(t, b1.User, id))
		ok("resolve", e.resolve(t, op, id, "20.00"))
		id = shipped(b2, seller, "30.00")
		ok("dispute", e.dispute(t, b2.User, id))
		ok("resolve", e.resolve(t, op, id, "0.00"))

		// The seller's row goes missing, as for a user whose payments
		// predate the table: the next transition starts it from a recount.
		if _, err := e.App.DB.Client.TrustScore.Delete().Where(trustscore.UserID(pulidOf(seller.ID))).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// A fraud claim after completion, compensated by the fund: the
		// payment leaves COMPLETED and comes back, the seller loses.
		var fund struct{ FundProtection struct{ Balance *string } }
		e.Do(t, op.AccessToken, `mutation { fundProtection(input:{amount:"50.00", idempotencyKey:"fund-recount"}) { balance } }`, nil).Decode(t, &fund)
		want(t, "fund", *fund.FundProtection.Balance, "50.00")
		id = complete(b1, seller, "25.00")
		ok("fraud claim", e.dispute(t, b1.User, id))
		ok("resolve", e.resolve(t, op, id, "5.00"))
		// A fraud claim the buyer loses, decided to nothing.
		id = complete(b2, other, "15.00")
		ok("fraud claim", e.dispute(t, b2.User, id))
		ok("resolve", e.resolve(t, op, id, "0.00"))

		// Both buyers confirm receipt from both sellers at once.
		const n = 3
		var ids []string
		var who []buyer
		for i := 0; i < n; i++ {
			for _, b := range []buyer{b1, b2} {
				for _, s := range []*testenv.User{seller, other} {
					ids, who = append(ids, shipped(b, s, "5.00")), append(who, b)
				}
			}
		}
		var wg sync.WaitGroup
		codes := make([]string, len(ids))
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				codes[i] = e.confirm(t, who[i].User, ids[i]).code()
			}(i)
		}
		wg.Wait()
		for _, c := range codes {
			if c != "" {
				t.Fatalf("concurrent confirm: %v", codes)
			}
		}

		c := e.App.DB.Client
		now := e.clock.Now()
		for name, u := range map[string]*testenv.User{"seller": seller, "other": other, "b1": b1.User, "b2": b2.User} {
			stored, err := e.App.Trust.Stored(ctx, c, pulidOf(u.ID))
			if err != nil || stored == nil {
				t.Fatalf("%s: %v %v", name, stored, err)
			}
			full, err := e.App.Trust.Recount(ctx, c, pulidOf(u.ID), now)
			if err != nil {
				t.Fatal(err)
			}
			want(t, name+": counters by delta vs recount", counters(stored), counters(full))
			before, after, err := e.App.Trust.Repair(ctx, pulidOf(u.ID))
			if err != nil {
				t.Fatal(err)
			}
			want(t, name+": repair", counters(before), counters(after))
			if stored.Score != after.Score {
				t.Fatalf("%s: stored score %d, recounted %d", name, stored.Score, after.Score)
			}
		}
		// The story is what it says: trades, sales, refunds, losses.
		s, _ := e.App.Trust.Stored(ctx, c, pulidOf(seller.ID))
		want(t, "seller", fmt.Sprint(s.CompletedTrades, s.CompletedSales, s.Refunds, s.LostDisputes), fmt.Sprint(5+2*n, 5+2*n, 3, 2))
		o, _ := e.App.Trust.Stored(ctx, c, pulidOf(other.ID))
		want(t, "other", fmt.Sprint(o.CompletedTrades, o.CompletedSales, o.Refunds, o.LostDisputes), fmt.Sprint(2+2*n, 2+2*n, 0, 0))
		b, _ := e.App.Trust.Stored(ctx, c, pulidOf(b2.ID))
		want(t, "b2", fmt.Sprint(b.CompletedTrades, b.CompletedSales, b.Refunds, b.LostDisputes), fmt.Sprint(3+2*n, 0, 0, 2))
		verifyOK(t, e.Env)
	})
}

// TestConfirmReceiptCostIsFlat: confirming receipt runs as many database
// operations (ent queries and mutations) for a seller's 2nd sale as for
// their 8th, and no COUNT over payments: the score is kept by delta.
func TestConfirmReceiptCostIsFlat(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		count, counting, queries := countQueries()
		var mutations, paymentCounts atomic.Int64
		e := newEscrowEnv(t, d, count, withClient(func(c *ent.Client) {
			c.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
				return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
					if _, ok := q.(*ent.PaymentQuery); ok && counting.Load() && graphql.HasOperationContext(ctx) && entgo.QueryFromContext(ctx).Op == entgo.OpQueryCount {
						paymentCounts.Add(1)
					}
					return next.Query(ctx, q)
				})
			}))
			c.Use(func(next ent.Mutator) ent.Mutator {
				return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
					if counting.Load() && graphql.HasOperationContext(ctx) {
						mutations.Add(1)
					}
					return next.Mutate(ctx, m)
				})
			})
		}))
		seller := e.RegisterVerified(t)
		b := e.buyer(t, "500.00")
		cost := func() string {
			t.Helper()
			id := e.pay(t, b, seller, "5.00")
			if r := e.ship(t, seller, id); r.code() != "" {
				t.Fatal(r)
			}
			queries.Store(0)
			mutations.Store(0)
			paymentCounts.Store(0)
			counting.Store(true)
			r := e.confirm(t, b.User, id)
			counting.Store(false)
			if r.code() != "" {
				t.Fatal(r)
			}
			return fmt.Sprintf("%d queries, %d mutations", queries.Load(), mutations.Load())
		}
		cost() // the first creates the score rows (from a recount)
		second := cost()
		for i := 0; i < 5; i++ {
			cost()
		}
		eighth := cost()
		t.Logf("%s confirmReceipt: %s", d, eighth)
		want(t, "the 8th sale's cost", eighth, second)
		want(t, "COUNT queries over payments", paymentCounts.Load(), 0)
	})
}
