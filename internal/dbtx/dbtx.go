// Package dbtx runs a function in one database transaction: begin, recover a
// panic, roll back on error, commit, and retry the whole function a bounded
// number of times when the database reports a transient conflict
// (SQLITE_BUSY/LOCKED, PostgreSQL serialization failure 40001, deadlock
// 40P01 or lock not available 55P03). Service methods are the transaction: they call WithTx once and pass
// the *ent.Tx to their helpers explicitly. Work on the database's hottest
// rows (the ledger's and the events' counters) is deferred to a flush just
// before the commit (Deferred), so that their locks are held briefly.
package dbtx

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"danbao/ent"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// MaxAttempts bounds how often WithTx runs fn when the database keeps
// reporting transient conflicts.
const MaxAttempts = 8

// WithTx runs fn in a transaction on client. fn may run more than once, so it
// must not have effects outside the transaction. The error fn returns is
// returned unchanged (after rollback).
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = once(ctx, client, fn)
		if err == nil || !Retryable(err) || attempt == MaxAttempts {
			return err
		}
		// Back off with jitter so that the contenders do not collide again.
		d := time.Duration(attempt*attempt)*time.Millisecond + time.Duration(rand.IntN(5*attempt))*time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
	}
}

// gateWait bounds the wait for a writer gate; past it the transaction
// begins anyway (on SQLite its busy timeout then decides, as it does
// between processes): a transaction begun inside another's function must
// not wait forever for a slot its own caller holds.
const gateWait = 10 * time.Second

// enter waits for the client's writer gate, if it has one, and returns
// its release. On SQLite the gate has one slot: writers of one process
// queue here, handed over at once, instead of in SQLite's busy handler,
// which retries BEGIN IMMEDIATE after sleeps of up to 100 ms (under load
// most of a writer's wait was that sleep). On PostgreSQL it has
// DANBAO_DB_WRITERS slots: with more transactions at once than the CPU
// runs, a holder of the hottest rows' locks (the counters, the escrow
// account) was descheduled while others queued behind it; queueing
// before BEGIN instead kept the throughput and cut authorizePayment's
// p99 by a third (docs/architecture.md, Performance).
func enter(ctx context.Context, client *ent.Client) (func(), error) {
	v, ok := gates.Load(client)
	if !ok {
		return func() {}, nil
	}
	gate := v.(chan struct{})
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	default:
	}
	t := time.NewTimer(gateWait)
	defer t.Stop()
	select {
	case gate <- struct{}{}:
		return func() { <-gate }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return func() {}, nil
	}
}

func once(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	if c, ok := committers.Load(client); ok {
		if err, ok := c.(*committer).run(ctx, client, fn); ok {
			return err
		}
		// No turn within gateWait (a transaction begun inside another's
		// function): alone, in a transaction of its own, never in the
		// savepoint of the unit whose context it was given.
		return body(context.WithValue(ctx, unitKey{}, (*unit)(nil)), client, fn)
	}
	leave, err := enter(ctx, client)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer leave()
	return body(ctx, client, fn)
}

// body runs fn in a transaction of client (a savepoint of a group's
// transaction when ctx carries a unit: see group.go).
func body(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if d, ok := dialects.Load(client); ok {
		origins.Store(tx, Origin{Client: client, Dialect: d.(string)})
		defer origins.Delete(tx)
	}
	defer func() {
		if v := recover(); v != nil {
			_ = tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !Retryable(err) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	// Rows deferred to the commit (Deferred) are written now, so that the
	// global locks they take are held for the flush and the commit only.
	if err := Flush(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Retryable reports whether err is a transient conflict worth retrying the
// whole transaction for: SQLITE_BUSY or SQLITE_LOCKED (any extended code),
// or PostgreSQL 40001 (serialization failure), 40P01 (deadlock detected) or
// 55P03 (lock not available, from NOWAIT or lock_timeout), or a group
// commit rolled back for a reason not the transaction's own
// (ErrGroupAborted). Every other error, unique violations included, is
// final.
func Retryable(err error) bool {
	if errors.Is(err, ErrGroupAborted) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "55P03":
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// IsUniqueViolation reports whether err is, or wraps, a unique-constraint
// violation: PostgreSQL SQLSTATE 23505, SQLite SQLITE_CONSTRAINT_UNIQUE or
// SQLITE_CONSTRAINT_PRIMARYKEY. It reads the driver's code only. ent's
// ConstraintError (ent.IsConstraintError) is not enough on its own: ent
// raises it for foreign-key and check violations too, recognised by message
// text, and it always wraps the driver error that this function inspects.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// ReadSnapshot runs fn in a read-only transaction that sees one consistent
// snapshot of the database: REPEATABLE READ on PostgreSQL, a deferred
// (non-locking) transaction under WAL on SQLite. Nothing is written.
func ReadSnapshot(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}
