package app_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"danbao/internal/app"
	"danbao/internal/testenv"
	"danbao/internal/trust"
)

type trustView struct {
	Score, AccountAgeDays, CompletedTrades, CompletedSales, Refunds, LostDisputes, RestrictFloor, DailyLimitFactorBps int
	Level                                                                                                             string
	LastLostDisputeAt                                                                                                 *time.Time
	TrustedMerchant                                                                                                   bool
	User                                                                                                              struct{ ID string }
}

const trustFields = `score level accountAgeDays completedTrades completedSales refunds lostDisputes lastLostDisputeAt
	computedAt trustedMerchant restrictFloor dailyLimitFactorBps user { id }`

func operatorTrust(t *testing.T, e *testenv.Env, op *testenv.User, userID string) (*trustView, []string) {
	t.Helper()
	resp := e.Do(t, op.AccessToken, `query($id: ID!){ trustScore(userId:$id) { `+trustFields+` } }`, map[string]any{"id": userID})
	if len(resp.Errors) > 0 {
		return nil, resp.Codes()
	}
	var out struct{ TrustScore trustView }
	resp.Decode(t, &out)
	return &out.TrustScore, nil
}

// badgeSeenBy is the seller's trustedMerchant as the buyer of paymentID sees it.
func badgeSeenBy(t *testing.T, e *escrowEnv, b *testenv.User, paymentID string) bool {
	t.Helper()
	var out struct {
		Payment struct {
			Payee struct {
				TrustedMerchant bool
				TrustScore      *trustView
			}
		}
	}
	e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id) { payee { trustedMerchant trustScore { score } } } }`, map[string]any{"id": paymentID}).Decode(t, &out)
	if out.Payment.Payee.TrustScore != nil {
		t.Fatal("a buyer reads the seller's trust score")
	}
	return out.Payment.Payee.TrustedMerchant
}

func restrictLowTrust(t *testing.T, e *testenv.Env, op *testenv.User, userID string) (restricted *bool, score *int, errs []userError, top []string) {
	t.Helper()
	resp := e.Do(t, op.AccessToken, `mutation($in: RestrictLowTrustInput!){ r: restrictLowTrust(input:$in) {
		accountControl { collectionRestricted } trustScore { score } userErrors { code field extensions } } }`,
		map[string]any{"in": map[string]any{"userId": userID, "reason": "low trust"}})
	if len(resp.Errors) > 0 {
		return nil, nil, nil, resp.Codes()
	}
	var out struct {
		R struct {
			AccountControl *struct{ CollectionRestricted bool }
			TrustScore     *struct{ Score int }
			UserErrors     []userError
		}
	}
	resp.Decode(t, &out)
	if out.R.AccountControl != nil {
		restricted = &out.R.AccountControl.CollectionRestricted
	}
	if out.R.TrustScore != nil {
		score = &out.R.TrustScore.Score
	}
	return restricted, score, out.R.UserErrors, nil
}

// TestTrustScoreAndBadge: the score follows the seller's completed sales,
// refunds and lost disputes; the trusted-merchant badge appears with
// enough sales and a high enough score, disappears with a lost dispute and
// returns 90 days later; the daily limit follows the score within the
// maximum; operators see the inputs and may restrict only below the floor.
func TestTrustScoreAndBadge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		// Thresholds low enough for a level I seller with a few sales.
		cfg := trust.Config{BadgeScore: 150, BadgeMinSales: 3, BadgeQuiet: 90 * 24 * time.Hour, RestrictFloor: 300}
		e := newEscrowEnv(t, d, testenv.WithOptions(func(o *app.Options) { o.Trust = &cfg }))
		b := e.buyer(t, "900.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)

		// No score stored yet: computed on demand, not a trusted merchant.
		ts, codes := operatorTrust(t, e.Env, op, seller.ID)
		if ts == nil || ts.Score != 400 || ts.Level != "I" || ts.CompletedSales != 0 || ts.TrustedMerchant || ts.User.ID != seller.ID {
			t.Fatalf("fresh score: %+v %v", ts, codes)
		}
		if _, codes := operatorTrust(t, e.Env, b.User, seller.ID); fmt.Sprint(codes) != "[FORBIDDEN]" {
			t.Fatalf("a user read another's score: %v", codes)
		}
		if _, codes := operatorTrust(t, e.Env, op, "usr_nobody"); fmt.Sprint(codes) != "[NOT_FOUND]" {
			t.Fatalf("unknown user: %v", codes)
		}

		completeSale := func(amount string) string {
			id := e.pay(t, b, seller, amount)
			if r := e.ship(t, seller, id); r.code() != "" {
				t.Fatalf("ship: %+v", r)
			}
			if r := e.confirm(t, b.User, id); r.code() != "" {
				t.Fatalf("confirm: %+v", r)
			}
			return id
		}
		var last string
		for i := 0; i < 3; i++ {
			if i == 2 {
				want(t, "badge with two sales", badgeSeenBy(t, e, b.User, last), false)
			}
			last = completeSale("50.00")
		}
		want(t, "badge with three sales", badgeSeenBy(t, e, b.User, last), true)
		ts, _ = operatorTrust(t, e.Env, op, seller.ID)
		want(t, "inputs after three sales", fmt.Sprint(ts.Score, ts.CompletedTrades, ts.CompletedSales, ts.Refunds, ts.LostDisputes, ts.TrustedMerchant, ts.DailyLimitFactorBps, ts.RestrictFloor),
			fmt.Sprint(406, 3, 3, 0, 0, true, 10000, 300))

		// Above the floor: refused, nothing restricted.
		restricted, score, errs, top := restrictLowTrust(t, e.Env, op, seller.ID)
		if len(top) > 0 || restricted != nil || score == nil || *score != 406 || len(errs) != 1 || errs[0].Code != "TRUST_SCORE_ABOVE_FLOOR" ||
			errs[0].Extensions["floor"] != float64(300) || errs[0].Extensions["score"] != float64(406) {
			t.Fatalf("restrict above the floor: %v %v %+v %v", restricted, score, errs, top)
		}
		if _, _, _, top := restrictLowTrust(t, e.Env, b.User, seller.ID); fmt.Sprint(top) != "[FORBIDDEN]" {
			t.Fatalf("a user restricted another: %v", top)
		}

		// A dispute the seller loses (the operator refunds part).
		id := e.pay(t, b, seller, "80.00")
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r)
		}
		if r := e.dispute(t, b.User, id); r.code() != "" {
			t.Fatal(r)
		}
		want(t, "badge while the dispute is open", badgeSeenBy(t, e, b.User, id), true)
		if r := e.resolve(t, op, id, "20.00"); r.code() != "" {
			t.Fatal(r)
		}
		want(t, "badge after a lost dispute", badgeSeenBy(t, e, b.User, id), false)
		// A dispute the buyer loses (nothing refunded): the seller keeps its count.
		id = e.pay(t, b, seller, "30.00")
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r)
		}
		if r := e.dispute(t, b.User, id); r.code() != "" {
			t.Fatal(r)
		}
		if r := e.resolve(t, op, id, "0.00"); r.code() != "" {
			t.Fatal(r)
		}
		ts, _ = operatorTrust(t, e.Env, op, seller.ID)
		// 400 + 2×5 trades − 25 (one refund) − 200 (one lost dispute).
		want(t, "seller after the disputes", fmt.Sprint(ts.Score, ts.CompletedSales, ts.Refunds, ts.LostDisputes, ts.LastLostDisputeAt != nil, ts.TrustedMerchant),
			fmt.Sprint(185, 5, 1, 1, true, false))
		bt, _ := operatorTrust(t, e.Env, op, b.ID)
		want(t, "buyer after the disputes", fmt.Sprint(bt.Score, bt.CompletedTrades, bt.CompletedSales, bt.LostDisputes), fmt.Sprint(210, 5, 0, 1))

		// The seller's daily limit is lowered (7125 bps), never above the maximum.
		var lim struct {
			Me struct {
				TrustScore struct{ Score, DailyLimitFactorBps int }
				Limits     struct {
					Daily []struct{ Limit, Maximum, Remaining string }
				}
			}
		}
		e.Do(t, seller.AccessToken, `{ me { trustScore { score dailyLimitFactorBps } limits { daily { limit maximum remaining } } } }`, nil).Decode(t, &lim)
		want(t, "own score", fmt.Sprint(lim.Me.TrustScore.Score, lim.Me.TrustScore.DailyLimitFactorBps), "185 7125")
		want(t, "daily limit", fmt.Sprint(lim.Me.Limits.Daily[0].Limit, " ", lim.Me.Limits.Daily[0].Maximum), "14250.00 35625.00")

		// 90 days later the badge is back (the score is still above 150).
		e.clock.Advance(90 * 24 * time.Hour)
		want(t, "badge 90 days after the loss", badgeSeenBy(t, e, b.User, id), true)

		// Below the floor: the operator may restrict; the score is recomputed
		// (the account is now 90 days old: +12).
		restricted, score, errs, top = restrictLowTrust(t, e.Env, op, seller.ID)
		if len(top) > 0 || len(errs) > 0 || restricted == nil || !*restricted || score == nil || *score != 197 {
			t.Fatalf("restrict below the floor: %v %v %+v %v", restricted, score, errs, top)
		}
		if r := e.create(t, b, seller, "10.00", "after-restriction"); r.code() != "ACCOUNT_FROZEN" {
			t.Fatalf("paying a restricted seller: %+v", r)
		}
		verifyOK(t, e.Env)
	})
}

// TestTrustScoreUnderConcurrentReleases: buyers confirm receipt of their
// payments to one seller at the same moment; every release recomputes the
// seller's score in its own transaction, and none is lost.
func TestTrustScoreUnderConcurrentReleases(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
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
		codes := make(chan string, n)
		var wg sync.WaitGroup
		for i := range buyers {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				codes <- e.confirm(t, buyers[i].User, ids[i]).code()
			}(i)
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != "" {
				t.Fatalf("confirm: %s", c)
			}
		}
		ts, _ := operatorTrust(t, e.Env, op, seller.ID)
		want(t, "seller's sales", fmt.Sprint(ts.CompletedSales, ts.CompletedTrades, ts.Score), fmt.Sprint(n, n, 400+2*n))
		for _, b := range buyers {
			bt, _ := operatorTrust(t, e.Env, op, b.ID)
			want(t, "buyer's trades", bt.CompletedTrades, 1)
		}
		// The scheduler's auto-confirmation recomputes it too (the account
		// is then 11 days old: +1).
		id := e.pay(t, e.buyer(t, "100.00"), seller, "10.00")
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r)
		}
		e.clock.Advance(11 * 24 * time.Hour)
		if n := e.runDue(t); n != 1 {
			t.Fatalf("runDue applied %d", n)
		}
		ts, _ = operatorTrust(t, e.Env, op, seller.ID)
		want(t, "after auto-confirmation", fmt.Sprint(ts.CompletedSales, ts.AccountAgeDays, ts.Score), fmt.Sprint(n+1, 11, 400+2*(n+1)+1))
		verifyOK(t, e.Env)
	})
}
