package dbtx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tooBig is a statement SQLite refuses with SQLITE_TOOBIG, an error the
// group commit counts as one that makes the shared transaction unusable.
const tooBig = "SELECT zeroblob(2000000000)"

// TestReviewGroupBreakerNotRetried (SQLite): a transaction whose own
// statement fails with an error that breaks its group (here
// SQLITE_TOOBIG; in production an I/O error or a full disk) gets that
// error once, as it did before group commit (it is not Retryable), and
// is not run again: retrying it would abort up to MaxGroup-1 other
// transactions' groups on every attempt. The transactions grouped with
// it are retried (ErrGroupAborted) and commit.
func TestReviewGroupBreakerNotRetried(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			close(holding)
			<-release
			return tx.Counter.Create().SetID("first").SetValue(1).Exec(ctx)
		})
	}()
	<-holding
	var runs atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID(fmt.Sprintf("u%d", i)).SetValue(1).Exec(ctx); err != nil {
					return err
				}
				if i == 2 {
					runs.Add(1)
					_, err := tx.ExecContext(ctx, tooBig)
					return err
				}
				return nil
			})
		}()
		time.Sleep(20 * time.Millisecond) // queued in this order, behind first
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var se *sqlite.Error
	if !errors.As(errs[2], &se) || se.Code() != sqlite3.SQLITE_TOOBIG {
		t.Fatalf("the breaking transaction: %v, want its own SQLITE_TOOBIG", errs[2])
	}
	if errors.Is(errs[2], dbtx.ErrGroupAborted) {
		t.Errorf("the breaking transaction's own error comes with ErrGroupAborted (retryable): %v", errs[2])
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the breaking transaction ran %d times, want once (its error is its own, not retryable)", n)
	}
	for i, err := range errs {
		if i == 2 {
			if exists(t, c, "u2") {
				t.Error("the breaking transaction's row was committed")
			}
			continue
		}
		if err != nil || !exists(t, c, fmt.Sprintf("u%d", i)) {
			t.Errorf("transaction %d grouped with the breaking one: %v", i, err)
		}
	}
}

// TestReviewGroupSwallowedBreak (SQLite): a transaction that breaks its
// group and ignores the error is never told it committed: its commit
// returns that error, once (not ErrGroupAborted, retried).
func TestReviewGroupSwallowedBreak(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	var runs atomic.Int32
	err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		runs.Add(1)
		if err := tx.Counter.Create().SetID("swallowed").SetValue(1).Exec(ctx); err != nil {
			return err
		}
		_, _ = tx.ExecContext(ctx, tooBig)
		return nil
	})
	if err == nil {
		t.Fatalf("a transaction whose group broke reported a commit (ran %d times)", runs.Load())
	}
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_TOOBIG || runs.Load() != 1 {
		t.Errorf("ran %d times, error %v; want once, its own SQLITE_TOOBIG", runs.Load(), err)
	}
	if exists(t, c, "swallowed") {
		t.Fatal("row of a broken group committed")
	}
}

// TestReviewTxUsedAfterCommit (SQLite): a transaction kept and used after
// WithTx returned, while later transactions run in their own group,
// writes nothing.
func TestReviewTxUsedAfterCommit(t *testing.T) {
	c := open(t, testenv.SQLite).Client
	ctx := context.Background()
	var kept *ent.Tx
	if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		kept = tx
		return tx.Counter.Create().SetID("kept").SetValue(1).Exec(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	release, done := holdOpen(c, "later", errors.New("rolled back"))
	if err := kept.Counter.Create().SetID("stray").SetValue(1).Exec(ctx); err == nil {
		t.Error("a committed transaction accepted a statement")
	}
	release()
	<-done
	if exists(t, c, "stray") || exists(t, c, "later") || !exists(t, c, "kept") {
		t.Fatal("want the kept transaction's committed row only")
	}
}

// TestReviewCancelledMidTransactionNeverCommits: a transaction whose
// context ends between its statements never commits, even when its
// function ignores the refused statement's error and returns nil: none
// of its rows stays and WithTx reports the cancellation. database/sql
// rolls a transaction back when its context ends (PostgreSQL, and SQLite
// before group commit); a grouped SQLite unit must not commit the rows
// written before the cancellation.
func TestReviewCancelledMidTransactionNeverCommits(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		for _, when := range []string{"between statements", "before the commit"} {
			ctx, cancel := context.WithCancel(context.Background())
			id := "cancel-" + strings.ReplaceAll(when, " ", "-")
			err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				if err := tx.Counter.Create().SetID(id + "-1").SetValue(1).Exec(ctx); err != nil {
					return err
				}
				cancel()
				if when == "between statements" {
					_ = tx.Counter.Create().SetID(id + "-2").SetValue(1).Exec(ctx) // its error ignored
				}
				return nil
			})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: WithTx returned %v, want context.Canceled", when, err)
			}
			if exists(t, c, id+"-1") || exists(t, c, id+"-2") {
				t.Errorf("%s: a cancelled transaction committed rows", when)
			}
		}
	})
}
