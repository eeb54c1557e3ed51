package dbtx

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"danbao/ent"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The commit's round trip shared with the last statement (PostgreSQL).
//
// The flushes before a commit take the hottest locks in the database (the
// ledger's and the events' counter rows), and hold them until the COMMIT
// has been received and flushed to the WAL. With the COMMIT sent after
// the last flushed statement's reply, every holder also waited, under its
// locks, for its own process to be scheduled, read that reply and send the
// COMMIT: on a busy machine about a millisecond, as long as the statement
// itself (measured in PostgreSQL's statement log, docs/architecture.md).
// So the last statement a flush writes is staged (QueryRowAtCommit) and
// sent together with the COMMIT, in one pipeline (pgx's batch: both
// messages, then one Sync): PostgreSQL runs the statement and commits at
// once, and releases the locks without waiting for the client.
//
// A statement staged but followed by another one on the same transaction
// is sent first, on its own, as it would have been. When the staged
// statement fails, PostgreSQL skips the COMMIT (the pipeline stops at the
// error), the transaction is rolled back, and the caller gets the
// statement's error, as from QueryRow.

// Pipelined returns drv, ent's driver of the PostgreSQL database sdb
// (opened with pgx's database/sql driver), with transactions that can
// send their last statement with their COMMIT. Read snapshots (BeginTx)
// are drv's own.
func Pipelined(drv dialect.Driver, sdb *sql.DB) dialect.Driver {
	return &pipeDriver{Driver: drv, db: sdb}
}

type pipeDriver struct {
	dialect.Driver
	db *sql.DB
}

// Tx begins a transaction on a connection of its own: BEGIN, the
// statements, then COMMIT or ROLLBACK as plain statements, so that they
// can share round trips. The BEGIN waits for the first statement: it goes
// in the same round trip when that statement is a QueryRow's, before it
// otherwise. Like database/sql's transactions it is rolled back when ctx
// ends before it does.
func (d *pipeDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	t := &pipeTx{conn: conn, ctx: ctx}
	t.Conn = entsql.Conn{ExecQuerier: t}
	t.stop = context.AfterFunc(ctx, func() { _ = t.Rollback() })
	return t, nil
}

// BeginTx begins a transaction with options (a read snapshot) the way drv
// does.
func (d *pipeDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	return d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
}

// ExecContext and QueryContext are drv's, for statements outside a
// transaction (ent's client asserts them).
func (d *pipeDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.db.ExecContext(ctx, query, args...)
}

// QueryContext: see ExecContext.
func (d *pipeDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.db.QueryContext(ctx, query, args...)
}

// pipeTx is a transaction on one pooled connection.
type pipeTx struct {
	entsql.Conn // ent's Exec and Query, through ExecContext and QueryContext below
	conn        *sql.Conn
	ctx         context.Context // Tx's: once it ends, no statement runs and Commit rolls back
	stop        func() bool     // stops the rollback at the end of ctx

	mu      sync.Mutex
	begun   bool        // BEGIN sent
	pending []laterExec // executions waiting for the next round trip (ExecLater)
	staged  *atCommit
	done    bool
	err     error // a failure that lost written work: the transaction can only roll back
}

// laterExec is an execution whose result no one reads (ExecLater).
type laterExec struct {
	query string
	args  []any
}

// execLaterKey marks a context whose executions may wait (ExecLater).
type execLaterKey struct{}

// ExecLater returns ctx marked so that, on a pipelined PostgreSQL
// transaction, the statements executed with it (ent's creates with their
// IDs set, whose result ent does not read) are not sent at once but with
// the transaction's next round trip: the next statement's, or the
// COMMIT's. Their errors come from that round trip, and fail the
// transaction. Elsewhere the mark changes nothing. Only for statements
// whose result (rows affected) no one reads.
func ExecLater(ctx context.Context) context.Context {
	return context.WithValue(ctx, execLaterKey{}, true)
}

// laterResult is the result of an execution that waits: not known yet.
type laterResult struct{}

var errResultLater = errors.New("dbtx: the result of an execution sent later (ExecLater) is not known")

func (laterResult) LastInsertId() (int64, error) { return 0, errResultLater }
func (laterResult) RowsAffected() (int64, error) { return 0, errResultLater }

// rowInto, passed as the last argument of QueryContext, has the one row
// the statement returns scanned into dest by pgx itself, in the BEGIN's
// round trip when the BEGIN is still to be sent (QueryRow).
type rowInto struct{ dest []any }

