package ledger_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/ledgertransaction"
	"danbao/ent/schema/pulid"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestStampsMonotoneUnderConcurrency: instances whose clocks disagree (and
// step back) post concurrently; stamps still never go back as seq grows,
// postings carry their entry's stamp, and the chain verifies.
func TestStampsMonotoneUnderConcurrency(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		us := users(t, e, 4)
		for _, u := range us {
			fund(t, e, u, 100_000)
		}
		base := time.Now().UTC()
		var tick atomic.Int64
		var wg sync.WaitGroup
		for w := range 4 {
			l := ledger.New(e.App.DB.Client)
			skew := time.Duration(w%2) * 1500 * time.Millisecond
			ledger.SetClock(l, func() time.Time {
				// Each instance's clock jitters back and forth.
				return base.Add(skew + time.Duration(tick.Add(1)%7)*time.Millisecond)
			})
			wg.Go(func() {
				for i := range 15 {
					from, to := us[(w+i)%4], us[(w+i+1)%4]
					if _, err := l.Transfer(ctx, ledger.TransferInput{From: pulid.ID(from), To: pulid.ID(to), Amount: int64(i + 1), Currency: money.CNY}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		rows, err := e.App.DB.Client.LedgerTransaction.Query().Order(ent.Asc(ledgertransaction.FieldSeq)).WithPostings().All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if i > 0 && r.CreatedAt.Before(rows[i-1].CreatedAt) {
				t.Errorf("seq %d stamped %s, before seq %d's %s", r.Seq, r.CreatedAt, rows[i-1].Seq, rows[i-1].CreatedAt)
			}
			for _, p := range r.Edges.Postings {
				if !p.CreatedAt.Equal(r.CreatedAt) || p.Seq != r.Seq {
					t.Errorf("posting %s stamped %s seq %d, its entry %s seq %d", p.ID, p.CreatedAt, p.Seq, r.CreatedAt, r.Seq)
				}
			}
		}
		mustVerify(t, e)
	})
}
