package dbtx_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/internal/db"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"
)

// TestGroupCommitIsolatesUnits (SQLite): 60 concurrent transactions, every
// third of which fails after writing and every tenth of which panics after
// writing. They share group commits (fewer shared transactions than
// transactions), yet each failed or panicking one leaves nothing and every
// other one commits all of its rows; a failure is returned to its own
// caller only.
func TestGroupCommitIsolatesUnits(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	errBusiness := errors.New("refused")
	const n = 60
	results := make([]error, n)
	panicked := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panicked[i] = recover() != nil }()
			results[i] = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				for j := range 2 {
					if err := tx.Counter.Create().SetID(fmt.Sprintf("g%d-%d", i, j)).SetValue(int64(i)).Exec(ctx); err != nil {
						return err
					}
				}
				switch {
				case i%10 == 9:
					panic("unit panics")
				case i%3 == 2:
					return errBusiness
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		wantPanic, wantFail := i%10 == 9, i%10 != 9 && i%3 == 2
		switch {
		case panicked[i] != wantPanic:
			t.Errorf("unit %d: panicked %v, want %v", i, panicked[i], wantPanic)
		case wantFail && !errors.Is(results[i], errBusiness):
			t.Errorf("unit %d: error %v, want its own refusal", i, results[i])
		case !wantFail && !wantPanic && results[i] != nil:
			t.Errorf("unit %d: error %v, want a commit", i, results[i])
		}
		committed := !wantPanic && !wantFail
		for j := range 2 {
			if got := exists(t, c, fmt.Sprintf("g%d-%d", i, j)); got != committed {
				t.Errorf("unit %d row %d: committed %v, want %v", i, j, got, committed)
			}
		}
	}
	groups, units := dbtx.GroupStats(c)
	if units < n || groups >= units {
		t.Errorf("%d transactions in %d shared ones: no group commit happened", units, groups)
	}
	t.Logf("%d transactions in %d group commits", units, groups)
}

// TestGroupCommitHooksRunAfterTheCommit (SQLite): a transaction's
// after-commit hook runs when its rows are committed, readable from
// another connection, not when its savepoint is released.
func TestGroupCommitHooksRunAfterTheCommit(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("h%d", i)
			var visible bool
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				tx.OnCommit(func(next ent.Committer) ent.Committer {
					return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
						err := next.Commit(ctx, tx)
						if err == nil {
							// c is the client, not tx: another connection.
							visible, err = c.Counter.Query().Where(counter.ID(id)).Exist(context.Background())
						}
						return err
					})
				})
				return tx.Counter.Create().SetID(id).SetValue(1).Exec(ctx)
			})
			if err != nil {
				t.Error(err)
				return
			}
			if !visible {
				t.Errorf("%s: the after-commit hook ran before the row was committed", id)
			}
		}()
	}
	wg.Wait()
}

// TestGroupCommitCancelledWhileQueued (SQLite): a transaction whose context
// ends while it waits for its turn returns the context's error and writes
// nothing; the transaction ahead of it commits.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	release, first := holdOpen(c, "first", nil)
	cctx, cancel := context.WithCancel(ctx)
	second := make(chan error, 1)
	go func() {
		second <- dbtx.WithTx(cctx, c, func(tx *ent.Tx) error {
			return tx.Counter.Create().SetID("second").SetValue(1).Exec(ctx)
		})
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled transaction: %v, want context.Canceled", err)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !exists(t, c, "first") || exists(t, c, "second") {
		t.Fatal("want the first transaction's row only")
	}
}

// TestGroupCommitCancelledMidway (SQLite): a transaction whose context
// ends between two of its statements fails with the context's error and
// leaves nothing, while the transactions grouped with it commit.
func TestGroupCommitCancelledMidway(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errs[i] = dbtx.WithTx(uctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID(fmt.Sprintf("m%d-0", i)).SetValue(1).Exec(uctx); err != nil {
					return err
				}
				if i%2 == 1 {
					cancel()
				}
				return tx.Counter.Create().SetID(fmt.Sprintf("m%d-1", i)).SetValue(1).Exec(uctx)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		cancelled := i%2 == 1
		if cancelled != errors.Is(err, context.Canceled) || (!cancelled && err != nil) {
			t.Errorf("transaction %d: %v", i, err)
		}
		for j := range 2 {
			if got := exists(t, c, fmt.Sprintf("m%d-%d", i, j)); got == cancelled {
				t.Errorf("transaction %d row %d: committed %v", i, j, got)
			}
		}
	}
}