// atCommit is a statement staged by QueryRowAtCommit: passed as the last
// argument of QueryContext, it stages the statement instead of sending it.
type atCommit struct {
	ctx   context.Context
	query string
	args  []any
	dest  []any
	then  func(error) error
}

// pipelined records the clients whose PostgreSQL driver is Pipelined.
var pipelined sync.Map // *ent.Client -> struct{}

// RegisterPipelined records that client's transactions come from a
// Pipelined driver, so that QueryRowAtCommit stages statements on them.
func RegisterPipelined(client *ent.Client) { pipelined.Store(client, struct{}{}) }

// QueryRowAtCommit runs a statement returning one row in tx, scans it into
// dest and calls then with the outcome (nil or the statement's error),
// returning what then returns. On a pipelined PostgreSQL transaction of
// WithTx the statement is sent with the COMMIT when nothing follows it
// (see above), and then runs at the commit: the caller must do nothing
// after this call that depends on the row but what then does. Anywhere
// else it runs at once, like QueryRow.
//
// The statement must return a row whenever it succeeds: PostgreSQL
// commits a statement sent with the COMMIT that returned none, so one
// that may find nothing must make that an error of its own (the outbox's
// statement divides by its row count). Only an error PostgreSQL reports
// for the statement means nothing committed; should the row be missing
// or not scan all the same, or then fail on a row read after the commit,
// the caller gets ErrCommittedUnread wrapping the cause. then runs with
// the transaction locked: it must not use the transaction.
func QueryRowAtCommit(ctx context.Context, tx *ent.Tx, dest []any, then func(error) error, query string, args ...any) error {
	if isPipelined(tx) {
		a := &atCommit{ctx: ctx, query: query, args: args, dest: dest, then: then}
		rows, err := tx.QueryContext(ctx, query, append(append([]any(nil), args...), a)...)
		if rows != nil { // not staged after all (it is never, on a pipeTx)
			_ = rows.Close()
			return errors.New("dbtx: a statement for the commit was sent on its own")
		}
		return err
	}
	return then(QueryRow(ctx, tx, dest, query, args...))
}

// isPipelined reports whether tx is a transaction of WithTx on a client
// whose driver is Pipelined.
func isPipelined(tx *ent.Tx) bool {
	o, ok := OriginOf(tx)
	if !ok {
		return false
	}
	_, ok = pipelined.Load(o.Client)
	return ok
}

// ErrCommittedUnread is the error, wrapping the cause, of a statement sent
// with the COMMIT whose row could not be read (none, or a value that does
// not scan) or whose then failed on it: the transaction has committed
// (see QueryRowAtCommit).
var ErrCommittedUnread = errors.New("dbtx: the transaction committed, but the row of the statement sent with the COMMIT was not read")

// usable refuses statements on a finished transaction, once its context
// has ended, or after a failure that lost work it had accepted (a queued
// execution or a staged statement that could not be sent or failed):
// like a failed transaction in PostgreSQL, it then only rolls back, and
// Commit returns that failure. t.mu is held.
func (t *pipeTx) usable() error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if t.done {
		return sql.ErrTxDone
	}
	return t.err
}

// fail records err as the transaction's failure (see usable) and returns
// it. t.mu is held.
func (t *pipeTx) fail(err error) error {
	if err != nil && t.err == nil {
		t.err = err
	}
	return err
}

// prefix queues in b what must precede the next statement: the BEGIN if
// it has not been sent, then the executions waiting. readPrefix reads
// their results from br, in order, and stops at the first error.
func (t *pipeTx) prefix(b *pgx.Batch) {
	if !t.begun {
		b.Queue("BEGIN")
	}
	for _, d := range t.pending {
		b.Queue(d.query, d.args...)
	}
}

func (t *pipeTx) readPrefix(br pgx.BatchResults) error {
	pending := t.pending
	t.pending = nil
	if !t.begun {
		if _, err := br.Exec(); err != nil {
			return err
		}
		t.begun = true
	}
	for range pending {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// raw runs f on the transaction's pgx connection.
func (t *pipeTx) raw(f func(c *pgx.Conn) error) error {
	var err error
	rawErr := t.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("dbtx: a pipelined transaction on a %T connection", dc)
		}
		err = f(sc.Conn())
		return nil
	})
	if rawErr != nil {
		return rawErr
	}
	return err
}

