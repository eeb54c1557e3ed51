package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestTwoPostsInOneTransaction runs, on PostgreSQL, the schedule that
// deadlocks a transaction posting twice: X posts a->b (it now holds a, b
// and the ledger counter), Y starts a Post c->d (it locks c and d, then
// waits for the counter), and X posts c->a. Without Lock, X waits for Y's
// c while Y waits for X's counter, and PostgreSQL reports 40P01: the
// control run asserts this, so the schedule is known to reach the cycle.
// With Lock(a, b, c, d) before X's first Post, Y waits for c instead and
// both commit.
func TestTwoPostsInOneTransaction(t *testing.T) {
	for _, locked := range []bool{false, true} {
		name := "without Lock deadlocks"
		if locked {
			name = "with Lock commits"
		}
		t.Run(name, func(t *testing.T) {
			e := testenv.New(t, testenv.Postgres)
			ctx := context.Background()
			u := users(t, e, 4)
			for _, id := range u {
				fund(t, e, id, 100)
			}
			acct := make([]*ent.Account, 4)
			for i, id := range u {
				accts, err := e.App.Ledger.UserAccounts(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				acct[i] = accts[0]
			}
			a, b, c, d := acct[0], acct[1], acct[2], acct[3]
			transfer := func(from, to *ent.Account) ledger.Entry {
				return ledger.Entry{Kind: "TRANSFER", Currency: money.CNY,
					Legs: []ledger.Leg{ledger.On(from, -1), ledger.On(to, 1)}}
			}

			x, err := e.App.DB.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Rollback() //nolint:errcheck // after Commit it is a no-op
			if locked {
				if err := e.App.Ledger.Lock(ctx, x, a.ID, b.ID, c.ID, d.ID); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.App.Ledger.Post(ctx, x, transfer(a, b)); err != nil {
				t.Fatal(err)
			}

			yDone := make(chan error, 1)
			go func() {
				y, err := e.App.DB.Client.Tx(ctx)
				if err != nil {
					yDone <- err
					return
				}
				if _, err := e.App.Ledger.Post(ctx, y, transfer(c, d)); err != nil {
					_ = y.Rollback()
					yDone <- err
					return
				}
				yDone <- y.Commit()
			}()
			waitForLockWait(t, e)

			_, xErr := e.App.Ledger.Post(ctx, x, transfer(c, a))
			if xErr == nil {
				xErr = x.Commit()
			} else {
				_ = x.Rollback() // Y waits for X: end X before waiting for Y
			}
			yErr := <-yDone
			if !locked {
				if !isDeadlock(xErr) && !isDeadlock(yErr) {
					t.Fatalf("control run: no deadlock (X: %v, Y: %v)", xErr, yErr)
				}
				return
			}
			if xErr != nil || yErr != nil {
				t.Fatalf("X: %v, Y: %v", xErr, yErr)
			}
			want := map[pulid.ID]int64{u[0]: 100, u[1]: 101, u[2]: 98, u[3]: 101}
			for id, w := range want {
				if got := balance(t, e, id); got != w {
					t.Errorf("balance of %s = %d, want %d", id, got, w)
				}
			}
			mustVerify(t, e)
		})
	}
}

// waitForLockWait returns once a backend of this database is waiting for
// a row or transaction lock (Y, blocked by X).
func waitForLockWait(t *testing.T, e *testenv.Env) {
	t.Helper()
	for range 500 {
		var n int
		err := e.App.DB.SQL.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Y never waited for a lock")
}

func isDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}
