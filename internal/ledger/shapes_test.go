package ledger_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestWithdrawalShapesDoNotDeadlock runs, on PostgreSQL and without
// dbtx's retries, many concurrent transactions of the shapes the wallet
// posts (a withdrawal: user -> withdrawal clearing; a payout: clearing ->
// custody; a returned payout: clearing -> user; a top-up: custody ->
// user), each finding or creating its accounts as the wallet does (the
// clearing account does not exist at the start) and appending an event
// after its Post. One Post per transaction takes its account locks in
// account-ID order, then the ledger counter, then the events counter, and
// finding or creating an account locks nothing, so PostgreSQL must report
// no deadlock (40P01) at all. (When ensure created accounts with ent's
// Ignore, PostgreSQL's "ON CONFLICT DO UPDATE SET key = key", a
// transaction that lost the creation race locked the account before its
// Post, out of order: 4 to 20 deadlocks a run.) Other errors (a
// clearing account that would go negative) are expected and not counted.
func TestWithdrawalShapesDoNotDeadlock(t *testing.T) {
	e := testenv.New(t, testenv.Postgres)
	ctx := context.Background()
	u := users(t, e, 4)
	for _, id := range u {
		fund(t, e, id, 100000)
	}
	l := e.App.Ledger
	account := func(tx *ent.Tx, who string, user pulid.ID) (*ent.Account, error) {
		switch who {
		case "user":
			return l.UserAccount(ctx, tx, user, money.CNY)
		case "clearing":
			return l.PlatformAccount(ctx, tx, ledger.KindWithdrawalClearing, money.CNY)
		}
		return l.PlatformAccount(ctx, tx, ledger.KindCustody, money.CNY)
	}
	shapes := [][2]string{{"user", "clearing"}, {"clearing", "custody"}, {"clearing", "user"}, {"custody", "user"}}
	const n = 400
	var deadlocks, committed atomic.Int64
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			shape, user := shapes[i%len(shapes)], u[(i/len(shapes))%len(u)]
			tx, err := e.App.DB.Client.Tx(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			err = func() error {
				from, err := account(tx, shape[0], user)
				if err != nil {
					return err
				}
				to, err := account(tx, shape[1], user)
				if err != nil {
					return err
				}
				if _, err := l.Post(ctx, tx, ledger.Entry{Kind: "TEST", Currency: money.CNY,
					Legs: []ledger.Leg{ledger.On(from, -1), ledger.On(to, 1)}}); err != nil {
					return err
				}
				_, err = events.Append(ctx, tx, events.Event{Type: "balance.changed", SubjectID: user, UserID: user})
				return err
			}()
			if err != nil {
				_ = tx.Rollback()
				if isDeadlock(err) {
					deadlocks.Add(1)
					t.Logf("%v: %v %s", shape, err, detail(err))
				}
				return
			}
			if err := tx.Commit(); err != nil {
				if isDeadlock(err) {
					deadlocks.Add(1)
				}
				return
			}
			committed.Add(1)
		}()
	}
	wg.Wait()
	t.Logf("%d of %d transactions committed, %d deadlocks", committed.Load(), n, deadlocks.Load())
	if deadlocks.Load() != 0 {
		t.Fatalf("PostgreSQL reported %d deadlocks", deadlocks.Load())
	}
	if committed.Load() == 0 {
		t.Fatal("nothing committed")
	}
	mustVerify(t, e)
}

func detail(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Detail + " " + pgErr.Where
	}
	return ""
}