// flushLocked sends the BEGIN if it has not been and the executions
// waiting, in one round trip, then the staged statement if any. t.mu is
// held.
func (t *pipeTx) flushLocked(ctx context.Context) error {
	if !t.begun || len(t.pending) > 0 {
		if err := t.raw(func(c *pgx.Conn) error {
			b := &pgx.Batch{}
			t.prefix(b)
			br := c.SendBatch(ctx, b)
			err := t.readPrefix(br)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			return err
		}); err != nil {
			return t.fail(err)
		}
	}
	s := t.staged
	if s == nil {
		return nil
	}
	t.staged = nil
	if err := QueryRow(s.ctx, t.conn, s.dest, s.query, s.args...); err != nil {
		t.fail(err)
		if terr := s.then(err); terr != nil {
			return terr
		}
		return err
	}
	return t.fail(s.then(nil))
}

// ExecContext runs a statement in the transaction, or queues it for the
// next round trip when ctx is marked by ExecLater.
func (t *pipeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if later, _ := ctx.Value(execLaterKey{}).(bool); later {
		t.mu.Lock()
		defer t.mu.Unlock()
		if err := t.usable(); err != nil {
			return nil, err
		}
		if t.staged != nil { // it was written first
			if err := t.flushLocked(ctx); err != nil {
				return nil, err
			}
		}
		t.pending = append(t.pending, laterExec{query: query, args: append([]any(nil), args...)})
		return laterResult{}, nil
	}
	// The statement runs under t.mu: a Rollback (the end of the context)
	// waits for it, and no statement starts after the ROLLBACK, outside
	// the transaction.
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	return t.conn.ExecContext(ctx, query, args...)
}

// ready makes the transaction ready for a statement: usable, with the
// BEGIN, the executions waiting and the staged statement sent. t.mu is
// held.
func (t *pipeTx) ready(ctx context.Context) error {
	if err := t.usable(); err != nil {
		return err
	}
	return t.flushLocked(ctx)
}

// QueryContext runs a query in the transaction; it stages it when its
// last argument is an *atCommit, and scans its one row when it is a
// *rowInto (both return no rows).
func (t *pipeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if n := len(args); n > 0 {
		switch a := args[n-1].(type) {
		case *atCommit:
			t.mu.Lock()
			defer t.mu.Unlock()
			if err := t.ready(ctx); err != nil {
				return nil, err
			}
			t.staged = a
			return nil, nil
		case *rowInto:
			return nil, t.queryRow(ctx, query, args[:n-1], a.dest)
		}
	}
	t.mu.Lock() // see ExecContext
	defer t.mu.Unlock()
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	return t.conn.QueryContext(ctx, query, args...)
}