// holdOpen begins a transaction on c that writes the counter row id and
// stays open, holding the writer, until release is called; then it ends
// with result (nil commits) and done receives WithTx's error.
func holdOpen(c *ent.Client, id string, result error) (release func(), done <-chan error) {
	holding, released := make(chan struct{}), make(chan struct{})
	out := make(chan error, 1)
	go func() {
		out <- dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
			err := tx.Counter.Create().SetID(id).SetValue(1).Exec(context.Background())
			close(holding)
			if err != nil {
				return err
			}
			<-released
			return result
		})
	}()
	<-holding
	return func() { close(released) }, out
}

// TestGroupsKeepTheirConnection (SQLite): the committer's groups run on
// one connection while it is busy, so that connection's page cache, which
// SQLite drops when another connection has written, stays warm. A
// temporary table (private to its connection) made by one transaction is
// seen by the next, although the pool's most recently returned connection
// is taken away in between.
func TestGroupsKeepTheirConnection(t *testing.T) {
	d := open(t, testenv.SQLite)
	ctx := context.Background()
	if err := dbtx.WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TEMP TABLE conn_probe (x INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		held, err := d.SQL.Conn(ctx) // the pool's most recently returned connection
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = dbtx.WithTx(ctx, d.Client, func(tx *ent.Tx) error {
			rows, err := tx.QueryContext(ctx, "SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'conn_probe'")
			if err != nil {
				return err
			}
			defer rows.Close()
			if !rows.Next() {
				return errors.New("no row")
			}
			return rows.Scan(&n)
		})
		_ = held.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("round %d: the transaction ran on another connection than the previous group", round)
		}
	}
}

// TestGroupCommitStopsAtClose (SQLite): closing the database stops the
// committer and closes the connection it held: a transaction begun after
// Close fails with ErrClosed and commits nothing, and the last connection
// closed has checkpointed and removed the WAL file.
func TestGroupCommitStopsAtClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	create := func(id string) error {
		return dbtx.WithTx(ctx, d.Client, func(tx *ent.Tx) error {
			return tx.Counter.Create().SetID(id).SetValue(1).Exec(ctx)
		})
	}
	if err := create("before-close"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := create("after-close"); !errors.Is(err, dbtx.ErrClosed) {
		t.Fatalf("a transaction after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "danbao.db-wal")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the WAL file after Close: %v, want none (a connection was left open)", err)
	}
	again, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !exists(t, again.Client, "before-close") || exists(t, again.Client, "after-close") {
		t.Fatal("want the row committed before Close only")
	}
}

// TestGroupCommitDiscardsAFailedConnection (SQLite): when a group cannot
// begin (another process holds the write lock past the connection's busy
// timeout), the committer discards its connection instead of returning it
// to the pool, which would hand the same one back: the transaction's retry
// runs on a fresh connection, and commits once the lock is released.
func TestGroupCommitDiscardsAFailedConnection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The committer's connection: a short busy timeout, and a temporary
	// table (private to the connection) to recognise it by.
	if err := dbtx.WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		if _, err := tx.ExecContext(ctx, "PRAGMA busy_timeout = 50"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "CREATE TEMP TABLE conn_probe (x INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", db.SQLiteDSN(filepath.Join(dir, "danbao.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	var probes []int
	go func() {
		result <- dbtx.WithTx(ctx, d.Client, func(tx *ent.Tx) error {
			rows, err := tx.QueryContext(ctx, "SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'conn_probe'")
			if err != nil {
				return err
			}
			defer rows.Close()
			var n int
			if !rows.Next() {
				return errors.New("no row")
			}
			if err := rows.Scan(&n); err != nil {
				return err
			}
			probes = append(probes, n)
			return tx.Counter.Create().SetID("after-busy").SetValue(1).Exec(ctx)
		})
	}()
	time.Sleep(300 * time.Millisecond) // the first BEGIN gives up after 50 ms
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Fatalf("the transaction after the lock was released: %v", err)
	}
	if len(probes) != 1 || probes[0] != 0 {
		t.Fatalf("the retried transaction saw the failed connection's temporary table (%v): the connection was reused", probes)
	}
	if !exists(t, d.Client, "after-busy") {
		t.Fatal("the row was not committed")
	}
}
