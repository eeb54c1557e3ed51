package app_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"danbao/ent"
	"danbao/internal/app"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"

	entgo "entgo.io/ent"
	"github.com/99designs/gqlgen/graphql"
)

// countQueries returns an option of testenv.New that counts the ent
// queries GraphQL operations run while counting is set; background loops
// (scheduler, event hub, webhook dispatcher) have no operation context and
// are not counted.
func countQueries() (opt testenv.Option, counting *atomic.Bool, n *atomic.Int64) {
	counting, n = new(atomic.Bool), new(atomic.Int64)
	return withClient(func(c *ent.Client) {
		c.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				if counting.Load() && graphql.HasOperationContext(ctx) {
					n.Add(1)
				}
				return next.Query(ctx, q)
			})
		}))
	}), counting, n
}

// withClient is an option of testenv.New that calls f with the ent client
// before the instance starts (after any earlier withClient's).
func withClient(f func(*ent.Client)) testenv.Option {
	return testenv.WithOptions(func(o *app.Options) {
		prev := o.Client
		o.Client = func(c *ent.Client) {
			if prev != nil {
				prev(c)
			}
			f(c)
		}
	})
}

const entryContextQuery = `{ me { transactions(first: 100) { edges { node { type counterparty topUp { id bankCard { last4 } } withdrawal { id } } } } } }`

