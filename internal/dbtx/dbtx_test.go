package dbtx_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/internal/db"
	"danbao/internal/dbtx"
	"danbao/internal/migrations"
	"danbao/internal/testenv"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"
)

// open returns a migrated database of dialect d, closed when the test ends.
func open(t *testing.T, d testenv.Dialect) *db.DB {
	t.Helper()
	database, err := db.Open(context.Background(), testenv.DatabaseURL(t, d), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { database.Close() })
	return database
}

// exists reports whether the counter row id is committed.
func exists(t *testing.T, c *ent.Client, id string) bool {
	t.Helper()
	ok, err := c.Counter.Query().Where(counter.ID(id)).Exist(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// conflict is a transient PostgreSQL error as the driver reports it, wrapped
// the way domain code wraps errors.
func conflict(code string) error {
	return fmt.Errorf("posting: %w", &pgconn.PgError{Code: code})
}

func TestRetryableCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{conflict("40001"), true}, // serialization_failure
		{conflict("40P01"), true}, // deadlock_detected
		{conflict("55P03"), true}, // lock_not_available
		{conflict("23505"), false},
		{conflict("23503"), false},
		{conflict("57014"), false}, // query_canceled: the caller gave up
		{errors.New("boom"), false},
		{context.Canceled, false},
		{nil, false},
	} {
		if got := dbtx.Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// writeEachAttempt runs WithTx with a function that writes the counter row
// "<prefix><attempt>" and then returns outcome(attempt); it returns
// how many attempts ran and WithTx's error.
func writeEachAttempt(c *ent.Client, prefix string, outcome func(attempt int) error) (int, error) {
	var calls int
	err := dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
		calls++
		if err := tx.Counter.Create().SetID(fmt.Sprint(prefix, calls)).Exec(context.Background()); err != nil {
			return err
		}
		return outcome(calls)
	})
	return calls, err
}

// TestRetriesTransientErrorsBoundedly: a transient error reruns the whole
// function, at most MaxAttempts times, and the last error comes back.
func TestRetriesTransientErrorsBoundedly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		calls, err := writeEachAttempt(c, "r", func(int) error { return conflict("40001") })
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "40001" {
			t.Fatalf("err = %v, want the 40001 of the last attempt", err)
		}
		if calls != dbtx.MaxAttempts {
			t.Fatalf("fn ran %d times, want %d", calls, dbtx.MaxAttempts)
		}
		for i := 1; i <= calls; i++ {
			if exists(t, c, fmt.Sprint("r", i)) {
				t.Fatalf("attempt %d was committed", i)
			}
		}
	})
}

// TestRetrySucceedsAfterTransientErrors: the attempt that succeeds is the
// only one whose writes commit.
func TestRetrySucceedsAfterTransientErrors(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		calls, err := writeEachAttempt(c, "s", func(attempt int) error {
			if attempt < 3 {
				return conflict("40P01")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls != 3 {
			t.Fatalf("fn ran %d times, want 3", calls)
		}
		if exists(t, c, "s1") || exists(t, c, "s2") || !exists(t, c, "s3") {
			t.Fatal("only the third attempt's row should be committed")
		}
	})
}

// TestErrorRollsBackWithoutRetry: a domain error is returned unchanged after
// one attempt, and nothing it wrote stays.
func TestErrorRollsBackWithoutRetry(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		refusal := errors.New("refused")
		var calls int
		err := dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
			calls++
			if err := tx.Counter.Create().SetID("e").Exec(context.Background()); err != nil {
				return err
			}
			return refusal
		})
		if err != refusal {
			t.Fatalf("err = %v, want the function's own error", err)
		}
		if calls != 1 {
			t.Fatalf("fn ran %d times, want 1", calls)
		}
		if exists(t, c, "e") {
			t.Fatal("a failed transaction was committed")
		}
	})
}

// TestPanicRollsBackAndRepanics: a panic inside the transaction rolls it
// back, propagates with its own value, and leaves the pool usable (on
// SQLite a leaked write transaction would block the next writer).
func TestPanicRollsBackAndRepanics(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		type sentinel struct{}
		var calls int
		func() {
			defer func() {
				if v := recover(); v != (sentinel{}) {
					t.Fatalf("recovered %v, want the original panic value", v)
				}
			}()
			_ = dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
				calls++
				if err := tx.Counter.Create().SetID("p").Exec(context.Background()); err != nil {
					return err
				}
				panic(sentinel{})
			})
			t.Fatal("WithTx returned instead of panicking")
		}()
		if calls != 1 {
			t.Fatalf("fn ran %d times, want 1 (a panic is never retried)", calls)
		}
		if exists(t, c, "p") {
			t.Fatal("the panicking transaction was committed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			return tx.Counter.Create().SetID("after").Exec(ctx)
		}); err != nil {
			t.Fatalf("write after a panic: %v", err)
		}
	})
}

// TestCancelledContextStopsRetrying: a caller that gives up is not kept
// waiting through the remaining attempts.
func TestCancelledContextStopsRetrying(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx, cancel := context.WithCancel(context.Background())
	var calls int
	err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		calls++
		cancel()
		return conflict("40001")
	})
	if !dbtx.Retryable(err) {
		t.Fatalf("err = %v, want the transient error", err)
	}
	if calls != 1 {
		t.Fatalf("fn ran %d times after the context was cancelled, want 1", calls)
	}
}

