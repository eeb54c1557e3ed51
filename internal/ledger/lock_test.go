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
// used to deadlock a transaction posting twice: X posts a->b (it holds a
// and b), Y posts c->d, and X posts c->a. The ledger counter is taken only
// at the flush before the commit (dbtx.Deferred), so without Lock Y no
// longer waits, holding c, for a counter X holds: Y commits while X is
// still open, and then X commits. With Lock(a, b, c, d) before X's first
// Post, Y waits for X's c instead and both commit.
func TestTwoPostsInOneTransaction(t *testing.T) {
	for _, locked := range []bool{false, true} {
		name := "without Lock Y commits while X is open"
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
			var yErr error
			if locked {
				waitForLockWait(t, e)
			} else if yErr = <-yDone; yErr != nil {
				t.Fatalf("Y, with X open: %v", yErr)
			}

			_, xErr := e.App.Ledger.Post(ctx, x, transfer(c, a))
			if xErr == nil {
				xErr = x.Commit()
			} else {
				_ = x.Rollback() // Y waits for X: end X before waiting for Y
			}
			if locked {
				yErr = <-yDone
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
