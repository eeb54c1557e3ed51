package dbtx_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"danbao/ent"
	"danbao/internal/db"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"

	"github.com/jackc/pgx/v5/pgconn"
)

// bump is a statement for the commit: it adds to a counter row and
// returns its new value (no row when the counter does not exist).
const bump = `UPDATE counters SET value = value + $1 WHERE id = $2 RETURNING value`

// value is the committed value of counter id (-1 when there is none).
func value(t *testing.T, d *db.DB, id string) int64 {
	t.Helper()
	var v int64
	err := d.SQL.QueryRowContext(context.Background(), `SELECT value FROM counters WHERE id = $1`, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lockedElsewhere reports whether another transaction holds the row lock
// of counter id (a NOWAIT lock from a connection of its own fails).
func lockedElsewhere(t *testing.T, d *db.DB, id string) bool {
	t.Helper()
	ctx := context.Background()
	tx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `SELECT 1 FROM counters WHERE id = $1 FOR UPDATE NOWAIT`, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func seed(t *testing.T, c *ent.Client, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := c.Counter.Create().SetID(id).SetValue(1).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPipelinedCommit (PostgreSQL): a statement staged for the commit is
// not sent before it (its row is not locked yet), then runs and commits
// in one round trip with its result handed to then; a statement that
// follows it sends it first, in order; a failed one rolls the whole
// transaction back with its error; a rollback drops it unsent.
func TestPipelinedCommit(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, dl testenv.Dialect) {
		d := open(t, dl)
		c := d.Client
		ctx := context.Background()
		seed(t, c, "p-a", "p-b", "p-c", "p-d")

		t.Run("staged until the commit", func(t *testing.T) {
			var got int64
			var seen error = errors.New("then not called")
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID("p-a-row").SetValue(7).Exec(ctx); err != nil {
					return err
				}
				if err := dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { seen = err; return err }, bump, 10, "p-a"); err != nil {
					return err
				}
				if dl == testenv.Postgres && lockedElsewhere(t, d, "p-a") {
					t.Error("the staged statement was sent before the commit")
				}
				return nil
			})
			if err != nil || seen != nil {
				t.Fatalf("WithTx: %v, then saw %v", err, seen)
			}
			if got != 11 || value(t, d, "p-a") != 11 || value(t, d, "p-a-row") != 7 {
				t.Fatalf("got %d, committed %d and %d; want 11, 11 and 7", got, value(t, d, "p-a"), value(t, d, "p-a-row"))
			}
		})

		t.Run("sent first when a statement follows", func(t *testing.T) {
			var got int64
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { return err }, bump, 1, "p-b"); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value * 10 WHERE id = $1`, "p-b")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != 2 || value(t, d, "p-b") != 20 {
				t.Fatalf("got %d and committed %d, want 2 then (1+1)*10 = 20", got, value(t, d, "p-b"))
			}
		})

		t.Run("a failed statement rolls back", func(t *testing.T) {
			refused := errors.New("refused")
			var got int64
			// An error the statement raises (a division by its row count,
			// as the outbox's statement does when the counter is missing).
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID("p-c-row").SetValue(1).Exec(ctx); err != nil {
					return err
				}
				return dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error {
					if err != nil {
						return fmt.Errorf("%w: %w", refused, err)
					}
					return nil
				}, `WITH u AS (`+bump+`) SELECT COALESCE((SELECT value FROM u), 0) / (SELECT count(*) FROM u)`, 1, "p-missing")
			})
			var pgErr *pgconn.PgError
			if !errors.Is(err, refused) || (dl == testenv.Postgres && (!errors.As(err, &pgErr) || pgErr.Code != "22012")) {
				t.Fatalf("WithTx returned %v, want then's error wrapping division_by_zero", err)
			}
			// A constraint violation in the staged statement itself.
			err = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID("p-c-row2").SetValue(1).Exec(ctx); err != nil {
					return err
				}
				return dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { return err },
					`INSERT INTO counters (id, value) VALUES ($1, $2) RETURNING value`, "p-c", 1)
			})
			if !dbtx.IsUniqueViolation(err) {
				t.Fatalf("WithTx returned %v, want a unique violation", err)
			}
			if value(t, d, "p-c-row") != -1 || value(t, d, "p-c-row2") != -1 || value(t, d, "p-c") != 1 {
				t.Fatal("a transaction whose staged statement failed left rows")
			}
		})

		t.Run("no row", func(t *testing.T) {
			var got int64
			called := false
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				return dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { called = true; return err }, bump, 1, "p-missing")
			})
			switch dl {
			case testenv.Postgres: // committed: the caller hears it, then does not
				if !errors.Is(err, dbtx.ErrCommittedUnread) || called {
					t.Fatalf("WithTx returned %v (then called: %v), want ErrCommittedUnread", err, called)
				}
			default: // at once, like QueryRow
				if !errors.Is(err, sql.ErrNoRows) || !called {
					t.Fatalf("WithTx returned %v (then called: %v), want sql.ErrNoRows through then", err, called)
				}
			}
		})

		t.Run("a rollback drops it", func(t *testing.T) {
			var got int64
			called := false
			boom := errors.New("boom")
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { called = true; return err }, bump, 5, "p-d"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("WithTx returned %v", err)
			}
			if dl == testenv.Postgres && called {
				t.Error("then was called for a statement rolled back unsent")
			}
			if value(t, d, "p-d") != 1 {
				t.Fatal("a rolled-back staged statement changed the row")
			}
		})

		t.Run("a cancelled transaction does not commit it", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			var got int64
			err := dbtx.WithTx(cctx, c, func(tx *ent.Tx) error {
				if err := dbtx.QueryRowAtCommit(cctx, tx, []any{&got}, func(err error) error { return err }, bump, 5, "p-d"); err != nil {
					return err
				}
				cancel()
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("WithTx returned %v, want context.Canceled", err)
			}
			if value(t, d, "p-d") != 1 {
				t.Fatal("a cancelled transaction committed its staged statement")
			}
		})

		// Every connection went back to the pool outside any transaction:
		// as many transactions as the pool holds each see only their own
		// writes and commit.
		for i := 0; i < 40; i++ {
			if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				var got int64
				return dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { return err }, bump, 1, "p-a")
			}); err != nil {
				t.Fatal(err)
			}
		}
		if v := value(t, d, "p-a"); v != 51 {
			t.Fatalf("after 40 more: %d, want 51", v)
		}
	})
}

// TestPipelinedCommitFailure (PostgreSQL): when the staged statement
// succeeds but the COMMIT fails (a deferred constraint checked at the
// commit), WithTx returns the commit's error and nothing stays.
func TestPipelinedCommitFailure(t *testing.T) {
	d := open(t, testenv.Postgres)
	c := d.Client
	ctx := context.Background()
	if _, err := d.SQL.ExecContext(ctx, `CREATE TABLE pipe_deferred (id int PRIMARY KEY,
		CONSTRAINT pipe_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatal(err)
	}
	// The unique constraint is checked at the commit: two equal rows pass
	// the statements and fail the COMMIT.
	if _, err := d.SQL.ExecContext(ctx, `ALTER TABLE pipe_deferred DROP CONSTRAINT pipe_deferred_pkey`); err != nil {
		t.Fatal(err)
	}
	var n int64
	err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipe_deferred VALUES (1)`); err != nil {
			return err
		}
		return dbtx.QueryRowAtCommit(ctx, tx, []any{&n}, func(err error) error { return err },
			`WITH i AS (INSERT INTO pipe_deferred VALUES (1) RETURNING id) SELECT count(*) FROM i`)
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("WithTx returned %v, want the commit's unique violation", err)
	}
	var rows int
	if err := d.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pipe_deferred`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d rows (%v), want none", rows, err)
	}
}

// TestPipelinedBegin: a transaction's BEGIN waits for its first
// statement. A one-row statement (QueryRow) that comes first is sent with
// it, and the statements after it are in the same transaction; one that
// fails rolls back everything; a transaction that sends nothing commits
// and rolls back without a round trip, and leaves its connection usable.
func TestPipelinedBegin(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, dl testenv.Dialect) {
		d := open(t, dl)
		c := d.Client
		ctx := context.Background()
		seed(t, c, "b-a")
		var got int64
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := dbtx.QueryRow(ctx, tx, []any{&got}, bump, 1, "b-a"); err != nil {
				return err
			}
			// Still inside the transaction: its lock is held.
			if dl == testenv.Postgres && !lockedElsewhere(t, d, "b-a") {
				t.Error("the first statement ran outside the transaction")
			}
			return tx.Counter.Create().SetID("b-a-row").SetValue(got).Exec(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		if value(t, d, "b-a") != 2 || value(t, d, "b-a-row") != 2 {
			t.Fatalf("committed %d and %d, want 2 and 2", value(t, d, "b-a"), value(t, d, "b-a-row"))
		}
		boom := errors.New("boom")
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := dbtx.QueryRow(ctx, tx, []any{&got}, bump, 1, "b-a"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || value(t, d, "b-a") != 2 {
			t.Fatalf("WithTx returned %v and left %d, want boom and 2", err, value(t, d, "b-a"))
		}
		err = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			return dbtx.QueryRow(ctx, tx, []any{&got}, `INSERT INTO counters (id, value) VALUES ($1, 1) RETURNING value`, "b-a")
		})
		if !dbtx.IsUniqueViolation(err) {
			t.Fatalf("WithTx returned %v, want a unique violation", err)
		}
		if err := dbtx.QueryRow(ctx, c, []any{&got}, `SELECT 1`); err != nil || got != 1 {
			t.Fatalf("outside a transaction: %d, %v", got, err)
		}
		for i := 0; i < 40; i++ {
			if err := dbtx.WithTx(ctx, c, func(*ent.Tx) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if err := dbtx.WithTx(ctx, c, func(*ent.Tx) error { return boom }); !errors.Is(err, boom) {
				t.Fatal(err)
			}
			bumpIn(t, c, "b-a")
		}
		if v := value(t, d, "b-a"); v != 42 {
			t.Fatalf("after 40 more: %d, want 42", v)
		}
	})
}