// queryRow runs a statement returning one row through pgx and scans it
// into dest (sql.ErrNoRows when there is none), in one round trip with the
// BEGIN when it has not been sent and the executions waiting.
func (t *pipeTx) queryRow(ctx context.Context, query string, args, dest []any) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	if t.staged != nil { // it was written first
		if err := t.flushLocked(ctx); err != nil {
			return err
		}
	}
	err := t.raw(func(c *pgx.Conn) error {
		if t.begun && len(t.pending) == 0 {
			return c.QueryRow(ctx, query, args...).Scan(dest...)
		}
		b := &pgx.Batch{}
		t.prefix(b)
		b.Queue(query, args...)
		br := c.SendBatch(ctx, b)
		if err := t.readPrefix(br); err != nil {
			_ = br.Close()
			return t.fail(err)
		}
		err := br.QueryRow().Scan(dest...)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

// commitTimeout bounds a commit (with its staged statement): like
// database/sql's, a commit is not cancelled with its caller's context.
const commitTimeout = time.Minute

// Commit sends the staged statement, if any, and the COMMIT in one round
// trip; or the COMMIT alone. Once the transaction's context has ended it
// rolls back and returns the context's error, as database/sql's Commit
// does.
func (t *pipeTx) Commit() error {
	if err := t.ctx.Err(); err != nil {
		_ = t.Rollback() // unless the end of the context did already
		return err
	}
	t.mu.Lock()
	failed := t.err
	t.mu.Unlock()
	if failed != nil {
		_ = t.Rollback()
		return failed
	}
	return t.end(func(ctx context.Context, c *pgx.Conn, s *atCommit) error {
		if s == nil && len(t.pending) == 0 {
			if !t.begun {
				return nil // nothing was sent
			}
			return commit(c.Exec(ctx, "COMMIT"))
		}
		b := &pgx.Batch{}
		t.prefix(b)
		if s != nil {
			b.Queue(s.query, s.args...)
		}
		b.Queue("COMMIT")
		br := c.SendBatch(ctx, b)
		if err := t.readPrefix(br); err != nil {
			_ = br.Close()
			return err
		}
		// The statement's row is kept raw and scanned only once the
		// COMMIT's result is read: a value that does not scan must not
		// hide whether the transaction committed.
		var row *rawRow
		if s != nil {
			var err error
			if row, err = readRaw(br); err != nil {
				_ = br.Close()
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					return err // the connection failed: finish discards it
				}
				// The statement failed in PostgreSQL, which skipped the
				// COMMIT: nothing is committed (finish rolls back).
				if terr := s.then(err); terr != nil {
					return terr
				}
				return err // then may not turn a failure into a success
			}
		}
		cerr := commit(br.Exec())
		if berr := br.Close(); cerr == nil {
			cerr = berr
		}
		if cerr != nil || s == nil {
			return cerr
		}
		// Committed. What goes wrong from here says so.
		if err := row.scan(c, s.dest); err != nil {
			return fmt.Errorf("%w: %w", ErrCommittedUnread, err)
		}
		if err := s.then(nil); err != nil {
			return fmt.Errorf("%w: %w", ErrCommittedUnread, err)
		}
		return nil
	})
}

// rawRow is the first row of a statement's result, as PostgreSQL sent it
// (nil when there was none).
type rawRow struct {
	fields []pgconn.FieldDescription
	values [][]byte
}

// readRaw reads the next result of br and keeps its first row raw; its
// error is PostgreSQL's for the statement, or the connection's.
func readRaw(br pgx.BatchResults) (*rawRow, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	var r *rawRow
	if rows.Next() {
		r = &rawRow{fields: append([]pgconn.FieldDescription(nil), rows.FieldDescriptions()...)}
		for _, v := range rows.RawValues() {
			r.values = append(r.values, bytes.Clone(v))
		}
	}
	rows.Close()
	return r, rows.Err()
}

// scan scans the row into dest with c's types (sql.ErrNoRows when there
// was none).
func (r *rawRow) scan(c *pgx.Conn, dest []any) error {
	if r == nil {
		return sql.ErrNoRows
	}
	if len(dest) != len(r.values) {
		return fmt.Errorf("dbtx: %d values into %d destinations", len(r.values), len(dest))
	}
	for i, d := range dest {
		if err := c.TypeMap().Scan(r.fields[i].DataTypeOID, r.fields[i].Format, r.values[i], d); err != nil {
			return fmt.Errorf("column %s: %w", r.fields[i].Name, err)
		}
	}
	return nil
}

// commit is the result of a COMMIT: PostgreSQL answers ROLLBACK, without
// an error, when the transaction had failed before.
func commit(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback rolls the transaction back (a staged statement and the
// executions waiting are dropped).
func (t *pipeTx) Rollback() error {
	return t.end(func(ctx context.Context, c *pgx.Conn, _ *atCommit) error {
		t.pending = nil
		if !t.begun {
			return nil // nothing was sent
		}
		_, err := c.Exec(ctx, "ROLLBACK")
		return err
	})
}

// end finishes the transaction once with f, given the staged statement
// (nil if none), on its connection (see finish).
func (t *pipeTx) end(f func(ctx context.Context, c *pgx.Conn, s *atCommit) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return sql.ErrTxDone
	}
	t.done = true
	t.stop()
	s := t.staged
	t.staged = nil
	var err error
	if ferr := t.finish(func(ctx context.Context, c *pgx.Conn) { err = f(ctx, c, s) }); ferr != nil {
		return ferr
	}
	return err
}

// finish runs end on the transaction's connection and returns the
// connection to the pool, or closes it when it is not back outside any
// transaction (a ROLLBACK is tried first). It returns an error when end
// could not run.
func (t *pipeTx) finish(end func(ctx context.Context, c *pgx.Conn)) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	ran := false
	rawErr := t.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("dbtx: a pipelined transaction on a %T connection: %w", dc, driver.ErrBadConn)
		}
		c := sc.Conn()
		ran = true
		end(ctx, c)
		if !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
			_, _ = c.Exec(ctx, "ROLLBACK")
		}
		if c.IsClosed() || c.PgConn().TxStatus() != 'I' {
			return driver.ErrBadConn // discarded, never reused inside a transaction
		}
		return nil
	})
	_ = t.conn.Close()
	if !ran {
		if rawErr == nil {
			rawErr = sql.ErrConnDone
		}
		return rawErr
	}
	return nil
}