// lockedSQLite returns a client on a fresh SQLite file whose connections
// fail at once when the file is locked (no busy timeout to hide
// SQLITE_BUSY), and a function that takes the write lock through another
// pool and returns its release.
func lockedSQLite(t *testing.T) (*ent.Client, func() (release func())) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := db.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if err := migrations.Apply(context.Background(), holder.SQL, dialect.SQLite); err != nil {
		t.Fatal(err)
	}
	impatient, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { impatient.Close() })
	lock := func() func() {
		tx, err := holder.SQL.BeginTx(context.Background(), nil) // IMMEDIATE: takes the write lock
		if err != nil {
			t.Fatal(err)
		}
		return func() { _ = tx.Rollback() }
	}
	return ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, impatient))), lock
}

// TestSQLiteBusyIsRetried: a writer that finds the database locked gets
// SQLITE_BUSY, retries, and commits once the other writer is done.
func TestSQLiteBusyIsRetried(t *testing.T) {
	client, lock := lockedSQLite(t)
	release := lock()
	done := make(chan error, 1)
	go func() {
		done <- dbtx.WithTx(context.Background(), client, func(tx *ent.Tx) error {
			return tx.Counter.Create().SetID("b").Exec(context.Background())
		})
	}()
	time.Sleep(30 * time.Millisecond) // well inside the retries' total backoff
	select {
	case err := <-done:
		t.Fatalf("WithTx returned %v while the database was locked", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("WithTx after the lock was released: %v", err)
	}
	if !exists(t, client, "b") {
		t.Fatal("the retried write was not committed")
	}
}

// TestSQLiteBusyGivesUp: a lock held past every retry returns the
// retryable SQLITE_BUSY error instead of waiting for ever.
func TestSQLiteBusyGivesUp(t *testing.T) {
	client, lock := lockedSQLite(t)
	release := lock()
	defer release()
	start := time.Now()
	err := dbtx.WithTx(context.Background(), client, func(tx *ent.Tx) error {
		return tx.Counter.Create().SetID("never").Exec(context.Background())
	})
	if err == nil || !dbtx.Retryable(err) {
		t.Fatalf("err = %v, want a retryable SQLITE_BUSY", err)
	}
	t.Logf("gave up after %v", time.Since(start))
}

// TestPostgresDeadlockIsRetried: two transactions that lock two rows in
// opposite orders deadlock; PostgreSQL aborts one with 40P01, WithTx reruns
// it, and both commit.
func TestPostgresDeadlockIsRetried(t *testing.T) {
	c := open(t, testenv.Postgres).Client
	ctx := context.Background()
	for _, id := range []string{"x", "y"} {
		if err := c.Counter.Create().SetID(id).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg       sync.WaitGroup
		attempts atomic.Int32
		barrier  sync.WaitGroup
		errs     = make([]error, 2)
	)
	barrier.Add(2)
	for i, order := range [][2]string{{"x", "y"}, {"y", "x"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				attempts.Add(1)
				if err := tx.Counter.UpdateOneID(order[0]).AddValue(1).Exec(ctx); err != nil {
					return err
				}
				if first { // both hold their first row before reaching for the second
					first = false
					barrier.Done()
					barrier.Wait()
				}
				return tx.Counter.UpdateOneID(order[1]).AddValue(1).Exec(ctx)
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("WithTx: %v", err)
		}
	}
	if n := attempts.Load(); n < 3 {
		t.Fatalf("%d attempts: the deadlock did not happen or was not retried", n)
	}
	for _, id := range []string{"x", "y"} {
		v, err := c.Counter.Query().Where(counter.ID(id)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Value != 2 {
			t.Fatalf("counter %s = %d, want 2 (each transaction once)", id, v.Value)
		}
	}
}

// TestIsUniqueViolation: a duplicate key is a unique violation on both
// engines; a foreign-key violation, also an ent ConstraintError, is not.
func TestIsUniqueViolation(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		ctx := context.Background()
		if err := c.Counter.Create().SetID("u").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		dup := c.Counter.Create().SetID("u").Exec(ctx)
		if !ent.IsConstraintError(dup) || !dbtx.IsUniqueViolation(dup) {
			t.Fatalf("duplicate key: %v is not reported as a unique violation", dup)
		}
		if dbtx.Retryable(dup) {
			t.Fatal("a unique violation must not be retried")
		}
		fk := foreignKeyViolation(ctx, c)
		if !ent.IsConstraintError(fk) {
			t.Fatalf("foreign key: got %v, want an ent ConstraintError", fk)
		}
		if dbtx.IsUniqueViolation(fk) {
			t.Fatalf("foreign-key violation %v reported as a unique violation", fk)
		}
		if dbtx.IsUniqueViolation(errors.New("duplicate key value violates unique constraint")) {
			t.Fatal("a message alone is not a unique violation")
		}
	})
}

// foreignKeyViolation inserts a limit-usage row for a user that does not
// exist.
func foreignKeyViolation(ctx context.Context, c *ent.Client) error {
	return c.LimitUsage.Create().SetUserID("usr_missing").SetCurrency("CNY").SetPeriod("LIFETIME").Exec(ctx)
}