// bumpIn adds one to counter id in a transaction of its own whose only
// statement is a QueryRow (sent with its BEGIN).
func bumpIn(t *testing.T, c *ent.Client, id string) {
	t.Helper()
	ctx := context.Background()
	var got int64
	if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		return dbtx.QueryRow(ctx, tx, []any{&got}, bump, 1, id)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestExecLater: executions marked ExecLater wait for the transaction's
// next round trip and keep their order: before a following statement
// (which sees them), or with the COMMIT; one that fails fails the
// transaction and nothing stays; a rollback drops them unsent.
func TestExecLater(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, dl testenv.Dialect) {
		d := open(t, dl)
		c := d.Client
		ctx := context.Background()
		later := dbtx.ExecLater(ctx)
		seed(t, c, "l-a")
		var got int64
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := tx.Counter.Create().SetID("l-1").SetValue(5).Exec(later); err != nil {
				return err
			}
			// The next statement sees the row written before it.
			if err := dbtx.QueryRow(ctx, tx, []any{&got}, `SELECT value FROM counters WHERE id = $1`, "l-1"); err != nil {
				return err
			}
			if err := tx.Counter.Create().SetID("l-2").SetValue(got + 1).Exec(later); err != nil {
				return err
			}
			// Only with the COMMIT (ent statement next: sent before it).
			return tx.Counter.Create().SetID("l-3").SetValue(7).Exec(later)
		}); err != nil {
			t.Fatal(err)
		}
		if got != 5 || value(t, d, "l-1") != 5 || value(t, d, "l-2") != 6 || value(t, d, "l-3") != 7 {
			t.Fatalf("read %d; committed %d %d %d, want 5; 5 6 7", got, value(t, d, "l-1"), value(t, d, "l-2"), value(t, d, "l-3"))
		}
		// A failing one (a duplicate ID) fails the transaction at its
		// round trip, here the COMMIT's with a staged statement.
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := tx.Counter.Create().SetID("l-4").SetValue(1).Exec(later); err != nil {
				return err
			}
			if err := tx.Counter.Create().SetID("l-1").SetValue(1).Exec(later); err != nil {
				return err
			}
			return dbtx.QueryRowAtCommit(ctx, tx, []any{&got}, func(err error) error { return err }, bump, 1, "l-a")
		})
		if !dbtx.IsUniqueViolation(err) {
			t.Fatalf("WithTx returned %v, want the later insert's unique violation", err)
		}
		if value(t, d, "l-4") != -1 || value(t, d, "l-a") != 1 {
			t.Fatal("a transaction whose later execution failed left rows")
		}
		boom := errors.New("boom")
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := tx.Counter.Create().SetID("l-5").SetValue(1).Exec(later); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) || value(t, d, "l-5") != -1 {
			t.Fatalf("WithTx returned %v; l-5 is %d, want boom and none", err, value(t, d, "l-5"))
		}
	})
}