// seedHistory gives a new user 100 history entries of every kind: three
// settled top-ups and two withdrawals on a card ending 4242, then 95
// transfers from another user.
func seedHistory(t testing.TB, e *testenv.Env) *testenv.User {
	t.Helper()
	u := e.RegisterVerified(t)
	card := linkCard(t, e, u, cardOK)
	for i, amount := range []string{"10.00", "20.00", "30.00"} {
		if r := topUp(t, e, u, card, amount, "t"+string(rune('a'+i))); r.code() != "" {
			t.Fatalf("top-up: %s", r.code())
		}
	}
	e.App.Bank.Drain()
	for i := 0; i < 2; i++ {
		if r := withdraw(t, e, u, card, "1.00", "w"+string(rune('a'+i))); r.code() != "" {
			t.Fatalf("withdraw: %s", r.code())
		}
	}
	e.App.Bank.Drain()
	payer := e.Register(t)
	ctx := context.Background()
	l := e.App.Ledger
	err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
		custody, err := l.PlatformAccount(ctx, tx, ledger.KindCustody, money.CNY)
		if err != nil {
			return err
		}
		from, err := l.UserAccount(ctx, tx, pulidOf(payer.ID), money.CNY)
		if err != nil {
			return err
		}
		to, err := l.UserAccount(ctx, tx, pulidOf(u.ID), money.CNY)
		if err != nil {
			return err
		}
		if _, err := l.Post(ctx, tx, ledger.Entry{Kind: "TOPUP", Currency: money.CNY,
			Legs: []ledger.Leg{ledger.On(custody, -1000), ledger.On(from, 1000)}}); err != nil {
			return err
		}
		for i := 0; i < 95; i++ {
			if _, err := l.Post(ctx, tx, ledger.Entry{Kind: "TRANSFER", Currency: money.CNY,
				Legs: []ledger.Leg{ledger.On(from, -1), ledger.On(to, 1)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestHistoryPageCostsFewQueries reads a page of 100 entries of every kind
// (top-ups, withdrawals, transfers from another user) with their
// counterparty, top-up, card and withdrawal: the page costs a small,
// fixed number of queries, and every entry's context is right.
func TestHistoryPageCostsFewQueries(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		count, counting, queries := countQueries()
		e := testenv.New(t, d, count, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "0"), testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
		u := seedHistory(t, e)

		counting.Store(true)
		r := e.Do(t, u.AccessToken, entryContextQuery, nil)
		counting.Store(false)
		var out struct {
			Me struct {
				Transactions struct {
					Edges []struct {
						Node struct {
							Type         string
							Counterparty *string
							TopUp        *struct {
								ID       string
								BankCard struct{ Last4 string }
							}
							Withdrawal *struct{ ID string }
						}
					}
				}
			}
		}
		r.Decode(t, &out)
		edges := out.Me.Transactions.Edges
		if len(edges) != 100 {
			t.Fatalf("%d entries, want 100", len(edges))
		}
		kinds := map[string]int{}
		for _, edge := range edges {
			n := edge.Node
			kinds[n.Type]++
			switch {
			case n.TopUp != nil:
				if n.TopUp.BankCard.Last4 != "4242" || n.Counterparty == nil || !strings.HasSuffix(*n.Counterparty, "4242") {
					t.Fatalf("top-up entry %+v", n)
				}
			case n.Withdrawal != nil:
				if n.Counterparty == nil || !strings.HasSuffix(*n.Counterparty, "4242") {
					t.Fatalf("withdrawal entry %+v", n)
				}
			case n.Type == "TRANSFER":
				if n.Counterparty == nil || *n.Counterparty != "Test User" {
					t.Fatalf("transfer entry %+v", n)
				}
			}
		}
		if kinds["TRANSFER"] != 95 || len(kinds) < 2 {
			t.Fatalf("entry kinds %v", kinds)
		}
		// me, the page, then at most six queries for the page's context.
		if got := queries.Load(); got < 3 || got > 10 {
			t.Fatalf("a page of 100 entries ran %d queries, want 3 (me, the page, its context) to 10", got)
		}
	})
}

// aliases returns a query of n aliases of entryContextQuery's selection
// with the page size first.
func aliases(n int, first string) string {
	sel := strings.TrimSuffix(strings.TrimPrefix(entryContextQuery, "{"), "}")
	sel = strings.Replace(sel, "first: 100", "first: "+first, 1)
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		b.WriteString(" a" + strings.Repeat("x", i) + ": " + sel)
	}
	b.WriteString("}")
	return b.String()
}

// TestConnectionCostCountsPageSize: a connection's selection costs once per
// entry of its page. The query of issue 8 (95 aliases of a page of 100
// entries with their context) and even 8 such pages are refused before any
// resolver runs, while 8 pages of 5 and one page of 100 pass.
func TestConnectionCostCountsPageSize(t *testing.T) {
	count, counting, queries := countQueries()
	e := testenv.New(t, testenv.SQLite, count)
	u := e.Register(t)
	for _, n := range []int{95, 8} {
		counting.Store(true)
		got := e.Do(t, u.AccessToken, aliases(n, "100"), nil).Codes()
		counting.Store(false)
		if len(got) != 1 || got[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Fatalf("%d pages of 100: codes %v", n, got)
		}
	}
	if n := queries.Load(); n != 0 {
		t.Fatalf("refused operations ran %d queries", n)
	}
	for _, q := range []string{aliases(8, "5"), aliases(1, "100")} {
		if r := e.Do(t, u.AccessToken, q, nil); len(r.Errors) > 0 {
			t.Fatalf("query within the budget refused: %v", r.Codes())
		}
	}
}

// BenchmarkAliasedHistoryPages answers the query of issue 8 (95 aliases of
// a page of 100 entries with their context) on SQLite, with the complexity
// limit lifted so that it runs: the time per operation is the cost of
// 9,500 entries' context.
func BenchmarkAliasedHistoryPages(b *testing.B) {
	count, counting, queries := countQueries()
	e := testenv.New(b, testenv.SQLite, count, testenv.With("DANBAO_MAX_COMPLEXITY", "10000000"), testenv.With("DANBAO_MAX_TOKENS", "100000"),
		testenv.With("DANBAO_MUTATION_RATE", "0"))
	u := seedHistory(b, e)
	q := aliases(95, "100")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counting.Store(true)
		r := e.Do(b, u.AccessToken, q, nil)
		counting.Store(false)
		if len(r.Errors) > 0 {
			b.Fatalf("codes %v", r.Codes())
		}
	}
	b.ReportMetric(float64(queries.Load())/float64(b.N), "queries/op")
}

// TestHistoryPageInfoWithoutCount: pages that select pageInfo answer
// hasNextPage and hasPreviousPage from one extra entry, without counting
// the user's entries (a full scan of a long history); totalCount still
// counts, once.
func TestHistoryPageInfoWithoutCount(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		var counts atomic.Int64
		e := testenv.New(t, d, withClient(func(c *ent.Client) {
			c.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
				return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
					if qc := entgo.QueryFromContext(ctx); qc != nil && qc.Op == entgo.OpQueryCount && graphql.HasOperationContext(ctx) {
						counts.Add(1)
					}
					return next.Query(ctx, q)
				})
			}))
		}), testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "0"), testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
		u := seedHistory(t, e)
		type page struct {
			Me struct {
				Transactions struct {
					Edges    []struct{ Cursor string }
					PageInfo struct {
						HasNextPage, HasPreviousPage bool
						EndCursor                    *string
					}
					TotalCount int
				}
			}
		}
		get := func(sel string, vars map[string]any) page {
			var p page
			e.Do(t, u.AccessToken, `query($after: Cursor){ me { transactions(first: 60, after: $after) { `+sel+` } } }`, vars).Decode(t, &p)
			return p
		}
		const sel = `edges { cursor } pageInfo { hasNextPage hasPreviousPage endCursor }`
		p1 := get(sel, nil)
		c1 := p1.Me.Transactions
		if len(c1.Edges) != 60 || !c1.PageInfo.HasNextPage || c1.PageInfo.HasPreviousPage || c1.PageInfo.EndCursor == nil || *c1.PageInfo.EndCursor != c1.Edges[59].Cursor {
			t.Fatalf("first page %+v", c1.PageInfo)
		}
		c2 := get(sel, map[string]any{"after": *c1.PageInfo.EndCursor}).Me.Transactions
		if len(c2.Edges) != 40 || c2.PageInfo.HasNextPage || !c2.PageInfo.HasPreviousPage {
			t.Fatalf("second page: %d entries, %+v", len(c2.Edges), c2.PageInfo)
		}
		if n := counts.Load(); n != 0 {
			t.Fatalf("pages with pageInfo counted the history %d times", n)
		}
		if c := get(sel+` totalCount`, nil).Me.Transactions; c.TotalCount != 100 || !c.PageInfo.HasNextPage || counts.Load() != 1 {
			t.Fatalf("totalCount %d, hasNextPage %v, %d counts", c.TotalCount, c.PageInfo.HasNextPage, counts.Load())
		}
	})
}
