package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"

	"entgo.io/contrib/entgql"
)

// TestHistoryPagesWithTimeBounds: a user with accounts in two currencies,
// entries interleaved between them with shared stamps; every time window
// (bounds on, between and beyond stamps, with and without a currency
// filter), read page by page forwards (after cursors) and backwards
// (before cursors), returns exactly the entries stamped in [from, to),
// newest first, each once.
func TestHistoryPagesWithTimeBounds(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := pulid.ID(e.RegisterVerified(t).ID)
		// Stamps 4 s apart, within ledger.MaxClockLead of the database's
		// clock (PostgreSQL caps a clock that runs further ahead).
		const step = 4 * time.Second
		base := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		l := ledger.New(e.App.DB.Client)
		i := 0
		ledger.SetClock(l, func() time.Time { return base.Add(time.Duration(i/2) * step) })
		for i = 0; i < 24; i++ {
			c := money.CNY
			if i%3 == 1 {
				c = money.USD
			}
			err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
				custody, err := l.PlatformAccount(ctx, tx, ledger.KindCustody, c)
				if err != nil {
					return err
				}
				acct, err := l.UserAccount(ctx, tx, u, c)
				if err != nil {
					return err
				}
				_, err = l.Post(ctx, tx, ledger.Entry{Kind: "TOPUP", Currency: c,
					Legs: []ledger.Leg{ledger.On(custody, -int64(i+1)), ledger.On(acct, int64(i+1))}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		all, err := e.App.DB.Client.Posting.Query().
			Where(posting.HasAccountWith(account.OwnerID(u), account.KindEQ(account.KindAVAILABLE))).
			WithAccount().Order(ent.Desc(posting.FieldSeq), ent.Desc(posting.FieldID)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 24 {
			t.Fatalf("%d postings", len(all))
		}
		at := func(m float64) *time.Time { v := base.Add(time.Duration(m * float64(step))); return &v }
		windows := []struct{ from, to *time.Time }{
			{nil, nil}, {at(0), at(12)}, {at(3), at(7)}, {at(2.5), at(6.5)}, {at(-1), at(3)},
			{at(5), nil}, {nil, at(5)}, {at(11), nil}, {at(12), nil}, {nil, at(0)}, {at(4), at(4)}, {at(6), at(5)},
		}
		for _, w := range windows {
			for _, cur := range []string{"", "USD", "CNY"} {
				var want []int64
				for _, p := range all {
					if (w.from != nil && p.CreatedAt.Before(*w.from)) || (w.to != nil && !p.CreatedAt.Before(*w.to)) {
						continue
					}
					if cur != "" && p.Edges.Account.Currency != cur {
						continue
					}
					want = append(want, p.Amount)
				}
				f := ledger.HistoryFilter{From: w.from, To: w.to, Currency: cur}
				name := fmt.Sprintf("from %v to %v currency %q", w.from, w.to, cur)
				for _, size := range []int{1, 4, 50} {
					var got []int64
					var after *entgql.Cursor[pulid.ID]
					for n := 0; ; n++ {
						if n > 30 {
							t.Fatalf("%s: pages never end", name)
						}
						conn, err := l.History(ctx, u, ledger.Page{First: &size, After: after}, f)
						if err != nil {
							t.Fatal(name, err)
						}
						for _, edge := range conn.Edges {
							got = append(got, edge.Node.Amount)
						}
						if !conn.PageInfo.HasNextPage {
							break
						}
						after = conn.PageInfo.EndCursor
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s, pages of %d forwards: got %v, want %v", name, size, got, want)
					}
					got = nil
					var before *entgql.Cursor[pulid.ID]
					for n := 0; ; n++ {
						if n > 30 {
							t.Fatalf("%s: pages never end backwards", name)
						}
						conn, err := l.History(ctx, u, ledger.Page{Last: &size, Before: before}, f)
						if err != nil {
							t.Fatal(name, err)
						}
						var page []int64
						for _, edge := range conn.Edges {
							page = append(page, edge.Node.Amount)
						}
						got = append(page, got...)
						if !conn.PageInfo.HasPreviousPage {
							break
						}
						before = conn.PageInfo.StartCursor
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s, pages of %d backwards: got %v, want %v", name, size, got, want)
					}
				}
			}
		}
		mustVerify(t, e)
	})
}
