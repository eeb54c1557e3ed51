package ledger_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"danbao/internal/app"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"

	"danbao/ent/schema/pulid"
)

// TestHistoryToBoundRace: a "to" bound later than every entry's stamp
// finds no first entry at or after it; an entry stamped after "to" that
// commits between that probe and the page's read must still be left out
// (the filter is [from, to), whatever commits meanwhile).
func TestHistoryToBoundRace(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		var armed atomic.Bool
		var inject func()
		e := testenv.New(t, d, testenv.WithOptions(func(o *app.Options) {
			o.Trace = func(ctx context.Context, stmt string) {
				// The page's read (newest first), after the bound's probe.
				if strings.Contains(stmt, "postings") && strings.Contains(stmt, "DESC") && armed.CompareAndSwap(true, false) {
					inject()
				}
			}
		}))
		ctx := context.Background()
		a, b := e.RegisterVerified(t), e.RegisterVerified(t)
		from, to := pulid.ID(a.ID), pulid.ID(b.ID)
		fund(t, e, from, 10_000)
		// Within ledger.MaxClockLead of the database's clock, which caps a
		// clock further ahead on PostgreSQL.
		bound := time.Now().UTC().Add(20 * time.Second).Truncate(time.Microsecond)
		later := ledger.New(e.App.DB.Client)
		ledger.SetClock(later, func() time.Time { return bound.Add(20 * time.Second) })
		inject = func() {
			if _, err := later.Transfer(ctx, ledger.TransferInput{From: from, To: to, Amount: 7, Currency: money.CNY}); err != nil {
				t.Error(err)
			}
		}
		armed.Store(true)
		first := 50
		conn, err := e.App.Ledger.History(ctx, from, ledger.Page{First: &first}, ledger.HistoryFilter{To: &bound})
		if err != nil {
			t.Fatal(err)
		}
		if armed.Load() {
			t.Fatal("the page's read was not traced")
		}
		for _, edge := range conn.Edges {
			if !edge.Node.CreatedAt.Before(bound) {
				t.Errorf("entry %s stamped %s returned for to %s", edge.Node.ID, edge.Node.CreatedAt, bound)
			}
		}
		if len(conn.Edges) != 1 {
			t.Errorf("%d entries, want the top-up only", len(conn.Edges))
		}
		mustVerify(t, e)
	})
}
