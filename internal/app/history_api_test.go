package app_test

import (
	"context"
	"testing"

	"danbao/ent"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestHistoryPagesThroughTenThousandEntries pages me.transactions forward
// and backward over 10,000 entries: no entry is missing or repeated, and
// the order is newest first (each entry adds 0.01, so balanceAfter counts
// down from 100.00 to 0.01).
func TestHistoryPagesThroughTenThousandEntries(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		const n = 10000
		e := testenv.New(t, d)
		u := e.Register(t)
		ctx := context.Background()
		l := e.App.Ledger
		err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
			custody, err := l.PlatformAccount(ctx, tx, ledger.KindCustody, money.CNY)
			if err != nil {
				return err
			}
			acct, err := l.UserAccount(ctx, tx, pulidOf(u.ID), money.CNY)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				if _, err := l.Post(ctx, tx, ledger.Entry{Kind: "TOPUP", Currency: money.CNY,
					Legs: []ledger.Leg{ledger.On(custody, -1), ledger.On(acct, 1)}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		type page struct {
			Me struct {
				Transactions struct {
					Edges []struct {
						Cursor string
						Node   struct{ ID, BalanceAfter string }
					}
					PageInfo struct {
						HasNextPage, HasPreviousPage bool
						StartCursor, EndCursor       *string
					}
				}
			}
		}
		const fields = `edges { cursor node { id balanceAfter } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
		seen := make(map[string]bool, n)
		want := int64(n) // balanceAfter of the next entry, in fen
		check := func(id, balanceAfter string) {
			t.Helper()
			if seen[id] {
				t.Fatalf("entry %s seen twice", id)
			}
			seen[id] = true
			if got := money.FormatMinor(want, money.CNY); balanceAfter != got {
				t.Fatalf("entry %d: balanceAfter %s, want %s", n-int(want), balanceAfter, got)
			}
		}
		var after *string
		for pages := 0; ; pages++ {
			if pages > n/100+1 {
				t.Fatal("forward paging does not end")
			}
			var p page
			e.Do(t, u.AccessToken, `query($a: Cursor){ me { transactions(first: 100, after: $a) { `+fields+` } } }`,
				map[string]any{"a": after}).Decode(t, &p)
			for _, edge := range p.Me.Transactions.Edges {
				check(edge.Node.ID, edge.Node.BalanceAfter)
				want--
			}
			if !p.Me.Transactions.PageInfo.HasNextPage {
				break
			}
			after = p.Me.Transactions.PageInfo.EndCursor
		}
		if len(seen) != n || want != 0 {
			t.Fatalf("forward: %d entries, %d left", len(seen), want)
		}

		// Backward from the end: last/before, oldest first within the walk.
		clear(seen)
		want = 1
		var before *string
		for pages := 0; ; pages++ {
			if pages > n/100+1 {
				t.Fatal("backward paging does not end")
			}
			var p page
			e.Do(t, u.AccessToken, `query($b: Cursor){ me { transactions(last: 100, before: $b) { `+fields+` } } }`,
				map[string]any{"b": before}).Decode(t, &p)
			edges := p.Me.Transactions.Edges
			for i := len(edges) - 1; i >= 0; i-- { // a page is newest first
				check(edges[i].Node.ID, edges[i].Node.BalanceAfter)
				want++
			}
			if !p.Me.Transactions.PageInfo.HasPreviousPage {
				break
			}
			before = p.Me.Transactions.PageInfo.StartCursor
		}
		if len(seen) != n || want != n+1 {
			t.Fatalf("backward: %d entries, ended at %d", len(seen), want)
		}

		// Page sizes are bounded, and filters apply.
		for _, q := range []string{`{ me { transactions(first: 101) { edges { cursor } } } }`, `{ me { transactions(first: -1) { edges { cursor } } } }`, `{ me { transactions(first: 1, last: 1) { edges { cursor } } } }`} {
			if got := e.Do(t, u.AccessToken, q, nil).Codes(); len(got) != 1 || got[0] != "INVALID_INPUT" {
				t.Errorf("%s: %v", q, got)
			}
		}
		var p page
		e.Do(t, u.AccessToken, `{ me { transactions(first: 5, filter: {types: [WITHDRAWAL]}) { `+fields+` } } }`, nil).Decode(t, &p)
		if len(p.Me.Transactions.Edges) != 0 {
			t.Errorf("type filter: %d entries", len(p.Me.Transactions.Edges))
		}
		e.Do(t, u.AccessToken, `{ me { transactions(first: 5, filter: {types: [TOPUP], currency: "CNY"}) { `+fields+` } } }`, nil).Decode(t, &p)
		if len(p.Me.Transactions.Edges) != 5 {
			t.Errorf("currency filter: %d entries", len(p.Me.Transactions.Edges))
		}
	})
}
