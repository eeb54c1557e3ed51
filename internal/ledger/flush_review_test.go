package ledger_test

import (
	"context"
	"sync"
	"testing"

	"danbao/ent"
	"danbao/ent/event"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestReviewJournalAndEventsFlush: transactions with a journal entry and 0,
// 1, BulkRows or BulkRows+1 events (joined into the journal's statement on
// PostgreSQL up to BulkRows, apart beyond), with events and no entry, and
// a refused platform debit with events, some of them at once: every
// committed event is stored once with the seq its row was given, the seqs
// are 1..n without a gap, a rolled-back transaction leaves no event, and
// the ledger verifies.
func TestReviewJournalAndEventsFlush(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c, l := e.App.DB.Client, e.App.Ledger
		us := users(t, e, 4)
		for _, u := range us {
			fund(t, e, u, 1_000_000)
		}
		head0, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		// post moves amount from user from to the escrow account (a
		// platform leg, deferred to the flush) with n events.
		post := func(from pulid.ID, amount int64, n int, journal bool) ([]*ent.Event, error) {
			var rows []*ent.Event
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				rows = nil
				if journal {
					acct, err := l.UserAccount(ctx, tx, from, money.CNY)
					if err != nil {
						return err
					}
					escrow, err := l.PlatformAccount(ctx, tx, ledger.KindEscrow, money.CNY)
					if err != nil {
						return err
					}
					if _, err := l.Post(ctx, tx, ledger.Entry{Kind: "TEST_HOLD", Currency: money.CNY,
						Legs: []ledger.Leg{ledger.On(acct, -amount), ledger.On(escrow, amount)}}); err != nil {
						return err
					}
				}
				for i := range n {
					r, err := events.Append(ctx, tx, events.Event{Type: "review.test", SubjectID: from, UserID: from,
						Payload: map[string]any{"i": i}})
					if err != nil {
						return err
					}
					rows = append(rows, r)
				}
				return nil
			})
			return rows, err
		}
		var mu sync.Mutex
		var committed []*ent.Event
		var wg sync.WaitGroup
		cases := []struct {
			n       int
			journal bool
		}{{0, true}, {1, true}, {dbtx.BulkRows, true}, {dbtx.BulkRows + 1, true}, {3, false}, {2*dbtx.BulkRows + 1, false}}
		for round := range 2 {
			for i, tc := range cases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rows, err := post(us[(i+round)%len(us)], 100, tc.n, tc.journal)
					if err != nil {
						t.Errorf("case %d (%d events, journal %v): %v", i, tc.n, tc.journal, err)
						return
					}
					mu.Lock()
					committed = append(committed, rows...)
					mu.Unlock()
				}()
			}
			wg.Wait()
		}
		// A platform debit the escrow account does not cover, with events:
		// refused at the flush, nothing of it stays.
		var escrowBalance int64
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			a, err := l.PlatformAccount(ctx, tx, ledger.KindEscrow, money.CNY)
			if err != nil {
				return err
			}
			a, err = tx.Account.Get(ctx, a.ID)
			escrowBalance = a.Balance
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := post(us[0], -(escrowBalance + 1), 7, true); err == nil {
			t.Fatal("a platform debit the account does not cover was committed")
		}
		stored, err := c.Event.Query().Where(event.SeqGT(head0)).Order(ent.Asc(event.FieldSeq)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != len(committed) {
			t.Fatalf("%d events stored, %d committed", len(stored), len(committed))
		}
		seqOf := map[pulid.ID]int64{}
		for i, ev := range stored {
			if want := head0 + int64(i) + 1; ev.Seq != want {
				t.Fatalf("event %d has seq %d, want %d (a gap or a duplicate)", i, ev.Seq, want)
			}
			seqOf[ev.ID] = ev.Seq
		}
		for _, r := range committed {
			if got, ok := seqOf[r.ID]; !ok || got != r.Seq {
				t.Fatalf("event %s: returned seq %d, stored %d (%v)", r.ID, r.Seq, got, ok)
			}
		}
		head, err := events.Head(ctx, c)
		if err != nil || head != head0+int64(len(committed)) {
			t.Fatalf("head %d (%v), want %d", head, err, head0+int64(len(committed)))
		}
		r := mustVerify(t, e)
		t.Logf("%d events, %d journal transactions", len(stored), r.Transactions)
	})
}