// TestPipelinedFailures (PostgreSQL): a row that does not scan after the
// COMMIT ran is reported as committed (ErrCommittedUnread), never as a
// failure; and a transaction that lost a queued execution (its round trip
// refused by a cancelled statement whose error the function ignored)
// cannot commit.
func TestPipelinedFailures(t *testing.T) {
	d := open(t, testenv.Postgres)
	c := d.Client
	ctx := context.Background()
	seed(t, c, "f-a")
	var wrong bool // bump returns a bigint
	err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		if err := tx.Counter.Create().SetID("f-row").SetValue(1).Exec(ctx); err != nil {
			return err
		}
		return dbtx.QueryRowAtCommit(ctx, tx, []any{&wrong}, func(err error) error { return err }, bump, 1, "f-a")
	})
	if !errors.Is(err, dbtx.ErrCommittedUnread) {
		t.Fatalf("WithTx returned %v, want ErrCommittedUnread", err)
	}
	if value(t, d, "f-row") != 1 || value(t, d, "f-a") != 2 {
		t.Fatal("the transaction reported as committed did not commit")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var got int64
	err = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		if err := tx.Counter.Create().SetID("f-lost").SetValue(1).Exec(dbtx.ExecLater(ctx)); err != nil {
			return err
		}
		_ = dbtx.QueryRow(cancelled, tx, []any{&got}, `SELECT 1`) // its error ignored
		return nil
	})
	if err == nil {
		t.Fatal("a transaction that lost a queued execution committed")
	}
	if value(t, d, "f-lost") != -1 {
		t.Fatal("the lost execution's row exists")
	}
	for i := 0; i < 20; i++ { // the connections are clean
		bumpIn(t, c, "f-a")
	}
	if v := value(t, d, "f-a"); v != 22 {
		t.Fatalf("after 20 more: %d, want 22", v)
	}
}
